// Paged search against the Samba DC of the test run; nothing here writes to it.

import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { type DirectoryConnection, openConnection } from "./connection.ts";
import { SearchError } from "./errors.ts";
import { readEntries, type SearchSpec, search, searchPages } from "./search.ts";
import { BUILT_IN_USERS, collect, membersOf, sam, seededUsers, targetFor } from "./test-support.ts";

const dc = inject("samba");
const USERS = "(&(objectCategory=person)(objectClass=user))";
const PHONE_USERS = "CN=Phone Users,OU=Groups,DC=example,DC=com";

describe("searchPages", () => {
  let connection: DirectoryConnection;
  beforeAll(async () => {
    connection = await openConnection(targetFor(dc));
  });
  afterAll(async () => {
    await connection.close();
  });

  it("pages through every user of the domain and calls the read complete", async () => {
    const spec: SearchSpec = { base: dc.baseDn, scope: "sub", filter: USERS, attributes: ["sAMAccountName"], pageSize: 5 };
    const { pages, result } = await collect(searchPages(connection, spec));
    const expected = [...seededUsers.map(sam), ...BUILT_IN_USERS].sort();
    expect(pages.length).toBe(Math.ceil(expected.length / 5));
    for (const page of pages) expect(page.length).toBeLessThanOrEqual(5);
    expect(
      pages
        .flat()
        .map((e) => e.attributes.sAMAccountName?.[0])
        .sort(),
    ).toEqual(expected);
    // The search from the domain root also got a reference to the Configuration partition
    // (checked below); it holds no users and leaves the read complete.
    expect(result).toEqual({ complete: true, pages: pages.length, entries: expected.length });
  });

  it("really is sent a continuation reference from the domain root", async () => {
    const { searchReferences } = await connection.client.search(dc.baseDn, {
      scope: "sub",
      filter: "(sAMAccountName=jjones)",
      attributes: ["1.1"],
    });
    expect(searchReferences.some((uri) => /CN=Configuration,DC=example,DC=com$/i.test(uri))).toBe(true);
  });

  it("returns binary attributes as base64 and lists them; text as UTF-8", async () => {
    const { pages } = await collect(
      searchPages(connection, {
        base: "OU=Sales,OU=Staff,DC=example,DC=com",
        scope: "sub",
        filter: "(sAMAccountName=zmueller)",
        attributes: ["objectGUID", "objectSid", "displayName", "givenName"],
      }),
    );
    const [entry] = pages.flat();
    expect(entry?.dn).toBe("CN=Zoë Müller,OU=Sales,OU=Staff,DC=example,DC=com");
    expect(entry?.attributes.displayName).toEqual(["Zoë Müller"]);
    expect(entry?.binary?.sort()).toEqual(["objectGUID", "objectSid"]);
    expect(Buffer.from(entry?.attributes.objectGUID?.[0] ?? "", "base64")).toHaveLength(16);
    // S-1-5-21-a-b-c-rid: revision 1, 5 sub-authorities, 28 bytes.
    const sid = Buffer.from(entry?.attributes.objectSid?.[0] ?? "", "base64");
    expect(sid[0]).toBe(1);
    expect(sid).toHaveLength(8 + 4 * (sid[1] ?? 0));
  });

  it("keys attributes as the caller spelled them, and treats extra binary names case-insensitively", async () => {
    const { pages } = await collect(
      searchPages(connection, {
        base: dc.baseDn,
        scope: "sub",
        filter: "(sAMAccountName=aanderson)",
        attributes: ["samaccountname", "IPPHONE", "objectguid"],
        binaryAttributes: ["ipphone"],
      }),
    );
    const [entry] = pages.flat();
    expect(entry?.attributes.samaccountname).toEqual(["aanderson"]);
    expect(entry?.attributes.IPPHONE).toEqual([Buffer.from("1001").toString("base64")]);
    expect(entry?.binary?.sort()).toEqual(["IPPHONE", "objectguid"]);
  });

  it("fetches the rest of a ranged attribute and merges it under its plain name", async () => {
    // Samba does not enforce MaxValRange, so ask for a range ourselves: the server answers
    // with member;range=0-1 and search.ts has to fetch member;range=2-* from it.
    const { pages, result } = await collect(
      searchPages(connection, { base: PHONE_USERS, scope: "base", filter: "(objectClass=group)", attributes: ["member;range=0-1"] }),
    );
    const [entry] = pages.flat();
    expect(Object.keys(entry?.attributes ?? {})).toEqual(["member"]);
    expect(entry?.attributes.member?.map((dn) => dn.toLowerCase()).sort()).toEqual(
      membersOf(PHONE_USERS, false)
        .map((dn) => dn.toLowerCase())
        .sort(),
    );
    expect(result.complete).toBe(true);
  });

  it("calls a read that hit the size limit incomplete", async () => {
    const { pages, result } = await collect(
      searchPages(connection, { base: dc.baseDn, scope: "sub", filter: USERS, attributes: ["1.1"], sizeLimit: 3, pageSize: 2 }),
    );
    expect(pages.flat()).toHaveLength(3);
    expect(result).toMatchObject({ complete: false, entries: 3, reason: "the size limit of 3 entries was reached" });
  });

  it("is complete when the size limit is exactly the number of entries", async () => {
    const staff = seededUsers.filter((u) => u.dn.endsWith("OU=Sales,OU=Staff,DC=example,DC=com")).length;
    const { result } = await collect(
      searchPages(connection, {
        base: "OU=Sales,OU=Staff,DC=example,DC=com",
        scope: "sub",
        filter: USERS,
        attributes: ["1.1"],
        sizeLimit: staff,
        pageSize: 2,
      }),
    );
    expect(result).toMatchObject({ complete: true, entries: staff });
  });

  it("leaves the connection usable when the consumer stops early", async () => {
    for await (const page of searchPages(connection, { base: dc.baseDn, scope: "sub", filter: USERS, attributes: ["1.1"], pageSize: 2 })) {
      expect(page).toHaveLength(2);
      break;
    }
    const { result } = await collect(
      searchPages(connection, { base: dc.baseDn, scope: "base", filter: "(objectClass=*)", attributes: ["1.1"] }),
    );
    expect(result).toEqual({ complete: true, pages: 1, entries: 1 });
  });

  it("throws no_such_object for a base DN that does not exist", async () => {
    const error = await collect(
      searchPages(connection, { base: "OU=Nope,DC=example,DC=com", scope: "sub", filter: USERS, attributes: [] }),
    ).catch((e) => e);
    expect(error).toBeInstanceOf(SearchError);
    expect(error.code).toBe("no_such_object");
  });

  it("refuses an invalid filter before sending it", async () => {
    const error = await collect(searchPages(connection, { base: dc.baseDn, scope: "sub", filter: "(cn=a)(cn=b)", attributes: [] })).catch(
      (e) => e,
    );
    expect(error).toBeInstanceOf(SearchError);
    expect(error.code).toBe("invalid_filter");
    expect(error.message).toMatch(/second filter/);
  });

  it("reads entries by DN, skipping the ones that do not exist", async () => {
    const dns = [
      "CN=Judy Jones,OU=Staff,DC=example,DC=com",
      "CN=Nobody,OU=Staff,DC=example,DC=com",
      "CN=Smith\\, John,OU=Sales,OU=Staff,DC=example,DC=com",
    ];
    const { pages, result } = await collect(readEntries(connection, dns, ["sAMAccountName"]));
    expect(pages.flat().map((e) => e.attributes.sAMAccountName?.[0])).toEqual(["jjones", "jsmith"]);
    expect(result).toEqual({ complete: true, pages: 1, entries: 2 });
  });
});

describe("search", () => {
  it("connects, pages and closes for one target", async () => {
    const { pages, result } = await collect(
      search(targetFor(dc), {
        base: "OU=Staff,DC=example,DC=com",
        scope: "sub",
        filter: USERS,
        attributes: ["sAMAccountName"],
        pageSize: 10,
      }),
    );
    expect(
      pages
        .flat()
        .map((e) => e.attributes.sAMAccountName?.[0])
        .sort(),
    ).toEqual(
      seededUsers
        .filter((u) => u.dn.endsWith("OU=Staff,DC=example,DC=com"))
        .map(sam)
        .sort(),
    );
    expect(result.complete).toBe(true);
  });
});
