import { describe, expect, it } from "vitest";
import type { SyncConfig } from "../schema/generated/config.ts";
import type { DirectoryUser } from "./directory-user.ts";
import { cnOf, dnKey, fieldAttribute, fieldSynced, mapUser } from "./map-user.ts";

const BASE = "DC=example,DC=com";
const config: SyncConfig = {
  connection: { domainControllers: [{ host: "dc1" }], bindUsername: "svc", bindPassword: { source: "stored" }, baseDn: BASE },
};
const withConfig = (patch: Partial<SyncConfig>): SyncConfig => ({ ...config, ...patch });

function user(dn: string, attrs: Record<string, string | string[]> = {}, more: Partial<DirectoryUser> = {}): DirectoryUser {
  const attributes: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(attrs)) attributes[k.toLowerCase()] = Array.isArray(v) ? v : [v];
  return { guid: "g-1", dn, disabled: false, attributes, ...more };
}
const ann = (attrs: Record<string, string | string[]> = {}, ou = `OU=Sales,OU=Staff,${BASE}`) =>
  user(`CN=Ann Archer,${ou}`, { displayName: "Ann Archer", givenName: "Ann", sn: "Archer", ...attrs });

describe("mapUser", () => {
  it("maps each PBX field from its default attribute, trimmed, and blanks to null", () => {
    const m = mapUser(
      config,
      ann({ mail: " ann@example.com ", mobile: "   ", telephoneNumber: "+1 555", department: "Sales", title: "Rep" }),
      true,
    );
    expect(m.fields).toEqual({
      firstName: "Ann",
      lastName: "Archer",
      displayName: "Ann Archer",
      email: "ann@example.com",
      mobile: null,
      workPhone: "+1 555",
      department: "Sales",
      jobTitle: "Rep",
    });
    expect(m).toMatchObject({ guid: "g-1", name: "Ann Archer", disabled: false, avatarHash: null });
    expect(m.excluded).toBeUndefined();
  });

  it("reads a field from the attribute the configuration names, and reports the switches", () => {
    const c = withConfig({ fields: { email: { attribute: "proxyAddresses" }, mobile: { sync: false } } });
    expect(mapUser(c, ann({ proxyAddresses: "smtp:ann@corp.example.com", mail: "other@example.com" }), true).fields.email).toBe(
      "smtp:ann@corp.example.com",
    );
    expect([fieldAttribute(c, "email"), fieldAttribute(c, "mobile"), fieldAttribute(c, "avatar")]).toEqual([
      "proxyAddresses",
      "mobile",
      "thumbnailPhoto",
    ]);
    expect([fieldSynced(c, "mobile"), fieldSynced(c, "email"), fieldSynced(config, "avatar")]).toEqual([false, true, true]);
  });

  it.each([
    ["displayName", { displayName: "Ann A.", cn: "ann-cn", sAMAccountName: "ann" }, "Ann A."],
    ["cn without a display name", { cn: "ann-cn", sAMAccountName: "ann" }, "ann-cn"],
    ["sAMAccountName without either", { sAMAccountName: "ann" }, "ann"],
    ["the DN without any", {}, `CN=X,${BASE}`],
  ])("names the user by %s", (_what, attrs, name) => {
    expect(mapUser(config, user(`CN=X,${BASE}`, attrs), true).name).toBe(name);
  });

  it("keeps the login names lower-case, and null when AD has none", () => {
    expect(mapUser(config, ann({ userPrincipalName: "Ann.Archer@Example.COM", sAMAccountName: "AArcher" }), true)).toMatchObject({
      upn: "ann.archer@example.com",
      sam: "aarcher",
    });
    expect(mapUser(config, ann(), true)).toMatchObject({ upn: null, sam: null });
  });

  describe("exclusion", () => {
    it("says why a user gets no extension: out of scope first, then disabled, then a pattern", () => {
      const c = withConfig({ scope: { exclude: [{ pattern: "ann*", attribute: "sAMAccountName", reason: "tests" }] } });
      const disabled = { ...ann({ sAMAccountName: "ann" }), disabled: true };
      expect(mapUser(c, disabled, false).excluded).toEqual({ code: "out_of_scope", reason: "not in the sync scope" });
      expect(mapUser(c, disabled, true).excluded).toEqual({ code: "disabled", reason: "the AD account is disabled" });
      expect(mapUser(c, ann({ sAMAccountName: "ann" }), true).excluded).toEqual({ code: "excluded_by_pattern", reason: "tests" });
      expect(mapUser(c, ann({ sAMAccountName: "bob" }), true).excluded).toBeUndefined();
    });

    it("syncs a disabled account with includeDisabled, as disabled", () => {
      const m = mapUser(withConfig({ scope: { includeDisabled: true } }), { ...ann(), disabled: true }, true);
      expect(m.excluded).toBeUndefined();
      expect(m.disabled).toBe(true);
    });

    it("matches any value of a multi-valued attribute, and not a user who lacks it", () => {
      const c = withConfig({ scope: { exclude: [{ pattern: "CN=Test*", attribute: "memberOf" }] } });
      expect(mapUser(c, ann({ memberOf: [`CN=Staff,${BASE}`, `CN=Testers,${BASE}`] }), true).excluded?.code).toBe("excluded_by_pattern");
      expect(mapUser(c, ann(), true).excluded).toBeUndefined();
    });
  });

  describe("departments", () => {
    it.each([
      ["the OU path below the base DN, outermost first", `OU=Sales,OU=Staff,${BASE}`, "Staff > Sales"],
      ["one OU", `OU=Staff,${BASE}`, "Staff"],
      ["none for a user right under the base DN", BASE, null],
      ["none for a user in a container that is not an OU", `CN=Users,${BASE}`, null],
      ["OUs only, skipping containers between them", `OU=Sales,CN=Regional,OU=Staff,${BASE}`, "Staff > Sales"],
      ["the whole path for a user outside the base DN", "OU=Sales,OU=Staff,DC=other,DC=com", "Staff > Sales"],
    ])("from the OU tree: %s", (_what, ou, path) => {
      expect(mapUser(config, ann({}, ou), true).departmentPath).toBe(path);
    });

    it("takes OU names in any case, and skips a multi-valued RDN", () => {
      expect(mapUser(config, user(`CN=A,ou=Sales,Ou=Staff,${BASE}`), true).departmentPath).toBe("Staff > Sales");
      expect(mapUser(config, user(`CN=A,OU=Sales+L=Paris,OU=Staff,${BASE}`), true).departmentPath).toBe("Staff");
    });

    it("tells users of one configuration apart by their own OUs, whatever their names hold", () => {
      // An escaped comma in a name, a name like an OU's, and the same names under other OUs.
      const cases: Array<[string, string | null]> = [
        [`CN=Smith\\, Ann,OU=Sales,OU=Staff,${BASE}`, "Staff > Sales"],
        [`CN=Smith\\, Ann,OU=Support,OU=Staff,${BASE}`, "Staff > Support"],
        [`CN=OU=Sales,OU=Support,OU=Staff,${BASE}`, "Staff > Support"],
        [`CN=Ann,OU=Sales,OU=Staff,${BASE}`, "Staff > Sales"],
        [`CN=Ann,OU=Sales,OU=Staff,DC=other,DC=com`, "Staff > Sales"],
        [`CN=Ann,${BASE}`, null],
        [`CN=Ann,OU=Staff,${BASE}`, "Staff"],
      ];
      for (let round = 0; round < 2; round++)
        for (const [dn, path] of cases) expect(mapUser(config, user(dn), true).departmentPath, dn).toBe(path);
    });

    it("from an attribute, department by default, or none", () => {
      const u = ann({ department: "Inside Sales", division: "EMEA" });
      expect(mapUser(withConfig({ organisation: { departments: { from: "attribute" } } }), u, true).departmentPath).toBe("Inside Sales");
      expect(
        mapUser(withConfig({ organisation: { departments: { from: "attribute", attribute: "division" } } }), u, true).departmentPath,
      ).toBe("EMEA");
      expect(mapUser(withConfig({ organisation: { departments: { from: "attribute" } } }), ann(), true).departmentPath).toBeNull();
      expect(mapUser(withConfig({ organisation: { departments: { from: "none" } } }), u, true).departmentPath).toBeNull();
    });
  });

  describe("extension groups", () => {
    const sales = `CN=Sales Team,OU=Groups,${BASE}`;
    const phones = `CN=Phone Users,OU=Groups,${BASE}`;
    const all = `CN=All Staff,OU=Groups,${BASE}`;

    it("has none unless configured", () => {
      expect(mapUser(config, ann({ memberOf: [sales] }), true).groups).toEqual([]);
    });

    it("mirrors every group of memberOf by its name when no list is given, sorted", () => {
      const c = withConfig({ organisation: { extensionGroups: { from: "memberOf" } } });
      expect(mapUser(c, ann({ memberOf: [sales, all] }), true).groups).toEqual(["All Staff", "Sales Team"]);
      expect(mapUser(c, ann(), true).groups).toEqual([]);
    });

    it("mirrors only the listed groups, under the name given, matching DNs without regard to case or spaces", () => {
      const c = withConfig({
        organisation: { extensionGroups: { from: "memberOf", groups: [{ dn: sales, extensionGroup: "Ring: Sales" }, { dn: all }] } },
      });
      const m = mapUser(c, ann({ memberOf: ["cn=sales team, ou=groups, dc=example, dc=com", phones] }), true);
      expect(m.groups).toEqual(["Ring: Sales"]);
    });

    it("counts nested membership from the group context only for groups marked nested", () => {
      const c = withConfig({
        organisation: { extensionGroups: { from: "memberOf", groups: [{ dn: phones, nested: true }, { dn: sales }] } },
      });
      // Ann is directly in Tier 2 only, which is inside Phone Users (and, unmarked, inside Sales).
      const tier2 = "CN=Tier 2,OU=Groups,DC=example,DC=com";
      const context = {
        nestedGroups: new Map([
          [dnKey(phones), new Set([dnKey(phones), dnKey(tier2)])],
          [dnKey(sales), new Set([dnKey(sales), dnKey(tier2)])],
        ]),
      };
      expect(mapUser(c, ann({ memberOf: [tier2] }), true, context).groups).toEqual(["Phone Users"]);
      expect(mapUser(c, ann(), true, context).groups).toEqual([]);
      expect(mapUser(c, ann({ memberOf: [phones] }), true).groups).toEqual(["Phone Users"]);
      expect(mapUser(c, ann(), true).groups).toEqual([]);
    });

    it("takes groups from an attribute's values, trimmed, without blanks or repeats", () => {
      const c = withConfig({ organisation: { extensionGroups: { from: "attribute", attribute: "extensionAttribute5" } } });
      expect(mapUser(c, ann({ extensionAttribute5: [" Support ", "", "Sales", "Support"] }), true).groups).toEqual(["Sales", "Support"]);
      expect(mapUser(c, ann(), true).groups).toEqual([]);
    });
  });

  describe("numbers and templates", () => {
    it("reads the number attribute, normalised, only when numbers come from an attribute", () => {
      const fromAttribute = withConfig({ extensionNumbers: { source: "attribute", attribute: "ipPhone", normalize: { lastDigits: 4 } } });
      expect(mapUser(fromAttribute, ann({ ipPhone: "+44 20 7946 1234" }), true)).toMatchObject({
        attributeNumber: "1234",
        attributeValue: "+44 20 7946 1234",
      });
      const unusable = mapUser(fromAttribute, ann({ ipPhone: "n/a" }), true);
      expect(unusable.attributeValue).toBe("n/a");
      expect(unusable.attributeNumber).toBeUndefined();
      const missing = mapUser(fromAttribute, ann(), true);
      expect("attributeValue" in missing || "attributeNumber" in missing).toBe(false);
      const sequential = mapUser(
        withConfig({ extensionNumbers: { source: "sequential", attribute: "ipPhone" } }),
        ann({ ipPhone: "1234" }),
        true,
      );
      expect("attributeValue" in sequential || "attributeNumber" in sequential).toBe(false);
      const fallback = withConfig({
        extensionNumbers: { source: "attributeThenSequential", attribute: "ipPhone", ranges: [{ start: "1000", end: "1999" }] },
      });
      expect(mapUser(fallback, ann({ ipPhone: "1234" }), true).attributeNumber).toBe("1234");
    });

    it("names the template of the deepest OU holding the user, and none elsewhere", () => {
      const c = withConfig({
        organisation: {
          templateExtensions: [
            { ou: `OU=Staff,${BASE}`, extension: "900" },
            { ou: `OU=Sales,OU=Staff,${BASE}`, extension: "901" },
          ],
        },
      });
      expect(mapUser(c, ann(), true).template).toBe("901");
      expect(mapUser(c, ann({}, `OU=Support,OU=Staff,${BASE}`), true).template).toBe("900");
      expect("template" in mapUser(c, ann({}, `OU=Partners,${BASE}`), true)).toBe(false);
    });
  });
});

describe("dnKey and cnOf", () => {
  it("compares DNs without case or spaces after commas, and names a group by its first RDN", () => {
    expect(dnKey("CN=Sales Team , OU=Groups,DC=Example,DC=com")).toBe("cn=sales team,ou=groups,dc=example,dc=com");
    expect(cnOf(`CN=Sales\\, EMEA,OU=Groups,${BASE}`)).toBe("Sales, EMEA");
    expect(cnOf("not a dn")).toBe("not a dn");
  });
});
