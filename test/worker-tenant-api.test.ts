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

  it("issues an enrollment token once, for 24 hours unless told, lists it by id, and revokes it", async () => {
    const token = await adminToken("acme");
    const before = Date.now();
    const created = await api("POST", "/api/v1/tenants/acme/agents/enrollment-tokens", token, { label: "dc-site-1" });
    expect(created.status).toBe(201);
    expect(created.body.token).toMatch(/^adsa_acme_[a-f0-9]{16}_/);
    expect(created.body).toMatchObject({ status: "pending", usedAt: null, usedBy: null });
    expect(created.body.expiresAt - created.body.createdAt).toBe(24 * 3_600_000);
    expect(created.body.createdAt).toBeGreaterThanOrEqual(before);
    const listed = await api("GET", "/api/v1/tenants/acme/agents/enrollment-tokens", token);
    expect(listed.body).toEqual([expect.objectContaining({ id: created.body.id, label: "dc-site-1", revokedAt: null, status: "pending" })]);
    expect(listed.text).not.toContain(created.body.token.split("_").pop());
    const revoked = await api("DELETE", `/api/v1/tenants/acme/agents/enrollment-tokens/${created.body.id}`, token);
    expect(revoked.body).toMatchObject({ revokedAt: expect.any(Number), status: "revoked" });
    expect((await api("DELETE", "/api/v1/tenants/acme/agents/enrollment-tokens/0123456789abcdef", token)).status).toBe(404);

    const short = await api("POST", "/api/v1/tenants/acme/agents/enrollment-tokens", token, { label: "short", expiresInHours: 2 });
    expect(short.body.expiresAt - short.body.createdAt).toBe(2 * 3_600_000);
    for (const expiresInHours of [0, 721, 1.5, "24"]) {
      const refused = await api("POST", "/api/v1/tenants/acme/agents/enrollment-tokens", token, { expiresInHours });
      expect({ expiresInHours, status: refused.status, code: refused.body.error?.code }).toEqual({
        expiresInHours,
        status: 400,
        code: "invalid_expiry",
      });
    }
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

  describe("agent enrollment and connections", () => {
    const verdictOf = async (res: Response) => ({
      status: res.status,
      code: ((await res.json()) as { error?: { code: string } }).error?.code,
    });
    const enroll = (token: string | undefined, agentId: string) =>
      fetch(new URL("/api/v1/agent/enroll", base), {
        method: "POST",
        headers: {
          ...(token ? { Authorization: `Bearer ${token}` } : {}),
          "X-Adsync-Agent-Id": agentId,
          "X-Adsync-Agent-Hostname": `${agentId}.example.test`,
          "X-Adsync-Agent-Version": "9.9.9",
        },
      });
    const newToken = async () =>
      (await api("POST", "/api/v1/tenants/acme/agents/enrollment-tokens", await adminToken("acme"), {})).body.token;
    /** The agent's first start: a new token spent for its credential. */
    const enrolled = async (agentId: string, token?: string) => {
      const res = await enroll(token ?? (await newToken()), agentId);
      const body = (await res.json()) as { credential: string; agentId: string };
      expect(res.status, JSON.stringify(body)).toBe(201);
      return body.credential;
    };
    const sockets: WebSocket[] = [];
    const connect = (credential: string | undefined, agentId = "agent-1") =>
      new Promise<{ opened: boolean; closeCode?: number; socket: WebSocket }>((resolve) => {
        const url = new URL("/api/v1/agent/connect", base);
        url.protocol = "ws:";
        const ws = new WebSocket(url, {
          headers: {
            ...(credential ? { Authorization: `Bearer ${credential}` } : {}),
            "X-Adsync-Agent-Id": agentId,
            "X-Adsync-Agent-Hostname": "host-1",
          },
        } as never);
        sockets.push(ws);
        ws.addEventListener("open", () => resolve({ opened: true, socket: ws }));
        ws.addEventListener("error", () => resolve({ opened: false, socket: ws }));
        ws.addEventListener("close", (e) => resolve({ opened: false, closeCode: e.code, socket: ws }));
      });
    /** The same request without the upgrade says why: the upgrade is refused before any socket exists. */
    const connectVerdict = async (credential: string | undefined, agentId?: string) =>
      verdictOf(
        await fetch(new URL("/api/v1/agent/connect", base), {
          headers: {
            ...(credential ? { Authorization: `Bearer ${credential}` } : {}),
            ...(agentId ? { "X-Adsync-Agent-Id": agentId } : {}),
          },
        }),
      );
    afterAll(() => {
      for (const ws of sockets) ws.close();
    });

    it("connects only with a credential: missing, malformed, unknown, other-tenant and enrollment tokens are refused before upgrading", async () => {
      const token = await newToken();
      const credential = await enrolled("agent-1", token);
      expect(credential).toMatch(/^adsc_acme_[a-f0-9]{16}_[A-Za-z0-9_-]{43}$/);
      const refusals: Array<[string | undefined, string]> = [
        [undefined, "invalid_agent_credential"],
        ["nope", "invalid_agent_credential"],
        [`adsc_acme_0123456789abcdef_${"A".repeat(43)}`, "invalid_agent_credential"],
        [credential.replace("adsc_acme_", "adsc_globex_"), "invalid_agent_credential"],
        // Forged: the right id with another secret.
        [`${credential.slice(0, -43)}${"B".repeat(43)}`, "invalid_agent_credential"],
        // The enrollment token it was bought with opens nothing.
        [token, "enrollment_token_not_credential"],
        [await newToken(), "enrollment_token_not_credential"],
      ];
      for (const [presented, code] of refusals) {
        expect((await connect(presented)).opened, String(presented)).toBe(false);
        expect({ presented, ...(await connectVerdict(presented)) }).toEqual({ presented, status: 401, code });
      }
      expect((await connect(credential)).opened).toBe(true);
    });

    it("spends a token once; a spent, revoked or forged token enrolls nothing, and a spent one cannot be revoked", async () => {
      const admin = await adminToken("acme");
      const token = await newToken();
      await enrolled("agent-once", token);
      expect(await verdictOf(await enroll(token, "agent-twice"))).toEqual({ status: 401, code: "enrollment_token_used" });
      expect(await verdictOf(await enroll(`${token.slice(0, -43)}${"C".repeat(43)}`, "agent-forged"))).toEqual({
        status: 401,
        code: "invalid_enrollment_token",
      });
      expect(await verdictOf(await enroll(undefined, "agent-none"))).toEqual({ status: 401, code: "invalid_enrollment_token" });
      const created = await api("POST", "/api/v1/tenants/acme/agents/enrollment-tokens", admin, { label: "withdrawn" });
      await api("DELETE", `/api/v1/tenants/acme/agents/enrollment-tokens/${created.body.id}`, admin);
      expect(await verdictOf(await enroll(created.body.token, "agent-withdrawn"))).toEqual({
        status: 401,
        code: "enrollment_token_revoked",
      });
      const tokens = (await api("GET", "/api/v1/tenants/acme/agents/enrollment-tokens", admin)).body as Array<Record<string, unknown>>;
      const spent = tokens.find((t) => t.usedBy === "agent-once") as { id: string };
      expect(spent).toMatchObject({ status: "used" });
      expect(await api("DELETE", `/api/v1/tenants/acme/agents/enrollment-tokens/${spent.id}`, admin)).toMatchObject({
        status: 409,
        body: { error: { code: "token_used", message: expect.stringMatching(/revoke that agent instead/) } },
      });
      // The refused attempts enrolled nobody.
      const agents = (await api("GET", "/api/v1/tenants/acme/agents", admin)).body as Array<{ id: string }>;
      expect(agents.map((a) => a.id)).not.toEqual(expect.arrayContaining(["agent-twice"]));
      expect(agents.map((a) => a.id).filter((id) => ["agent-twice", "agent-forged", "agent-none", "agent-withdrawn"].includes(id))).toEqual(
        [],
      );
    });

    it("keeps an agent id to its credential: another enrollment can neither take it over nor evict it", async () => {
      const admin = await adminToken("acme");
      const owner = await connect(await enrolled("agent-owned"), "agent-owned");
      expect(owner.opened).toBe(true);
      expect(await verdictOf(await enroll(await newToken(), "agent-owned"))).toEqual({ status: 409, code: "agent_id_taken" });
      // Another agent's credential does not speak for this id.
      const other = await enrolled("agent-other");
      expect(await connectVerdict(other, "agent-owned")).toEqual({ status: 401, code: "invalid_agent_credential" });
      expect(owner.socket.readyState).toBe(WebSocket.OPEN);
      const agents = (await api("GET", "/api/v1/tenants/acme/agents", admin)).body as Array<{ id: string; connected: boolean }>;
      expect(agents.find((a) => a.id === "agent-owned")).toMatchObject({ connected: true });
    });

    it("revokes one agent: its socket closes with 4007, its credential stops working, and the other agents stay", async () => {
      const admin = await adminToken("acme");
      const doomedCredential = await enrolled("agent-doomed");
      const doomed = await connect(doomedCredential, "agent-doomed");
      expect(doomed.opened).toBe(true);
      // The agent is told first, then the socket closes with 4007; the agent, as the real one
      // does, closes its end on the message rather than wait for the connection to wind down.
      const told = new Promise<unknown>((r) =>
        doomed.socket.addEventListener("message", (e) => {
          r(JSON.parse(String(e.data)));
          doomed.socket.close();
        }),
      );
      const closed = new Promise<number>((r) => doomed.socket.addEventListener("close", (e) => r(e.code)));
      const sibling = await connect(await enrolled("agent-sibling"), "agent-sibling");
      expect(sibling.opened).toBe(true);
      const viewer = await adminToken("acme", "viewer");
      expect((await api("DELETE", "/api/v1/tenants/acme/agents/agent-doomed", viewer)).status).toBe(403);
      const revoked = await api("DELETE", "/api/v1/tenants/acme/agents/agent-doomed", admin);
      expect(revoked).toMatchObject({ status: 200, body: { id: "agent-doomed", revokedAt: expect.any(Number) } });
      expect(await told).toEqual({ type: "revoked", reason: expect.stringMatching(/revoked this agent/) });
      expect(await closed).toBe(4007);
      expect((await connect(doomedCredential, "agent-doomed")).opened).toBe(false);
      expect(await connectVerdict(doomedCredential)).toEqual({ status: 401, code: "agent_revoked" });
      expect(sibling.socket.readyState).toBe(WebSocket.OPEN);
      expect((await api("DELETE", "/api/v1/tenants/acme/agents/no-such-agent", admin)).status).toBe(404);
      // The host can be enrolled again, with a new token: a new credential, and the old one stays dead.
      const renewed = await enrolled("agent-doomed");
      expect((await connect(renewed, "agent-doomed")).opened).toBe(true);
      expect(await connectVerdict(doomedCredential)).toEqual({ status: 401, code: "invalid_agent_credential" });
    });

    it("lists an enrolled agent with its token and enrollment, and logs what happened in the agents' log", async () => {
      const admin = await adminToken("acme");
      const created = await api("POST", "/api/v1/tenants/acme/agents/enrollment-tokens", admin, { label: "branch office" });
      const credential = await enrolled("agent-listed", created.body.token);
      expect((await connect(credential, "agent-listed")).opened).toBe(true);
      const agents = (await api("GET", "/api/v1/tenants/acme/agents", admin)).body as Array<Record<string, unknown>>;
      expect(agents.find((a) => a.id === "agent-listed")).toMatchObject({
        hostname: "host-1",
        connected: true,
        inFlight: 0,
        tokenId: created.body.id,
        tokenLabel: "branch office",
        enrolledBy: "alice@acme",
        enrolledAt: expect.any(Number),
        enrolledFrom: expect.any(String),
        revokedAt: null,
      });
      expect(JSON.stringify(agents)).not.toContain(credential.slice(-43));
      const events = (await api("GET", "/api/v1/tenants/acme/agents/events", admin)).body as Array<Record<string, unknown>>;
      expect(events.find((e) => e.type === "enrolled" && e.agentId === "agent-listed")).toMatchObject({
        hostname: "agent-listed.example.test",
        tokenId: created.body.id,
        tokenLabel: "branch office",
        tokenBy: "alice@acme",
        detail: "adsync-agent 9.9.9",
      });
      expect(events.find((e) => e.type === "token_created" && e.tokenId === created.body.id)).toMatchObject({ by: "alice@acme" });
      expect(events.find((e) => e.type === "enrollment_refused" && e.agentId === "agent-twice")).toMatchObject({
        detail: "enrollment_token_used",
      });
      expect(events.find((e) => e.type === "revoked" && e.agentId === "agent-doomed")).toMatchObject({ by: "alice@acme" });
      // Newest first.
      expect(events.map((e) => e.seq)).toEqual([...events.map((e) => e.seq as number)].sort((x, y) => y - x));
      const viewer = await adminToken("acme", "viewer");
      expect((await api("GET", "/api/v1/tenants/acme/agents/events", viewer)).status).toBe(200);
      expect((await api("GET", "/api/v1/tenants/acme/agents/events", await adminToken("globex"))).status).toBe(403);
    });
  });
});
