// What one user's extension becomes: create, update, enable, adopt, recreate, unchanged, a
// conflict or an exclusion, with the reason, the field diff and the whole target state. Pure:
// the user, what the PBX holds for them and the run's number assignment go in.
import type { SyncConfig } from "../schema/generated/config.ts";
import { type DesiredUser, fieldSynced } from "./map-user.ts";
import { fitField, type PbxCapabilities } from "./pbx/pbx-capabilities.ts";
import { type Extension, type ExtensionField, type ExtensionState, extensionFields } from "./pbx/pbx-port.ts";
import type { FieldChange, PlanItem } from "./plan.ts";
import { archiveWhat } from "./plan-deprovision.ts";
import type { AssignedNumber, NumberConflict } from "./plan-numbers.ts";

/** What planning one user needs from the whole run. */
export interface UserContext {
  config: SyncConfig;
  caps: PbxCapabilities;
  /** Synced extensions by objectGUID (adopted ones included). */
  byGuid: ReadonlyMap<string, Extension>;
  numberOf: ReadonlyMap<string, AssignedNumber>;
  conflicts: ReadonlyMap<string, NumberConflict>;
  /** Users taking over a hand-made extension (pbx.adopt), with the reason. */
  adopted: ReadonlyMap<string, string>;
  groupsManaged: boolean;
  departmentsManaged: boolean;
  knownGroups: ReadonlySet<string>;
  knownDepartments: ReadonlySet<string>;
  createMissing: boolean;
  /** Filled in: the extension groups and departments the run must create first. */
  groupsToCreate: Set<string>;
  departmentsToCreate: Set<string>;
}

/** The user's plan item; undefined when there is none (deprovisioned below, or outside the scope). */
export function planUser(u: DesiredUser, ctx: UserContext): PlanItem | undefined {
  const { config, caps, byGuid, numberOf, conflicts, adopted, groupsManaged, departmentsManaged } = ctx;
  const { knownGroups, knownDepartments, createMissing, groupsToCreate, departmentsToCreate } = ctx;
  const current = byGuid.get(u.guid);
  if (u.excluded !== undefined) {
    if (current) return undefined; // deprovisioned below
    if (u.excluded.code === "out_of_scope") return undefined; // the rest of the directory is not listed
    return {
      action: "excluded",
      guid: u.guid,
      dn: u.dn,
      name: u.name,
      number: null,
      reason: u.excluded.reason,
      code: u.excluded.code,
    };
  }
  const conflict = conflicts.get(u.guid);
  if (conflict) {
    return {
      action: "conflict",
      guid: u.guid,
      dn: u.dn,
      name: u.name,
      number: current?.number ?? null,
      reason: current ? `${conflict.reason}; extension ${current.number} is left as it is` : conflict.reason,
      code: conflict.code,
    };
  }
  const assigned = numberOf.get(u.guid) as AssignedNumber;
  let groups = u.groups;
  const notes: string[] = [];
  if (groupsManaged) {
    const missing = groups.filter((g) => !knownGroups.has(g));
    if (missing.length > 0 && createMissing) for (const g of missing) groupsToCreate.add(g);
    if (missing.length > 0 && !createMissing) {
      groups = groups.filter((g) => knownGroups.has(g));
      notes.push(`extension group${missing.length > 1 ? "s" : ""} ${missing.join(", ")} missing on the PBX: membership skipped`);
    }
  }
  if (departmentsManaged && u.departmentPath !== null && !knownDepartments.has(u.departmentPath)) departmentsToCreate.add(u.departmentPath);

  const target = targetState(config, u, assigned.number, groups, current, {
    groupsManaged,
    departmentsManaged,
    avatars: caps.avatars,
    fields: caps.fields,
    ...(caps.fieldRules === undefined ? {} : { fieldRules: caps.fieldRules }),
  });
  let recreate = false;
  if (current && !caps.renumber && target.number !== current.number) {
    // Taking over a hand-made extension keeps its number: nothing to resolve or recreate.
    const policy = adopted.has(u.guid) ? "keep" : (caps.numberChange ?? "keep");
    if (policy === "conflict") {
      return {
        action: "conflict",
        guid: u.guid,
        dn: u.dn,
        name: u.name,
        number: current.number,
        code: "number_change_unsupported",
        reason: `AD gives number ${target.number}, and this PBX cannot change extension ${current.number}'s number: the extension is left as it is until the number is resolved (or the PBX's number change policy says recreate)`,
      };
    }
    if (policy === "recreate") recreate = true;
    else {
      notes.push(`this PBX cannot change an extension's number: it stays ${current.number} (AD gives ${target.number})`);
      target.number = current.number;
    }
  }
  if (!current) {
    return {
      action: "create",
      guid: u.guid,
      dn: u.dn,
      name: u.name,
      number: assigned.number,
      reason: ["new in scope", u.template ? `copies extension ${u.template}'s settings` : "", ...notes].filter(Boolean).join("; "),
      state: target,
      numberSource: assigned.source,
      login: { upn: u.upn, sam: u.sam },
      ...(u.template !== undefined ? { template: u.template } : {}),
    };
  }
  const changes = diff(current, target, u);
  if (recreate) {
    const archive = caps.archiveOnDelete ? config.deprovisioning?.archive : undefined;
    return {
      action: "recreate",
      guid: u.guid,
      dn: u.dn,
      name: u.name,
      number: current.number,
      reason: [
        `AD gives number ${target.number}, and this PBX cannot change a number: extension ${current.number} is deleted${archive ? `, its ${archiveWhat(archive)} moved to extension ${archive.extension},` : ""} and created again as ${target.number}`,
        ...notes,
      ].join("; "),
      changes,
      state: target,
      numberSource: assigned.source,
      login: { upn: u.upn, sam: u.sam },
      ...(archive
        ? { archive: { extension: archive.extension, voicemail: archive.voicemail !== false, recordings: archive.recordings !== false } }
        : {}),
    };
  }
  if (adopted.has(u.guid)) {
    return {
      action: "adopt",
      guid: u.guid,
      dn: u.dn,
      name: u.name,
      number: current.number,
      reason: [`takes over the hand-made extension ${current.number} (${adopted.get(u.guid)})`, ...notes].join("; "),
      changes,
      state: target,
      numberSource: assigned.source,
      login: { upn: u.upn, sam: u.sam },
    };
  }
  const enable = !current.enabled && current.disabledBySync;
  if (changes.length === 0 && !enable) {
    return {
      action: "unchanged",
      guid: u.guid,
      dn: u.dn,
      name: u.name,
      number: current.number,
      reason: ["up to date", ...notes].join("; "),
    };
  }
  const moved = changes.some((c) => c.field === "dn");
  return {
    action: enable ? "enable" : "update",
    guid: u.guid,
    dn: u.dn,
    name: u.name,
    number: current.number,
    reason: [
      enable ? "the AD account is back in scope and enabled" : `changed in AD: ${changes.map((c) => c.field).join(", ")}`,
      moved && !enable ? "moved or renamed in AD" : "",
      ...notes,
    ]
      .filter(Boolean)
      .join("; "),
    changes,
    state: target,
    numberSource: assigned.source,
    login: { upn: u.upn, sam: u.sam },
  };
}

export function targetState(
  config: SyncConfig,
  user: DesiredUser,
  number: string,
  groups: string[],
  current: Extension | undefined,
  managed: {
    groupsManaged: boolean;
    departmentsManaged: boolean;
    avatars: boolean;
    fields: readonly ExtensionField[];
    fieldRules?: PbxCapabilities["fieldRules"];
  },
): ExtensionState {
  const state = {} as ExtensionState;
  state.number = number;
  // A field whose sync is off is filled once, at creation, and never written again; a field
  // the target does not store is left as the target has it.
  for (const f of extensionFields)
    state[f] = !managed.fields.includes(f)
      ? (current?.[f] ?? null)
      : current && !fieldSynced(config, f)
        ? current[f]
        : fitField(user.fields[f], managed.fieldRules?.[f]);
  // A target without photos keeps what it has (nothing), so no photo change is planned.
  state.avatarHash = !managed.avatars
    ? (current?.avatarHash ?? null)
    : current && !fieldSynced(config, "avatar")
      ? current.avatarHash
      : user.avatarHash;
  state.departmentPath =
    current && !managed.departmentsManaged ? current.departmentPath : managed.departmentsManaged ? user.departmentPath : null;
  state.groups = current && !managed.groupsManaged ? current.groups : managed.groupsManaged ? groups : [];
  return state;
}

function diff(current: Extension, target: ExtensionState, user: DesiredUser): FieldChange[] {
  const dn = user.dn;
  const changes: FieldChange[] = [];
  if (current.number !== target.number) changes.push({ field: "number", from: current.number, to: target.number });
  for (const f of extensionFields) if (current[f] !== target[f]) changes.push({ field: f, from: current[f], to: target[f] });
  if (current.avatarHash !== target.avatarHash) changes.push({ field: "avatar", from: current.avatarHash, to: target.avatarHash });
  if (current.departmentPath !== target.departmentPath)
    changes.push({ field: "departmentPath", from: current.departmentPath, to: target.departmentPath });
  const from = [...current.groups].sort().join(", ");
  const to = [...target.groups].sort().join(", ");
  if (from !== to) changes.push({ field: "groups", from: from || null, to: to || null });
  if ((current.dn ?? "") !== dn) changes.push({ field: "dn", from: current.dn, to: dn });
  if (current.upn !== user.upn) changes.push({ field: "userPrincipalName", from: current.upn, to: user.upn });
  if (current.sam !== user.sam) changes.push({ field: "sAMAccountName", from: current.sam, to: user.sam });
  return changes;
}
