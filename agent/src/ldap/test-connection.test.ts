// Test Connection against the Samba DC of the test run (read-only). Expected counts come from
// the seeded LDIF, plus the accounts and OU that provisioning adds.
import { Client } from "ldapts";
import { afterAll, describe, expect, inject, it } from "vitest";
import type { Scope } from "../../../schema/generated/config.ts";
import type { TestConnectionResult } from "../../../schema/src/agent-protocol.ts";
import { isDnWithin } from "../../../schema/src/dn.ts";
import { testConnection } from "./test-connection.ts";
import {
  BUILT_IN_DISABLED,
  BUILT_IN_OUS,
  BUILT_IN_USERS,
  isDisabled,
  membersOf,
  seededGroups,
  seededOus,
  seededUsers,
  type TlsStandIn,
  targetFor,
  tlsStandIn,
  usersUnder,
} from "./test-support.ts";

const dc = inject("samba");
const STAFF = "OU=Staff,DC=example,DC=com";
const SALES = "OU=Sales,OU=Staff,DC=example,DC=com";
const ENGINEERING = "OU=Engineering,OU=Staff,DC=example,DC=com";
const PHONE_USERS = "CN=Phone Users,OU=Groups,DC=example,DC=com";

function statuses(result: TestConnectionResult): string[] {
  return result.steps.map((s) => `${s.id}:${s.status}`);
}

function step(result: TestConnectionResult, id: string) {
  const found = result.steps.find((s) => s.id === id);
  expect(found, `step ${id}`).toBeDefined();
  return found as NonNullable<typeof found>;
}

const enabled = (users: typeof seededUsers) => users.filter((u) => !isDisabled(u)).length;
const disabled = (users: typeof seededUsers) => users.filter(isDisabled).length;

describe("testConnection", () => {
  it("passes every step over LDAPS and counts the whole domain", async () => {
    const result = await testConnection(targetFor(dc));
    expect(result.ok).toBe(true);
    expect(result.server).toBe(`${dc.ip}:636`);
    expect(statuses(result)).toEqual(["reachable:ok", "tls:ok", "bind:ok", "baseDn:ok", "scope:ok"]);
    for (const s of result.steps) {
      expect(s.durationMs).toBeGreaterThanOrEqual(0);
      expect(s.detail.length).toBeGreaterThan(10);
    }
    expect(step(result, "tls").detail).toMatch(/TLSv1\.[23].*CN=dc1\.example\.com, issued by CN=pbx-ad-sync test CA.*Trusted/);
    const groups = await countGroups();
    expect(result.counts).toEqual({
      usersInScope: enabled(seededUsers) + BUILT_IN_USERS.length - BUILT_IN_DISABLED.length,
      disabledUsers: disabled(seededUsers) + BUILT_IN_DISABLED.length,
      ous: seededOus.length + BUILT_IN_OUS.length,
      groups,
    });
    expect(groups).toBeGreaterThanOrEqual(seededGroups.length);
  });

  it("says how incremental runs will find who left: here by a sweep, as the service account may not list deleted objects", async () => {
    const byOus = await testConnection(targetFor(dc), { users: "ous", ous: [{ dn: STAFF }] });
    expect(step(byOus, "scope").detail).toMatch(
      /\. Incremental runs find who left by reading the scope's objectGUIDs again, as this account may not list deleted objects; to let them read only what changed, grant it List Contents and Read Property on CN=Deleted Objects,DC=example,DC=com \(dsacls "CN=Deleted Objects,DC=example,DC=com" \/G DOMAIN\\account:LCRP\)\.$/,
    );
    const byGroups = await testConnection(targetFor(dc), { users: "groups", groups: [{ dn: `CN=Phone Users,OU=Groups,${dc.baseDn}` }] });
    expect(step(byGroups, "scope").detail).toMatch(
      /Incremental runs find who left by reading the scope's objectGUIDs again: the scope is the members of groups, whose changes no user's uSNChanged shows\.$/,
    );
  });

  it("also passes over StartTLS", async () => {
    const result = await testConnection(targetFor(dc, { security: "starttls", baseDn: STAFF }));
    expect(statuses(result)).toEqual(["reachable:ok", "tls:ok", "bind:ok", "baseDn:ok", "scope:ok"]);
    expect(step(result, "tls").detail).toMatch(/^StartTLS to /);
  });

  it.each<[string, string, Scope | undefined, () => { users: number; disabled: number; ous: number; groups: number }]>([
    [
      "all users under an OU",
      STAFF,
      undefined,
      () => ({
        users: enabled(usersUnder(STAFF)),
        disabled: disabled(usersUnder(STAFF)),
        ous: seededOus.filter((o) => isDnWithin(o.dn, STAFF)).length,
        groups: seededGroups.filter((g) => isDnWithin(g.dn, STAFF)).length,
      }),
    ],
    [
      "some OUs, one without its sub-OUs",
      dc.baseDn,
      { users: "ous", ous: [{ dn: SALES }, { dn: ENGINEERING, includeSubOus: false }] },
      () => {
        const users = [...usersUnder(SALES), ...usersUnder(ENGINEERING, true)];
        return { users: enabled(users), disabled: disabled(users), ous: 2, groups: seededGroups.length + builtInGroups };
      },
    ],
    [
      "the members of a group, through nested groups",
      dc.baseDn,
      { users: "groups", groups: [{ dn: PHONE_USERS }] },
      () => {
        const members = membersOf(PHONE_USERS, true);
        const users = seededUsers.filter((u) => members.includes(u.dn));
        return {
          users: enabled(users),
          disabled: disabled(users),
          ous: seededOus.length + BUILT_IN_OUS.length,
          groups: 1 + seededGroups.filter((g) => members.includes(g.dn)).length,
        };
      },
    ],
    [
      "the direct members of a group only",
      dc.baseDn,
      { users: "groups", groups: [{ dn: PHONE_USERS, nested: false }] },
      () => {
        const members = membersOf(PHONE_USERS, false);
        const users = seededUsers.filter((u) => members.includes(u.dn));
        return { users: enabled(users), disabled: disabled(users), ous: seededOus.length + BUILT_IN_OUS.length, groups: 1 };
      },
    ],
    [
      "an extra filter, disabled accounts included",
      STAFF,
      { filter: "(department=Support)", includeDisabled: true },
      () => {
        const users = usersUnder(STAFF).filter((u) => u.attributes.department?.[0] === "Support");
        return { users: users.length, disabled: disabled(users), ous: seededOus.filter((o) => isDnWithin(o.dn, STAFF)).length, groups: 0 };
      },
    ],
  ])("counts %s as the seeded directory implies", async (_, baseDn, scope, expected) => {
    builtInGroups = (await countGroups()) - seededGroups.length;
    const result = await testConnection(targetFor(dc, { baseDn }), scope);
    expect(statuses(result)).toEqual(["reachable:ok", "tls:ok", "bind:ok", "baseDn:ok", "scope:ok"]);
    const want = expected();
    expect(result.counts).toEqual({ usersInScope: want.users, disabledUsers: want.disabled, ous: want.ous, groups: want.groups });
  });

  it("stops at a wrong password with AD's code, skips the rest, and never shows the password", async () => {
    const password = "Wr0ng-Passw0rd-For-Test!";
    const result = await testConnection(targetFor(dc, {}, password));
    expect(result.ok).toBe(false);
    expect(statuses(result)).toEqual(["reachable:ok", "tls:ok", "bind:failed", "baseDn:skipped", "scope:skipped"]);
    const bind = step(result, "bind");
    expect(bind.code).toBe("ad_52e");
    expect(bind.detail).toMatch(/password is wrong.*AD code 52e/);
    expect(bind.fix).toMatch(/password/);
    expect(JSON.stringify(result)).not.toContain(password);
    expect(JSON.stringify(await testConnection(targetFor(dc)))).not.toContain(dc.servicePassword);
  });

  it("warns that plain LDAP is unencrypted, and explains the strong-authentication refusal", async () => {
    const result = await testConnection(targetFor(dc, { security: "insecurePlainLdap" }));
    expect(statuses(result)).toEqual(["reachable:ok", "tls:warning", "bind:failed", "baseDn:skipped", "scope:skipped"]);
    expect(step(result, "tls").detail).toMatch(/No encryption/);
    const bind = step(result, "bind");
    expect(bind.code).toBe("strong_auth_required");
    expect(bind.fix).toMatch(/"ldaps".*"starttls"/);
  });

  describe("with a CA that did not sign the DC's certificate", () => {
    let other: TlsStandIn;
    afterAll(async () => {
      await other?.close();
    });

    it("fails the TLS step, showing the certificate and why it is not trusted", async () => {
      other = await tlsStandIn("DNS:unrelated.example.com", 2);
      const result = await testConnection(targetFor(dc, { caCertificate: other.caPem }));
      expect(statuses(result)).toEqual(["reachable:ok", "tls:failed", "bind:skipped", "baseDn:skipped", "scope:skipped"]);
      const tls = step(result, "tls");
      expect(tls.code).toBe("tls_untrusted");
      expect(tls.detail).toMatch(/issued by "CN=pbx-ad-sync test CA".*Certificate: CN=dc1\.example\.com.*DNS:dc1\.example\.com/);
      expect(tls.fix).toMatch(/caCertificate/);
    });

    it("only warns with insecureSkipVerify, saying what verification would have found", async () => {
      const result = await testConnection(targetFor(dc, { caCertificate: other.caPem, insecureSkipVerify: true, baseDn: STAFF }));
      expect(result.ok).toBe(true);
      expect(statuses(result)).toEqual(["reachable:ok", "tls:warning", "bind:ok", "baseDn:ok", "scope:ok"]);
      expect(step(result, "tls").detail).toMatch(/NOT checked.*not a trusted certificate authority/);
      expect(step(result, "tls").code).toBe("tls_untrusted");
    });
  });

  it("fails the base DN step for a DN that does not exist, suggesting the domain's", async () => {
    const result = await testConnection(targetFor(dc, { baseDn: "OU=Nope,DC=example,DC=com" }));
    expect(statuses(result)).toEqual(["reachable:ok", "tls:ok", "bind:ok", "baseDn:failed", "scope:skipped"]);
    const baseDn = step(result, "baseDn");
    expect(baseDn.code).toBe("no_such_object");
    expect(baseDn.detail).toMatch(/"OU=Nope,DC=example,DC=com" does not exist/);
    expect(baseDn.fix).toContain(dc.baseDn);
  });

  it("warns about an unreachable DC but goes on with the next", async () => {
    const result = await testConnection(targetFor(dc, { domainControllers: [{ host: "127.0.0.99" }, { host: dc.ip }], baseDn: STAFF }));
    expect(result.ok).toBe(true);
    expect(result.server).toBe(`${dc.ip}:636`);
    const reachable = step(result, "reachable");
    expect(reachable.status).toBe("warning");
    expect(reachable.code).toBe("connection_refused");
    expect(reachable.detail).toMatch(
      /^127\.0\.0\.99:636: the domain controller refused the connection.*127\.0\.0\.11:636: connected in \d+ ms/,
    );
  });

  it("fails when no DC can be reached", async () => {
    const result = await testConnection(targetFor(dc, { domainControllers: [{ host: "dc1.nonexistent.invalid" }] }));
    expect(statuses(result)).toEqual(["reachable:failed", "tls:skipped", "bind:skipped", "baseDn:skipped", "scope:skipped"]);
    expect(step(result, "reachable").code).toBe("dns_not_found");
    expect(result.server).toBeUndefined();
  });

  it("fails the bind step when the agent holds no password, saying how to give it one", async () => {
    const before = process.env.ADSYNC_BIND_PASSWORD;
    delete process.env.ADSYNC_BIND_PASSWORD;
    try {
      const result = await testConnection(targetFor(dc, { bindPassword: { source: "agent" } }, null));
      const bind = step(result, "bind");
      expect(bind.status).toBe("failed");
      expect(bind.code).toBe("bind_password_missing");
      expect(bind.fix).toContain("--bind-password-file");
    } finally {
      if (before !== undefined) process.env.ADSYNC_BIND_PASSWORD = before;
    }
  });

  it("fails the scope step for a group that does not exist", async () => {
    const result = await testConnection(targetFor(dc), { users: "groups", groups: [{ dn: "CN=Nope,OU=Groups,DC=example,DC=com" }] });
    expect(step(result, "scope")).toMatchObject({ status: "failed", code: "scope_group_not_found" });
  });

  it("warns when the scope holds nobody", async () => {
    const result = await testConnection(targetFor(dc, { baseDn: STAFF }), { filter: "(department=Nobody Works Here)" });
    expect(step(result, "scope")).toMatchObject({ status: "warning", code: "scope_empty" });
    expect(result.counts?.usersInScope).toBe(0);
  });
});

// Provisioning adds built-in groups whose number depends on the Samba version: count them
// directly, without the code under test.
let builtInGroups = 0;
async function countGroups(): Promise<number> {
  const client = new Client({ url: dc.ldapsUrl, tlsOptions: { ca: [dc.caPem] }, timeout: 10_000 });
  try {
    await client.bind(dc.serviceDn, dc.servicePassword);
    const { searchEntries } = await client.search(dc.baseDn, {
      scope: "sub",
      filter: "(objectClass=group)",
      attributes: ["1.1"],
      paged: true,
    });
    return searchEntries.length;
  } finally {
    await client.unbind();
  }
}
