import { sign } from "hono/jwt";
import type { Miniflare } from "miniflare";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nextScheduledRun } from "../engine/schedule.ts";
import { bundleWorker, startWorker, testSecrets } from "./support/worker-bundle.ts";

const now = () => Math.floor(Date.now() / 1000);
const adminToken = (tenant: string, role = "admin") =>
  sign({ sub: `alice@${tenant}`, tenant, role, exp: now() + 600 }, testSecrets.ADMIN_JWT_SECRET);

const config = {
  connection: {
    domainControllers: [{ host: "127.0.0.11" }],
    security: "ldaps",
    bindUsername: "svc-pbx@example.com",
    bindPassword: { source: "stored" },
    baseDn: "DC=example,DC=com",
  },
  scope: { users: "all" },
  extensionNumbers: { source: "sequential", ranges: [{ start: "1000", end: "1999" }] },
};

describe("the tenant API in workerd", () => {
  let mf: Miniflare;
  let base: URL;
  const logs: string[] = [];

  beforeAll(async () => {
    const bundle = await bundleWorker();
    mf = await startWorker(bundle.script, { port: 0, onLog: (l) => logs.push(l) });
    base = await mf.ready;
  });
  afterAll(async () => {
    await mf?.dispose();
  });

  const api = async (method: string, path: string, token?: string, body?: unknown) => {
    const res = await fetch(new URL(path, base), {
      method,
      headers: { ...(token ? { Authorization: `Bearer ${token}` } : {}), "Content-Type": "application/json" },
      ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null, text };
  };

  it("refuses a request without a token (401) and a token for another tenant (403)", async () => {
    expect(await api("GET", "/api/v1/tenants/acme/config")).toMatchObject({ status: 401, body: { error: { code: "unauthorized" } } });
    expect(await api("GET", "/api/v1/tenants/acme/config", await adminToken("globex"))).toMatchObject({
      status: 403,
      body: { error: { code: "forbidden_tenant" } },
    });
  });

  it("rejects an invalid configuration with every error and stores nothing", async () => {
    const token = await adminToken("acme");
    const bad = { ...config, connection: { ...config.connection, baseDn: "not a dn", pageSize: 5000 }, schedule: { mode: "weekly" } };
    const res = await api("PUT", "/api/v1/tenants/acme/config", token, bad);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("invalid_config");
    expect(res.body.error.details.problems.map((p: { path: string }) => p.path)).toEqual(
      expect.arrayContaining(["/connection/baseDn", "/connection/pageSize", "/schedule/mode"]),
    );
    expect((await api("GET", "/api/v1/tenants/acme/config", token)).body).toMatchObject({ config: null });
  });

  it("stores a valid configuration, and keeps tenants apart", async () => {
    const token = await adminToken("acme");
    expect((await api("PUT", "/api/v1/tenants/acme/config", token, config)).status).toBe(200);
    expect((await api("GET", "/api/v1/tenants/acme/config", token)).body).toMatchObject({ config, updatedBy: "alice@acme" });
    expect((await api("GET", "/api/v1/tenants/globex/config", await adminToken("globex"))).body).toMatchObject({ config: null });
  });

  it("takes the bind password write-only: never returned, never logged", async () => {
    const token = await adminToken("acme");
    const canary = "Canary-Pa55word-7f3a9c";
    const set = await api("PUT", "/api/v1/tenants/acme/config/bind-password", token, { password: canary });
    expect(set.status).toBe(200);
    expect(set.body.bindPasswordSet).toBe(true);
    const got = await api("GET", "/api/v1/tenants/acme/config", token);
    expect(got.body.bindPasswordSet).toBe(true);
    expect(set.text + got.text).not.toContain(canary);
    // The capture works (the event is there), and the secret is not.
    await expect.poll(() => logs.join("\n")).toContain("bind_password_set");
    expect(logs.join("\n")).not.toContain(canary);
    expect((await api("PUT", "/api/v1/tenants/acme/config/bind-password", token, { password: "" })).status).toBe(400);
  });

  it("lets a viewer read the configuration but not change it", async () => {
    const viewer = await adminToken("acme", "viewer");
    expect((await api("GET", "/api/v1/tenants/acme/config", viewer)).status).toBe(200);
    expect((await api("PUT", "/api/v1/tenants/acme/config", viewer, config)).body).toMatchObject({ error: { code: "forbidden_role" } });
  });

  it("refuses every change to a viewer, and still answers a viewer's reads", async () => {
    const viewer = await adminToken("acme", "viewer");
    const writes: Array<[string, string, unknown?]> = [
      ["PUT", "/config", config],
      ["PUT", "/config/bind-password", { password: "x" }],
      ["POST", "/test-connection", {}],
      ["POST", "/preview"],
      ["POST", "/sync"],
      ["DELETE", "/runs"],
      ["POST", "/runs/some-run/approve"],
      ["POST", "/runs/some-run/reject"],
      ["POST", "/extensions", { number: "4000", displayName: "Lobby" }],
      ["POST", "/agents/enrollment-tokens", { label: "x" }],
      ["DELETE", "/agents/enrollment-tokens/some-token"],
    ];
    for (const [method, path, body] of writes) {
      const res = await api(method, `/api/v1/tenants/acme${path}`, viewer, body);
      expect({ method, path, status: res.status, code: res.body?.error?.code }).toEqual({
        method,
        path,
        status: 403,
        code: "forbidden_role",
      });
    }
    const reads = ["/config", "/schedule", "/runs", "/extensions", "/agents", "/agents/enrollment-tokens", "/auth/attempts"];
    for (const path of reads) {
      expect({ path, status: (await api("GET", `/api/v1/tenants/acme${path}`, viewer)).status }).toEqual({ path, status: 200 });
    }
  });

  it.each([
    ["02:30", "America/New_York"],
    ["09:15", "Asia/Kathmandu"],
    ["02:15", "Australia/Lord_Howe"],
    ["01:30", "Europe/London"],
  ])("computes a daily schedule at %s in %s inside workerd as the engine does in Node", async (time, timeZone) => {
    const token = await adminToken("clock");
    const schedule = { mode: "daily" as const, time, timeZone };
    const before = Date.now();
    expect((await api("PUT", "/api/v1/tenants/clock/config", token, { ...config, schedule })).status).toBe(200);
    const after = Date.now();
    const next = (await api("GET", "/api/v1/tenants/clock/schedule", token)).body;
    expect(next).toMatchObject({ mode: "daily", timeZone });
    // workerd's ICU and Node's agree on the zone's rules: the instant is the one Node computes
    // for some moment of the save.
    const candidates = new Set([before, after].map((t) => new Date(nextScheduledRun(schedule, t) as number).toISOString()));
    expect(candidates).toContain(next.nextRunAt);
    expect(Date.parse(next.nextRunAt)).toBeGreaterThan(before);
  });

  it("issues an enrollment token once, lists it by id, and revokes it", async () => {
    const token = await adminToken("acme");
    const created = await api("POST", "/api/v1/tenants/acme/agents/enrollment-tokens", token, { label: "dc-site-1" });
    expect(created.status).toBe(201);
    expect(created.body.token).toMatch(/^adsa_acme_[a-f0-9]{16}_/);
    const listed = await api("GET", "/api/v1/tenants/acme/agents/enrollment-tokens", token);
    expect(listed.body).toEqual([expect.objectContaining({ id: created.body.id, label: "dc-site-1", revokedAt: null })]);
    expect(listed.text).not.toContain(created.body.token.split("_").pop());
    const revoked = await api("DELETE", `/api/v1/tenants/acme/agents/enrollment-tokens/${created.body.id}`, token);
    expect(revoked.body.revokedAt).toEqual(expect.any(Number));
    expect((await api("DELETE", "/api/v1/tenants/acme/agents/enrollment-tokens/0123456789abcdef", token)).status).toBe(404);
  });

  it("answers Test Connection without an agent with a failed first step and the fix", async () => {
    const res = await api("POST", "/api/v1/tenants/acme/test-connection", await adminToken("acme"), {});
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      ok: false,
      steps: [{ id: "agent", status: "failed", code: "agent_offline", fix: expect.stringMatching(/Add agent/) }],
    });
  });

  it("answers directory browsing without an agent with 503 agent_offline, not a hang", async () => {
    const res = await api("GET", "/api/v1/tenants/acme/directory/ous", await adminToken("acme"));
    expect(res).toMatchObject({ status: 503, body: { error: { code: "agent_offline" } } });
  });

  describe("agent connections", () => {
    const connect = (token: string | undefined, agentId = "agent-1") =>
      new Promise<{ opened: boolean; closeCode?: number }>((resolve) => {
        const url = new URL("/api/v1/agent/connect", base);
        url.protocol = "ws:";
        const ws = new WebSocket(url, {
          headers: {
            ...(token ? { Authorization: `Bearer ${token}` } : {}),
            "X-Adsync-Agent-Id": agentId,
            "X-Adsync-Agent-Hostname": "host-1",
          },
        } as never);
        ws.addEventListener("open", () => resolve({ opened: true }));
        ws.addEventListener("error", () => resolve({ opened: false }));
        ws.addEventListener("close", (e) => resolve({ opened: false, closeCode: e.code }));
        (connect as unknown as { last?: WebSocket }).last = ws;
      });

    it("refuses a missing, malformed, unknown or other-tenant token before upgrading", async () => {
      const created = await api("POST", "/api/v1/tenants/acme/agents/enrollment-tokens", await adminToken("acme"), {});
      const forged = created.body.token.replace("adsa_acme_", "adsa_globex_");
      const refusals: Array<[string | undefined, string]> = [
        [undefined, "invalid_agent_token"],
        ["nope", "invalid_agent_token"],
        [`adsa_acme_0123456789abcdef_${"A".repeat(43)}`, "invalid_agent_token"],
        [forged, "invalid_agent_token"],
      ];
      for (const [token, code] of refusals) {
        expect((await connect(token)).opened, String(token)).toBe(false);
        // The same request without the upgrade says why: the upgrade is refused with HTTP 401, before any socket exists.
        const verdict = await fetch(new URL("/api/v1/agent/connect", base), { headers: token ? { Authorization: `Bearer ${token}` } : {} });
        expect({ token, status: verdict.status, code: ((await verdict.json()) as { error: { code: string } }).error.code }).toEqual({
          token,
          status: 401,
          code,
        });
      }
      expect((await connect(created.body.token)).opened).toBe(true);
    });

    it("keeps an agent id to the token it connected with: another token can neither take it over nor evict it", async () => {
      const admin = await adminToken("acme");
      const first = (await api("POST", "/api/v1/tenants/acme/agents/enrollment-tokens", admin, {})).body.token;
      const second = (await api("POST", "/api/v1/tenants/acme/agents/enrollment-tokens", admin, {})).body.token;
      expect((await connect(first, "agent-owned")).opened).toBe(true);
      const owner = (connect as unknown as { last: WebSocket }).last;
      expect((await connect(second, "agent-owned")).opened).toBe(false);
      const verdict = await fetch(new URL("/api/v1/agent/connect", base), {
        headers: { Authorization: `Bearer ${second}`, "X-Adsync-Agent-Id": "agent-owned" },
      });
      expect({ status: verdict.status, code: ((await verdict.json()) as { error: { code: string } }).error.code }).toEqual({
        status: 409,
        code: "agent_id_taken",
      });
      // The owner is still connected and listed.
      expect(owner.readyState).toBe(WebSocket.OPEN);
      const agents = (await api("GET", "/api/v1/tenants/acme/agents", admin)).body as Array<{ id: string; connected: boolean }>;
      expect(agents.find((a) => a.id === "agent-owned")).toMatchObject({ connected: true });
      owner.close();
    });

    it("revokes one agent: its socket closes with 4007, it cannot come back, and its token's other agents stay", async () => {
      const admin = await adminToken("acme");
      const token = (await api("POST", "/api/v1/tenants/acme/agents/enrollment-tokens", admin, {})).body.token;
      expect((await connect(token, "agent-doomed")).opened).toBe(true);
      const doomed = (connect as unknown as { last: WebSocket }).last;
      const closed = new Promise<number>((r) => doomed.addEventListener("close", (e) => r(e.code)));
      expect((await connect(token, "agent-sibling")).opened).toBe(true);
      const sibling = (connect as unknown as { last: WebSocket }).last;
      const viewer = await adminToken("acme", "viewer");
      expect((await api("DELETE", "/api/v1/tenants/acme/agents/agent-doomed", viewer)).status).toBe(403);
      const revoked = await api("DELETE", "/api/v1/tenants/acme/agents/agent-doomed", admin);
      expect(revoked).toMatchObject({ status: 200, body: { id: "agent-doomed", revokedAt: expect.any(Number) } });
      expect(await closed).toBe(4007);
      expect((await connect(token, "agent-doomed")).opened).toBe(false);
      const verdict = await fetch(new URL("/api/v1/agent/connect", base), {
        headers: { Authorization: `Bearer ${token}`, "X-Adsync-Agent-Id": "agent-doomed" },
      });
      expect({ status: verdict.status, code: ((await verdict.json()) as { error: { code: string } }).error.code }).toEqual({
        status: 401,
        code: "agent_revoked",
      });
      expect(sibling.readyState).toBe(WebSocket.OPEN);
      expect((await api("DELETE", "/api/v1/tenants/acme/agents/no-such-agent", admin)).status).toBe(404);
      sibling.close();
    });

    it("lists a connected agent, and a revoked token disconnects it and cannot reconnect", async () => {
      const admin = await adminToken("acme");
      const created = await api("POST", "/api/v1/tenants/acme/agents/enrollment-tokens", admin, {});
      expect((await connect(created.body.token, "agent-revoke")).opened).toBe(true);
      const ws = (connect as unknown as { last: WebSocket }).last;
      const closed = new Promise<number>((r) => ws.addEventListener("close", (e) => r(e.code)));
      const agents = await api("GET", "/api/v1/tenants/acme/agents", admin);
      expect(agents.body).toEqual(
        expect.arrayContaining([expect.objectContaining({ id: "agent-revoke", hostname: "host-1", connected: true, inFlight: 0 })]),
      );
      await api("DELETE", `/api/v1/tenants/acme/agents/enrollment-tokens/${created.body.id}`, admin);
      expect(await closed).toBe(4001);
      expect((await connect(created.body.token, "agent-revoke")).opened).toBe(false);
    });
  });
});
