// The plan: what a run would do to the PBX, item by item, each with its reason. Pure: the
// desired users (mapped from the directory), the PBX's extensions and whether the read was
// complete go in; the plan comes out. Preview shows it; Sync applies it.
import type { SyncConfig } from "../schema/generated/config.ts";
import { describeRanges, NumberPool, rangesFor } from "./extension-numbers.ts";
import { type DesiredUser, fieldSynced } from "./map-user.ts";
import { fitField, fullCapabilities, type PbxCapabilities } from "./pbx/pbx-capabilities.ts";
import {
  type ArchiveTarget,
  type Extension,
  type ExtensionField,
  type ExtensionState,
  extensionFields,
  type LoginNames,
} from "./pbx/pbx-port.ts";
import { isOperation, type PlanAction, planActions } from "./plan-actions.ts";

export { type PlanAction, planActions, summaryText } from "./plan-actions.ts";

export interface FieldChange {
  field: ExtensionField | "number" | "avatar" | "departmentPath" | "groups" | "dn" | "userPrincipalName" | "sAMAccountName";
  from: string | null;
  to: string | null;
}

export interface PlanItem {
  action: PlanAction;
  /** The AD user's objectGUID; null for an extension whose user is unknown. */
  guid: string | null;
  dn: string | null;
  name: string;
  /** The extension's number: current, or new for a create. */
  number: string | null;
  reason: string;
  /** Machine-readable cause for conflicts, exclusions and deprovisioning. */
  code?: string;
  changes?: FieldChange[];
  /** For create and update: the whole state the extension will have. */
  state?: ExtensionState;
  numberSource?: "attribute" | "sequential";
  /** For create and update: the names the user logs in with. */
  login?: LoginNames;
  template?: string;
  archive?: ArchiveTarget;
  /**
   * For operations, the apply order: waves apply one after another, and the operations of one
   * wave are independent of each other (no number is freed and taken within a wave), so a
   * target may take them at once.
   */
  wave?: number;
}

export interface Plan {
  items: PlanItem[];
  departmentsToCreate: string[];
  groupsToCreate: string[];
  summary: Record<PlanAction, number>;
  complete: boolean;
  incompleteReason?: string;
  /** Set when the deletes pass a safety limit: the run waits for an administrator. */
  held?: { reason: string; deletes: number; limit: string };
}

export interface PlanInput {
  config: SyncConfig;
  /** Every user under the base DN: in scope or not (see DesiredUser.excluded). */
  users: Iterable<DesiredUser>;
  /** objectGUIDs of every user that exists under the base DN, for deleted vs. out of scope. */
  present?: ReadonlySet<string>;
  extensions: Iterable<Extension>;
  departments?: Iterable<string>;
  extensionGroups?: Iterable<string>;
  /**
   * What the PBX target can hold (its declared capabilities; everything when absent). What it
   * cannot hold is neither planned nor compared, so Preview shows what Sync will do there.
   */
  capabilities?: PbxCapabilities;
  /** Whether the directory read was complete; without it nothing is disabled or deleted. */
  complete: boolean;
  incompleteReason?: string;
  /**
   * An incremental plan decides about these users only (the users read again, and the synced
   * users who may have left); every other synced extension is left as it is, its number
   * still taken. Absent: every extension is decided about.
   */
  decides?: ReadonlySet<string>;
}

const byName = (a: { dn: string; guid: string }, b: { dn: string; guid: string }) =>
  a.dn.toLowerCase() < b.dn.toLowerCase() ? -1 : a.dn.toLowerCase() > b.dn.toLowerCase() ? 1 : a.guid < b.guid ? -1 : 1;

export function planSync(input: PlanInput): Plan {
  const { config } = input;
  const numbersConfig = config.extensionNumbers;
  const source = numbersConfig?.source ?? "sequential";
  const users = [...input.users].sort(byName);
  // Hand-made extensions a first sync takes over (pbx.adopt): from here on they are planned as
  // the user's own, and their item says "adopt".
  const adopted = adoptions(config, users, input.extensions);
  const extensions = [...input.extensions].map((e) => {
    const guid = adopted.byNumber.get(e.number);
    return guid === undefined ? e : { ...e, origin: "ad" as const, guid };
  });
  const byGuid = new Map(extensions.filter((e) => e.origin === "ad" && e.guid).map((e) => [e.guid as string, e]));
  const byNumber = new Map(extensions.map((e) => [e.number, e]));
  const seen = new Set(users.map((u) => u.guid));
  const present = input.present ?? seen;
  const items: PlanItem[] = [];
  const archiveNumber = config.deprovisioning?.archive?.extension;

  const active = users.filter((u) => u.excluded === undefined);
  const activeGuids = new Set(active.map((u) => u.guid));
  const usersByGuid = new Map(users.map((u) => [u.guid, u]));
  const deprovision = new Map<string, Deprovision>();
  for (const e of extensions) {
    if (input.decides !== undefined && (e.guid === null || !input.decides.has(e.guid))) continue;
    if (e.origin === "ad" && e.guid !== null && !activeGuids.has(e.guid))
      deprovision.set(e.guid, deprovisionOf(config, e, present, usersByGuid, input.complete));
  }

  // Numbers change hands only when their holder lets go of them in this run: it is deleted,
  // or it takes another number itself. `released` holds those numbers; `round` orders the
  // renumbering so each update finds its new number already free.
  const released = new Set<string>();
  for (const [guid, d] of deprovision) if (d.action === "delete") released.add(byGuid.get(guid)?.number as string);
  const numberOf = new Map<string, { number: string; source: "attribute" | "sequential"; round: number }>();
  const conflicts = new Map<string, { code: string; reason: string }>();
  const claims = new Map<string, DesiredUser[]>();
  for (const u of active) {
    const current = byGuid.get(u.guid);
    const fromAttribute = source !== "sequential" ? u.attributeNumber : undefined;
    if (fromAttribute !== undefined && fromAttribute !== current?.number) {
      claims.set(fromAttribute, [...(claims.get(fromAttribute) ?? []), u]);
    } else if (current && (fromAttribute !== undefined || source !== "attribute")) {
      numberOf.set(u.guid, {
        number: current.number,
        source: fromAttribute !== undefined ? "attribute" : (current.numberSource ?? "sequential"),
        round: 0,
      });
    } else if (source === "attribute") {
      const attribute = numbersConfig?.attribute ?? "the number attribute";
      conflicts.set(u.guid, {
        code: "no_number",
        reason:
          u.attributeValue === undefined
            ? `${attribute} is empty, so there is no extension number`
            : `${attribute} "${u.attributeValue}" does not give an extension number`,
      });
    }
  }
  const taken = new Set<string>();
  const pool = new NumberPool();
  for (let round = 1, progress = true; progress; round++) {
    progress = false;
    // A number a user lets go of in this round is free only once that update is applied, so
    // only the next round (the next wave) may give it to someone else.
    const freed: string[] = [];
    for (const number of [...claims.keys()].sort()) {
      const claimants = claims.get(number) as DesiredUser[];
      const holder = byNumber.get(number);
      const reject = (code: string, reason: string, who = claimants) => {
        for (const u of who) conflicts.set(u.guid, { code, reason });
        claims.delete(number);
      };
      if (holder?.origin === "manual") {
        reject("number_taken_manual", `number ${number} belongs to a hand-made extension, which sync never overwrites`);
      } else if (number === archiveNumber) {
        reject("number_is_archive", `number ${number} is the archive extension (deprovisioning.archive)`);
      } else if (taken.has(number)) {
        reject("number_duplicate", `number ${number} is already given to another user in this run`);
      } else if (holder === undefined || released.has(number)) {
        // Claimants are in DN order, so the first by DN wins, the same way every run.
        const winner = claimants[0] as DesiredUser;
        numberOf.set(winner.guid, { number, source: "attribute", round });
        taken.add(number);
        pool.take(number);
        const old = byGuid.get(winner.guid);
        if (old) freed.push(old.number);
        reject("number_duplicate", `number ${number} is also wanted by ${winner.name}, who gets it`, claimants.slice(1));
        progress = true;
      }
    }
    for (const number of freed) released.add(number);
  }
  for (const [number, claimants] of claims) {
    const holder = byNumber.get(number);
    for (const u of claimants)
      conflicts.set(u.guid, {
        code: "number_taken",
        reason: `number ${number} is held by extension ${number} (${holder?.displayName ?? "another user"}), which keeps it`,
      });
  }
  // Sequential numbers come from what no extension holds after this run's deletes and
  // renumbering (which the apply order runs first), and never the archive extension's.
  for (const e of extensions) if (!released.has(e.number)) pool.take(e.number);
  if (archiveNumber !== undefined) pool.take(archiveNumber);
  for (const u of active) {
    if (numberOf.has(u.guid) || conflicts.has(u.guid)) continue;
    const ranges = rangesFor(numbersConfig, u.dn);
    const number = pool.allocate(ranges);
    if (number === undefined)
      conflicts.set(u.guid, { code: "range_exhausted", reason: `no free number left in ${describeRanges(ranges)}` });
    else numberOf.set(u.guid, { number, source: "sequential", round: 0 });
  }

  // 3. Each user: create, update, enable, unchanged, conflict or excluded.
  const knownGroups = new Set(input.extensionGroups ?? []);
  const knownDepartments = new Set(input.departments ?? []);
  const createMissing = config.organisation?.extensionGroups?.createMissing !== false;
  const caps = input.capabilities ?? fullCapabilities;
  const groupsManaged = caps.extensionGroups && (config.organisation?.extensionGroups?.from ?? "none") !== "none";
  const departmentsManaged = caps.departments && (config.organisation?.departments?.from ?? "ouTree") !== "none";
  const groupsToCreate = new Set<string>();
  const departmentsToCreate = new Set<string>();

  for (const u of users) {
    const current = byGuid.get(u.guid);
    if (u.excluded !== undefined) {
      if (current) continue; // deprovisioned below
      if (u.excluded.code === "out_of_scope") continue; // the rest of the directory is not listed
      items.push({
        action: "excluded",
        guid: u.guid,
        dn: u.dn,
        name: u.name,
        number: null,
        reason: u.excluded.reason,
        code: u.excluded.code,
      });
      continue;
    }
    const conflict = conflicts.get(u.guid);
    if (conflict) {
      items.push({
        action: "conflict",
        guid: u.guid,
        dn: u.dn,
        name: u.name,
        number: current?.number ?? null,
        reason: current ? `${conflict.reason}; extension ${current.number} is left as it is` : conflict.reason,
        code: conflict.code,
      });
      continue;
    }
    const assigned = numberOf.get(u.guid) as { number: string; source: "attribute" | "sequential" };
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
    if (departmentsManaged && u.departmentPath !== null && !knownDepartments.has(u.departmentPath))
      departmentsToCreate.add(u.departmentPath);

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
      const policy = adopted.byGuid.has(u.guid) ? "keep" : (caps.numberChange ?? "keep");
      if (policy === "conflict") {
        items.push({
          action: "conflict",
          guid: u.guid,
          dn: u.dn,
          name: u.name,
          number: current.number,
          code: "number_change_unsupported",
          reason: `AD gives number ${target.number}, and this PBX cannot change extension ${current.number}'s number: the extension is left as it is until the number is resolved (or the PBX's number change policy says recreate)`,
        });
        continue;
      }
      if (policy === "recreate") recreate = true;
      else {
        notes.push(`this PBX cannot change an extension's number: it stays ${current.number} (AD gives ${target.number})`);
        target.number = current.number;
      }
    }
    if (!current) {
      items.push({
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
      });
      continue;
    }
    const changes = diff(current, target, u);
    if (recreate) {
      const archive = caps.archiveOnDelete ? config.deprovisioning?.archive : undefined;
      items.push({
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
      });
      continue;
    }
    if (adopted.byGuid.has(u.guid)) {
      items.push({
        action: "adopt",
        guid: u.guid,
        dn: u.dn,
        name: u.name,
        number: current.number,
        reason: [`takes over the hand-made extension ${current.number} (${adopted.byGuid.get(u.guid)})`, ...notes].join("; "),
        changes,
        state: target,
        numberSource: assigned.source,
        login: { upn: u.upn, sam: u.sam },
      });
      continue;
    }
    const enable = !current.enabled && current.disabledBySync;
    if (changes.length === 0 && !enable) {
      items.push({
        action: "unchanged",
        guid: u.guid,
        dn: u.dn,
        name: u.name,
        number: current.number,
        reason: ["up to date", ...notes].join("; "),
      });
      continue;
    }
    const moved = changes.some((c) => c.field === "dn");
    items.push({
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
    });
  }

  // 4. Synced extensions whose user is gone, disabled, out of scope or excluded.
  for (const e of extensions) {
    const d = e.guid === null ? undefined : deprovision.get(e.guid);
    if (!d) continue;
    const base = { guid: e.guid, dn: d.user?.dn ?? e.dn, name: d.user?.name ?? e.displayName ?? e.number, number: e.number, code: d.code };
    if (d.action === "keep" && d.blocked) {
      items.push({
        ...base,
        action: "unchanged",
        reason: `${d.text}, but the directory read was incomplete (${input.incompleteReason ?? "see the run"}): nothing is disabled or deleted`,
      });
    } else if (d.action === "keep") {
      items.push({ ...base, action: "unchanged", reason: `${d.text}; kept, as the configuration says` });
    } else if (d.action === "disable" && !caps.disable) {
      // Validation refuses this configuration for such a target; a plan made anyway says what happens.
      items.push({
        ...base,
        action: "unchanged",
        reason: `${d.text}; this PBX cannot disable an extension, so it is kept (set deprovisioning to delete or keep)`,
      });
    } else if (d.action === "disable") {
      if (e.enabled) items.push({ ...base, action: "disable", reason: `${d.text}: the extension is disabled` });
      else items.push({ ...base, action: "unchanged", reason: `${d.text}; already disabled` });
    } else if (!caps.delete) {
      // Validation refuses this configuration for such a target; a plan made anyway says what happens.
      items.push({
        ...base,
        action: "unchanged",
        reason: `${d.text}; this PBX cannot delete an extension, so it is kept (set deprovisioning to disable or keep)`,
      });
    } else {
      const archive = caps.archiveOnDelete ? config.deprovisioning?.archive : undefined;
      items.push({
        ...base,
        action: "delete",
        reason: `${d.text}: the extension is deleted${archive ? `, its ${archiveWhat(archive)} moved to extension ${archive.extension}` : ""}`,
        ...(archive
          ? { archive: { extension: archive.extension, voicemail: archive.voicemail !== false, recordings: archive.recordings !== false } }
          : {}),
      });
    }
  }

  // Apply order: deletes and disables free numbers first, renumbering in its rounds, creates last.
  const rank = (item: PlanItem) =>
    item.action === "delete"
      ? 0
      : item.action === "disable"
        ? 1
        : item.action === "update" || item.action === "enable" || item.action === "recreate"
          ? 2 + (numberOf.get(item.guid ?? "")?.round ?? 0)
          : item.action === "create"
            ? 1e6
            : 2e6;
  items.sort((a, b) => rank(a) - rank(b));
  let wave = -1;
  let waveRank = Number.NaN;
  for (const item of items) {
    if (!isOperation(item)) continue;
    if (rank(item) !== waveRank) {
      waveRank = rank(item);
      wave++;
    }
    item.wave = wave;
  }

  const summary = Object.fromEntries(planActions.map((a) => [a, 0])) as Record<PlanAction, number>;
  for (const item of items) summary[item.action]++;
  const plan: Plan = {
    items,
    departmentsToCreate: [...departmentsToCreate].sort(),
    groupsToCreate: [...groupsToCreate].sort(),
    summary,
    complete: input.complete,
  };
  if (!input.complete && input.incompleteReason !== undefined) plan.incompleteReason = input.incompleteReason;
  // A recreate deletes an extension (and what it holds) too: it counts against the limits.
  const held = safetyHold(config, summary.delete + summary.recreate, byGuid.size);
  if (held) plan.held = held;
  return plan;
}

/**
 * Which hand-made extensions active users without an extension take over: the one with the
 * user's e-mail address (pbx.adopt "email"), or with the number the user's number attribute
 * gives (pbx.adopt "number"). Each is taken by one user at most, and a match two users share
 * is taken by neither.
 */
function adoptions(
  config: SyncConfig,
  users: DesiredUser[],
  extensions: Iterable<Extension>,
): { byNumber: Map<string, string>; byGuid: Map<string, string> } {
  const mode = (config.pbx as { adopt?: string } | undefined)?.adopt ?? "none";
  const byNumber = new Map<string, string>();
  const byGuid = new Map<string, string>();
  if (mode !== "email" && mode !== "number") return { byNumber, byGuid };
  const all = [...extensions];
  const synced = new Set(all.filter((e) => e.origin === "ad" && e.guid).map((e) => e.guid as string));
  const manual = all.filter((e) => e.origin === "manual");
  const keyOf = (e: Extension) => (mode === "email" ? e.email?.toLowerCase() : e.number);
  const candidates = new Map<string, Extension[]>();
  for (const e of manual) {
    const key = keyOf(e);
    if (key) candidates.set(key, [...(candidates.get(key) ?? []), e]);
  }
  const wanted = new Map<string, DesiredUser[]>();
  for (const u of users) {
    if (u.excluded !== undefined || synced.has(u.guid)) continue;
    const key = mode === "email" ? u.fields.email?.toLowerCase() : u.attributeNumber;
    if (key) wanted.set(key, [...(wanted.get(key) ?? []), u]);
  }
  for (const [key, claimants] of wanted) {
    const found = candidates.get(key);
    if (claimants.length !== 1 || found?.length !== 1) continue;
    const e = found[0] as Extension;
    const u = claimants[0] as DesiredUser;
    byNumber.set(e.number, u.guid);
    byGuid.set(
      u.guid,
      mode === "email"
        ? `same e-mail address, ${key}`
        : `same number, from ${config.extensionNumbers?.attribute ?? "the number attribute"}`,
    );
  }
  return { byNumber, byGuid };
}

function archiveWhat(archive: NonNullable<NonNullable<SyncConfig["deprovisioning"]>["archive"]>): string {
  const parts = [archive.voicemail !== false ? "voicemail" : "", archive.recordings !== false ? "recordings" : ""].filter(Boolean);
  return parts.length > 0 ? parts.join(" and ") : "data";
}

function targetState(
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

/** Deletes over maxDeletesPerRun, or over maxDeletePercent of the synced extensions, wait for approval. */
function safetyHold(config: SyncConfig, deletes: number, synced: number): Plan["held"] {
  if (deletes === 0) return undefined;
  const maxCount = config.safety?.maxDeletesPerRun ?? 10;
  const maxPercent = config.safety?.maxDeletePercent ?? 10;
  if (deletes > maxCount) {
    return {
      reason: `${deletes} deletes are more than the ${maxCount} allowed without approval (safety.maxDeletesPerRun)`,
      deletes,
      limit: `${maxCount}`,
    };
  }
  const percent = synced === 0 ? 100 : (deletes * 100) / synced;
  if (percent > maxPercent) {
    return {
      reason: `${deletes} of ${synced} synced extensions (${Math.round(percent)}%) would be deleted, more than the ${maxPercent}% allowed without approval (safety.maxDeletePercent)`,
      deletes,
      limit: `${maxPercent}%`,
    };
  }
  return undefined;
}

interface Deprovision {
  action: "delete" | "disable" | "keep";
  code: string;
  text: string;
  user: DesiredUser | undefined;
  /** The configured action was not taken because the read was incomplete. */
  blocked: boolean;
}

function deprovisionOf(
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
