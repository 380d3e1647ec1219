// What the portal's editor offers while an administrator writes a configuration: the OU
// tree under the base DN, and the attributes a user object can carry in this directory's
// schema (which has Exchange's extensionAttribute1..15 only where Exchange extended it).
import type { LdapTarget, OuNode, UserAttribute } from "../../../schema/src/agent-protocol.ts";
import { normalizeDn, parseDn } from "../../../schema/src/dn.ts";
import { type DirectoryConnection, openConnection } from "./connection.ts";
import { SearchError } from "./errors.ts";
import { type PagedSearch, type SearchSpec, searchPages } from "./search.ts";

/** The OU tree under the target's base DN, rooted at the base DN itself. */
export async function listOus(target: LdapTarget): Promise<OuNode> {
  const connection = await openConnection(target);
  try {
    return await readOuTree((spec) => searchPages(connection, spec), connection.settings.baseDn);
  } finally {
    await connection.close();
  }
}

/** The attributes a user may have, sorted by name (numbers in names by value), from the directory's schema. */
export async function listUserAttributes(target: LdapTarget): Promise<UserAttribute[]> {
  const connection = await openConnection(target);
  try {
    return await readUserAttributes(connection);
  } finally {
    await connection.close();
  }
}

// ---------------------------------------------------------------------------------------
// OUs

export async function readOuTree(search: PagedSearch, baseDn: string): Promise<OuNode> {
  const root: OuNode = { dn: baseDn, name: firstRdnValue(baseDn) ?? baseDn, children: [] };
  const baseKey = dnKey(baseDn);
  const nodes = new Map<string, OuNode>();
  // Each OU's ancestors, nearest first, up to (not including) the base DN.
  const ancestors = new Map<string, string[]>();
  const spec: SearchSpec = { base: baseDn, scope: "sub", filter: "(objectClass=organizationalUnit)", attributes: ["ou"] };
  for await (const page of search(spec)) {
    for (const entry of page) {
      const parsed = parseDn(entry.dn);
      if (!parsed.ok) continue;
      const key = normalizeDn(parsed.dn);
      if (key === baseKey) continue;
      nodes.set(key, { dn: entry.dn, name: entry.attributes.ou?.[0] ?? parsed.dn[0]?.[0]?.value ?? entry.dn, children: [] });
      const up: string[] = [];
      for (let i = 1; i < parsed.dn.length; i++) {
        const ancestor = normalizeDn(parsed.dn.slice(i));
        if (ancestor === baseKey) break;
        up.push(ancestor);
      }
      ancestors.set(key, up);
    }
  }
  for (const [key, node] of nodes) {
    // An OU may sit in a container that is not an OU (CN=…): it hangs from the nearest OU above.
    const parent = ancestors.get(key)?.find((a) => nodes.has(a));
    (parent === undefined ? root : (nodes.get(parent) ?? root)).children.push(node);
  }
  sortTree(root);
  return root;
}

function sortTree(node: OuNode): void {
  node.children.sort((a, b) => a.name.localeCompare(b.name, "en", { sensitivity: "base" }) || a.dn.localeCompare(b.dn));
  for (const child of node.children) sortTree(child);
}

function dnKey(dn: string): string | undefined {
  const parsed = parseDn(dn);
  return parsed.ok ? normalizeDn(parsed.dn) : undefined;
}

function firstRdnValue(dn: string): string | undefined {
  const parsed = parseDn(dn);
  return parsed.ok ? parsed.dn[0]?.[0]?.value : undefined;
}

// ---------------------------------------------------------------------------------------
// User attributes

/** A classSchema object, as read from CN=Schema,CN=Configuration,… */
export interface ClassSchema {
  lDAPDisplayName: string;
  subClassOf?: string;
  auxiliaryClass?: string[];
  systemAuxiliaryClass?: string[];
  mayContain?: string[];
  systemMayContain?: string[];
  mustContain?: string[];
  systemMustContain?: string[];
}

/** An attributeSchema object. */
export interface AttributeSchema {
  lDAPDisplayName: string;
  attributeSyntax: string;
  oMSyntax: string;
  isSingleValued: boolean;
  searchFlags: number;
  systemFlags: number;
}

const CLASS_ATTRIBUTES = [
  "lDAPDisplayName",
  "subClassOf",
  "auxiliaryClass",
  "systemAuxiliaryClass",
  "mayContain",
  "systemMayContain",
  "mustContain",
  "systemMustContain",
];
const ATTRIBUTE_ATTRIBUTES = ["lDAPDisplayName", "attributeSyntax", "oMSyntax", "isSingleValued", "searchFlags", "systemFlags"];

export async function readUserAttributes(connection: DirectoryConnection): Promise<UserAttribute[]> {
  const rootDse = await first(connection, { base: "", scope: "base", filter: "(objectClass=*)", attributes: ["schemaNamingContext"] });
  const schemaDn = rootDse?.schemaNamingContext?.[0];
  if (schemaDn === undefined) {
    throw new SearchError("insufficient_access", "the domain controller does not say where its schema is (schemaNamingContext)", {
      server: connection.server,
    });
  }
  const classes: ClassSchema[] = [];
  for await (const page of searchPages(connection, {
    base: schemaDn,
    scope: "one",
    filter: "(objectClass=classSchema)",
    attributes: CLASS_ATTRIBUTES,
  })) {
    for (const { attributes: a } of page) {
      const name = a.lDAPDisplayName?.[0];
      if (name === undefined) continue;
      const schema: ClassSchema = { lDAPDisplayName: name };
      const subClassOf = a.subClassOf?.[0];
      if (subClassOf !== undefined) schema.subClassOf = subClassOf;
      for (const key of CLASS_ATTRIBUTES.slice(2) as (keyof ClassSchema)[]) {
        const values = a[key];
        if (values !== undefined) (schema as unknown as Record<string, string[]>)[key] = values;
      }
      classes.push(schema);
    }
  }
  const attributes: AttributeSchema[] = [];
  for await (const page of searchPages(connection, {
    base: schemaDn,
    scope: "one",
    filter: "(objectClass=attributeSchema)",
    attributes: ATTRIBUTE_ATTRIBUTES,
  })) {
    for (const { attributes: a } of page) {
      const name = a.lDAPDisplayName?.[0];
      if (name === undefined) continue;
      attributes.push({
        lDAPDisplayName: name,
        attributeSyntax: a.attributeSyntax?.[0] ?? "",
        oMSyntax: a.oMSyntax?.[0] ?? "",
        isSingleValued: a.isSingleValued?.[0]?.toUpperCase() === "TRUE",
        searchFlags: Number(a.searchFlags?.[0] ?? 0),
        systemFlags: Number(a.systemFlags?.[0] ?? 0),
      });
    }
  }
  return userAttributesFromSchema(classes, attributes);
}

// Never readable over LDAP (AD keeps them for itself), so never worth offering.
const SECRETS = new Set([
  "unicodepwd",
  "userpassword",
  "dbcspwd",
  "lmpwdhistory",
  "ntpwdhistory",
  "supplementalcredentials",
  "unixuserpassword",
]);
// searchFlags bit 0x80 (fCONFIDENTIAL): readable only with a special right.
const CONFIDENTIAL = 0x80;
// systemFlags bit 0x4 (FLAG_ATTR_IS_CONSTRUCTED): computed on read, and not in subtree searches.
const CONSTRUCTED = 0x4;

/**
 * Attributes of the user class: its own, its superclasses' and those of every auxiliary
 * class they include (mailRecipient brings mail and telephoneNumber, securityPrincipal
 * sAMAccountName), less secrets, confidential and constructed attributes.
 */
export function userAttributesFromSchema(classes: ClassSchema[], attributes: AttributeSchema[]): UserAttribute[] {
  const classByName = new Map(classes.map((c) => [c.lDAPDisplayName.toLowerCase(), c]));
  const attributeByName = new Map(attributes.map((a) => [a.lDAPDisplayName.toLowerCase(), a]));
  const names = new Set<string>();
  const seen = new Set<string>();
  const queue = ["user"];
  for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
    const key = name.toLowerCase();
    if (seen.has(key)) continue;
    seen.add(key);
    const c = classByName.get(key);
    if (c === undefined) continue;
    for (const list of [c.mustContain, c.systemMustContain, c.mayContain, c.systemMayContain]) {
      for (const attribute of list ?? []) names.add(attribute.toLowerCase());
    }
    if (c.subClassOf !== undefined) queue.push(c.subClassOf);
    queue.push(...(c.auxiliaryClass ?? []), ...(c.systemAuxiliaryClass ?? []));
  }
  const out: UserAttribute[] = [];
  for (const key of names) {
    const a = attributeByName.get(key);
    if (a === undefined || SECRETS.has(key) || a.searchFlags & CONFIDENTIAL || a.systemFlags & CONSTRUCTED) continue;
    out.push({ name: a.lDAPDisplayName, syntax: syntaxName(a.attributeSyntax, a.oMSyntax), multiValued: !a.isSingleValued });
  }
  return out.sort(byAttributeName);
}

/** Attribute order for people: numeric collation, so extensionAttribute2 comes before extensionAttribute10. */
export function byAttributeName(x: UserAttribute, y: UserAttribute): number {
  return x.name.localeCompare(y.name, "en", { sensitivity: "base", numeric: true }) || x.name.localeCompare(y.name);
}

// AD's attribute syntaxes, identified by attributeSyntax and oMSyntax together ([MS-ADTS]
// 3.1.1.2.2.2, "LDAP Representations").
const SYNTAXES: Record<string, string> = {
  "2.5.5.1/127": "DN",
  "2.5.5.2/6": "OID",
  "2.5.5.3/27": "CaseExactString",
  "2.5.5.4/20": "CaseIgnoreString",
  "2.5.5.5/19": "PrintableString",
  "2.5.5.5/22": "IA5String",
  "2.5.5.6/18": "NumericString",
  "2.5.5.7/127": "DNWithBinary",
  "2.5.5.8/1": "Boolean",
  "2.5.5.9/2": "Integer",
  "2.5.5.9/10": "Enumeration",
  "2.5.5.10/4": "OctetString",
  "2.5.5.10/127": "ReplicaLink",
  "2.5.5.11/23": "UTCTime",
  "2.5.5.11/24": "GeneralizedTime",
  "2.5.5.12/64": "DirectoryString",
  "2.5.5.13/127": "PresentationAddress",
  "2.5.5.14/127": "DNWithString",
  "2.5.5.15/66": "NTSecurityDescriptor",
  "2.5.5.16/65": "LargeInteger",
  "2.5.5.17/4": "SID",
};

function syntaxName(attributeSyntax: string, oMSyntax: string): string {
  return SYNTAXES[`${attributeSyntax}/${oMSyntax}`] ?? attributeSyntax;
}

async function first(connection: DirectoryConnection, spec: SearchSpec): Promise<Record<string, string[]> | undefined> {
  for await (const page of searchPages(connection, spec)) return page[0]?.attributes;
  return undefined;
}
