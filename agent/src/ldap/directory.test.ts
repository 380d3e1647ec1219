import { describe, expect, inject, it } from "vitest";
import type { OuNode } from "../../../schema/src/agent-protocol.ts";
import { isDnWithin, parseDn } from "../../../schema/src/dn.ts";
import { type AttributeSchema, type ClassSchema, listOus, listUserAttributes, userAttributesFromSchema } from "./directory.ts";
import { BUILT_IN_OUS, seededOus, targetFor } from "./test-support.ts";

const dc = inject("samba");
const STAFF = "OU=Staff,DC=example,DC=com";

// The tree the OU DNs imply: each OU under the nearest listed OU above it, or the root.
function expectedTree(root: string, dns: string[]): OuNode {
  const name = (dn: string) => (parseDn(dn) as { ok: true; dn: { value: string }[][] }).dn[0]?.[0]?.value ?? dn;
  const node = (dn: string): OuNode => ({
    dn,
    name: name(dn),
    children: dns
      .filter(
        (d) => d !== dn && isDnWithin(d, dn) && !dns.some((mid) => mid !== d && mid !== dn && isDnWithin(d, mid) && isDnWithin(mid, dn)),
      )
      .sort((a, b) => name(a).localeCompare(name(b)))
      .map(node),
  });
  const top = node(root);
  return top;
}

function flatten(node: OuNode): string[] {
  return [node.dn, ...node.children.flatMap(flatten)];
}

describe("listOus", () => {
  it("returns the OU tree under the domain, sorted by name", async () => {
    const tree = await listOus(targetFor(dc));
    const dns = [...seededOus.map((o) => o.dn), ...BUILT_IN_OUS];
    expect(tree).toEqual(expectedTree(dc.baseDn, dns));
    expect(tree.name).toBe("example");
    expect(flatten(tree)).toHaveLength(dns.length + 1);
    const staff = tree.children.find((c) => c.dn === STAFF);
    expect(staff?.children.map((c) => c.name)).toEqual(["Engineering", "Sales", "Support"]);
    expect(staff?.children[0]?.children.map((c) => c.name)).toEqual(["Platform"]);
  });

  it("roots the tree at an OU base DN without repeating it", async () => {
    const tree = await listOus(targetFor(dc, { baseDn: STAFF }));
    expect(tree).toEqual(
      expectedTree(
        STAFF,
        seededOus.map((o) => o.dn).filter((dn) => isDnWithin(dn, STAFF)),
      ),
    );
  });
});

describe("listUserAttributes", () => {
  it("lists what a user may have in Samba's schema, sorted, without secrets", async () => {
    const attributes = await listUserAttributes(targetFor(dc));
    const byName = new Map(attributes.map((a) => [a.name, a]));
    expect(byName.get("ipPhone")).toEqual({ name: "ipPhone", syntax: "DirectoryString", multiValued: false });
    expect(byName.get("telephoneNumber")).toEqual({ name: "telephoneNumber", syntax: "DirectoryString", multiValued: false });
    expect(byName.get("otherTelephone")).toMatchObject({ multiValued: true });
    expect(byName.get("mail")).toMatchObject({ syntax: "DirectoryString" });
    expect(byName.get("thumbnailPhoto")).toEqual({ name: "thumbnailPhoto", syntax: "OctetString", multiValued: false });
    expect(byName.get("memberOf")).toEqual({ name: "memberOf", syntax: "DN", multiValued: true });
    expect(byName.get("objectSid")).toMatchObject({ syntax: "SID" });
    expect(byName.get("userAccountControl")).toMatchObject({ syntax: "Integer" });
    expect(byName.get("pwdLastSet")).toMatchObject({ syntax: "LargeInteger" });
    // From auxiliary classes: securityPrincipal, and Windows 2012's msDS-CloudExtensions.
    expect(byName.has("sAMAccountName")).toBe(true);
    expect(byName.has("msDS-cloudExtensionAttribute1")).toBe(true);
    for (const secret of ["unicodePwd", "userPassword", "ntPwdHistory", "supplementalCredentials"]) expect(byName.has(secret)).toBe(false);
    // Constructed: computed on read, absent from subtree searches.
    expect(byName.has("msDS-UserPasswordExpiryTimeComputed")).toBe(false);
    // Samba has no Exchange schema, so no extensionAttribute1..15 (see the unit test below).
    expect(byName.has("extensionAttribute1")).toBe(false);
    const names = attributes.map((a) => a.name);
    expect(names).toEqual([...names].sort((a, b) => a.localeCompare(b, "en", { sensitivity: "base", numeric: true })));
    expect(new Set(names.map((n) => n.toLowerCase())).size).toBe(names.length);
    expect(names.filter((n) => n.startsWith("msDS-cloudExtensionAttribute")).slice(0, 3)).toEqual([
      "msDS-cloudExtensionAttribute1",
      "msDS-cloudExtensionAttribute2",
      "msDS-cloudExtensionAttribute3",
    ]);
  });
});

describe("userAttributesFromSchema", () => {
  const attribute = (lDAPDisplayName: string, extra: Partial<AttributeSchema> = {}): AttributeSchema => ({
    lDAPDisplayName,
    attributeSyntax: "2.5.5.12",
    oMSyntax: "64",
    isSingleValued: true,
    searchFlags: 0,
    systemFlags: 0,
    ...extra,
  });
  const extensionAttributes = Array.from({ length: 15 }, (_, i) => `extensionAttribute${i + 1}`);
  // The shape of an AD schema extended by Exchange: ms-Exch-Custom-Attributes is an
  // auxiliary class of mailRecipient's, which user includes.
  const classes: ClassSchema[] = [
    { lDAPDisplayName: "top", subClassOf: "top", systemMustContain: ["objectClass"], systemMayContain: ["description"] },
    { lDAPDisplayName: "person", subClassOf: "top", systemMayContain: ["telephoneNumber", "userPassword", "sn"] },
    { lDAPDisplayName: "organizationalPerson", subClassOf: "person", systemMayContain: ["ipPhone", "thumbnailPhoto"] },
    {
      lDAPDisplayName: "user",
      subClassOf: "organizationalPerson",
      systemAuxiliaryClass: ["securityPrincipal", "mailRecipient"],
      systemMayContain: ["unicodePwd", "msDS-UserPasswordExpiryTimeComputed", "ms-Secret"],
    },
    { lDAPDisplayName: "securityPrincipal", subClassOf: "top", systemMustContain: ["sAMAccountName"] },
    { lDAPDisplayName: "mailRecipient", subClassOf: "top", mayContain: ["mail"], auxiliaryClass: ["msExchCustomAttributes"] },
    { lDAPDisplayName: "msExchCustomAttributes", subClassOf: "top", mayContain: extensionAttributes },
    { lDAPDisplayName: "computer", subClassOf: "user", mayContain: ["dNSHostName"] },
  ];
  const attributes = [
    attribute("objectClass", { attributeSyntax: "2.5.5.2", oMSyntax: "6", isSingleValued: false }),
    attribute("description", { isSingleValued: false }),
    attribute("telephoneNumber"),
    attribute("userPassword", { attributeSyntax: "2.5.5.10", oMSyntax: "4" }),
    attribute("sn"),
    attribute("ipPhone"),
    attribute("thumbnailPhoto", { attributeSyntax: "2.5.5.10", oMSyntax: "4" }),
    attribute("unicodePwd", { attributeSyntax: "2.5.5.10", oMSyntax: "4" }),
    attribute("msDS-UserPasswordExpiryTimeComputed", { attributeSyntax: "2.5.5.16", oMSyntax: "65", systemFlags: 0x14 }),
    attribute("ms-Secret", { searchFlags: 0x80 }),
    attribute("sAMAccountName"),
    attribute("mail"),
    attribute("dNSHostName"),
    ...extensionAttributes.map((name) => attribute(name)),
  ];

  it("walks superclasses and auxiliary classes, leaving out secrets, confidential and constructed attributes", () => {
    const list = userAttributesFromSchema(classes, attributes);
    expect(list.map((a) => a.name)).toEqual(
      [
        "description",
        ...extensionAttributes,
        "ipPhone",
        "mail",
        "objectClass",
        "sAMAccountName",
        "sn",
        "telephoneNumber",
        "thumbnailPhoto",
      ].sort((a, b) => a.localeCompare(b, "en", { sensitivity: "base", numeric: true })),
    );
    expect(list.find((a) => a.name === "thumbnailPhoto")).toEqual({ name: "thumbnailPhoto", syntax: "OctetString", multiValued: false });
    expect(list.find((a) => a.name === "objectClass")).toEqual({ name: "objectClass", syntax: "OID", multiValued: true });
  });

  it("sorts numbers in names by value: extensionAttribute2 before extensionAttribute10", () => {
    const names = userAttributesFromSchema(classes, attributes).map((a) => a.name);
    expect(names.filter((n) => n.startsWith("extensionAttribute"))).toEqual(extensionAttributes);
  });
});
