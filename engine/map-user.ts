// Configuration x directory user -> the extension the user should have, or why they get
// none. Pure: the same input always gives the same output, with no I/O.
import type { SyncConfig } from "../schema/generated/config.ts";
import { baseLengthWithin, isDnWithin, parseDn } from "../schema/src/dn.ts";
import { type DirectoryUser, firstValue } from "./directory-user.ts";
import { normalizeNumber } from "./extension-numbers.ts";
import { type ExtensionField, type ExtensionFieldValues, extensionFields, type LoginNames } from "./pbx/pbx-port.ts";

export type ExclusionCode = "out_of_scope" | "disabled" | "excluded_by_pattern";

export interface DesiredUser extends LoginNames {
  guid: string;
  dn: string;
  /** Display name, else cn, else sAMAccountName: how the user is named in Preview and the log. */
  name: string;
  disabled: boolean;
  excluded?: { code: ExclusionCode; reason: string };
  fields: ExtensionFieldValues;
  avatarHash: string | null;
  departmentPath: string | null;
  groups: string[];
  /** The number the source attribute gives, when the configuration reads one from an attribute. */
  attributeNumber?: string;
  /** The attribute value the number came from, for "no usable number" reports. */
  attributeValue?: string;
  /** The extension new extensions copy settings from (deepest templateExtensions OU). */
  template?: string;
}

export const defaultFieldAttributes: Record<ExtensionField | "avatar", string> = {
  firstName: "givenName",
  lastName: "sn",
  displayName: "displayName",
  email: "mail",
  mobile: "mobile",
  workPhone: "telephoneNumber",
  department: "department",
  jobTitle: "title",
  avatar: "thumbnailPhoto",
};

export function fieldAttribute(config: SyncConfig, field: ExtensionField | "avatar"): string {
  return config.fields?.[field]?.attribute ?? defaultFieldAttributes[field];
}

export function fieldSynced(config: SyncConfig, field: ExtensionField | "avatar"): boolean {
  return config.fields?.[field]?.sync !== false;
}

/** Membership of the extension groups' nested AD groups, which a user's memberOf does not show. */
export interface GroupContext {
  /**
   * A nested group's dnKey -> the dnKeys of the groups inside it at any depth: a user is a
   * member when their memberOf names any of them.
   */
  nestedGroups: Map<string, Set<string>>;
}

/**
 * The user's desired extension. `inScope` says whether the scope (OUs, groups, filter)
 * selects the user; the directory decides that, not this function.
 */
export function mapUser(config: SyncConfig, user: DirectoryUser, inScope: boolean, context?: GroupContext): DesiredUser {
  const fields = {} as ExtensionFieldValues;
  for (const field of extensionFields) fields[field] = firstValue(user, fieldAttribute(config, field)) ?? null;
  const name = fields.displayName ?? firstValue(user, "cn") ?? firstValue(user, "sAMAccountName") ?? user.dn;
  const desired: DesiredUser = {
    guid: user.guid,
    dn: user.dn,
    name,
    disabled: user.disabled,
    fields,
    avatarHash: user.photoHash ?? null,
    departmentPath: departmentPath(config, user),
    groups: extensionGroups(config, user, context),
    upn: firstValue(user, "userPrincipalName")?.toLowerCase() ?? null,
    sam: firstValue(user, "sAMAccountName")?.toLowerCase() ?? null,
  };
  const numbers = config.extensionNumbers;
  if ((numbers?.source ?? "sequential") !== "sequential" && numbers?.attribute !== undefined) {
    const value = firstValue(user, numbers.attribute);
    if (value !== undefined) desired.attributeValue = value;
    const number = normalizeNumber(value, numbers.normalize);
    if (number !== undefined) desired.attributeNumber = number;
  }
  const template = templateFor(config, user.dn);
  if (template !== undefined) desired.template = template;

  if (!inScope) desired.excluded = { code: "out_of_scope", reason: "not in the sync scope" };
  else if (user.disabled && config.scope?.includeDisabled !== true)
    desired.excluded = { code: "disabled", reason: "the AD account is disabled" };
  else {
    const rule = matchingExclusion(config, user);
    if (rule !== undefined) desired.excluded = { code: "excluded_by_pattern", reason: rule };
  }
  return desired;
}

/** The OU path below the base DN, outermost first: "Staff > Sales". */
function departmentPath(config: SyncConfig, user: DirectoryUser): string | null {
  const from = config.organisation?.departments?.from ?? "ouTree";
  if (from === "none") return null;
  if (from === "attribute") return firstValue(user, config.organisation?.departments?.attribute ?? "department") ?? null;
  // The path is the user's container's: worked out once a container (a directory has few next
  // to its users) rather than by parsing every user's DN.
  const container = containerOf(user.dn);
  const byContainer = memo(departmentPaths, config);
  let path = container === undefined ? undefined : byContainer.get(container);
  if (path === undefined) {
    path = ouPath(config, user.dn);
    if (container !== undefined) byContainer.set(container, path);
  }
  return path;
}

function ouPath(config: SyncConfig, dn: string): string | null {
  const parsed = parseDn(dn);
  if (!parsed.ok) return null;
  const baseLength = baseLengthWithin(parsed.dn, config.connection?.baseDn ?? "");
  const below = parsed.dn.slice(1, parsed.dn.length - (baseLength ?? 0));
  const ous = below
    .filter((rdn) => rdn.length === 1 && rdn[0]?.type.toLowerCase() === "ou")
    .map((rdn) => rdn[0]?.value as string)
    .reverse();
  return ous.length === 0 ? null : ous.join(" > ");
}

/**
 * A DN without its first RDN, as written; undefined when the first comma cannot be told from
 * the text alone (an escape or a quote before it), which parsing then settles.
 */
function containerOf(dn: string): string | undefined {
  const comma = dn.indexOf(",");
  if (comma < 0 || dn.lastIndexOf("\\", comma) >= 0 || dn.lastIndexOf('"', comma) >= 0) return undefined;
  return dn.slice(comma + 1);
}

/** Lookups a configuration keeps while it is in use: its objects stay the same through a run, and go with it. */
const departmentPaths = new WeakMap<object, Map<string, string | null>>();
const groupKeys = new Map<string, string>();
/** Past this many a memo starts again: a bound on what one holds, far above the containers or groups a directory has. */
const MEMO_LIMIT = 10_000;

function memo<T>(memos: WeakMap<object, Map<string, T>>, config: SyncConfig): Map<string, T> {
  let known = memos.get(config);
  if (known === undefined || known.size > MEMO_LIMIT) {
    known = new Map();
    memos.set(config, known);
  }
  return known;
}

/** dnKey of a group a user's memberOf names: the same few groups come back on every user. */
function groupKey(dn: string): string {
  let key = groupKeys.get(dn);
  if (key === undefined) {
    if (groupKeys.size > MEMO_LIMIT) groupKeys.clear();
    key = dnKey(dn);
    groupKeys.set(dn, key);
  }
  return key;
}

function extensionGroups(config: SyncConfig, user: DirectoryUser, context: GroupContext | undefined): string[] {
  const settings = config.organisation?.extensionGroups;
  const from = settings?.from ?? "none";
  const names = new Set<string>();
  if (from === "attribute") {
    for (const v of user.attributes[(settings?.attribute ?? "").toLowerCase()] ?? []) if (v.trim() !== "") names.add(v.trim());
  } else if (from === "memberOf") {
    const memberOf = user.attributes.memberof ?? [];
    if (settings?.groups === undefined) {
      for (const dn of memberOf) names.add(cnOf(dn));
    } else {
      const keys = memberOf.map(groupKey);
      for (const group of settings.groups) {
        const { key, name } = mirroredGroup(group);
        const inside = group.nested === true ? context?.nestedGroups.get(key) : undefined;
        const member = keys.includes(key) || (inside !== undefined && keys.some((g) => inside.has(g)));
        if (member) names.add(name);
      }
    }
  }
  return [...names].sort();
}

// Each mirrored group's key and name, worked out once a configuration rather than once a
// user: the configuration's objects stay the same through a run, and go with it.
const mirrored = new WeakMap<object, { key: string; name: string }>();

function mirroredGroup(group: { dn: string; extensionGroup?: string }): { key: string; name: string } {
  let known = mirrored.get(group);
  if (known === undefined) {
    known = { key: dnKey(group.dn), name: group.extensionGroup ?? cnOf(group.dn) };
    mirrored.set(group, known);
  }
  return known;
}

export function dnKey(dn: string): string {
  return dn.replace(/\s*,\s*/g, ",").toLowerCase();
}

/** The value of a DN's first RDN: a group's name. */
export function cnOf(dn: string): string {
  const parsed = parseDn(dn);
  return parsed.ok ? (parsed.dn[0]?.[0]?.value ?? dn) : dn;
}

function templateFor(config: SyncConfig, dn: string): string | undefined {
  let best: { depth: number; extension: string } | undefined;
  for (const t of config.organisation?.templateExtensions ?? []) {
    if (!isDnWithin(dn, t.ou)) continue;
    const parsed = parseDn(t.ou);
    const depth = parsed.ok ? parsed.dn.length : 0;
    if (!best || depth > best.depth) best = { depth, extension: t.extension };
  }
  return best?.extension;
}

/** The reason of the first exclusion rule the user matches. */
function matchingExclusion(config: SyncConfig, user: DirectoryUser): string | undefined {
  for (const rule of config.scope?.exclude ?? []) {
    const attribute = rule.attribute ?? "sAMAccountName";
    const values = user.attributes[attribute.toLowerCase()] ?? [];
    const test = rule.match === "regex" ? new RegExp(rule.pattern, "i") : globToRegExp(rule.pattern);
    if (values.some((v) => test.test(v))) {
      return rule.reason ?? `${attribute} matches the exclusion ${JSON.stringify(rule.pattern)}`;
    }
  }
  return undefined;
}

function globToRegExp(glob: string): RegExp {
  const body = glob
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replace(/\*/g, ".*")
    .replace(/\?/g, ".");
  return new RegExp(`^${body}$`, "i");
}
