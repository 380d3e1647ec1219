import { describe, expect, it } from "vitest";
import type { SyncConfig } from "../../schema/generated/config.ts";
import { capabilityProblems } from "./capability-problems.ts";
import { fullCapabilities, noCapabilities, type PbxCapabilities } from "./pbx-capabilities.ts";

const base: SyncConfig = {
  connection: { domainControllers: [{ host: "dc1" }], bindUsername: "svc", bindPassword: { source: "agent" }, baseDn: "DC=example,DC=com" },
};
const lacking: PbxCapabilities = { ...noCapabilities, fields: ["firstName", "lastName", "email"] };

describe("capabilityProblems", () => {
  it("finds nothing a target with every capability cannot do", () => {
    expect(capabilityProblems({ ...base, deprovisioning: { archive: { extension: "0999" } } }, fullCapabilities)).toEqual([]);
  });

  it("refuses disable, the default of every deprovisioning case, where the target cannot disable", () => {
    const problems = capabilityProblems(base, lacking);
    expect(problems.filter((p) => p.severity === "error").map((p) => p.path)).toEqual([
      "/deprovisioning/whenDeleted",
      "/deprovisioning/whenDisabled",
      "/deprovisioning/whenOutOfScope",
    ]);
    expect(problems[0]?.message).toMatch(
      /cannot disable an extension \(disable is the default\): set deprovisioning\.whenDeleted to "delete" or "keep"/,
    );
    const chosen = { ...base, deprovisioning: { whenDeleted: "delete", whenDisabled: "keep", whenOutOfScope: "delete" } } as SyncConfig;
    expect(capabilityProblems(chosen, lacking).filter((p) => p.severity === "error")).toEqual([]);
  });

  it("refuses delete where the target can only deactivate", () => {
    const deactivating: PbxCapabilities = { ...fullCapabilities, delete: false };
    const config = { ...base, deprovisioning: { whenDeleted: "delete", whenDisabled: "disable", whenOutOfScope: "delete" } } as SyncConfig;
    const problems = capabilityProblems(config, deactivating);
    expect(problems.map((p) => [p.path, p.severity])).toEqual([
      ["/deprovisioning/whenDeleted", "error"],
      ["/deprovisioning/whenOutOfScope", "error"],
    ]);
    expect(problems[0]?.message).toMatch(/cannot delete an extension, only deactivate it: set deprovisioning\.whenDeleted to "disable"/);
    expect(capabilityProblems(base, deactivating)).toEqual([]);
  });

  it("warns where a setting has no effect on the target", () => {
    const config = {
      ...base,
      deprovisioning: { whenDeleted: "delete", whenDisabled: "delete", whenOutOfScope: "delete", archive: { extension: "0999" } },
      organisation: { extensionGroups: { from: "memberOf" } },
    } as SyncConfig;
    expect(capabilityProblems(config, lacking).map((p) => [p.path, p.severity])).toEqual([
      ["/deprovisioning/archive", "warning"],
      ["/organisation/extensionGroups", "warning"],
      ["/organisation/departments", "warning"],
    ]);
  });
});
