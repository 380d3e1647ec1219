// The filter bytes sent to a DC: the same BER as ldapts's own encoder wherever that one is
// right, and the exact escaped bytes where it is not. The searches at the end go to the
// Samba DC of the test run.
import { BerWriter, FilterParser } from "ldapts";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { filter } from "../../../schema/src/ldap-filter.ts";
import { type DirectoryConnection, openConnection } from "./connection.ts";
import { searchPages } from "./search.ts";
import { collect, targetFor } from "./test-support.ts";
import { wireFilter } from "./wire-filter.ts";

const ber = (f: { write(w: BerWriter): void }) => {
  const writer = new BerWriter();
  f.write(writer);
  return Buffer.from(writer.buffer).toString("hex");
};

describe("wireFilter", () => {
  it.each([
    "(cn=Judy Jones)",
    "(objectClass=*)",
    "(&(objectCategory=person)(objectClass=user)(!(userAccountControl:1.2.840.113556.1.4.803:=2)))",
    "(|(sn=Sm*th)(cn=*ones)(cn=J*o*s)(mail=judy*))",
    "(&(uSNChanged>=100)(uSNChanged<=200)(cn~=judy))",
    "(memberOf:1.2.840.113556.1.4.1941:=CN=Sales Team,OU=Groups,DC=example,DC=com)",
    "(ou:dn:=Sales)",
    "(cn=Support \\28Tier 2\\29)",
  ])("encodes %s as ldapts does", (text) => {
    expect(ber(wireFilter(text))).toBe(ber(FilterParser.parseString(text)));
  });

  it("keeps escaped bytes of 0x80 and up as they are, where ldapts re-encodes them", () => {
    const guid = Buffer.from("cac0f9d5ad35fc47bb7835d5a38c74fd", "hex");
    const text = filter`(objectGUID=${guid})`;
    expect(ber(wireFilter(text))).toContain(guid.toString("hex"));
    expect(ber(FilterParser.parseString(text))).not.toContain(guid.toString("hex"));
    // An escaped UTF-8 name is the same bytes as the name written plainly.
    expect(ber(wireFilter("(cn=Zo\\c3\\ab M\\c3\\bcller)"))).toBe(ber(wireFilter("(cn=Zoë Müller)")));
  });

  it("refuses what RFC 4515 refuses, with the position", () => {
    expect(() => wireFilter("(cn=a(b)")).toThrow(/position 5/);
  });
});

describe("searches with escaped bytes, against the DC", () => {
  const dc = inject("samba");
  let connection: DirectoryConnection;
  beforeAll(async () => {
    connection = await openConnection(targetFor(dc));
  });
  afterAll(async () => {
    await connection.close();
  });
  const find = async (f: string) => {
    const { pages } = await collect(
      searchPages(connection, { base: dc.baseDn, scope: "sub", filter: f, attributes: ["objectGUID", "cn"] }),
    );
    return pages.flat();
  };

  it("finds a user by objectGUID", async () => {
    const [judy] = await find("(cn=Judy Jones)");
    const guid = Buffer.from(judy?.attributes.objectGUID?.[0] ?? "", "base64");
    expect(guid).toHaveLength(16);
    expect((await find(filter`(objectGUID=${guid})`)).map((e) => e.dn)).toEqual([judy?.dn]);
  });

  it("finds a non-ASCII name written with escapes", async () => {
    expect((await find("(cn=Zo\\c3\\ab M\\c3\\bcller)")).map((e) => e.attributes.cn?.[0])).toEqual(["Zoë Müller"]);
  });
});
