// Proves the Samba DC fixture behaves like the AD later tests expect: LDAPS with a
// verifiable certificate, paging, binary objectGUIDs, userAccountControl, transitive group
// membership, plain-LDAP simple binds refused, and a second DC from the same cache.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Client, type Entry, InvalidCredentialsError, StrongAuthRequiredError } from "ldapts";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { parseLdif, startSambaDc } from "./support/samba-dc.ts";

const dc = inject("samba");
const USERS_FILTER = "(&(objectCategory=person)(objectClass=user))";
const PHONE_USERS = "CN=Phone Users,OU=Groups,DC=example,DC=com";
// What provisioning creates besides the seed: Administrator, Guest, krbtgt, and the
// dns-<host> account samba adds even with --dns-backend=NONE.
const BUILT_IN_USERS = ["Administrator", "Guest", "krbtgt", "dns-dc1"];

const ldif = parseLdif(readFileSync(fileURLToPath(new URL("fixtures/directory.ldif", import.meta.url)), "utf8"));
const seededUsers = ldif.filter((e) => (e.attributes.objectClass ?? []).some((c) => String(c).toLowerCase() === "user"));
const seededSam = seededUsers.map((e) => String(e.attributes.sAMAccountName?.[0]));

function ldaps(): Client {
  return new Client({ url: dc.ldapsUrl, tlsOptions: { ca: [dc.caPem] }, timeout: 10_000 });
}

function first(entry: Entry | undefined, attribute: string): string | undefined {
  const value = entry?.[attribute];
  const one = Array.isArray(value) ? value[0] : value;
  return one === undefined ? undefined : String(one);
}

describe("Samba AD DC fixture", () => {
  let client: Client;

  beforeAll(async () => {
    client = ldaps();
    await client.bind(dc.serviceDn, dc.servicePassword);
  });

  afterAll(async () => {
    await client.unbind();
  });

  it("binds the service account over LDAPS by DN and by UPN, and reports AD's sub-code on a bad password", async () => {
    const byUpn = ldaps();
    await byUpn.bind(dc.serviceUpn, dc.servicePassword);
    await byUpn.unbind();

    const wrong = ldaps();
    const failure = await wrong.bind(dc.serviceDn, "not-the-password").catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(InvalidCredentialsError);
    expect(String((failure as Error).message)).toMatch(/data 52e/);
    await wrong.unbind();
  });

  it("returns every seeded user from a paged search of the whole domain", async () => {
    const pages: Entry[][] = [];
    for await (const page of client.searchPaginated(dc.baseDn, {
      scope: "sub",
      filter: USERS_FILTER,
      attributes: ["sAMAccountName", "givenName", "sn", "displayName", "telephoneNumber", "ipPhone", "mail"],
      paged: { pageSize: 5 },
    })) {
      pages.push(page.searchEntries);
    }
    const entries = pages.flat();
    expect(seededUsers).toHaveLength(14);
    expect(pages.length).toBeGreaterThanOrEqual(Math.ceil(entries.length / 5));
    expect(entries.map((e) => first(e, "sAMAccountName")).sort()).toEqual([...seededSam, ...BUILT_IN_USERS].sort());

    const bySam = new Map(entries.map((e) => [first(e, "sAMAccountName"), e]));
    const zoe = bySam.get("zmueller");
    expect(zoe?.dn).toBe("CN=Zoë Müller,OU=Sales,OU=Staff,DC=example,DC=com");
    expect(first(zoe, "givenName")).toBe("Zoë");
    expect(first(zoe, "sn")).toBe("Müller");
    expect(first(bySam.get("jnunez"), "displayName")).toBe("José Núñez");
    expect(bySam.get("jsmith")?.dn).toBe("CN=Smith\\, John,OU=Sales,OU=Staff,DC=example,DC=com");
    expect(first(bySam.get("jsmith"), "displayName")).toBe("Smith, John");
    expect(first(bySam.get("cchen"), "telephoneNumber")).toBe("+44 20 7946 0123");
    expect(first(bySam.get("aanderson"), "ipPhone")).toBe("1001");
    expect(first(bySam.get("ddavis"), "ipPhone")).toBeUndefined();
  });

  it("reads objectGUID as 16 bytes, distinct per user", async () => {
    const { searchEntries } = await client.search(dc.baseDn, {
      scope: "sub",
      filter: USERS_FILTER,
      attributes: ["objectGUID"],
      explicitBufferAttributes: ["objectGUID"],
      paged: true,
    });
    const guids = searchEntries.map((e) => e.objectGUID);
    for (const guid of guids) {
      expect(Buffer.isBuffer(guid)).toBe(true);
      expect((guid as Buffer).length).toBe(16);
    }
    expect(new Set(guids.map((g) => (g as Buffer).toString("hex"))).size).toBe(guids.length);
  });

  it("marks only the disabled user with userAccountControl bit 0x2", async () => {
    const { searchEntries } = await client.search("OU=Staff,DC=example,DC=com", {
      scope: "sub",
      filter: USERS_FILTER,
      attributes: ["sAMAccountName", "userAccountControl"],
      paged: true,
    });
    const disabled = searchEntries
      .filter((e) => (Number(first(e, "userAccountControl")) & 0x2) !== 0)
      .map((e) => first(e, "sAMAccountName"));
    expect(disabled).toEqual(["eevans"]);
    expect(searchEntries).toHaveLength(13);
  });

  it("resolves nested group membership with LDAP_MATCHING_RULE_IN_CHAIN", async () => {
    const members = async (filter: string) => {
      const { searchEntries } = await client.search(dc.baseDn, {
        scope: "sub",
        filter,
        attributes: ["sAMAccountName"],
        paged: true,
      });
      return searchEntries.map((e) => first(e, "sAMAccountName")).sort();
    };
    const direct = ["cchen", "ddavis", "eevans", "ffischer", "hhughes", "jjones"];
    const sales = ["aanderson", "bbaker", "jsmith", "zmueller"];
    expect(await members(`(&${USERS_FILTER}(memberOf=${PHONE_USERS}))`)).toEqual(direct);
    expect(await members(`(&${USERS_FILTER}(memberOf:1.2.840.113556.1.4.1941:=${PHONE_USERS}))`)).toEqual([...direct, ...sales].sort());
    // The parentheses in the group's name must be escaped in a filter (RFC 4515).
    const { searchEntries } = await client.search(dc.baseDn, {
      scope: "sub",
      filter: "(&(objectClass=group)(cn=Support \\28Tier 2\\29))",
      attributes: ["member"],
    });
    expect(searchEntries).toHaveLength(1);
    expect(searchEntries[0]?.member).toHaveLength(2);
  });

  it("refuses a simple bind over plain LDAP (strong auth required)", async () => {
    const plain = new Client({ url: dc.ldapUrl, timeout: 10_000 });
    const failure = await plain.bind(dc.serviceDn, dc.servicePassword).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(StrongAuthRequiredError);
    expect((failure as StrongAuthRequiredError).code).toBe(8);
    await plain.unbind();
  });

  it("fails LDAPS against a CA that did not sign the DC's certificate", async () => {
    const tmp = mkdtempSync(path.join(os.tmpdir(), "other-ca-"));
    const key = path.join(tmp, "ca.key");
    const pem = path.join(tmp, "ca.pem");
    try {
      execFileSync(
        "openssl",
        ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=Unrelated CA", "-days", "1", "-keyout", key, "-out", pem],
        { stdio: "ignore" },
      );
      const otherCa = readFileSync(pem, "utf8");
      const untrusting = new Client({ url: dc.ldapsUrl, tlsOptions: { ca: [otherCa] }, timeout: 10_000 });
      const failure = await untrusting.bind(dc.serviceDn, dc.servicePassword).catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(Error);
      expect((failure as NodeJS.ErrnoException).code).toMatch(/UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED|CERT/);
      await untrusting.unbind().catch(() => {});
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});

describe("a second DC from the same cache", () => {
  // 127.0.0.11 is the shared DC; this one is private to this file.
  it("serves the same domain on another address, and keeps its data across stop() and start()", async () => {
    const started = Date.now();
    const second = await startSambaDc({ ip: "127.0.0.21", allowPlainLdapBinds: true });
    try {
      // A cache hit: no provisioning, just a copy and a start.
      expect(Date.now() - started).toBeLessThan(30_000);
      expect(second.caPem).toBe(dc.caPem);

      const guidOf = async (info: { ldapsUrl: string; caPem: string }) => {
        const c = new Client({ url: info.ldapsUrl, tlsOptions: { ca: [info.caPem] }, timeout: 10_000 });
        await c.bind(dc.serviceDn, dc.servicePassword);
        const { searchEntries } = await c.search(dc.baseDn, {
          scope: "sub",
          filter: "(sAMAccountName=jsmith)",
          attributes: ["objectGUID"],
          explicitBufferAttributes: ["objectGUID"],
        });
        await c.unbind();
        const guid = searchEntries[0]?.objectGUID;
        expect(Buffer.isBuffer(guid)).toBe(true);
        return (guid as Buffer).toString("hex");
      };
      expect(await guidOf(second)).toBe(await guidOf(dc));

      // allowPlainLdapBinds: a simple bind over ldap:// works here.
      const plain = new Client({ url: second.ldapUrl, timeout: 10_000 });
      await plain.bind(dc.serviceDn, dc.servicePassword);
      await plain.unbind();

      await second.stop();
      expect(
        await new Client({ url: second.ldapsUrl, tlsOptions: { ca: [second.caPem] }, connectTimeout: 2_000 })
          .bind(dc.serviceDn, dc.servicePassword)
          .then(
            () => "bound",
            () => "refused",
          ),
      ).toBe("refused");
      await second.start();
      expect(await guidOf(second)).toBe(await guidOf(dc));
    } finally {
      await second.destroy();
    }
  }, 90_000);
});

describe("a DC seeded before it starts", () => {
  // 127.0.0.11 is the shared DC; this one is private to this file, seeded with Samba's own
  // library instead of over LDAPS (what the benchmarks use for large directories).
  it("holds the same users, groups and nested memberships as one seeded over LDAPS, and takes their passwords", async () => {
    const offline = await startSambaDc({ ip: "127.0.0.23", seedOffline: { passwords: 1000 } });
    try {
      const read = async (info: { ldapsUrl: string; caPem: string }) => {
        const c = new Client({ url: info.ldapsUrl, tlsOptions: { ca: [info.caPem] }, timeout: 10_000 });
        await c.bind(dc.serviceDn, dc.servicePassword);
        const users = await c.search(dc.baseDn, {
          scope: "sub",
          filter: "(&(objectClass=user)(!(objectClass=computer)))",
          attributes: ["sAMAccountName", "memberOf", "userAccountControl"],
          paged: true,
        });
        const nested = await c.search(dc.baseDn, {
          scope: "sub",
          filter: `(memberOf:1.2.840.113556.1.4.1941:=CN=Phone Users,OU=Groups,${dc.baseDn})`,
          attributes: ["sAMAccountName"],
        });
        await c.unbind();
        const view = users.searchEntries
          .map((e) => [String(e.sAMAccountName), [e.memberOf ?? []].flat().map(String).sort(), String(e.userAccountControl)])
          .sort((a, b) => String(a[0]).localeCompare(String(b[0])));
        return { view, nested: nested.searchEntries.map((e) => String(e.sAMAccountName)).sort() };
      };
      const [ours, theirs] = [await read(offline), await read(dc)];
      expect(ours.view).toEqual(theirs.view);
      expect(ours.nested).toEqual(theirs.nested);
      expect(ours.nested.length).toBeGreaterThan(0);
      const bind = new Client({ url: offline.ldapsUrl, tlsOptions: { ca: [offline.caPem] }, timeout: 10_000 });
      await bind.bind("jsmith@example.com", dc.userPassword);
      await bind.unbind();
    } finally {
      await offline.destroy();
    }
  });
});
