import { describe, expect, it } from "vitest";
import { isHarmlessReference, referenceDn } from "./references.ts";

describe("continuation references", () => {
  it.each([
    // What Windows DCs send for a subtree search from DC=example,DC=com.
    "ldap://ForestDnsZones.example.com/DC=ForestDnsZones,DC=example,DC=com",
    "ldap://DomainDnsZones.example.com/DC=DomainDnsZones,DC=example,DC=com",
    "ldap://example.com/CN=Configuration,DC=example,DC=com",
    // What Samba sends (over LDAPS it writes ldaps://).
    "ldaps://example.com/CN=Configuration,DC=example,DC=com",
    "ldap://example.com/CN=Schema,CN=Configuration,DC=example,DC=com",
    "ldap://example.com/CN%3DConfiguration%2CDC%3Dexample%2CDC%3Dcom",
    "ldap://example.com:389/DC=DomainDnsZones,DC=example,DC=com??sub",
  ])("%s leads only to a partition without users", (uri) => {
    expect(isHarmlessReference(uri)).toBe(true);
  });

  it.each([
    // A child domain: its users are under the searched base but on other DCs.
    "ldap://emea.example.com/DC=emea,DC=example,DC=com",
    "ldap://dc2.example.com/OU=Sales,DC=example,DC=com",
    // No DN means "the same base, elsewhere" (RFC 4511 section 4.5.3).
    "ldap://dc2.example.com/",
    "ldap://dc2.example.com",
    "not a url",
    "ldap://example.com/%E0%A4%A",
    "ldap://example.com/OU=Configuration,DC=example,DC=com",
  ])("%s points into the scope (or cannot be read)", (uri) => {
    expect(isHarmlessReference(uri)).toBe(false);
  });

  it("reads the DN of an LDAP URL", () => {
    expect(referenceDn("ldap://h/CN=A%2C%20B,DC=x?cn?base")).toBe("CN=A, B,DC=x");
    expect(referenceDn("ldap://h")).toBe("");
    expect(referenceDn("http://h/DC=x")).toBeUndefined();
  });
});
