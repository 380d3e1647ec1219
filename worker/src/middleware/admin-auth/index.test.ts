import type { webcrypto } from "node:crypto";
import { Hono } from "hono";
import { sign } from "hono/jwt";
import { describe, expect, it } from "vitest";
import { errorResponse } from "../../api-error.ts";
import { adminAuth, requireAdminRole } from "./index.ts";

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
    ["an expired token", async () => sign({ tenant: "a", role: "admin", exp: now() - 60 }, secret), 401, "session_expired"],
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
