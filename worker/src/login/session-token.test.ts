import { describe, expect, it } from "vitest";
import { issueSession, sessionKey, verifySession } from "./session-token.ts";

const user = { tenant: "acme", extension: "1000", displayName: "Judy Jones", upn: "jjones@example.com" };
const secrets = { UC_SESSION_SECRET: "a-session-secret-of-at-least-32-characters" };

describe("UC session tokens", () => {
  it("verifies a fresh token of the tenant, with its claims", async () => {
    const key = await sessionKey(secrets);
    const { token, expiresAt } = await issueSession(key, user, 10, Date.UTC(2030, 0, 1));
    expect(expiresAt).toBe(Date.UTC(2030, 0, 1, 0, 10));
    const fresh = await issueSession(key, user, 10);
    expect(await verifySession(key, fresh.token, "acme")).toMatchObject({
      iss: "pbx-ad-sync",
      aud: "uc-client",
      sub: "acme/1000",
      ...user,
    });
    expect(token).not.toBe(fresh.token);
  });

  it.each([
    ["expired a second ago", async (key: string) => (await issueSession(key, user, 10, Date.now() - 10 * 60_000 - 1000)).token, "acme"],
    ["another tenant's", async (key: string) => (await issueSession(key, user, 10)).token, "globex"],
    ["signed with another key", async () => (await issueSession("another-key-of-at-least-32-characters!!", user, 10)).token, "acme"],
    ["tampered with", async (key: string) => `${(await issueSession(key, user, 10)).token.slice(0, -3)}AAA`, "acme"],
    ["not a token", async () => "not.a.token", "acme"],
  ])("refuses a token %s", async (_what, make, tenant) => {
    const key = await sessionKey(secrets);
    expect(await verifySession(key, await make(key), tenant)).toBeUndefined();
  });

  it("derives one stable key from the encryption key when no session secret is set, and refuses a short secret", async () => {
    const fromKey = { CONFIG_ENCRYPTION_KEY: Buffer.alloc(32, 3).toString("base64") };
    const derived = await sessionKey(fromKey);
    expect(derived).toBe(await sessionKey({ ...fromKey }));
    expect(derived).not.toBe(fromKey.CONFIG_ENCRYPTION_KEY);
    expect(await sessionKey(secrets)).toBe(secrets.UC_SESSION_SECRET);
    await expect(sessionKey({ UC_SESSION_SECRET: "short" })).rejects.toThrow(/at least 32 characters/);
    await expect(sessionKey({})).rejects.toThrow(/UC_SESSION_SECRET or CONFIG_ENCRYPTION_KEY/);
  });
});
