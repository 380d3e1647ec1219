// Domain login against a private Samba DC (127.0.0.41), where the test can add accounts in
// every state AD refuses a logon for without disturbing the DC the other tests share.
import type { Client } from "ldapts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { endUserReason } from "../../../schema/src/domain-login.ts";
import { type SambaDc, startSambaDc } from "../../../test/support/samba-dc.ts";
import { authenticate, freshConnections, type LoginConnections } from "./authenticate.ts";
import { DirectoryError } from "./errors.ts";
import { LoginPool } from "./login-pool.ts";
import { addUser, adminClient, fileTime, targetFor } from "./test-support.ts";

const OU = "OU=Staff,DC=example,DC=com";
const JUDY = "CN=Judy Jones,OU=Staff,DC=example,DC=com";

describe("authenticate", () => {
  let dc: SambaDc;
  let admin: Client;
  const made: string[] = [];

  beforeAll(async () => {
    dc = await startSambaDc({ ip: "127.0.0.41" });
    admin = await adminClient(dc);
    const add = async (sam: string, changes: Record<string, Array<string | Buffer>>) =>
      made.push(await addUser(admin, dc, OU, sam, changes));
    await add("t-expired", { accountExpires: [fileTime(new Date(Date.now() - 86_400_000))] });
    await add("t-mustchange", { pwdLastSet: ["0"] });
    // Samba lets an administrator set lockoutTime; Windows only lets it be cleared to 0.
    await add("t-locked", { lockoutTime: [fileTime(new Date())] });
    await add("t-hours", { logonHours: [Buffer.alloc(21)] });
    await add("t-workstation", { userWorkstations: ["NOWHERE"] });
    await add("t-noupn", { userPrincipalName: [] });
  });

  const pool = new LoginPool({ idleMs: 1000, maxBinders: 4 });

  afterAll(async () => {
    await pool.close();
    for (const dn of made) await admin?.del(dn).catch(() => {});
    await admin?.unbind();
    await dc?.destroy();
  });

  describe.each<[string, () => LoginConnections]>([
    ["fresh connections", () => freshConnections],
    ["a login pool", () => pool],
  ])("through %s", (_, connections) => {
    const login = (username: string, password: string) => authenticate(targetFor(dc), username, password, connections());
    // The test domain's default policy: accounts never lock.
    const lockout = { threshold: 0, observationWindowMs: 30 * 60_000, badPwdCount: expect.any(Number), source: "domain" };

    it.each([
      ["a UPN", "jjones@example.com"],
      ["DOMAIN\\sAMAccountName", "EXAMPLE\\jjones"],
      ["any case", "example\\JJONES"],
      ["the DNS domain as prefix", "example.com\\jjones"],
    ])("logs a user in by %s, with the DN the directory returned", async (_, username) => {
      expect(await login(username, dc.userPassword)).toEqual({
        ok: true,
        dn: JUDY,
        objectGuid: expect.stringMatching(/^[A-Za-z0-9+/]{22}==$/),
        upn: "jjones@example.com",
        displayName: "Judy Jones",
        lockout,
      });
    });

    it("binds only the synced account: another objectGUID is refused without a bind", async () => {
      const judy = await login("jjones@example.com", dc.userPassword);
      const guid = judy.ok ? (judy.objectGuid as string) : "";
      expect(await authenticate(targetFor(dc), "jjones@example.com", dc.userPassword, connections(), { objectGuid: guid })).toMatchObject({
        ok: true,
      });
      const other = Buffer.alloc(16, 7).toString("base64");
      expect(await authenticate(targetFor(dc), "jjones@example.com", dc.userPassword, connections(), { objectGuid: other })).toEqual({
        ok: false,
        reason: "account_changed",
        detail: `AD resolves the name to ${JUDY}, which is not the synced account.`,
      });
    });

    it("accepts the implicit UPN (sAMAccountName@dns-domain) of an account without userPrincipalName", async () => {
      expect(await login("t-noupn@example.com", dc.userPassword)).toMatchObject({ ok: true, dn: `CN=t-noupn,${OU}` });
    });

    it("handles a non-ASCII name", async () => {
      expect(await login("zmueller@example.com", dc.userPassword)).toMatchObject({ ok: true, displayName: "Zoë Müller" });
    });

    it.each([
      ["a wrong password", "jjones@example.com", "not-her-password", "invalid_credentials", "52e"],
      ["a disabled account", "eevans@example.com", undefined, "account_disabled", "533"],
      ["an expired account", "t-expired@example.com", undefined, "account_expired", "701"],
      ["a password that must be changed", "t-mustchange@example.com", undefined, "password_must_change", "773"],
      ["logon hours", "t-hours@example.com", undefined, "not_permitted", "530"],
      ["a workstation restriction", "t-workstation@example.com", undefined, "not_permitted", "531"],
    ])("refuses %s with the reason and AD's code", async (_, username, password, reason, adCode) => {
      expect(await login(username, password ?? dc.userPassword)).toEqual({ ok: false, reason, adCode, lockout });
    });

    it("does not bind a locked-out account at all", async () => {
      expect(await login("t-locked@example.com", dc.userPassword)).toEqual({
        ok: false,
        reason: "account_locked",
        detail: "The account is locked out at AD; no bind was tried.",
        lockout,
      });
    });

    it("shows an end user only what is safe to show", async () => {
      const disabled = await login("eevans@example.com", dc.userPassword);
      const mustChange = await login("t-mustchange@example.com", dc.userPassword);
      expect(!disabled.ok && endUserReason(disabled.reason)).toBe("invalid_credentials");
      expect(!mustChange.ok && endUserReason(mustChange.reason)).toBe("password_must_change");
    });

    it.each([
      ["an unknown UPN", "nobody@example.com"],
      ["an unknown account name", "EXAMPLE\\nobody"],
      ["another domain's account", "OTHER\\jjones"],
      ["a bare name", "jjones"],
      ["a blank", "   "],
    ])("does not find %s", async (_, username) => {
      expect(await login(username, dc.userPassword)).toEqual({ ok: false, reason: "no_such_user" });
    });

    it.each([
      "*",
      "*@example.com",
      "EXAMPLE\\*",
      "EXAMPLE\\*)(sAMAccountName=*",
      "j*@example.com",
      "*)(userPrincipalName=*@example.com",
      "EXAMPLE\\jj\\2a",
    ])("matches nobody with the filter-like name %s, even with a valid password", async (username) => {
      expect(await login(username, dc.userPassword)).toEqual({ ok: false, reason: "no_such_user" });
    });

    it("refuses an empty password without asking the directory", async () => {
      // The only DC is dead: any attempt to connect would throw.
      const target = targetFor(dc, { domainControllers: [{ host: "127.0.0.99" }] });
      expect(await authenticate(target, "jjones@example.com", "", connections())).toEqual({ ok: false, reason: "invalid_credentials" });
    });

    it("throws when the service account cannot sign in: the directory cannot be asked", async () => {
      const error = await authenticate(
        targetFor(dc, {}, "wrong-service-password"),
        "jjones@example.com",
        dc.userPassword,
        connections(),
      ).catch((e) => e);
      expect(error).toBeInstanceOf(DirectoryError);
      expect(error.code).toBe("ad_52e");
    });
  });

  it("keeps a login pool's connections between logins and serves parallel ones", async () => {
    const own = new LoginPool({ idleMs: 60_000, maxBinders: 3 });
    try {
      for (let i = 0; i < 3; i++)
        expect(await authenticate(targetFor(dc), "jjones@example.com", dc.userPassword, own)).toMatchObject({ ok: true });
      expect(own.size()).toEqual({ services: 1, idleBinders: 1 });
      const logins = Array.from({ length: 12 }, (_, i) =>
        authenticate(targetFor(dc), "jjones@example.com", i % 2 === 0 ? dc.userPassword : "wrong-password", own),
      );
      const results = await Promise.all(logins);
      expect(results.map((r) => r.ok)).toEqual(Array.from({ length: 12 }, (_, i) => i % 2 === 0));
      // At most maxBinders binds were in flight, so at most that many connections were made.
      expect(own.size().idleBinders).toBeLessThanOrEqual(3);
    } finally {
      await own.close();
    }
    expect(own.size()).toEqual({ services: 0, idleBinders: 0 });
  });

  it("opens its connections again after they were idle too long", async () => {
    const own = new LoginPool({ idleMs: 100 });
    try {
      expect(await authenticate(targetFor(dc), "jjones@example.com", dc.userPassword, own)).toMatchObject({ ok: true });
      await new Promise((r) => setTimeout(r, 300));
      expect(own.size()).toEqual({ services: 0, idleBinders: 0 });
      expect(await authenticate(targetFor(dc), "jjones@example.com", "wrong-password", own)).toMatchObject({
        ok: false,
        reason: "invalid_credentials",
        adCode: "52e",
      });
    } finally {
      await own.close();
    }
  });
});
