// The whole path of issue-free operation and of every usual failure: the bundled worker in
// workerd on a loopback port, real connector agent processes dialling in to it, and real
// Samba DCs behind them. Also what must never leak: the bind password.
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { createServer, type Server, type Socket } from "node:net";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { rootCertificates } from "node:tls";
import { sign } from "hono/jwt";
import type { Miniflare } from "miniflare";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { credentialFileName } from "../agent/src/enrollment/credential-store.ts";
import { targetFor } from "../agent/src/ldap/test-support.ts";
import type { ConnectionStep, OuNode, TestConnectionResult } from "../schema/src/agent-protocol.ts";
import { type AgentProcess, agentStateDir, freePort, startAgent } from "./support/agent-process.ts";
import { type SambaDc, startSambaDc } from "./support/samba-dc.ts";
import { bundleWorker, startWorker, testSecrets } from "./support/worker-bundle.ts";

const dc = inject("samba");
const SPARE_DC_IP = "127.0.0.51";
// Never a real password anywhere: it must not show up in any response or log line either.
const CANARY = "Canary-Bind-Pa55word-7f3a9c";

const adminToken = (tenant: string, role = "admin") =>
  sign({ sub: `admin@${tenant}`, tenant, role, exp: Math.floor(Date.now() / 1000) + 3600 }, testSecrets.ADMIN_JWT_SECRET);

// Connect timeout 3 s: the silent DC below holds a request that long before the next DC.
const connection = targetFor(dc, { connectTimeoutSeconds: 3, searchTimeoutSeconds: 20 }).connection;
const config = { connection, scope: { users: "all" } };

describe("agents, the tunnel and Test Connection, end to end", () => {
  let script: string;
  let persistDir: string;
  let port: number;
  let mf: Miniflare | undefined;
  let base: string;
  let acme: string;
  let globex: string;
  let spare: SambaDc;
  let blackHolePort: number;
  const agents: AgentProcess[] = [];
  const workerLog: string[] = [];
  const responses: string[] = [];

  const startTheWorker = async () => {
    mf = await startWorker(script, { port, persistDir, onLog: (line) => workerLog.push(line) });
    base = (await mf.ready).origin;
  };

  const api = async (method: string, path: string, token: string | undefined, body?: unknown) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { ...(token ? { Authorization: `Bearer ${token}` } : {}), "Content-Type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    responses.push(text);
    return { status: res.status, body: text ? JSON.parse(text) : null };
  };

  // What the agent host allows: the test run's DC, the spare DC, a name that does not resolve
  // (to see DNS fail), and the silent server of the last tests. Nothing else.
  const allowedDcs = () => [dc.ip, dc.hostname, SPARE_DC_IP, "dc1.nonexistent.invalid", `127.0.0.1:${blackHolePort}`];
  /** A new enrollment token of acme's: each enrolls one agent. */
  const newToken = async (label = "office") => {
    const enrolled = await api("POST", "/api/v1/tenants/acme/agents/enrollment-tokens", acme, { label });
    expect(enrolled.status).toBe(201);
    return enrolled.body.token as string;
  };
  /** Starts an agent; its first start spends a new token (or the one given), a later one its saved credential. */
  const agent = async (id: string, token?: string) => {
    const enrolled = existsSync(join(agentStateDir(base, id), credentialFileName));
    const a = startAgent({ url: base, id, dcs: allowedDcs(), ...(enrolled ? {} : { token: token ?? (await newToken()) }) });
    agents.push(a);
    return a;
  };

  const testDraft = async (patch: Record<string, unknown>, bindPassword = dc.servicePassword) => {
    const res = await api("POST", "/api/v1/tenants/acme/test-connection", acme, {
      config: { ...config, connection: { ...connection, ...patch } },
      bindPassword,
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body as TestConnectionResult;
  };
  const statuses = (r: TestConnectionResult) => r.steps.map((s) => `${s.id}:${s.status}`);
  const failed = (r: TestConnectionResult) => r.steps.find((s) => s.status === "failed") as ConnectionStep;

  beforeAll(async () => {
    [{ script }, persistDir, port, spare, blackHolePort] = await Promise.all([
      bundleWorker(),
      mkdtemp(join(tmpdir(), "adsync-tunnel-")),
      freePort(),
      startSambaDc({ ip: SPARE_DC_IP }),
      freePort(),
    ]);
    await startTheWorker();
    acme = await adminToken("acme");
    globex = await adminToken("globex");
    expect((await api("PUT", "/api/v1/tenants/acme/config", acme, config)).status).toBe(200);
    expect((await api("PUT", "/api/v1/tenants/acme/config/bind-password", acme, { password: dc.servicePassword })).status).toBe(200);
    await (await agent("acme-1")).waitFor(/connected to/);
  });

  afterAll(async () => {
    await Promise.all(agents.map((a) => a.kill("SIGKILL")));
    await mf?.dispose();
    await spare?.destroy();
  });

  it("refuses administrators without a token (401) and with another tenant's (403)", async () => {
    expect(await api("POST", "/api/v1/tenants/acme/test-connection", undefined, {})).toMatchObject({
      status: 401,
      body: { error: { code: "unauthorized" } },
    });
    expect(await api("POST", "/api/v1/tenants/acme/test-connection", globex, {})).toMatchObject({
      status: 403,
      body: { error: { code: "forbidden_tenant" } },
    });
  });

  it("tests the saved configuration over LDAPS with the DC's CA: every step passes, with counts", async () => {
    const res = await api("POST", "/api/v1/tenants/acme/test-connection", acme, {});
    expect(res.status).toBe(200);
    const result = res.body as TestConnectionResult;
    expect(statuses(result)).toEqual(["agent:ok", "reachable:ok", "tls:ok", "bind:ok", "baseDn:ok", "scope:ok"]);
    expect(result.ok).toBe(true);
    expect(result.server).toBe(`${dc.ip}:636`);
    expect(result.steps[0]?.detail).toMatch(/1 agent connected/);
    expect(result.steps.find((s) => s.id === "tls")?.detail).toMatch(/dc1\.example\.com/);
    expect(result.counts?.usersInScope).toBeGreaterThan(10);
    expect(result.counts?.disabledUsers).toBeGreaterThan(0);
    for (const s of result.steps) expect(typeof s.durationMs).toBe("number");
  });

  it.each([
    ["StartTLS on 389", { security: "starttls", domainControllers: [{ host: dc.ip, port: 389 }] }, undefined, "ok", undefined],
    ["a CA that did not sign the DC's certificate", { caCertificate: rootCertificates[0] }, undefined, "tls", "tls_untrusted"],
    // The agent host did not allow plain LDAP: refused before any connection.
    ["plain LDAP", { security: "insecurePlainLdap", domainControllers: [{ host: dc.ip }] }, undefined, "policy", "insecure_not_allowed"],
    ["skipping certificate verification", { insecureSkipVerify: true }, undefined, "policy", "insecure_not_allowed"],
    ["a host the agent's host did not allow", { domainControllers: [{ host: "127.0.0.2" }] }, undefined, "policy", "dc_not_allowed"],
    ["a port the agent's host did not allow", { domainControllers: [{ host: dc.ip, port: 22 }] }, undefined, "policy", "dc_not_allowed"],
    ["a wrong password", {}, CANARY, "bind", "ad_52e"],
    ["an unknown bind user", { bindUsername: "nobody-here@example.com" }, undefined, "bind", /^ad_5(2e|25)$/],
    ["an unknown host", { domainControllers: [{ host: "dc1.nonexistent.invalid" }] }, undefined, "reachable", "dns_not_found"],
    ["a base DN that does not exist", { baseDn: "OU=Nowhere,DC=example,DC=com" }, undefined, "baseDn", "no_such_object"],
  ] as const)("a draft with %s", async (_, patch, password, failedStep, code) => {
    const result = await testDraft(patch, password);
    if (failedStep === "ok") {
      expect(
        statuses(result).every((s) => s.endsWith(":ok")),
        JSON.stringify(result.steps),
      ).toBe(true);
      return;
    }
    expect(result.ok).toBe(false);
    const step = failed(result);
    expect(step.id).toBe(failedStep);
    if (typeof code === "string") expect(step.code).toBe(code);
    else expect(step.code).toMatch(code as RegExp);
    // Each failure names its likely fix, and the steps after it are not run.
    expect(step.fix).toBeTruthy();
    const after = result.steps.slice(result.steps.indexOf(step) + 1);
    expect(after.every((s) => s.status === "skipped")).toBe(true);
    if (code === "insecure_not_allowed") expect(step.fix).toMatch(/--allow-insecure-ldap/);
    if (code === "dc_not_allowed") expect(step.fix).toMatch(/--dc/);
    if (code === "tls_untrusted") expect(step.fix).toMatch(/caCertificate/);
  });

  it("reports a stopped DC, and takes the second DC when the first is down", async () => {
    const spareConnection = { domainControllers: [{ host: SPARE_DC_IP }], caCertificate: spare.caPem };
    expect((await testDraft(spareConnection)).ok).toBe(true);
    await spare.stop();
    const down = await testDraft(spareConnection);
    expect(failed(down)).toMatchObject({ id: "reachable", code: "connection_refused" });
    const failover = await testDraft({ domainControllers: [{ host: SPARE_DC_IP }, { host: dc.ip }], caCertificate: spare.caPem });
    expect(failover.ok).toBe(true);
    expect(failover.server).toBe(`${dc.ip}:636`);
    expect(failover.steps.find((s) => s.id === "reachable")).toMatchObject({ status: "warning", code: "connection_refused" });
  });

  it("browses the directory for the editor: OU tree, user attributes, groups", async () => {
    const ous = await api("GET", "/api/v1/tenants/acme/directory/ous", acme);
    expect(ous.status).toBe(200);
    const tree = ous.body as OuNode;
    expect(tree.dn).toBe(dc.baseDn);
    const names = (node: OuNode): string[] => [node.name, ...node.children.flatMap(names)];
    expect(names(tree)).toEqual(expect.arrayContaining(["Staff", "Service Accounts"]));

    const attributes = await api("GET", "/api/v1/tenants/acme/directory/attributes", acme);
    expect(attributes.status).toBe(200);
    expect(attributes.body.map((a: { name: string }) => a.name)).toEqual(expect.arrayContaining(["telephoneNumber", "mail", "ipPhone"]));

    const groups = await api("GET", "/api/v1/tenants/acme/directory/groups?q=sales&limit=50", acme);
    expect(groups.status).toBe(200);
    expect(groups.body.groups.length).toBeGreaterThan(0);
    for (const g of groups.body.groups) expect(`${g.name} ${g.description ?? ""}`.toLowerCase()).toContain("sales");

    // Filter metacharacters are data, not syntax.
    const hostile = await api("GET", `/api/v1/tenants/acme/directory/groups?q=${encodeURIComponent("*)(cn=*")}`, acme);
    expect(hostile).toMatchObject({ status: 200, body: { groups: [] } });

    const limited = await api("GET", "/api/v1/tenants/acme/directory/groups?limit=2", acme);
    expect(limited.body).toMatchObject({ truncated: true });
    expect(limited.body.groups).toHaveLength(2);
  });

  it("keeps tenants apart: an agent of acme serves no one else", async () => {
    expect((await api("PUT", "/api/v1/tenants/globex/config", globex, config)).status).toBe(200);
    expect((await api("PUT", "/api/v1/tenants/globex/config/bind-password", globex, { password: dc.servicePassword })).status).toBe(200);
    const res = await api("POST", "/api/v1/tenants/globex/test-connection", globex, { config, bindPassword: dc.servicePassword });
    expect(res.body.steps).toEqual([expect.objectContaining({ id: "agent", status: "failed", code: "agent_offline" })]);
    expect((await api("GET", "/api/v1/tenants/globex/directory/ous", globex)).body).toMatchObject({
      error: { code: "agent_offline" },
    });
    expect((await api("GET", "/api/v1/tenants/globex/agents", globex)).body).toEqual([]);
    // The token's tenant part is what routes it; pointed at globex it is simply unknown there.
    const forged = await agent("forged", (await newToken()).replace(/^adsa_acme_/, "adsa_globex_"));
    expect(await forged.exited).toBe(3);
    expect(forged.lines.join("\n")).toMatch(/enrollment refused \(invalid_enrollment_token\)/);
  });

  it("spreads requests over two agents and lists both", async () => {
    await (await agent("acme-2")).waitFor(/connected to/);
    const listed = await api("GET", "/api/v1/tenants/acme/agents", acme);
    expect(
      listed.body
        .filter((a: { connected: boolean }) => a.connected)
        .map((a: { id: string }) => a.id)
        .sort(),
    ).toEqual(["acme-1", "acme-2"]);
    for (const a of listed.body) expect(a).toMatchObject({ version: expect.any(String), hostname: expect.any(String), inFlight: 0 });
    const results = await Promise.all(Array.from({ length: 6 }, () => api("POST", "/api/v1/tenants/acme/test-connection", acme, {})));
    for (const r of results) expect(r.body.ok).toBe(true);
    for (const a of agents.filter((x) => x.id.startsWith("acme-"))) {
      expect(
        a.lines.some((l) => /testConnection done/.test(l)),
        `${a.id} did no work`,
      ).toBe(true);
    }
  });

  describe("with a domain controller that accepts connections and never answers", () => {
    let blackHole: Server;
    const sockets = new Set<Socket>();
    beforeAll(async () => {
      blackHole = createServer((socket) => {
        sockets.add(socket);
        socket.on("close", () => sockets.delete(socket));
      });
      await new Promise<void>((resolve) => blackHole.listen(blackHolePort, "127.0.0.1", resolve));
      const silentFirst = {
        ...config,
        connection: {
          ...connection,
          domainControllers: [{ host: "127.0.0.1", port: (blackHole.address() as { port: number }).port }, { host: dc.ip }],
        },
      };
      expect((await api("PUT", "/api/v1/tenants/acme/config", acme, silentFirst)).status).toBe(200);
    });
    afterAll(async () => {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => blackHole.close(resolve));
      await api("PUT", "/api/v1/tenants/acme/config", acme, config);
    });

    /** Exactly `n` of acme's agents connected, whatever the tests before left running. */
    const liveAgents = async (n: number) => {
      const live = () => agents.filter((a) => a.id.startsWith("acme-") && a.child.exitCode === null && a.child.signalCode === null);
      for (const extra of live().slice(n)) await extra.kill("SIGKILL");
      for (let i = live().length; i < n; i++) await (await agent(`acme-spare-${agents.length}`)).waitFor(/connected to/);
      await expect
        .poll(
          async () =>
            ((await api("GET", "/api/v1/tenants/acme/agents", acme)).body as Array<{ connected: boolean }>).filter((a) => a.connected)
              .length,
          {
            timeout: 10_000,
            interval: 50,
          },
        )
        .toBe(n);
    };

    const busyAgent = async (): Promise<AgentProcess> => {
      for (let i = 0; i < 100; i++) {
        const list = (await api("GET", "/api/v1/tenants/acme/agents", acme)).body as Array<{ id: string; inFlight: number }>;
        const busy = list.find((a) => a.inFlight > 0);
        if (busy) return agents.find((a) => a.id === busy.id) as AgentProcess;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error("no agent took the request");
    };

    it("moves a request to the other agent when its agent is killed mid-request", async () => {
      await liveAgents(2);
      const pending = api("GET", "/api/v1/tenants/acme/directory/ous", acme);
      const victim = await busyAgent();
      await victim.kill("SIGKILL");
      const res = await pending;
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect((res.body as OuNode).dn).toBe(dc.baseDn);
      const survivor = agents.find((a) => a.id.startsWith("acme-") && a !== victim && a.child.exitCode === null) as AgentProcess;
      expect(survivor.lines.some((l) => /listOus done/.test(l))).toBe(true);
    });

    it("fails clearly, without hanging, when the last agent is killed mid-request", async () => {
      await liveAgents(1);
      const pending = api("GET", "/api/v1/tenants/acme/directory/ous", acme);
      const victim = await busyAgent();
      await victim.kill("SIGKILL");
      expect(await pending).toMatchObject({ status: 503, body: { error: { code: "agent_disconnected" } } });
      expect(await api("POST", "/api/v1/tenants/acme/test-connection", acme, {})).toMatchObject({
        status: 200,
        body: { ok: false, steps: [{ id: "agent", status: "failed", code: "agent_offline" }] },
      });
    });
  });

  it("reconnects its agents after the worker restarts, with configuration and password kept", async () => {
    const a = await agent("acme-3");
    await a.waitFor(/connected to/);
    await mf?.dispose();
    await a.waitFor(/disconnected|could not connect/);
    await startTheWorker();
    await expect
      .poll(() => a.lines.filter((l) => / connected to /.test(l)).length, { timeout: 20_000, interval: 100 })
      .toBeGreaterThanOrEqual(2);
    const res = await api("POST", "/api/v1/tenants/acme/test-connection", acme, {});
    expect(res.body.ok, JSON.stringify(res.body)).toBe(true);
  });

  it("spends a token once: a restart needs none, the spent token enrolls nothing more, and a revoked agent stops for good", async () => {
    const token = await newToken("once");
    const first = await agent("acme-once", token);
    await first.waitFor(/connected to/);
    const file = join(agentStateDir(base, "acme-once"), credentialFileName);
    expect(first.lines.join("\n")).toContain(`enrolled as acme-once; the credential is saved in ${file} and the token is spent`);
    // The credential is the agent's alone: a file only its account can read, in a directory only it can enter.
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(agentStateDir(base, "acme-once")).mode & 0o777).toBe(0o700);
    expect(readFileSync(file, "utf8")).not.toContain(token);
    await first.kill();

    // A restart, as a service manager does it: no token, the saved credential.
    const again = startAgent({ url: base, id: "acme-once", dcs: allowedDcs() });
    agents.push(again);
    await again.waitFor(/connected to/);
    expect(again.lines.join("\n")).not.toMatch(/enrolling/);

    // The same token, copied to another host: refused, and the enrolled agent is unaffected.
    const copy = startAgent({
      url: base,
      id: "acme-copy",
      token,
      dcs: allowedDcs(),
      stateDir: await mkdtemp(join(tmpdir(), "adsync-copy-")),
    });
    agents.push(copy);
    expect(await copy.exited).toBe(3);
    expect(copy.lines.join("\n")).toMatch(
      /enrollment refused \(enrollment_token_used\): This enrollment token was already used, by the agent acme-once/,
    );
    expect(again.child.exitCode).toBeNull();

    // A forged credential: the enrolled agent's file, copied to another host with the secret guessed.
    const forgedDir = await mkdtemp(join(tmpdir(), "adsync-forged-"));
    const saved = JSON.parse(readFileSync(file, "utf8")) as { credential: string };
    writeFileSync(
      join(forgedDir, credentialFileName),
      JSON.stringify({ ...saved, credential: `${saved.credential.slice(0, -43)}${"F".repeat(43)}` }),
      { mode: 0o600 },
    );
    const forged = startAgent({ url: base, id: "acme-once", dcs: allowedDcs(), stateDir: forgedDir });
    agents.push(forged);
    expect(await forged.exited).toBe(3);
    expect(forged.lines.join("\n")).toMatch(/The agent credential is unknown/);
    expect(again.child.exitCode).toBeNull();
    const tokens = (await api("GET", "/api/v1/tenants/acme/agents/enrollment-tokens", acme)).body as Array<Record<string, unknown>>;
    expect(tokens.find((t) => t.label === "once")).toMatchObject({ status: "used", usedBy: "acme-once", usedAt: expect.any(Number) });

    // The administrator's record: who made the token, the host and address that enrolled, the refusal.
    const events = (await api("GET", "/api/v1/tenants/acme/agents/events", acme)).body as Array<Record<string, unknown>>;
    expect(events.find((e) => e.type === "enrolled" && e.agentId === "acme-once")).toMatchObject({
      hostname: hostname(),
      address: expect.stringMatching(/^127\.0\.0\.1$|^::1$|^::ffff:127\.0\.0\.1$/),
      tokenLabel: "once",
      tokenBy: "admin@acme",
    });
    expect(events.find((e) => e.type === "enrollment_refused" && e.agentId === "acme-copy")).toMatchObject({
      detail: "enrollment_token_used",
      tokenLabel: "once",
    });
    const listed = (await api("GET", "/api/v1/tenants/acme/agents", acme)).body as Array<Record<string, unknown>>;
    expect(listed.find((a) => a.id === "acme-once")).toMatchObject({ connected: true, tokenLabel: "once", enrolledBy: "admin@acme" });

    // Revoked: it stops, says how to enroll the host again, and its credential opens nothing any more.
    expect((await api("DELETE", "/api/v1/tenants/acme/agents/acme-once", acme)).status).toBe(200);
    expect(await again.exited).toBe(3);
    expect(again.lines.join("\n")).toMatch(/an administrator revoked this agent \(Agents\)[\s\S]*delete .*agent-credential\.json/);
    const late = startAgent({ url: base, id: "acme-once", dcs: allowedDcs() });
    agents.push(late);
    expect(await late.exited).toBe(3);
    expect(late.lines.join("\n")).toMatch(/The agent acme-once was revoked/);
  });

  it("never lets a bind password into a response or a log line", () => {
    const everything = [...responses, ...workerLog, ...agents.flatMap((a) => a.lines)].join("\n");
    expect(responses.length).toBeGreaterThan(30);
    expect(workerLog.some((l) => l.includes("agent_connected"))).toBe(true);
    expect(everything).not.toContain(CANARY);
    expect(everything).not.toContain(dc.servicePassword);
  });
});
