// The plan: what a run would do to the PBX, item by item, each with its reason. Pure: the
// desired users (mapped from the directory), the PBX's extensions and whether the read was
// complete go in; the plan comes out. Preview shows it; Sync applies it. Made of pure pieces
// a planner walking SQLite in chunks can use as well: who gets which number
// (plan-numbers.ts), each user's item (plan-user.ts), each leaver's extension
// (plan-deprovision.ts); here, adoption, the apply order and the safety limits.
import type { SyncConfig } from "../schema/generated/config.ts";
import type { DesiredUser } from "./map-user.ts";
import { fullCapabilities, type PbxCapabilities } from "./pbx/pbx-capabilities.ts";
import type { ArchiveTarget, Extension, ExtensionField, ExtensionState, LoginNames } from "./pbx/pbx-port.ts";
import { isOperation, type PlanAction, planActions } from "./plan-actions.ts";
import { type Deprovision, deprovisionOf, planDeprovision } from "./plan-deprovision.ts";
import { assignNumbers } from "./plan-numbers.ts";
import { planUser, type UserContext } from "./plan-user.ts";

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

  const active = users.filter((u) => u.excluded === undefined);
  const activeGuids = new Set(active.map((u) => u.guid));
  const usersByGuid = new Map(users.map((u) => [u.guid, u]));
  const deprovision = new Map<string, Deprovision>();
  for (const e of extensions) {
    if (input.decides !== undefined && (e.guid === null || !input.decides.has(e.guid))) continue;
    if (e.origin === "ad" && e.guid !== null && !activeGuids.has(e.guid))
      deprovision.set(e.guid, deprovisionOf(config, e, present, usersByGuid, input.complete));
  }

  // Numbers change hands only when their holder lets go of them in this run (plan-numbers.ts).
  const deleted = [...deprovision].filter(([, d]) => d.action === "delete").map(([guid]) => byGuid.get(guid)?.number as string);
  const { numberOf, conflicts } = assignNumbers({ config, active, byGuid, byNumber, extensions, deleted });

  // 3. Each user: create, update, enable, unchanged, conflict or excluded.
  const knownGroups = new Set(input.extensionGroups ?? []);
  const knownDepartments = new Set(input.departments ?? []);
  const createMissing = config.organisation?.extensionGroups?.createMissing !== false;
  const caps = input.capabilities ?? fullCapabilities;
  const groupsManaged = caps.extensionGroups && (config.organisation?.extensionGroups?.from ?? "none") !== "none";
  const departmentsManaged = caps.departments && (config.organisation?.departments?.from ?? "ouTree") !== "none";
  const groupsToCreate = new Set<string>();
  const departmentsToCreate = new Set<string>();

  const userContext: UserContext = {
    config,
    caps,
    byGuid,
    numberOf,
    conflicts,
    adopted: adopted.byGuid,
    groupsManaged,
    departmentsManaged,
    knownGroups,
    knownDepartments,
    createMissing,
    groupsToCreate,
    departmentsToCreate,
  };
  for (const u of users) {
    const item = planUser(u, userContext);
    if (item) items.push(item);
  }

  // 4. Synced extensions whose user is gone, disabled, out of scope or excluded.
  for (const e of extensions) {
    const d = e.guid === null ? undefined : deprovision.get(e.guid);
    if (d) items.push(planDeprovision(e, d, { config, caps, incompleteReason: input.incompleteReason }));
  }

  const rank = (item: PlanItem) => applyRank(item, numberOf.get(item.guid ?? "")?.round ?? 0);
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
 * Apply order: deletes and disables free numbers first, renumbering in its rounds (`round`,
 * the user's number round), creates last; items that are not operations after them.
 */
export function applyRank(item: Pick<PlanItem, "action">, round: number): number {
  return item.action === "delete"
    ? 0
    : item.action === "disable"
      ? 1
      : item.action === "update" || item.action === "enable" || item.action === "recreate"
        ? 2 + round
        : item.action === "create"
          ? 1e6
          : 2e6;
}

/** How a first sync matches users to hand-made extensions (pbx.adopt); "none" when it does not. */
export function adoptMode(config: SyncConfig): "email" | "number" | "none" {
  const mode = (config.pbx as { adopt?: string } | undefined)?.adopt ?? "none";
  return mode === "email" || mode === "number" ? mode : "none";
}

/** What an extension is matched by for adoption: its e-mail address, or its number. */
export function adoptKeyOfExtension(mode: "email" | "number", e: Pick<Extension, "email" | "number">): string | undefined {
  return (mode === "email" ? e.email?.toLowerCase() : e.number) || undefined;
}

/** What a user is matched by for adoption. */
export function adoptKeyOfUser(mode: "email" | "number", u: Pick<DesiredUser, "fields" | "attributeNumber">): string | undefined {
  return (mode === "email" ? u.fields.email?.toLowerCase() : u.attributeNumber) || undefined;
}

/** Why a user takes over a hand-made extension, as the adopt item says. */
export function adoptionReason(config: SyncConfig, mode: "email" | "number", key: string): string {
  return mode === "email"
    ? `same e-mail address, ${key}`
    : `same number, from ${config.extensionNumbers?.attribute ?? "the number attribute"}`;
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
  const mode = adoptMode(config);
  const byNumber = new Map<string, string>();
  const byGuid = new Map<string, string>();
  if (mode === "none") return { byNumber, byGuid };
  const all = [...extensions];
  const synced = new Set(all.filter((e) => e.origin === "ad" && e.guid).map((e) => e.guid as string));
  const manual = all.filter((e) => e.origin === "manual");
  const candidates = new Map<string, Extension[]>();
  for (const e of manual) {
    const key = adoptKeyOfExtension(mode, e);
    if (key) candidates.set(key, [...(candidates.get(key) ?? []), e]);
  }
  const wanted = new Map<string, DesiredUser[]>();
  for (const u of users) {
    if (u.excluded !== undefined || synced.has(u.guid)) continue;
    const key = adoptKeyOfUser(mode, u);
    if (key) wanted.set(key, [...(wanted.get(key) ?? []), u]);
  }
  for (const [key, claimants] of wanted) {
    const found = candidates.get(key);
    if (claimants.length !== 1 || found?.length !== 1) continue;
    const e = found[0] as Extension;
    const u = claimants[0] as DesiredUser;
    byNumber.set(e.number, u.guid);
    byGuid.set(u.guid, adoptionReason(config, mode, key));
  }
  return { byNumber, byGuid };
}

/** Deletes over maxDeletesPerRun, or over maxDeletePercent of the synced extensions, wait for approval. */
export function safetyHold(config: SyncConfig, deletes: number, synced: number): Plan["held"] {
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
