// RFC 4515 search filters, evaluated the way Active Directory evaluates them, so a directory
// held in memory (an LDIF export) selects exactly the entries a domain controller would
// for the same search. Without AD's schema at hand, a few of its rules are stood in for by
// name lists below (which attributes hold DNs, which classes share an objectCategory);
// everything else is compared as AD compares its usual string syntaxes: ignoring case.
import { normalizeDn, parseDn } from "../../../schema/src/dn.ts";
import { type AssertionValue, type FilterNode, parseFilterAst } from "../../../schema/src/filter-ast.ts";

/**
 * An entry as a filter sees it: every attribute AD would hold, computed ones (memberOf,
 * objectCategory) included. Values of binary attributes (objectGUID, objectSid) must be
 * bytes, which compare byte for byte; strings compare as AD compares text.
 */
export interface FilterEntry {
  readonly dn: string;
  /** dnKey(dn), when the caller has it already. */
  readonly key?: string;
  /** The values of `attribute` (lower-case, no options); undefined or empty when the entry has none. */
  values(attribute: string): ReadonlyArray<string | Uint8Array> | undefined;
}

/**
 * The rest of the directory, for the matching rule that follows links between entries
 * (LDAP_MATCHING_RULE_IN_CHAIN). Taken to be unchanging once used: chains are remembered
 * per directory object.
 */
export interface FilterDirectory {
  /** dnKeys of the entries whose `attribute` holds a DN whose dnKey is `key` (for memberOf: the group's direct members). */
  linkedFrom(attribute: string, key: string): Iterable<string>;
}

/** AD's bitwise AND and OR on integer attributes, and transitive membership (MS-ADTS 3.1.1.3.4.4). */
const MATCHING_RULES = {
  bitAnd: "1.2.840.113556.1.4.803",
  bitOr: "1.2.840.113556.1.4.804",
  inChain: "1.2.840.113556.1.4.1941",
} as const;

const encoder = new TextEncoder();

/** Whether `entry` matches `filter`; Undefined (RFC 4511 section 4.5.1.7) counts as no match, as in AD. */
export function matchesFilter(filter: FilterNode | string, entry: FilterEntry, directory: FilterDirectory): boolean {
  const node = typeof filter === "string" ? parseFilterAst(filter) : filter;
  return evaluate(node, entry, directory) === true;
}

/**
 * Canonical form of a DN for comparing (normalizeDn of schema/src/dn.ts), or undefined
 * when it is not a DN.
 */
export function dnKey(dn: string): string | undefined {
  const parsed = parseDn(dn);
  return parsed.ok ? normalizeDn(parsed.dn) : undefined;
}

// ---------------------------------------------------------------------------------------
// Evaluation, three-valued (RFC 4511 section 4.5.1.7, and AD since Windows Server 2003 per
// MS-ADTS 3.1.1.3.1.3.1): undefined is Undefined, which NOT leaves Undefined, so
// (!(x:9.9.9:=1)) matches nothing either.

type Truth = boolean | undefined;

function evaluate(node: FilterNode, entry: FilterEntry, directory: FilterDirectory): Truth {
  switch (node.kind) {
    case "and": {
      let result: Truth = true;
      for (const f of node.filters) {
        const r = evaluate(f, entry, directory);
        if (r === false) return false;
        if (r === undefined) result = undefined;
      }
      return result;
    }
    case "or": {
      let result: Truth = false;
      for (const f of node.filters) {
        const r = evaluate(f, entry, directory);
        if (r === true) return true;
        if (r === undefined) result = undefined;
      }
      return result;
    }
    case "not": {
      const r = evaluate(node.filter, entry, directory);
      return r === undefined ? undefined : !r;
    }
    case "present":
      // Every object has an objectClass; (objectClass=*) is how "everything" is written.
      return baseName(node.attribute) === "objectclass" || (valuesOf(entry, node.attribute)?.length ?? 0) > 0;
    case "equality":
    case "approx":
      // MS-ADTS 3.1.1.3.1.3.1: AD implements ~= exactly as =.
      return equality(entry, node.attribute, node.value);
    case "greaterOrEqual":
    case "lessOrEqual":
      return ordering(entry, node.attribute, node.value, node.kind === "greaterOrEqual" ? 1 : -1);
    case "substrings":
      return substrings(entry, node);
    case "extensible":
      return extensible(entry, node, directory);
  }
}

// AD knows no attribute options in filters but ;binary, which changes nothing compared:
// the name before ';' is what is looked up.
function baseName(attribute: string): string {
  const semicolon = attribute.indexOf(";");
  return (semicolon < 0 ? attribute : attribute.slice(0, semicolon)).toLowerCase();
}

function valuesOf(entry: FilterEntry, attribute: string): ReadonlyArray<string | Uint8Array> | undefined {
  return entry.values(baseName(attribute));
}

// AD's string comparison ignores case; upper-then-lower also folds final sigma and ß alike,
// and NFC makes precomposed and combining forms equal. The same folding schema/src/dn.ts
// applies to DN values, so a DN and any other string compare alike.
function fold(value: string): string {
  return value.normalize("NFC").toUpperCase().toLowerCase();
}

// Attributes of DN syntax in AD's schema that filters commonly name: their values compare
// as DNs (RFC 4514 spelling and spacing ignored) and take no wildcards.
const DN_SYNTAX = new Set([
  "distinguishedname",
  "member",
  "memberof",
  "manager",
  "directreports",
  "managedby",
  "managedobjects",
  "objectcategory",
  "defaultobjectcategory",
  "seealso",
  "secretary",
  "assistant",
  "msds-membertransitive",
  "msds-memberoftransitive",
]);

function bytesOf(value: string | Uint8Array): Uint8Array {
  return typeof value === "string" ? encoder.encode(value) : value;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

function equality(entry: FilterEntry, attribute: string, value: AssertionValue): Truth {
  const name = baseName(attribute);
  if (name === "objectcategory") return categoryEquality(entry, value);
  const values = entry.values(name) ?? [];
  if (values.length === 0) return false;
  const asDn = DN_SYNTAX.has(name) && value.text !== undefined ? dnKey(value.text) : undefined;
  const folded = value.text === undefined ? undefined : fold(value.text);
  for (const v of values) {
    if (typeof v !== "string") {
      if (compareBytes(bytesOf(v), value.bytes) === 0) return true;
      continue;
    }
    // A text attribute cannot equal bytes that are not text.
    if (folded === undefined) continue;
    if (asDn !== undefined) {
      const key = dnKey(v);
      if (key !== undefined ? key === asDn : fold(v) === folded) return true;
      continue;
    }
    if (fold(v) === folded) return true;
  }
  return false;
}

const INTEGER = /^-?\d+$/;

// Attributes of Integer or LargeInteger syntax: AD orders these by value. Every other
// attribute orders as a string, digits or not: ipPhone and employeeID are strings in AD's
// schema, so (ipPhone>=999) does not match "1000" on a DC, and does not here.
const INTEGER_SYNTAX = new Set([
  "accountexpires",
  "admincount",
  "badpasswordtime",
  "badpwdcount",
  "codepage",
  "countrycode",
  "grouptype",
  "instancetype",
  "lastlogoff",
  "lastlogon",
  "lastlogontimestamp",
  "lockouttime",
  "logoncount",
  "msds-supportedencryptiontypes",
  "msexchrecipientdisplaytype",
  "msexchrecipienttypedetails",
  "msexchremoterecipienttype",
  "primarygroupid",
  "pwdlastset",
  "samaccounttype",
  "systemflags",
  "useraccountcontrol",
  "usnchanged",
  "usncreated",
]);

// Strings order by AD's collation; the code-unit order of folded text stands in for it,
// which agrees with it for ASCII letters and digits.
function ordering(entry: FilterEntry, attribute: string, value: AssertionValue, sign: 1 | -1): Truth {
  const name = baseName(attribute);
  const values = entry.values(name) ?? [];
  const number =
    INTEGER_SYNTAX.has(name) && value.text !== undefined && INTEGER.test(value.text.trim()) ? BigInt(value.text.trim()) : undefined;
  const folded = value.text === undefined ? undefined : fold(value.text);
  for (const v of values) {
    let d: number;
    if (typeof v !== "string") d = compareBytes(bytesOf(v), value.bytes);
    else if (number !== undefined && INTEGER.test(v.trim())) {
      const n = BigInt(v.trim());
      d = n < number ? -1 : n > number ? 1 : 0;
    } else if (folded !== undefined) {
      const f = fold(v);
      d = f < folded ? -1 : f > folded ? 1 : 0;
    } else continue;
    if (d * sign >= 0) return true;
  }
  return false;
}

function substrings(entry: FilterEntry, node: Extract<FilterNode, { kind: "substrings" }>): Truth {
  const name = baseName(node.attribute);
  // AD takes no wildcards in a DN: (memberOf=CN=Sales*) matches nothing.
  if (DN_SYNTAX.has(name)) return false;
  const values = entry.values(name) ?? [];
  if (values.length === 0) return false;
  const parts = [node.initial, ...node.any, node.final];
  // Text is matched folded; bytes as latin1 text (one character per byte), with case.
  const textParts = parts.map((a) => (a === undefined ? "" : a.text === undefined ? undefined : fold(a.text)));
  const byteParts = parts.map((a) => (a === undefined ? "" : Buffer.from(a.bytes).toString("latin1")));
  for (const v of values) {
    if (typeof v !== "string") {
      if (matchesSubstrings(Buffer.from(bytesOf(v)).toString("latin1"), byteParts)) return true;
    } else if (textParts.every((p) => p !== undefined) && matchesSubstrings(fold(v), textParts as string[])) {
      return true;
    }
  }
  return false;
}

function matchesSubstrings(text: string, parts: string[]): boolean {
  const initial = parts[0] ?? "";
  const final = parts[parts.length - 1] ?? "";
  if (!text.startsWith(initial)) return false;
  let at = initial.length;
  for (const any of parts.slice(1, -1)) {
    const found = text.indexOf(any, at);
    if (found < 0) return false;
    at = found + any.length;
  }
  return text.length - final.length >= at && text.endsWith(final);
}

// ---------------------------------------------------------------------------------------
// Extensible matches

function extensible(entry: FilterEntry, node: Extract<FilterNode, { kind: "extensible" }>, directory: FilterDirectory): Truth {
  const { attribute, rule, value } = node;
  // MS-ADTS 3.1.1.3.1.3.1: without an attribute the clause is Undefined, and :dn: is
  // ignored (AD never matches against the RDNs of an entry's DN).
  if (attribute === undefined) return undefined;
  if (rule === undefined) return equality(entry, attribute, value);
  switch (rule) {
    case MATCHING_RULES.bitAnd:
      return bitwise(entry, attribute, value, (v, a) => (v & a) === a);
    case MATCHING_RULES.bitOr:
      return bitwise(entry, attribute, value, (v, a) => (v & a) !== 0n);
    case MATCHING_RULES.inChain:
      return inChain(entry, attribute, value, directory);
    default:
      return undefined;
  }
}

// Integer attributes are signed 32-bit (userAccountControl, groupType: -2147483646) or 64-bit
// in AD, and the rules work on their bit patterns, so both sides are taken as 64-bit two's
// complement: (groupType:…803:=2147483648) finds security groups, as on a DC.
function bitwise(entry: FilterEntry, attribute: string, value: AssertionValue, test: (v: bigint, a: bigint) => boolean): Truth {
  const text = value.text?.trim();
  if (text === undefined || !INTEGER.test(text)) return undefined;
  const mask = BigInt.asUintN(64, BigInt(text));
  for (const v of valuesOf(entry, attribute) ?? []) {
    if (typeof v !== "string" || !INTEGER.test(v.trim())) continue;
    if (test(BigInt.asUintN(64, BigInt(v.trim())), mask)) return true;
  }
  return false;
}

// (memberOf:1.2.840.113556.1.4.1941:=G) holds when G is reached from the entry by following
// memberOf any number of times; (member:…:=U) when U is reached by following member. Instead
// of walking up from every entry, the set of entries that reach G is found once, walking
// the links backwards from G, and each entry is then a set lookup. Cycles (AD allows groups
// to contain each other) end the walk, and an entry is in its own chain only through one.
const chains = new WeakMap<FilterDirectory, Map<string, ReadonlySet<string>>>();

function inChain(entry: FilterEntry, attribute: string, value: AssertionValue, directory: FilterDirectory): Truth {
  const target = value.text === undefined ? undefined : dnKey(value.text);
  if (target === undefined) return undefined;
  const name = baseName(attribute);
  let memo = chains.get(directory);
  if (memo === undefined) {
    memo = new Map();
    chains.set(directory, memo);
  }
  const memoKey = `${name}\n${target}`;
  let reaching = memo.get(memoKey);
  if (reaching === undefined) {
    const found = new Set<string>();
    const queue = [target];
    for (let i = 0; i < queue.length; i++) {
      for (const from of directory.linkedFrom(name, queue[i] ?? "")) {
        if (found.has(from)) continue;
        found.add(from);
        queue.push(from);
      }
    }
    reaching = found;
    memo.set(memoKey, reaching);
  }
  const key = entry.key ?? dnKey(entry.dn);
  return key !== undefined && reaching.has(key);
}

// ---------------------------------------------------------------------------------------
// objectCategory

// AD stores objectCategory as the DN of a class's defaultObjectCategory and, in a filter,
// accepts the lDAPDisplayName of any class instead: (objectCategory=person) means
// CN=Person,CN=Schema,CN=Configuration,…, and so does (objectCategory=user), because the
// user class (like organizationalPerson, inetOrgPerson and contact) files its objects under
// Person. Computers are objectClass=user too but are filed under Computer, which is why
// (objectCategory=person) is how "people" is written. The table holds the classes AD
// creates for accounts, groups and containers; another name is taken as the CN itself.
const CATEGORY_OF_CLASS: Record<string, string> = {
  person: "Person",
  organizationalperson: "Person",
  user: "Person",
  inetorgperson: "Person",
  contact: "Person",
  computer: "Computer",
  "msds-managedserviceaccount": "ms-DS-Managed-Service-Account",
  "msds-groupmanagedserviceaccount": "ms-DS-Group-Managed-Service-Account",
  group: "Group",
  organizationalunit: "Organizational-Unit",
  container: "Container",
  domaindns: "Domain-DNS",
  builtindomain: "Builtin-Domain",
  foreignsecurityprincipal: "Foreign-Security-Principal",
};

// Most specific first: an entry's objectClass lists every class it inherits (a computer is
// also a user and a person), and hand-written LDIF need not keep AD's order.
const CLASS_PRIORITY = [
  "msds-groupmanagedserviceaccount",
  "msds-managedserviceaccount",
  "computer",
  "inetorgperson",
  "user",
  "contact",
  "organizationalperson",
  "person",
  "group",
  "organizationalunit",
  "domaindns",
  "builtindomain",
  "foreignsecurityprincipal",
  "container",
];

/**
 * The CN of the schema object AD would file an entry with these object classes under (its
 * objectCategory is CN=<this>,CN=Schema,CN=Configuration,<forest DN>), or undefined when
 * none of the classes is known. The one rule used both to fill in a missing objectCategory
 * and to match entries that have none.
 */
export function categoryOf(objectClasses: ReadonlyArray<string | Uint8Array>): string | undefined {
  const classes = new Set(objectClasses.filter((c): c is string => typeof c === "string").map((c) => c.toLowerCase()));
  const found = CLASS_PRIORITY.find((c) => classes.has(c));
  return found === undefined ? undefined : CATEGORY_OF_CLASS[found];
}

function categoryEquality(entry: FilterEntry, value: AssertionValue): Truth {
  if (value.text === undefined) return false;
  const stored = (entry.values("objectcategory") ?? []).filter((v): v is string => typeof v === "string");
  const assertedDn = value.text.includes("=") ? parseDn(value.text) : undefined;
  if (assertedDn?.ok) {
    const asserted = normalizeDn(assertedDn.dn);
    if (stored.length > 0) return stored.some((v) => dnKey(v) === asserted);
    // No objectCategory to compare with: the category named by the DN's first RDN.
    const cn = assertedDn.dn[0]?.[0]?.value;
    const inferred = categoryOf(entry.values("objectclass") ?? []);
    return cn !== undefined && inferred !== undefined && fold(cn) === fold(inferred);
  }
  const wanted = fold(CATEGORY_OF_CLASS[value.text.toLowerCase()] ?? value.text);
  const categories = stored.length > 0 ? stored.map(firstRdnValue) : [categoryOf(entry.values("objectclass") ?? [])];
  return categories.some((c) => c !== undefined && fold(c) === wanted);
}

function firstRdnValue(dn: string): string {
  const parsed = parseDn(dn);
  return (parsed.ok ? parsed.dn[0]?.[0]?.value : undefined) ?? dn;
}
