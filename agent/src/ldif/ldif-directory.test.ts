import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import type { Scope } from "../../../schema/generated/config.ts";
import type { SearchSpec, WireEntry } from "../../../schema/src/agent-protocol.ts";
import { filter } from "../../../schema/src/ldap-filter.ts";
import { scopeBases, scopeGroupFilter, scopeUserFilter } from "../../../schema/src/scope-filter.ts";
import { SearchError } from "../ldap/errors.ts";
import { collect } from "../ldap/test-support.ts";
import { LdifDirectory } from "./ldif-directory.ts";

const FIXTURE_PATH = fileURLToPath(new URL("../../../test/fixtures/directory.ldif", import.meta.url));
const FIXTURE = readFileSync(FIXTURE_PATH, "utf8");
const directory = LdifDirectory.fromText(FIXTURE);

const BASE = "DC=example,DC=com";
const STAFF = "OU=Staff,DC=example,DC=com";
const PHONE_USERS = "CN=Phone Users,OU=Groups,DC=example,DC=com";
const SALES_TEAM = "CN=Sales Team,OU=Groups,DC=example,DC=com";
const TIER_2 = "CN=Support (Tier 2),OU=Groups,DC=example,DC=com";
const SMITH = "CN=Smith\\, John,OU=Sales,OU=Staff,DC=example,DC=com";
const ZOE = "CN=Zoë Müller,OU=Sales,OU=Staff,DC=example,DC=com";

// Who is who in test/fixtures/directory.ldif, as its header comment describes them.
const SALES = ["aanderson", "bbaker", "jsmith", "zmueller"];
const SUPPORT = ["cchen", "ddavis", "eevans", "jnunez"];
const ENGINEERING = ["ffischer", "ggarcia", "hhughes", "iivanov"];
const EVERYONE = ["jjones", ...SALES, ...SUPPORT, ...ENGINEERING, "svc-pbx"].sort();
const PHONE_USERS_DIRECT = ["cchen", "ddavis", "eevans", "ffischer", "hhughes", "jjones"];
const without = (list: string[], ...gone: string[]) => list.filter((u) => !gone.includes(u));

async function entries(spec: Partial<SearchSpec> & { filter: string }, from = directory): Promise<WireEntry[]> {
  return (await collect(from.search({ base: BASE, scope: "sub", attributes: [], ...spec }))).pages.flat();
}

async function accounts(filterText: string, base = BASE, scope: SearchSpec["scope"] = "sub"): Promise<string[]> {
  const found = await entries({ base, scope, filter: filterText, attributes: ["sAMAccountName"] });
  return found.map((e) => e.attributes.sAMAccountName?.[0] ?? e.dn).sort();
}

async function searchError(spec: SearchSpec): Promise<SearchError> {
  try {
    await collect(directory.search(spec));
  } catch (error) {
    if (error instanceof SearchError) return error;
    throw error;
  }
  throw new Error("the search did not fail");
}

describe("the fixture, searched with the scope filters the sync uses", () => {
  it.each<[string, Scope | undefined, "include" | "exclude" | "only", string[]]>([
    ["every user", undefined, "include", EVERYONE],
    ["Erin Evans is disabled (userAccountControl 514)", undefined, "exclude", without(EVERYONE, "eevans")],
    ["only the disabled", undefined, "only", ["eevans"]],
    [
      "Phone Users with nesting: every Sales user through Sales Team",
      { users: "groups", groups: [{ dn: PHONE_USERS }] },
      "include",
      [...PHONE_USERS_DIRECT, ...SALES].sort(),
    ],
    [
      "Phone Users with nesting, enabled only",
      { users: "groups", groups: [{ dn: PHONE_USERS, nested: true }] },
      "exclude",
      without([...PHONE_USERS_DIRECT, ...SALES].sort(), "eevans"),
    ],
    ["Phone Users, direct members only", { users: "groups", groups: [{ dn: PHONE_USERS, nested: false }] }, "include", PHONE_USERS_DIRECT],
    ["Support (Tier 2): parentheses escaped in the filter", { users: "groups", groups: [{ dn: TIER_2 }] }, "include", ["cchen", "jnunez"]],
    [
      "Sales Team, direct: a base64 member DN and CN=Smith\\, John",
      { users: "groups", groups: [{ dn: SALES_TEAM, nested: false }] },
      "include",
      SALES,
    ],
    [
      "two groups, nested and not",
      { users: "groups", groups: [{ dn: TIER_2 }, { dn: SALES_TEAM, nested: false }] },
      "include",
      ["cchen", "jnunez", ...SALES].sort(),
    ],
    ["an empty group list selects nobody", { users: "groups", groups: [] }, "include", []],
    ["an extra filter", { filter: "(department=sales)" }, "include", SALES],
    ["an extra filter on a non-ASCII name", { filter: "(sn=MÜLLER)" }, "include", ["zmueller"]],
    ["an extra filter on the escaped DN", { filter: filter`(distinguishedName=${SMITH})` }, "include", ["jsmith"]],
    // "Head of Engineering" too; "Support Engineer (left)" is Erin, disabled.
    ["an extra filter with a wildcard", { filter: "(title=*engineer*)" }, "exclude", ["cchen", "ddavis", ...ENGINEERING].sort()],
  ])("%s", async (_, scope, disabled, expected) => {
    expect(await accounts(scopeUserFilter(scope, disabled))).toEqual(expected);
  });

  it("searches the bases scopeBases gives for OUs: Staff one level deep, Engineering with Platform", async () => {
    const scope: Scope = {
      users: "ous",
      ous: [{ dn: STAFF, includeSubOus: false }, { dn: "OU=Engineering,OU=Staff,DC=example,DC=com" }],
    };
    const found: string[] = [];
    for (const base of scopeBases(scope, BASE)) found.push(...(await accounts(scopeUserFilter(scope, "include"), base.base, base.scope)));
    expect(found.sort()).toEqual(["jjones", ...ENGINEERING].sort());
  });

  it.each<[string, Scope | undefined, string[]]>([
    ["every group", undefined, ["Phone Users", "Sales Team", "Support (Tier 2)"]],
    ["Phone Users and the groups nested in it", { users: "groups", groups: [{ dn: PHONE_USERS }] }, ["Phone Users", "Sales Team"]],
    ["Phone Users alone without nesting", { users: "groups", groups: [{ dn: PHONE_USERS, nested: false }] }, ["Phone Users"]],
    ["Support (Tier 2) by its escaped DN", { users: "groups", groups: [{ dn: TIER_2 }] }, ["Support (Tier 2)"]],
  ])("groups: %s", async (_, scope, expected) => {
    expect(await accounts(scopeGroupFilter(scope))).toEqual(expected);
  });

  it("lists the OUs, as the OU picker asks for them", async () => {
    const ous = await entries({ filter: "(objectClass=organizationalUnit)", attributes: ["ou"] });
    expect(ous.map((e) => e.attributes.ou?.[0])).toEqual([
      "Staff",
      "Sales",
      "Support",
      "Engineering",
      "Platform",
      "Service Accounts",
      "Groups",
    ]);
  });
});

describe("scope", () => {
  it.each<[SearchSpec["scope"], string, string[]]>([
    ["base", STAFF, [STAFF]],
    [
      "one",
      STAFF,
      [
        "OU=Sales,OU=Staff,DC=example,DC=com",
        "OU=Support,OU=Staff,DC=example,DC=com",
        "OU=Engineering,OU=Staff,DC=example,DC=com",
        "CN=Judy Jones,OU=Staff,DC=example,DC=com",
      ],
    ],
    [
      "sub",
      "OU=Engineering,OU=Staff,DC=example,DC=com",
      [
        "OU=Engineering,OU=Staff,DC=example,DC=com",
        "OU=Platform,OU=Engineering,OU=Staff,DC=example,DC=com",
        "CN=Frank Fischer,OU=Engineering,OU=Staff,DC=example,DC=com",
        "CN=Grace Garcia,OU=Engineering,OU=Staff,DC=example,DC=com",
        "CN=Heidi Hughes,OU=Platform,OU=Engineering,OU=Staff,DC=example,DC=com",
        "CN=Ivan Ivanov,OU=Platform,OU=Engineering,OU=Staff,DC=example,DC=com",
      ],
    ],
    ["one", BASE, [STAFF, "OU=Service Accounts,DC=example,DC=com", "OU=Groups,DC=example,DC=com"]],
    ["base", SMITH, [SMITH]],
    ["base", ZOE, [ZOE]],
  ])("%s from %s", async (scope, base, expected) => {
    expect((await entries({ base, scope, filter: "(objectClass=*)", attributes: ["1.1"] })).map((e) => e.dn)).toEqual(expected);
  });

  it("takes the base DN in any case and spacing, and returns DNs as the export wrote them", async () => {
    const found = await entries({ base: "ou=sales, ou=STAFF, dc=example,dc=com", scope: "one", filter: "(cn=smith, john)" });
    expect(found.map((e) => e.dn)).toEqual([SMITH]);
  });

  it("answers the domain root, which the export lacks, as a DC would", async () => {
    const [root] = await entries({ base: BASE, scope: "base", filter: "(objectClass=domainDNS)" });
    expect(root?.dn).toBe(BASE);
    expect(root?.attributes.objectClass).toEqual(["top", "domain", "domainDNS"]);
    expect(root?.attributes.dc).toEqual(["example"]);
  });

  it("answers the root DSE with the naming contexts, and a search below it as unread referrals", async () => {
    const [dse] = await entries({
      base: "",
      scope: "base",
      filter: "(objectClass=*)",
      attributes: ["defaultNamingContext", "schemaNamingContext"],
    });
    expect(dse).toEqual({
      dn: "",
      attributes: { defaultNamingContext: [BASE], schemaNamingContext: ["CN=Schema,CN=Configuration,DC=example,DC=com"] },
    });
    const { pages, result } = await collect(directory.search({ base: "", scope: "sub", filter: "(objectClass=*)", attributes: [] }));
    expect(pages).toEqual([]);
    expect(result.complete).toBe(false);
    expect(result.reason).toContain("referrals to DC=example,DC=com");
  });
});

describe("errors, as search.ts reports a DC's", () => {
  it("a base DN that is not in the directory is no_such_object", async () => {
    const error = await searchError({ base: "OU=Nowhere,DC=example,DC=com", scope: "sub", filter: "(objectClass=*)", attributes: [] });
    expect(error.code).toBe("no_such_object");
    expect(error.resultCode).toBe(32);
    expect(error.message).toContain('"OU=Nowhere,DC=example,DC=com" does not exist');
  });

  it("a base DN that does not parse is invalid_dn", async () => {
    const error = await searchError({ base: "OU=Sales;DC=example", scope: "sub", filter: "(objectClass=*)", attributes: [] });
    expect(error.code).toBe("invalid_dn");
    expect(error.resultCode).toBe(34);
  });

  it("a filter that does not parse is invalid_filter, with the position", async () => {
    const error = await searchError({ base: BASE, scope: "sub", filter: "(cn=Support (Tier 2))", attributes: [] });
    expect(error.code).toBe("invalid_filter");
    expect(error.message).toContain("position 12");
    expect(error.fix).toContain("\\28");
  });
});

describe("paging and the size limit", () => {
  const people = "(objectCategory=person)";

  it("pages by pageSize and counts what it read", async () => {
    const { pages, result } = await collect(
      directory.search({ base: BASE, scope: "sub", filter: people, attributes: ["1.1"], pageSize: 5 }),
    );
    expect(pages.map((p) => p.length)).toEqual([5, 5, 4]);
    expect(result).toEqual({ complete: true, pages: 3, entries: 14 });
  });

  it("uses pages of 500 by default and never more than 1000, as AD's MaxPageSize", async () => {
    const many = Array.from({ length: 1_200 }, (_, i) => `dn: CN=u${i},OU=Bulk,DC=example,DC=com\nobjectClass: user\n`).join("\n");
    const bulk = LdifDirectory.fromText(`dn: OU=Bulk,DC=example,DC=com\nobjectClass: organizationalUnit\n\n${many}`);
    const sizes = async (pageSize?: number) => {
      const spec: SearchSpec = { base: "OU=Bulk,DC=example,DC=com", scope: "one", filter: "(objectClass=user)", attributes: ["1.1"] };
      if (pageSize !== undefined) spec.pageSize = pageSize;
      return (await collect(bulk.search(spec))).pages.map((p) => p.length);
    };
    expect(await sizes()).toEqual([500, 500, 200]);
    expect(await sizes(5_000)).toEqual([1_000, 200]);
  });

  it("stops at the size limit and calls the read incomplete", async () => {
    const { pages, result } = await collect(
      directory.search({ base: BASE, scope: "sub", filter: people, attributes: ["1.1"], pageSize: 2, sizeLimit: 3 }),
    );
    expect(pages.map((p) => p.length)).toEqual([2, 1]);
    expect(result).toEqual({ complete: false, pages: 2, entries: 3, reason: "the size limit of 3 entries was reached" });
  });

  it("is complete when the limit equals what there is, as on a DC", async () => {
    const { result } = await collect(directory.search({ base: BASE, scope: "sub", filter: people, attributes: ["1.1"], sizeLimit: 14 }));
    expect(result).toEqual({ complete: true, pages: 1, entries: 14 });
  });

  it("answers a search that finds nothing with one empty response and no page", async () => {
    const { pages, result } = await collect(directory.search({ base: BASE, scope: "sub", filter: "(cn=nobody)", attributes: [] }));
    expect(pages).toEqual([]);
    expect(result).toEqual({ complete: true, pages: 1, entries: 0 });
  });
});

describe("entries on the wire", () => {
  it("spells attributes as asked, sends objectGUID as base64 bytes and lists it as binary", async () => {
    const [zoe] = await entries({
      base: ZOE,
      scope: "base",
      filter: "(objectClass=*)",
      attributes: ["DISPLAYNAME", "objectguid", "MemberOf", "mail"],
    });
    expect(Object.keys(zoe?.attributes ?? {}).sort()).toEqual(["DISPLAYNAME", "MemberOf", "mail", "objectguid"]);
    expect(zoe?.attributes.DISPLAYNAME).toEqual(["Zoë Müller"]);
    expect(zoe?.attributes.MemberOf).toEqual([SALES_TEAM]);
    expect(zoe?.binary).toEqual(["objectguid"]);
    expect(Buffer.from(zoe?.attributes.objectguid?.[0] ?? "", "base64")).toHaveLength(16);
  });

  it("returns binaryAttributes as base64 too", async () => {
    const [zoe] = await entries({ base: ZOE, scope: "base", filter: "(objectClass=*)", attributes: ["sn"], binaryAttributes: ["SN"] });
    expect(zoe).toEqual({ dn: ZOE, attributes: { sn: [Buffer.from("Müller").toString("base64")] }, binary: ["sn"] });
  });

  it("returns every attribute for [] and '*', and none for 1.1", async () => {
    const all = await entries({ base: SMITH, scope: "base", filter: "(objectClass=*)", attributes: [] });
    const star = await entries({ base: SMITH, scope: "base", filter: "(objectClass=*)", attributes: ["*"] });
    expect(star).toEqual(all);
    expect(Object.keys(all[0]?.attributes ?? {})).toEqual(
      expect.arrayContaining([
        "objectClass",
        "sAMAccountName",
        "ipPhone",
        "distinguishedName",
        "cn",
        "name",
        "objectGUID",
        "objectCategory",
        "memberOf",
      ]),
    );
    expect(await entries({ base: SMITH, scope: "base", filter: "(objectClass=*)", attributes: ["1.1"] })).toEqual([
      { dn: SMITH, attributes: {} },
    ]);
  });

  it("reads entries by DN, skipping those that do not exist", async () => {
    const { pages, result } = await collect(
      directory.readEntries(
        ["cn=smith\\, john, ou=sales, ou=staff, dc=example, dc=com", "CN=Gone,DC=example,DC=com", ZOE],
        ["sAMAccountName"],
      ),
    );
    expect(pages.flat()).toEqual([
      { dn: SMITH, attributes: { sAMAccountName: ["jsmith"] } },
      { dn: ZOE, attributes: { sAMAccountName: ["zmueller"] } },
    ]);
    expect(result).toEqual({ complete: true, pages: 1, entries: 2 });
  });
});

describe("what AD computes and the export lacks", () => {
  it("fills in distinguishedName, cn, name, objectCategory and memberOf on a user", async () => {
    const [smith] = await entries({
      base: SMITH,
      scope: "base",
      filter: "(objectClass=*)",
      attributes: ["distinguishedName", "cn", "name", "objectCategory", "memberOf"],
    });
    expect(smith?.attributes).toEqual({
      distinguishedName: [SMITH],
      cn: ["Smith, John"],
      name: ["Smith, John"],
      objectCategory: ["CN=Person,CN=Schema,CN=Configuration,DC=example,DC=com"],
      memberOf: [SALES_TEAM],
    });
  });

  it("gives groups their memberOf and OUs their ou and category", async () => {
    const [sales] = await entries({
      base: SALES_TEAM,
      scope: "base",
      filter: "(objectClass=*)",
      attributes: ["memberOf", "objectCategory"],
    });
    expect(sales?.attributes).toEqual({
      memberOf: [PHONE_USERS],
      objectCategory: ["CN=Group,CN=Schema,CN=Configuration,DC=example,DC=com"],
    });
    const [staff] = await entries({ base: STAFF, scope: "base", filter: "(objectClass=*)", attributes: ["ou", "objectCategory"] });
    expect(staff?.attributes).toEqual({
      ou: ["Staff"],
      objectCategory: ["CN=Organizational-Unit,CN=Schema,CN=Configuration,DC=example,DC=com"],
    });
  });

  it("makes up a stable objectGUID from the normalised DN: the same on every run, different per entry", async () => {
    const guid = async (from: LdifDirectory) =>
      (await entries({ base: SMITH, scope: "base", filter: "(objectClass=*)", attributes: ["objectGUID"] }, from))[0]?.attributes
        .objectGUID?.[0];
    const expected = createHash("sha256").update("cn=smith\\, john,ou=sales,ou=staff,dc=example,dc=com").digest().subarray(0, 16);
    expect(await guid(directory)).toBe(expected.toString("base64"));
    expect(await guid(LdifDirectory.fromText(FIXTURE))).toBe(expected.toString("base64"));
    const all = await entries({ filter: "(objectClass=*)", attributes: ["objectGUID"] });
    expect(new Set(all.map((e) => e.attributes.objectGUID?.[0])).size).toBe(all.length);
  });

  it("keeps what the export has: ldifde's objectGUID, and memberOf without member on the group", async () => {
    // `ldifde -o member` style: the links only on the members' side, the GUID given (and
    // valid UTF-8 by chance: "ABCDEFGHIJKLMNOP", which is still bytes in AD).
    const text = [
      "dn: CN=G,DC=x,DC=com",
      "changetype: add",
      "objectClass: group",
      "",
      "dn: CN=U,DC=x,DC=com",
      "changetype: add",
      "objectClass: user",
      "objectGUID:: QUJDREVGR0hJSktMTU5PUA==",
      "memberOf: CN=G,DC=x,DC=com",
      "",
    ].join("\r\n");
    const small = LdifDirectory.fromText(text);
    const found = await entries({ base: "DC=x,DC=com", filter: "(objectClass=*)", attributes: ["member", "objectGUID"] }, small);
    expect(found.map((e) => e.attributes)).toEqual([
      { objectGUID: [expect.any(String)] },
      { member: ["CN=U,DC=x,DC=com"], objectGUID: [expect.any(String)] },
      { objectGUID: ["QUJDREVGR0hJSktMTU5PUA=="] },
    ]);
    const byGuid = async (f: string) => (await entries({ base: "DC=x,DC=com", filter: f, attributes: ["1.1"] }, small)).map((e) => e.dn);
    expect(await byGuid("(objectGUID=\\41\\42\\43\\44\\45\\46\\47\\48\\49\\4a\\4b\\4c\\4d\\4e\\4f\\50)")).toEqual(["CN=U,DC=x,DC=com"]);
    expect(await byGuid("(objectGUID=abcdefghijklmnop)")).toEqual([]);
    expect(await byGuid("(member:1.2.840.113556.1.4.1941:=cn=u,dc=x,dc=com)")).toEqual(["CN=G,DC=x,DC=com"]);
  });
});

describe("building a directory", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "ldif-directory-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("reads a file in UTF-8 or in UTF-16 with a byte-order mark (ldifde -u)", async () => {
    const utf16 = path.join(dir, "export-u.ldf");
    writeFileSync(utf16, Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(FIXTURE.replace(/\n/g, "\r\n"), "utf16le")]));
    const fromUtf16 = await LdifDirectory.fromFile(utf16);
    const fromUtf8 = await LdifDirectory.fromFile(FIXTURE_PATH);
    expect(fromUtf16.size).toBe(fromUtf8.size);
    expect(await entries({ base: ZOE, scope: "base", filter: "(objectClass=*)" }, fromUtf16)).toEqual(
      await entries({ base: ZOE, scope: "base", filter: "(objectClass=*)" }, fromUtf8),
    );
  });

  it("refuses a file that is not text", async () => {
    const latin1 = path.join(dir, "latin1.ldif");
    writeFileSync(latin1, Buffer.from("dn: CN=Zo\xeb,DC=x\n", "latin1"));
    await expect(LdifDirectory.fromFile(latin1)).rejects.toThrow(/neither UTF-8 nor UTF-16/);
  });

  it("refuses the same DN twice, in any spelling, and a DN that does not parse", () => {
    expect(() => LdifDirectory.fromText("dn: CN=a,DC=x\n\ndn: cn=A, dc=X\n")).toThrow(
      /LDIF entry 2: the DN cn=A, dc=X is already used by CN=a,DC=x/,
    );
    expect(() => LdifDirectory.fromText("dn: CN=a;DC=x\n")).toThrow(/LDIF entry 1 \(dn: CN=a;DC=x\): the DN is not valid/);
  });
});
