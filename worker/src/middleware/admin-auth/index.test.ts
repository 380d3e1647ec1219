import type { webcrypto } from "node:crypto";
import { Hono } from "hono";
import { sign } from "hono/jwt";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { errorResponse } from "../../api-error.ts";
import { adminAuth, clockSkewSeconds, defaultMaxLifetimeSeconds, requireAdminRole } from "./index.ts";

const secret = "s".repeat(40);
const now = () => Math.floor(Date.now() / 1000);

function app(options: Parameters<typeof adminAuth>[0]) {
  const a = new Hono();
  a.onError(errorResponse);
  a.use("/t/:tenant/*", adminAuth(options));
  a.get("/t/:tenant/x", (c) => c.json({ ok: true }));
  a.post("/t/:tenant/x", requireAdminRole(), (c) => c.json({ ok: true }));
  return a;
}

const call = async (a: Hono, path: string, token?: string, method = "GET") => {
  const res = await a.request(path, { method, headers: token ? { Authorization: `Bearer ${token}` } : {} });
  return { status: res.status, body: (await res.json()) as { error?: { code: string } } };
};

describe("adminAuth", () => {
  it("fails fast without a way to verify tokens, or with a weak secret", () => {
    expect(() => adminAuth({})).toThrow(/hs256Secret or publicKey/);
    expect(() => adminAuth({ hs256Secret: "short" })).toThrow(/at least 32/);
  });

  it.each<[string, () => Promise<string | undefined>, number, string]>([
    ["no token", async () => undefined, 401, "unauthorized"],
    ["garbage", async () => "not-a-jwt", 401, "unauthorized"],
    ["a wrong signature", async () => sign({ tenant: "a", role: "admin", exp: now() + 60 }, "x".repeat(40)), 401, "unauthorized"],
    ["an expired token", async () => sign({ tenant: "a", role: "admin", exp: now() - 120 }, secret), 401, "session_expired"],
    ["a token without exp", async () => sign({ tenant: "a", role: "admin" }, secret), 401, "unauthorized"],
    [
      "a text exp",
      async () => sign({ tenant: "a", role: "admin", ...{ exp: String(now() + 60) } } as Record<string, unknown>, secret),
      401,
      "unauthorized",
    ],
    ["no tenant claim", async () => sign({ role: "admin", exp: now() + 60 }, secret), 401, "unauthorized"],
    ["another tenant's token", async () => sign({ tenant: "b", role: "admin", exp: now() + 60 }, secret), 403, "forbidden_tenant"],
    ["alg none", async () => `${btoa('{"alg":"none"}')}.${btoa('{"tenant":"a","role":"admin","exp":9999999999}')}.`, 401, "unauthorized"],
  ])("refuses %s", async (_name, token, status, code) => {
    const res = await call(app({ hs256Secret: secret }), "/t/a/x", await token());
    expect(res).toEqual({ status, body: { error: expect.objectContaining({ code }) } });
  });

  it("lets a valid token for the tenant through", async () => {
    const token = await sign({ sub: "alice", tenant: "a", role: "admin", exp: now() + 60 }, secret);
    expect((await call(app({ hs256Secret: secret }), "/t/a/x", token)).status).toBe(200);
  });

  it("verifies tokens signed with the portal's private key against its public key", async () => {
    const pair = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"])) as {
      privateKey: webcrypto.CryptoKey;
      publicKey: webcrypto.CryptoKey;
    };
    const privateJwk = await crypto.subtle.exportKey("jwk", pair.privateKey);
    const publicJwk = await crypto.subtle.exportKey("jwk", pair.publicKey);
    const token = await sign({ tenant: "a", role: "admin", exp: now() + 60 }, privateJwk as never, "ES256");
    const a = app({ publicKey: { ...publicJwk, alg: "ES256" } as never });
    expect((await call(a, "/t/a/x", token)).status).toBe(200);
    // An HS256 token cannot pass where only the public key is configured.
    expect((await call(a, "/t/a/x", await sign({ tenant: "a", role: "admin", exp: now() + 60 }, secret))).status).toBe(401);
  });

  it("lets a viewer read but not change", async () => {
    const token = await sign({ tenant: "a", role: "viewer", exp: now() + 60 }, secret);
    const a = app({ hs256Secret: secret });
    expect((await call(a, "/t/a/x", token)).status).toBe(200);
    expect(await call(a, "/t/a/x", token, "POST")).toEqual({
      status: 403,
      body: { error: expect.objectContaining({ code: "forbidden_role" }) },
    });
  });
});

describe("adminAuth's checks of the token's claims", () => {
  // The clock stands still, so that "59 seconds" is 59 seconds however long signing takes.
  const frozen = Date.UTC(2027, 5, 1, 12, 0, 0);
  const t = Math.floor(frozen / 1000);
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(frozen);
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  const claims = { sub: "alice", tenant: "a", role: "admin" };
  const status = async (payload: Record<string, unknown>, options: Parameters<typeof adminAuth>[0] = { hs256Secret: secret }) =>
    call(app(options), "/t/a/x", await sign({ ...claims, ...payload }, secret));

  it("allows the host portal's clock 60 seconds either way", () => {
    expect(clockSkewSeconds).toBe(60);
  });

  it.each<[string, Record<string, unknown>, number, string | undefined]>([
    ["issued 59 s in the future", { iat: t + 59, exp: t + 3600 }, 200, undefined],
    ["issued 2 minutes in the future", { iat: t + 120, exp: t + 3600 }, 401, "session_not_yet_valid"],
    ["valid from 59 s in the future", { nbf: t + 59, exp: t + 3600 }, 200, undefined],
    ["valid from 2 minutes in the future", { nbf: t + 120, exp: t + 3600 }, 401, "session_not_yet_valid"],
    ["expired 59 s ago", { iat: t - 3600, exp: t - 59 }, 200, undefined],
    ["expired 60 s ago", { iat: t - 3600, exp: t - 60 }, 401, "session_expired"],
    ["expired 2 minutes ago", { iat: t - 3600, exp: t - 120 }, 401, "session_expired"],
    ["a text nbf", { nbf: String(t), exp: t + 3600 }, 401, "unauthorized"],
    ["a text iat", { iat: String(t), exp: t + 3600 }, 401, "unauthorized"],
  ])("takes a token %s as it should", async (_what, payload, expected, code) => {
    const res = await status(payload);
    expect(res.status).toBe(expected);
    if (code) expect(res.body.error?.code).toBe(code);
  });

  it.each<[string, Record<string, unknown>, number, string | undefined]>([
    ["24 hours from iat", { iat: t, exp: t + 24 * 3600 }, 200, undefined],
    ["24 hours and a second from iat", { iat: t, exp: t + 24 * 3600 + 1 }, 401, "session_lifetime_too_long"],
    ["24 hours from iat, issued long ago", { iat: t - 23 * 3600, exp: t + 3600 + 1 }, 401, "session_lifetime_too_long"],
    ["24 hours from now, without iat", { exp: t + 24 * 3600 }, 200, undefined],
    ["25 hours from now, without iat", { exp: t + 25 * 3600 }, 401, "session_lifetime_too_long"],
    ["until 2100, without iat", { exp: Date.UTC(2100, 0, 1) / 1000 }, 401, "session_lifetime_too_long"],
    ["until 2100, with iat", { iat: t, exp: Date.UTC(2100, 0, 1) / 1000 }, 401, "session_lifetime_too_long"],
    ["12 hours, as npm start mints", { iat: t, exp: t + 12 * 3600 }, 200, undefined],
    ["1 hour without iat, as the tests mint", { exp: t + 3600 }, 200, undefined],
  ])("bounds the session's lifetime: %s", async (_what, payload, expected, code) => {
    expect(defaultMaxLifetimeSeconds).toBe(24 * 3600);
    const res = await status(payload);
    expect(res.status).toBe(expected);
    if (code) expect(res.body.error).toMatchObject({ code, message: expect.stringMatching(/longer than 86400 seconds/) });
  });

  it("takes another maximum lifetime, and refuses one that is not a whole number of seconds", async () => {
    const options = { hs256Secret: secret, maxLifetimeSeconds: 3600 };
    expect((await status({ iat: t, exp: t + 3600 }, options)).status).toBe(200);
    expect(await status({ iat: t, exp: t + 7200 }, options)).toMatchObject({
      status: 401,
      body: { error: { code: "session_lifetime_too_long" } },
    });
    expect((await status({ iat: t, exp: t + 7 * 24 * 3600 }, { hs256Secret: secret, maxLifetimeSeconds: 7 * 24 * 3600 })).status).toBe(200);
    for (const bad of [0, -1, 1.5, Number.NaN])
      expect(() => adminAuth({ hs256Secret: secret, maxLifetimeSeconds: bad })).toThrow(/maxLifetimeSeconds/);
  });

  it("requires the configured issuer, and takes any when none is configured", async () => {
    const options = { hs256Secret: secret, issuer: "https://portal.example.com" };
    expect((await status({ exp: t + 600, iss: "https://portal.example.com" }, options)).status).toBe(200);
    for (const iss of [undefined, "https://evil.example.com", ["https://portal.example.com"]]) {
      expect(await status({ exp: t + 600, iss }, options)).toMatchObject({
        status: 401,
        body: { error: { code: "invalid_issuer", message: expect.stringContaining("https://portal.example.com") } },
      });
    }
    expect((await status({ exp: t + 600, iss: "https://anyone.example.com" })).status).toBe(200);
  });

  it("requires the configured audience, as the string or in an array, and takes any when none is configured", async () => {
    const options = { hs256Secret: secret, audience: "pbx-ad-sync" };
    expect((await status({ exp: t + 600, aud: "pbx-ad-sync" }, options)).status).toBe(200);
    expect((await status({ exp: t + 600, aud: ["uc-client", "pbx-ad-sync"] }, options)).status).toBe(200);
    for (const aud of [undefined, "uc-client", ["uc-client"], [], "pbx-ad-sync-other"]) {
      expect(await status({ exp: t + 600, aud }, options)).toMatchObject({
        status: 401,
        body: { error: { code: "invalid_audience", message: expect.stringContaining("pbx-ad-sync") } },
      });
    }
    expect((await status({ exp: t + 600, aud: "uc-client" })).status).toBe(200);
  });

  it("says nothing about the claims of a token whose signature is wrong", async () => {
    const forged = await sign({ ...claims, exp: t + 10 * 24 * 3600, aud: "other", iss: "other" }, "x".repeat(40));
    const a = app({ hs256Secret: secret, audience: "pbx-ad-sync", issuer: "https://portal.example.com" });
    expect(await call(a, "/t/a/x", forged)).toMatchObject({ status: 401, body: { error: { code: "unauthorized" } } });
  });
});
