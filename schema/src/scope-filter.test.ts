import { describe, expect, it } from "vitest";
import { checkFilter } from "./ldap-filter.ts";
import { scopeBases, scopeGroupFilter, scopeUserFilter } from "./scope-filter.ts";

const BASE = "DC=example,DC=com";
const STAFF = "OU=Staff,DC=example,DC=com";
const SALES = "OU=Sales,OU=Staff,DC=example,DC=com";
const GROUPS = "OU=Groups,DC=example,DC=com";

describe("scopeBases", () => {
  it("searches the whole base DN for users: all and groups", () => {
    expect(scopeBases(undefined, BASE)).toEqual([{ base: BASE, scope: "sub" }]);
    expect(scopeBases({ users: "groups", groups: [{ dn: "CN=G,DC=example,DC=com" }] }, BASE)).toEqual([{ base: BASE, scope: "sub" }]);
  });

  it("searches each OU, one level deep without sub-OUs, and drops OUs already covered", () => {
    expect(
      scopeBases(
        {
          users: "ous",
          ous: [{ dn: STAFF }, { dn: SALES }, { dn: GROUPS, includeSubOus: false }, { dn: "ou=staff, dc=example, dc=com" }],
        },
        BASE,
      ),
    ).toEqual([
      { base: STAFF, scope: "sub" },
      { base: GROUPS, scope: "one" },
    ]);
  });

  it("keeps an OU listed one level deep inside another listed one level deep", () => {
    expect(
      scopeBases(
        {
          users: "ous",
          ous: [
            { dn: STAFF, includeSubOus: false },
            { dn: SALES, includeSubOus: false },
          ],
        },
        BASE,
      ),
    ).toEqual([
      { base: STAFF, scope: "one" },
      { base: SALES, scope: "one" },
    ]);
  });

  it("lets a subtree listing of an OU win over a one-level listing of the same OU", () => {
    expect(scopeBases({ users: "ous", ous: [{ dn: STAFF, includeSubOus: false }, { dn: STAFF }] }, BASE)).toEqual([
      { base: STAFF, scope: "sub" },
    ]);
  });
});

describe("scopeUserFilter", () => {
  it("selects person users, enabled or disabled as asked", () => {
    expect(scopeUserFilter(undefined, "include")).toBe("(&(&(objectCategory=person)(objectClass=user)))");
    expect(scopeUserFilter(undefined, "exclude")).toBe(
      "(&(&(objectCategory=person)(objectClass=user))(!(userAccountControl:1.2.840.113556.1.4.803:=2)))",
    );
    expect(scopeUserFilter({ filter: "(department=Sales)" }, "only")).toBe(
      "(&(&(objectCategory=person)(objectClass=user))(department=Sales)(userAccountControl:1.2.840.113556.1.4.803:=2))",
    );
  });

  it("escapes group DNs once, with or without nesting", () => {
    const f = scopeUserFilter(
      {
        users: "groups",
        groups: [{ dn: "CN=Support (Tier 2),OU=Groups,DC=example,DC=com" }, { dn: "CN=Smith\\, John's*,DC=example,DC=com", nested: false }],
      },
      "include",
    );
    expect(f).toContain("(memberOf:1.2.840.113556.1.4.1941:=CN=Support \\28Tier 2\\29,OU=Groups,DC=example,DC=com)");
    expect(f).toContain("(memberOf=CN=Smith\\5c, John's\\2a,DC=example,DC=com)");
    expect(checkFilter(f)).toEqual({ ok: true });
  });

  it("selects nobody for an empty group list", () => {
    expect(scopeUserFilter({ users: "groups", groups: [] }, "include")).toContain("(!(objectClass=*))");
  });
});

describe("scopeGroupFilter", () => {
  it("counts every group, or the listed groups and those nested in them", () => {
    expect(scopeGroupFilter(undefined)).toBe("(objectClass=group)");
    const f = scopeGroupFilter({ users: "groups", groups: [{ dn: "CN=A,DC=x" }, { dn: "CN=B,DC=x", nested: false }] });
    expect(f).toBe(
      "(&(objectClass=group)(|(|(distinguishedName=CN=A,DC=x)(memberOf:1.2.840.113556.1.4.1941:=CN=A,DC=x))(distinguishedName=CN=B,DC=x)))",
    );
    expect(checkFilter(f)).toEqual({ ok: true });
  });
});
