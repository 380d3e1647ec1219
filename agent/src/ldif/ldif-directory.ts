// A directory held in memory from an LDIF export, answering searches through the same
// contract as a domain controller (agent/src/ldap/search.ts): so the sync planner can run
// offline against `ldifde -f export.ldf`, and the agent can serve a sample directory without
// a DC. What it answers must be what AD would answer for the same search, so AD's computed
// attributes that an export may lack are filled in once, when the directory is built (see
// computeAdAttributes), and filters are evaluated with AD's matching rules (filter-match.ts).
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import type { SearchCompleteness, SearchSpec, WireEntry } from "../../../schema/src/agent-protocol.ts";
import { type Dn, escapeDnValue, normalizeDn, parseDn } from "../../../schema/src/dn.ts";
import { type FilterNode, parseFilterAst } from "../../../schema/src/filter-ast.ts";
import { LdapSyntaxError } from "../../../schema/src/ldap-syntax.ts";
import { SearchError } from "../ldap/errors.ts";
import { ALWAYS_BINARY } from "../ldap/search.ts";
import { categoryOf, dnKey, type FilterDirectory, type FilterEntry, matchesFilter } from "./filter-match.ts";
import { exportIncompleteReason, type LdifEntry, parseLdif } from "./parse-ldif.ts";

// What a DC's paged search uses when the caller names no page size (the connection
// default), and the most AD hands out per page whatever is asked (MaxPageSize).
const DEFAULT_PAGE_SIZE = 500;
const MAX_PAGE_SIZE = 1000;

const BINARY = new Set(ALWAYS_BINARY.map((name) => name.toLowerCase()));

type Value = string | Buffer;

interface Attribute {
  /** The spelling first written (or AD's lDAPDisplayName for a computed attribute). */
  name: string;
  values: Value[];
}

class StoredEntry implements FilterEntry {
  readonly dn: string;
  readonly key: string;
  /** normalizeDn of each RDN, leftmost first: scope checks compare these from the right. */
  readonly rdns: readonly string[];
  readonly parsed: Dn;
  /** By lower-case name, in the order written. */
  readonly attributes = new Map<string, Attribute>();

  constructor(dn: string, parsed: Dn) {
    this.dn = dn;
    this.parsed = parsed;
    this.rdns = parsed.map((rdn) => normalizeDn([rdn]));
    this.key = this.rdns.join(",");
  }

  values(attribute: string): Value[] | undefined {
    return this.attributes.get(attribute.toLowerCase())?.values;
  }

  has(attribute: string): boolean {
    return (this.values(attribute)?.length ?? 0) > 0;
  }

  add(name: string, values: Value[]): void {
    const lower = name.toLowerCase();
    const existing = this.attributes.get(lower);
    if (existing === undefined) this.attributes.set(lower, { name, values: [...values] });
    else existing.values.push(...values);
  }

  /** True when this entry is `base` or below it, at most `depth` levels down. */
  isWithin(base: StoredEntry, depth: number): boolean {
    const offset = this.rdns.length - base.rdns.length;
    if (offset < 0 || offset > depth) return false;
    for (let i = 0; i < base.rdns.length; i++) if (this.rdns[offset + i] !== base.rdns[i]) return false;
    return true;
  }
}

/**
 * An AD directory read from LDIF, searched like a domain controller. Immutable once built.
 * Entries keep file order; a missing domain root (DC=…) is added in front, as every AD
 * domain has one and configurations use it as their base DN.
 */
export class LdifDirectory implements FilterDirectory {
  readonly #entries: StoredEntry[];
  readonly #byKey = new Map<string, StoredEntry>();
  readonly #rootDse: StoredEntry;
  /** Per lower-case attribute: target DN key to the keys of the entries linking to it. */
  readonly #links = new Map<string, Map<string, string[]>>();
  /** Set when the export says it is not the whole directory: then no search is complete. */
  readonly incompleteReason: string | undefined;

  constructor(entries: readonly LdifEntry[], options: { incompleteReason?: string } = {}) {
    this.incompleteReason = options.incompleteReason;
    const stored: StoredEntry[] = [];
    let rootDse: StoredEntry | undefined;
    entries.forEach((entry, index) => {
      const parsed = parseDn(entry.dn);
      if (!parsed.ok) {
        throw new Error(`LDIF entry ${index + 1} (dn: ${entry.dn}): the DN is not valid: ${parsed.message}`);
      }
      const item = new StoredEntry(entry.dn, parsed.dn);
      for (const [name, values] of Object.entries(entry.attributes)) {
        // parseLdif makes text of every base64 value that is valid UTF-8, which now and then
        // a GUID or SID is; these are bytes in AD, and compare and travel as bytes.
        const bytes = BINARY.has(name.toLowerCase());
        item.add(
          name,
          values.map((v) => (bytes && typeof v === "string" ? Buffer.from(v, "utf8") : v)),
        );
      }
      // ldapsearch -b "" -s base exports the root DSE itself; it is not a directory entry.
      if (item.key === "") {
        rootDse = item;
        return;
      }
      const clash = this.#byKey.get(item.key);
      if (clash !== undefined) throw new Error(`LDIF entry ${index + 1}: the DN ${entry.dn} is already used by ${clash.dn}`);
      this.#byKey.set(item.key, item);
      stored.push(item);
    });
    const roots = missingDomainRoots(stored, this.#byKey);
    for (const root of roots) this.#byKey.set(root.key, root);
    this.#entries = [...roots, ...stored];
    computeAdAttributes(this.#entries, this.#byKey);
    this.#rootDse = rootDse ?? makeRootDse(this.#entries);
  }

  static fromText(text: string): LdifDirectory {
    const incompleteReason = exportIncompleteReason(text);
    return new LdifDirectory(parseLdif(text), incompleteReason === undefined ? {} : { incompleteReason });
  }

  /** Reads an export as ldifde or ldapsearch wrote it: UTF-8, or UTF-16 with a byte-order mark (ldifde -u). */
  static async fromFile(path: string): Promise<LdifDirectory> {
    return LdifDirectory.fromText(decodeExport(await readFile(path), path));
  }

  /** The domain's DN (the root DSE's defaultNamingContext), for a configuration that names no base DN. */
  get defaultNamingContext(): string {
    const value = this.#rootDse.values("defaultNamingContext")?.[0];
    if (typeof value !== "string") throw new Error("the export holds no domain (no DC=… entries), so there is no base DN to search");
    return value;
  }

  /** Number of entries, the added domain roots included. */
  get size(): number {
    return this.#entries.length;
  }

  /**
   * Pages of the entries `spec` selects, as agent/src/ldap/search.ts pages a DC's answer.
   * Throws SearchError: invalid_filter, invalid_dn, or no_such_object for a base DN that is
   * not in the directory.
   */
  async *search(spec: SearchSpec): AsyncGenerator<WireEntry[], SearchCompleteness, undefined> {
    const filter = readFilter(spec.filter);
    const shape = entryShape(spec.attributes, spec.binaryAttributes);
    const pageSize = Math.max(1, Math.min(spec.pageSize ?? DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE));
    const limit = spec.sizeLimit !== undefined && spec.sizeLimit > 0 ? spec.sizeLimit : Number.POSITIVE_INFINITY;
    const result: SearchCompleteness = { complete: true, pages: 0, entries: 0 };
    if (this.incompleteReason !== undefined) {
      result.complete = false;
      result.reason = this.incompleteReason;
    }
    let page: WireEntry[] = [];
    for (const entry of this.#candidates(spec, result)) {
      if (!matchesFilter(filter, entry, this)) continue;
      // A DC reports the size limit only when there was more to send than the limit.
      if (result.entries >= limit) {
        result.complete = false;
        result.reason = `the size limit of ${spec.sizeLimit} entries was reached`;
        break;
      }
      page.push(toWireEntry(entry, shape));
      result.entries++;
      if (page.length === pageSize) {
        result.pages++;
        yield page;
        page = [];
      }
    }
    // A search that finds nothing still gets one (empty) response from a DC.
    if (page.length > 0 || result.pages === 0) {
      result.pages++;
      if (page.length > 0) yield page;
    }
    return result;
  }

  /** Entries by DN, in pages; DNs not in the directory are skipped, as readEntries does on a DC. */
  async *readEntries(
    dns: readonly string[],
    attributes: string[],
    binaryAttributes: string[] = [],
  ): AsyncGenerator<WireEntry[], SearchCompleteness, undefined> {
    const shape = entryShape(attributes, binaryAttributes);
    const result: SearchCompleteness = { complete: true, pages: 0, entries: 0 };
    let page: WireEntry[] = [];
    for (const dn of dns) {
      const entry = this.#byKey.get(baseKey(dn));
      if (entry === undefined) continue;
      page.push(toWireEntry(entry, shape));
      if (page.length === DEFAULT_PAGE_SIZE) {
        result.pages++;
        result.entries += page.length;
        yield page;
        page = [];
      }
    }
    if (page.length > 0) {
      result.pages++;
      result.entries += page.length;
      yield page;
    }
    return result;
  }

  /** FilterDirectory: the entries whose `attribute` holds the DN `key` (built once per attribute). */
  linkedFrom(attribute: string, key: string): Iterable<string> {
    const lower = attribute.toLowerCase();
    let index = this.#links.get(lower);
    if (index === undefined) {
      index = new Map();
      for (const entry of this.#entries) {
        for (const value of entry.values(lower) ?? []) {
          const target = typeof value === "string" ? dnKey(value) : undefined;
          if (target === undefined) continue;
          const from = index.get(target);
          if (from === undefined) index.set(target, [entry.key]);
          else from.push(entry.key);
        }
      }
      this.#links.set(lower, index);
    }
    return index.get(key) ?? [];
  }

  *#candidates(spec: SearchSpec, result: SearchCompleteness): Iterable<StoredEntry> {
    if (spec.base === "") {
      if (spec.scope === "base") {
        yield this.#rootDse;
        return;
      }
      // A DC answers a one-level or subtree search from the root DSE with referrals to its
      // naming contexts only, which search.ts counts as a partial read.
      result.complete = false;
      result.reason = `a search from the root DSE returns referrals to ${namingContexts(this.#entries).join("; ")}, which were not followed`;
      return;
    }
    const base = this.#byKey.get(baseKey(spec.base));
    if (base === undefined) {
      throw new SearchError("no_such_object", `"${spec.base}" does not exist in the directory (the LDIF export has no such entry)`, {
        resultCode: 32,
        fix: "Check the DN for typos, or export the directory again with this entry in it.",
      });
    }
    if (spec.scope === "base") {
      yield base;
      return;
    }
    const depth = spec.scope === "one" ? 1 : Number.POSITIVE_INFINITY;
    for (const entry of this.#entries) {
      if (entry.isWithin(base, depth) && (spec.scope === "sub" || entry !== base)) yield entry;
    }
  }
}

function readFilter(text: string): FilterNode {
  try {
    return parseFilterAst(text);
  } catch (error) {
    if (!(error instanceof LdapSyntaxError)) throw error;
    throw new SearchError("invalid_filter", error.message, {
      fix: "Correct the filter (RFC 4515), e.g. (department=Sales); literal * ( ) \\ in values are written \\2a \\28 \\29 \\5c.",
    });
  }
}

function baseKey(dn: string): string {
  const parsed = parseDn(dn);
  if (!parsed.ok) {
    throw new SearchError("invalid_dn", `the DN ${JSON.stringify(dn)} is not valid: ${parsed.message}`, {
      resultCode: 34,
      fix: "Write the DN as in AD, e.g. OU=Sales,DC=example,DC=com.",
    });
  }
  return normalizeDn(parsed.dn);
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

function decodeExport(bytes: Buffer, path: string): string {
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return new TextDecoder("utf-16le").decode(bytes.subarray(2));
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return new TextDecoder("utf-16be").decode(bytes.subarray(2));
  try {
    return strictUtf8.decode(bytes);
  } catch {
    throw new Error(`${path} is neither UTF-8 nor UTF-16 with a byte-order mark: export it again with ldifde -u, or with ldapsearch`);
  }
}

// ---------------------------------------------------------------------------------------
// What AD computes and an export may lack. All of it is decided here, once, so filters
// and returned entries see the same values.

/**
 * Fills in, on entries that do not carry them:
 * - distinguishedName: the DN; name and the naming attribute (cn, ou, dc): the RDN's value.
 * - objectGUID: 16 bytes of SHA-256 of the entry's normalised DN (lower-case, RFC 4514
 *   canonical). Stable for the same DN across runs and re-exports, so a sync against the
 *   same file plans no changes; but a renamed or moved entry gets a new one, where AD keeps
 *   its GUID. Exports from ldifde carry the real objectGUID, which is then used as is.
 * - objectCategory: CN=<category>,CN=Schema,CN=Configuration,<the entry's DC= suffix>, the
 *   category chosen from objectClass by categoryOf (filter-match.ts). AD's schema lives in
 *   the forest root domain; an export of a child domain would name that domain instead.
 * - memberOf: the groups whose member lists the entry; member, on a group that has none:
 *   the entries whose memberOf lists the group. AD keeps both sides of the link; an export
 *   may hold only one (ldifde -o memberOf, or a hand-written file).
 */
function computeAdAttributes(entries: readonly StoredEntry[], byKey: ReadonlyMap<string, StoredEntry>): void {
  // Both directions are read before either is filled in, so a derived side never feeds the other.
  const groupsOf = new Map<string, string[]>();
  const membersOf = new Map<string, string[]>();
  for (const entry of entries) {
    for (const member of entry.values("member") ?? []) {
      const key = typeof member === "string" ? dnKey(member) : undefined;
      if (key !== undefined) push(groupsOf, key, entry.dn);
    }
    for (const group of entry.values("memberOf") ?? []) {
      const key = typeof group === "string" ? dnKey(group) : undefined;
      if (key !== undefined && byKey.has(key)) push(membersOf, key, entry.dn);
    }
  }
  for (const entry of entries) {
    if (!entry.has("distinguishedName")) entry.add("distinguishedName", [entry.dn]);
    const rdn = entry.parsed[0] ?? [];
    for (const ava of rdn) {
      const name = NAMING_ATTRIBUTES[ava.type.toLowerCase()] ?? ava.type;
      if (!entry.has(name)) entry.add(name, [ava.value]);
    }
    const first = rdn[0];
    if (first !== undefined && !entry.has("name")) entry.add("name", [first.value]);
    if (!entry.has("objectGUID")) entry.add("objectGUID", [syntheticGuid(entry.key)]);
    const category = categoryOf(entry.values("objectClass") ?? []);
    const domain = domainDn(entry.parsed);
    if (!entry.has("objectCategory") && category !== undefined && domain !== undefined) {
      entry.add("objectCategory", [`CN=${escapeDnValue(category)},CN=Schema,CN=Configuration,${domain}`]);
    }
    const groups = groupsOf.get(entry.key);
    if (groups !== undefined && !entry.has("memberOf")) entry.add("memberOf", groups);
    const members = membersOf.get(entry.key);
    if (members !== undefined && !entry.has("member")) entry.add("member", members);
  }
}

function push(map: Map<string, string[]>, key: string, value: string): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [value]);
  else list.push(value);
}

// AD's lDAPDisplayName of the attributes it names objects by.
const NAMING_ATTRIBUTES: Record<string, string> = { cn: "cn", ou: "ou", dc: "dc", o: "o", c: "c", l: "l" };

function syntheticGuid(key: string): Buffer {
  return createHash("sha256").update(key, "utf8").digest().subarray(0, 16);
}

/** The DN of the domain an entry is in: its trailing DC= RDNs, or undefined when it has none. */
function domainDn(dn: Dn): string | undefined {
  let start = dn.length;
  while (start > 0 && dn[start - 1]?.length === 1 && dn[start - 1]?.[0]?.type.toLowerCase() === "dc") start--;
  if (start === dn.length) return undefined;
  return dn
    .slice(start)
    .map((rdn) => `DC=${escapeDnValue(rdn[0]?.value ?? "")}`)
    .join(",");
}

function missingDomainRoots(entries: readonly StoredEntry[], byKey: ReadonlyMap<string, StoredEntry>): StoredEntry[] {
  const roots = new Map<string, StoredEntry>();
  for (const entry of entries) {
    const dn = domainDn(entry.parsed);
    if (dn === undefined) continue;
    const parsed = parseDn(dn);
    if (!parsed.ok) continue;
    const root = new StoredEntry(dn, parsed.dn);
    if (byKey.has(root.key) || roots.has(root.key)) continue;
    root.add("objectClass", ["top", "domain", "domainDNS"]);
    roots.set(root.key, root);
  }
  return [...roots.values()];
}

function namingContexts(entries: readonly StoredEntry[]): string[] {
  const contexts = new Map<string, string>();
  for (const entry of entries) {
    const dn = domainDn(entry.parsed);
    const key = dn === undefined ? undefined : dnKey(dn);
    if (dn !== undefined && key !== undefined && !contexts.has(key)) contexts.set(key, dn);
  }
  return [...contexts.values()];
}

// What Test Connection reads first from a DC: its naming contexts.
function makeRootDse(entries: readonly StoredEntry[]): StoredEntry {
  const root = new StoredEntry("", []);
  const domains = namingContexts(entries);
  const forest = domains[0];
  root.add("objectClass", ["top"]);
  if (forest === undefined) return root;
  const configuration = `CN=Configuration,${forest}`;
  const schema = `CN=Schema,${configuration}`;
  root.add("namingContexts", [...domains, configuration, schema]);
  root.add("defaultNamingContext", [forest]);
  root.add("rootDomainNamingContext", [forest]);
  root.add("configurationNamingContext", [configuration]);
  root.add("schemaNamingContext", [schema]);
  root.add("supportedLDAPVersion", ["3", "2"]);
  return root;
}

// ---------------------------------------------------------------------------------------
// Entries on the wire, shaped as agent/src/ldap/search.ts shapes a DC's

interface EntryShape {
  all: boolean;
  /** Lower-case name to the caller's spelling. */
  wanted: Map<string, string>;
  binary: Set<string>;
}

// [] and "*" ask for every attribute; "1.1" (RFC 4511 section 4.5.1.8) for none, unless
// other attributes are named with it.
function entryShape(attributes: readonly string[], binaryAttributes: readonly string[] = []): EntryShape {
  const wanted = new Map<string, string>();
  for (const name of attributes) if (name !== "*" && name !== "1.1") wanted.set(name.toLowerCase(), name);
  const all = attributes.length === 0 || attributes.includes("*");
  const binary = new Set([...ALWAYS_BINARY, ...binaryAttributes].map((n) => n.toLowerCase()));
  return { all, wanted, binary };
}

function toWireEntry(entry: StoredEntry, shape: EntryShape): WireEntry {
  const attributes: Record<string, string[]> = {};
  const binary: string[] = [];
  for (const [lower, attribute] of entry.attributes) {
    const spelled = shape.wanted.get(lower);
    if (spelled === undefined && !shape.all) continue;
    if (attribute.values.length === 0) continue;
    const name = spelled ?? attribute.name;
    // Bytes that are not text go out as base64 whatever the attribute, as search.ts does.
    if (shape.binary.has(lower) || attribute.values.some((v) => typeof v !== "string")) {
      attributes[name] = attribute.values.map((v) => (typeof v === "string" ? Buffer.from(v, "utf8") : v).toString("base64"));
      binary.push(name);
    } else {
      attributes[name] = [...(attribute.values as string[])];
    }
  }
  const wire: WireEntry = { dn: entry.dn, attributes };
  if (binary.length > 0) wire.binary = binary;
  return wire;
}
