import { describe, expect, it } from "vitest";
import { parseFilterAst } from "../../../schema/src/filter-ast.ts";
import { LdapSyntaxError } from "../../../schema/src/ldap-syntax.ts";
import { categoryOf, dnKey, type FilterDirectory, type FilterEntry, matchesFilter } from "./filter-match.ts";

type Attributes = Record<string, Array<string | Uint8Array>>;

function entry(dn: string, attributes: Attributes): FilterEntry {
  const byName = new Map(Object.entries(attributes).map(([k, v]) => [k.toLowerCase(), v]));
  return { dn, values: (name) => byName.get(name.toLowerCase()) };
}

// Links between the entries given, read from their own attributes, as a directory keeps them.
function directoryOf(entries: FilterEntry[]): FilterDirectory {
  return {
    linkedFrom: (attribute, key) =>
      entries
        .filter((e) => (e.values(attribute) ?? []).some((v) => typeof v === "string" && dnKey(v) === key))
        .map((e) => dnKey(e.dn) ?? ""),
  };
}

const NOBODY: FilterDirectory = { linkedFrom: () => [] };
const GUID = Uint8Array.from([0x01, 0x02, 0x2a, 0x28, 0x29, 0x5c, 0x00, 0x80, 0xc3, 0xa9, 0xff, 0xfe, 0x10, 0x20, 0x30, 0x40]);
const hex = (bytes: Uint8Array) => [...bytes].map((b) => `\\${b.toString(16).padStart(2, "0")}`).join("");

const ALICE = entry("CN=Alice Anderson,OU=Sales,OU=Staff,DC=example,DC=com", {
  objectClass: ["top", "person", "organizationalPerson", "user"],
  objectCategory: ["CN=Person,CN=Schema,CN=Configuration,DC=example,DC=com"],
  distinguishedName: ["CN=Alice Anderson,OU=Sales,OU=Staff,DC=example,DC=com"],
  cn: ["Alice Anderson"],
  sn: ["Anderson"],
  displayName: ["Zoë-Alice Ånderson"],
  description: ["Head of Sales (EMEA) *"],
  ipPhone: ["1001"],
  userAccountControl: ["66048"],
  uSNChanged: ["9007199254740993"],
  memberOf: ["CN=Sales Team,OU=Groups,DC=example,DC=com"],
  objectGUID: [GUID],
});

describe("parseFilterAst", () => {
  it("reads every kind of filter into its parts", () => {
    expect(parseFilterAst("(&(objectClass=user)(!(cn=a))(|(sn>=b)(sn<=c)(sn~=d)(mail=*)))")).toEqual({
      kind: "and",
      filters: [
        { kind: "equality", attribute: "objectClass", value: { bytes: new TextEncoder().encode("user"), text: "user" } },
        { kind: "not", filter: { kind: "equality", attribute: "cn", value: { bytes: Uint8Array.of(0x61), text: "a" } } },
        {
          kind: "or",
          filters: [
            { kind: "greaterOrEqual", attribute: "sn", value: { bytes: Uint8Array.of(0x62), text: "b" } },
            { kind: "lessOrEqual", attribute: "sn", value: { bytes: Uint8Array.of(0x63), text: "c" } },
            { kind: "approx", attribute: "sn", value: { bytes: Uint8Array.of(0x64), text: "d" } },
            { kind: "present", attribute: "mail" },
          ],
        },
      ],
    });
  });

  it("splits substrings at each unescaped '*'", () => {
    const node = parseFilterAst("(cn=J*o**hn\\2a*n)");
    expect(node).toMatchObject({
      kind: "substrings",
      initial: { text: "J" },
      any: [{ text: "o" }, { text: "hn*" }],
      final: { text: "n" },
    });
    expect(parseFilterAst("(cn=*x*)")).toMatchObject({ kind: "substrings", initial: undefined, any: [{ text: "x" }], final: undefined });
  });

  it("reads extensible matches with and without :dn: and a rule", () => {
    expect(parseFilterAst("(memberOf:1.2.840.113556.1.4.1941:=CN=G\\2cDC=x)")).toMatchObject({
      kind: "extensible",
      attribute: "memberOf",
      rule: "1.2.840.113556.1.4.1941",
      dnAttributes: false,
      value: { text: "CN=G,DC=x" },
    });
    expect(parseFilterAst("(ou:DN:=Sales)")).toMatchObject({ attribute: "ou", rule: undefined, dnAttributes: true });
    expect(parseFilterAst("(:dn:1.2.3:=a:=b)")).toMatchObject({
      attribute: undefined,
      rule: "1.2.3",
      dnAttributes: true,
      value: { text: "a:=b" },
    });
  });

  it("decodes \\XX escapes as bytes: UTF-8 sequences become text, other bytes stay bytes", () => {
    expect(parseFilterAst("(cn=Zo\\c3\\ab \\28x\\29)")).toMatchObject({ value: { text: "Zoë (x)" } });
    const guid = parseFilterAst(`(objectGUID=${hex(GUID)})`);
    expect(guid).toMatchObject({ value: { bytes: GUID, text: undefined } });
  });

  it("reads RFC 4526 absolute true and false", () => {
    expect(parseFilterAst("(&)")).toEqual({ kind: "and", filters: [] });
    expect(parseFilterAst("(|)")).toEqual({ kind: "or", filters: [] });
  });

  it.each<[string, number]>([
    ["", 0],
    ["cn=a", 0],
    ["(cn=a", 0],
    ["(&(cn=a)(cn=b)", 0],
    ["(cn=a))", 6],
    ["(cn=a\\zz)", 5],
    ["(title=*(left))", 8],
    ["(!(a=1)(b=2))", 7],
  ])("rejects %j with the offset of the problem", (text, offset) => {
    let caught: unknown;
    try {
      parseFilterAst(text);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(LdapSyntaxError);
    expect((caught as LdapSyntaxError).offset).toBe(offset);
    expect((caught as Error).message).toContain(`invalid LDAP filter ${JSON.stringify(text)}`);
  });
});

describe("matchesFilter, as AD matches", () => {
  it.each<[string, boolean]>([
    // Names and string values ignore case; values are compared whole.
    ["(CN=alice anderson)", true],
    ["(cn=Alice)", false],
    ["(DISPLAYNAME=zoË-alice åNDERSON)", true],
    ["(displayName=Zo\\c3\\ab-Alice*)", true],
    ["(displayName=zo\\c3\\8b*)", true],
    // Substrings: initial, any, final, in order.
    ["(cn=al*)", true],
    ["(cn=*DERSON)", true],
    ["(cn=a*ce*and*n)", true],
    ["(cn=*and*ice*)", false],
    ["(cn=alice*anderson*anderson)", false],
    ["(description=*\\28EMEA\\29 \\2a)", true],
    ["(description=*\\2a\\2a)", false],
    // Presence; every entry has an objectClass.
    ["(mail=*)", false],
    ["(ipPhone=*)", true],
    ["(objectClass=*)", true],
    // Integer attributes order by value, string ones (ipPhone) as strings.
    ["(userAccountControl>=600)", true],
    ["(userAccountControl<=600)", false],
    ["(uSNChanged>=9007199254740992)", true],
    ["(uSNChanged<=9007199254740992)", false],
    ["(ipPhone>=1000)", true],
    ["(ipPhone>=999)", false],
    ["(ipPhone<=999)", true],
    ["(sn>=anderson)", true],
    ["(sn<=ANDERSOM)", false],
    // ~= is equality.
    ["(sn~=ANDERSON)", true],
    ["(sn~=Andersen)", false],
    // Boolean operators, absolute true and false.
    ["(&(sn=anderson)(|(cn=x)(ipPhone=1001)))", true],
    ["(!(sn=anderson))", false],
    ["(&)", true],
    ["(|)", false],
    ["(!(|))", true],
    // Bit rules on the two's complement bits; 66048 = 0x10200.
    ["(userAccountControl:1.2.840.113556.1.4.803:=512)", true],
    ["(userAccountControl:1.2.840.113556.1.4.803:=66048)", true],
    ["(userAccountControl:1.2.840.113556.1.4.803:=2)", false],
    ["(!(userAccountControl:1.2.840.113556.1.4.803:=2))", true],
    ["(userAccountControl:1.2.840.113556.1.4.804:=65538)", true],
    ["(userAccountControl:1.2.840.113556.1.4.804:=3)", false],
    // Unknown rules, and bit rules with a non-number, are Undefined: NOT does not turn them true.
    ["(userAccountControl:1.2.3.4:=2)", false],
    ["(!(userAccountControl:1.2.3.4:=2))", false],
    ["(!(userAccountControl:1.2.840.113556.1.4.803:=two))", false],
    ["(|(userAccountControl:1.2.3.4:=2)(cn=alice anderson))", true],
    ["(!(&(userAccountControl:1.2.3.4:=2)(cn=nobody)))", true],
    ["(!(:1.2.840.113556.1.4.803:=2))", false],
    // Without a rule an extensible match is equality; AD ignores :dn:.
    ["(sn:=ANDERSON)", true],
    ["(ou:dn:=Sales)", false],
    // DN attributes compare as DNs, and take no wildcards.
    ["(distinguishedName=cn=alice anderson, ou=sales,ou=staff, dc=example,dc=com)", true],
    ["(distinguishedName=CN=Alice Anderson,OU=Sales,DC=example,DC=com)", false],
    ["(memberOf=cn=SALES TEAM,ou=groups,dc=example,dc=com)", true],
    ["(memberOf=CN=Sales*)", false],
    ["(memberOf=*)", true],
    // objectCategory: a class name stands for its default category.
    ["(objectCategory=person)", true],
    ["(objectCategory=user)", true],
    ["(objectCategory=Person)", true],
    ["(objectCategory=computer)", false],
    ["(objectCategory=cn=person,cn=schema,cn=configuration,dc=example,dc=com)", true],
    ["(objectCategory=CN=Person,CN=Schema,CN=Configuration,DC=other,DC=com)", false],
    ["(objectClass=organizationalPerson)", true],
    ["(objectClass=computer)", false],
    // Binary values compare byte for byte, escapes of 0x80 and above included.
    [`(objectGUID=${hex(GUID)})`, true],
    [`(objectGUID=${hex(GUID.slice(0, 15))})`, false],
    ["(objectGUID=\\01\\02*)", true],
  ])("%s → %s", (filter, expected) => {
    expect(matchesFilter(filter, ALICE, NOBODY)).toBe(expected);
  });

  it("accepts a parsed filter as well as its text", () => {
    const node = parseFilterAst("(sn=anderson)");
    expect(matchesFilter(node, ALICE, NOBODY)).toBe(true);
  });

  it("infers the category of an entry without objectCategory from its object classes", () => {
    const person = entry("CN=P,DC=x", { objectClass: ["top", "person", "organizationalPerson", "user"] });
    const computer = entry("CN=PC,DC=x", { objectClass: ["top", "person", "organizationalPerson", "user", "computer"] });
    const contact = entry("CN=C,DC=x", { objectClass: ["contact", "organizationalPerson", "person", "top"] });
    const group = entry("CN=G,DC=x", { objectClass: ["top", "group"] });
    const ou = entry("OU=O,DC=x", { objectClass: ["top", "organizationalUnit"] });
    const rows: [FilterEntry, string, boolean][] = [
      [person, "(objectCategory=person)", true],
      [person, "(&(objectCategory=person)(objectClass=user))", true],
      [person, "(objectCategory=CN=Person,CN=Schema,CN=Configuration,DC=x)", true],
      [computer, "(objectCategory=person)", false],
      [computer, "(objectCategory=computer)", true],
      [computer, "(objectClass=user)", true],
      [contact, "(objectCategory=person)", true],
      [contact, "(&(objectCategory=person)(objectClass=user))", false],
      [group, "(objectCategory=group)", true],
      [group, "(objectCategory=person)", false],
      [ou, "(objectCategory=organizationalUnit)", true],
    ];
    for (const [e, filter, expected] of rows) expect([e.dn, filter, matchesFilter(filter, e, NOBODY)]).toEqual([e.dn, filter, expected]);
  });

  it.each<[string[], string | undefined]>([
    [["top", "person", "organizationalPerson", "user"], "Person"],
    [["user", "top", "computer", "person"], "Computer"],
    [["top", "inetOrgPerson", "user"], "Person"],
    [["top", "group"], "Group"],
    [["top", "organizationalUnit"], "Organizational-Unit"],
    [["top", "msDS-GroupManagedServiceAccount", "computer", "user"], "ms-DS-Group-Managed-Service-Account"],
    [["top"], undefined],
  ])("categoryOf(%j) is %j", (classes, category) => {
    expect(categoryOf(classes)).toBe(category);
  });
});

describe("LDAP_MATCHING_RULE_IN_CHAIN", () => {
  // Phone Users ⊃ Sales Team ⊃ Alice; Loop A ⊃ Loop B ⊃ Loop A (AD allows cycles).
  const g = (cn: string) => `CN=${cn},OU=Groups,DC=example,DC=com`;
  const alice = entry("CN=Alice,DC=example,DC=com", { memberOf: [g("Sales Team")] });
  const bob = entry("CN=Bob,DC=example,DC=com", { memberOf: [g("Loop A")] });
  const carol = entry("CN=Carol,DC=example,DC=com", {});
  const sales = entry(g("Sales Team"), { member: ["CN=Alice,DC=example,DC=com"], memberOf: [g("Phone Users")] });
  const phone = entry(g("Phone Users"), { member: [g("Sales Team")] });
  const loopA = entry(g("Loop A"), { member: [g("Loop B"), "CN=Bob,DC=example,DC=com"], memberOf: [g("Loop B")] });
  const loopB = entry(g("Loop B"), { member: [g("Loop A")], memberOf: [g("Loop A")] });
  const all = [alice, bob, carol, sales, phone, loopA, loopB];
  const directory = directoryOf(all);
  const chain = (rule: string) => all.filter((e) => matchesFilter(rule, e, directory)).map((e) => e.dn);

  it("finds members of a group directly and through nested groups", () => {
    expect(chain(`(memberOf:1.2.840.113556.1.4.1941:=${g("Phone Users")})`)).toEqual([alice.dn, sales.dn]);
    expect(chain(`(memberOf=${g("Phone Users")})`)).toEqual([sales.dn]);
    expect(chain(`(memberOf:1.2.840.113556.1.4.1941:=${g("Sales Team")})`)).toEqual([alice.dn]);
  });

  it("compares the group DN as a DN, in any spelling", () => {
    expect(chain("(memberOf:1.2.840.113556.1.4.1941:=cn=phone users, ou=groups, dc=example, dc=com)")).toEqual([alice.dn, sales.dn]);
  });

  it("walks member downwards: the groups that contain an entry at any depth", () => {
    expect(chain("(member:1.2.840.113556.1.4.1941:=CN=Alice,DC=example,DC=com)")).toEqual([sales.dn, phone.dn]);
  });

  it("ends at a cycle, where a group is in its own chain", () => {
    expect(chain(`(memberOf:1.2.840.113556.1.4.1941:=${g("Loop A")})`)).toEqual([bob.dn, loopA.dn, loopB.dn]);
  });

  it("matches nobody for a group that does not exist, and is Undefined for a value that is not a DN", () => {
    expect(chain("(memberOf:1.2.840.113556.1.4.1941:=CN=Nobody,DC=example,DC=com)")).toEqual([]);
    expect(chain("(!(memberOf:1.2.840.113556.1.4.1941:=not a dn))")).toEqual([]);
  });
});
