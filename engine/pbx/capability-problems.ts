// What a configuration asks of its PBX target that the target cannot do, as validation
// problems: generic over the declared capabilities, never over a vendor's name. An action the
// target lacks is an error (Sync could not do what Preview would promise); a setting it
// ignores is a warning.
import type { SyncConfig } from "../../schema/generated/config.ts";
import type { Problem } from "../../schema/src/problem.ts";
import type { PbxCapabilities } from "./pbx-capabilities.ts";

export function capabilityProblems(config: SyncConfig, caps: PbxCapabilities): Problem[] {
  const problems: Problem[] = [];
  const deprovisioning = config.deprovisioning ?? {};
  if (!caps.disable) {
    for (const key of ["whenDeleted", "whenDisabled", "whenOutOfScope"] as const) {
      // Each defaults to disable.
      if ((deprovisioning[key] ?? "disable") === "disable")
        problems.push({
          path: `/deprovisioning/${key}`,
          severity: "error",
          message: `This PBX cannot disable an extension${deprovisioning[key] === undefined ? " (disable is the default)" : ""}: set deprovisioning.${key} to "delete" or "keep".`,
        });
    }
  }
  if (!caps.delete) {
    for (const key of ["whenDeleted", "whenDisabled", "whenOutOfScope"] as const) {
      if (deprovisioning[key] === "delete")
        problems.push({
          path: `/deprovisioning/${key}`,
          severity: "error",
          message: `This PBX cannot delete an extension, only deactivate it: set deprovisioning.${key} to "disable" or "keep".`,
        });
    }
  }
  if (!caps.archiveOnDelete && deprovisioning.archive !== undefined)
    problems.push({
      path: "/deprovisioning/archive",
      severity: "warning",
      message: "This PBX cannot move a deleted extension's voicemail or recordings: they are deleted with it.",
    });
  if (!caps.extensionGroups && (config.organisation?.extensionGroups?.from ?? "none") !== "none")
    problems.push({
      path: "/organisation/extensionGroups",
      severity: "warning",
      message: "This PBX target does not mirror extension groups: group membership is not synced.",
    });
  if (!caps.departments && (config.organisation?.departments?.from ?? "ouTree") !== "none")
    problems.push({
      path: "/organisation/departments",
      severity: "warning",
      message: "This PBX target does not hold departments (or they are switched off for it): the department tree is not synced.",
    });
  const avatar = (config.fields as Record<string, unknown> | undefined)?.avatar;
  if (!caps.avatars && avatar !== undefined)
    problems.push({
      path: "/fields/avatar",
      severity: "warning",
      message: "This PBX target does not take photos: the avatar is not synced.",
    });
  return problems;
}
