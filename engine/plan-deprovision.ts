// What becomes of a synced extension whose user is gone from AD, disabled, out of the scope
// or excluded: disabled, deleted (its voicemail and recordings to the archive extension) or
// kept, as the configuration says, and never more than kept after an incomplete read. Pure.
import type { SyncConfig } from "../schema/generated/config.ts";
import type { DesiredUser } from "./map-user.ts";
import type { PbxCapabilities } from "./pbx/pbx-capabilities.ts";
import type { Extension } from "./pbx/pbx-port.ts";
import type { PlanItem } from "./plan.ts";

export interface Deprovision {
  action: "delete" | "disable" | "keep";
  code: string;
  text: string;
  user: DesiredUser | undefined;
  /** The configured action was not taken because the read was incomplete. */
  blocked: boolean;
}

/** The item of a synced extension whose user needs deprovisioning. */
export function planDeprovision(
  e: Extension,
  d: Deprovision,
  ctx: { config: SyncConfig; caps: PbxCapabilities; incompleteReason: string | undefined },
): PlanItem {
  const { config, caps, incompleteReason } = ctx;
  const base = { guid: e.guid, dn: d.user?.dn ?? e.dn, name: d.user?.name ?? e.displayName ?? e.number, number: e.number, code: d.code };
  if (d.action === "keep" && d.blocked) {
    return {
      ...base,
      action: "unchanged",
      reason: `${d.text}, but the directory read was incomplete (${incompleteReason ?? "see the run"}): nothing is disabled or deleted`,
    };
  } else if (d.action === "keep") {
    return { ...base, action: "unchanged", reason: `${d.text}; kept, as the configuration says` };
  } else if (d.action === "disable" && !caps.disable) {
    // Validation refuses this configuration for such a target; a plan made anyway says what happens.
    return {
      ...base,
      action: "unchanged",
      reason: `${d.text}; this PBX cannot disable an extension, so it is kept (set deprovisioning to delete or keep)`,
    };
  } else if (d.action === "disable") {
    if (e.enabled) return { ...base, action: "disable", reason: `${d.text}: the extension is disabled` };
    else return { ...base, action: "unchanged", reason: `${d.text}; already disabled` };
  } else if (!caps.delete) {
    // Validation refuses this configuration for such a target; a plan made anyway says what happens.
    return {
      ...base,
      action: "unchanged",
      reason: `${d.text}; this PBX cannot delete an extension, so it is kept (set deprovisioning to disable or keep)`,
    };
  } else {
    const archive = caps.archiveOnDelete ? config.deprovisioning?.archive : undefined;
    return {
      ...base,
      action: "delete",
      reason: `${d.text}: the extension is deleted${archive ? `, its ${archiveWhat(archive)} moved to extension ${archive.extension}` : ""}`,
      ...(archive
        ? { archive: { extension: archive.extension, voicemail: archive.voicemail !== false, recordings: archive.recordings !== false } }
        : {}),
    };
  }
}

export function archiveWhat(archive: NonNullable<NonNullable<SyncConfig["deprovisioning"]>["archive"]>): string {
  const parts = [archive.voicemail !== false ? "voicemail" : "", archive.recordings !== false ? "recordings" : ""].filter(Boolean);
  return parts.length > 0 ? parts.join(" and ") : "data";
}

export function deprovisionOf(
  config: SyncConfig,
  e: Extension,
  present: ReadonlySet<string>,
  usersByGuid: ReadonlyMap<string, DesiredUser>,
  complete: boolean,
): Deprovision {
  const settings = config.deprovisioning ?? {};
  const user = usersByGuid.get(e.guid as string);
  const why = !present.has(e.guid as string)
    ? { code: "deleted_in_ad", text: "the AD user no longer exists", action: settings.whenDeleted ?? "disable" }
    : user?.excluded?.code === "disabled"
      ? { code: "disabled_in_ad", text: "the AD account is disabled", action: settings.whenDisabled ?? "disable" }
      : {
          code: "out_of_scope",
          text: user?.excluded?.code === "excluded_by_pattern" ? `excluded: ${user.excluded.reason}` : "the AD user left the sync scope",
          action: settings.whenOutOfScope ?? "disable",
        };
  // An incomplete read cannot tell a user who is gone from one the read missed.
  const blocked = !complete && why.action !== "keep";
  return { ...why, action: blocked ? "keep" : why.action, user, blocked };
}
