// The product as a tenant uses it, for end-to-end tests: the bundled worker in workerd on a
// loopback port, an administrator session, a saved connection to a Samba DC, and a real
// connector agent process enrolled and connected.
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sign } from "hono/jwt";
import type { Miniflare } from "miniflare";
import { type AgentProcess, freePort, startAgent } from "./agent-process.ts";
import type { SambaDcInfo } from "./samba-dc.ts";
import { bundleWorker, startWorker, testSecrets } from "./worker-bundle.ts";

/** A JSON body of any of the API's shapes, read by tests field by field. */
// biome-ignore lint/suspicious/noExplicitAny: tests assert on bodies of many shapes; toMatchObject checks them.
export type Json = any;

export interface ApiResponse {
  status: number;
  headers: Headers;
  body: Json;
  text: string;
}

export interface Stack {
  base: string;
  tenant: string;
  token: string;
  agent: AgentProcess;
  logs: string[];
  api(method: string, path: string, body?: unknown, token?: string): Promise<ApiResponse>;
  /** Polls GET runs/:id until the run has ended, and returns it. */
  finished(runId: string, timeoutMs?: number): Promise<Json>;
  stop(): Promise<void>;
}

/** An administrator session for `tenant` on a worker started with the test secrets. */
export function adminToken(tenant: string): Promise<string> {
  return sign({ sub: `admin@${tenant}`, tenant, role: "admin", exp: Math.floor(Date.now() / 1000) + 3600 }, testSecrets.ADMIN_JWT_SECRET);
}

export async function startStack(
  dc: SambaDcInfo,
  options: {
    tenant: string;
    config: Record<string, unknown>;
    agentEnv?: Record<string, string>;
    agentDcs?: string[];
    inspectorPort?: number;
  },
): Promise<Stack> {
  const [{ script }, persistDir, port] = await Promise.all([bundleWorker(), mkdtemp(join(tmpdir(), "adsync-stack-")), freePort()]);
  const logs: string[] = [];
  const mf: Miniflare = await startWorker(script, {
    port,
    persistDir,
    onLog: (line) => logs.push(line),
    ...(options.inspectorPort !== undefined ? { inspectorPort: options.inspectorPort } : {}),
  });
  const base = (await mf.ready).origin;
  const token = await adminToken(options.tenant);
  const prefix = `/api/v1/tenants/${options.tenant}`;
  const api = async (method: string, path: string, body?: unknown, as = token): Promise<ApiResponse> => {
    const res = await fetch(`${base}${path.startsWith("/api/") ? path : `${prefix}${path}`}`, {
      method,
      headers: { Authorization: `Bearer ${as}`, "Content-Type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      // CSV and other text stays text.
    }
    return { status: res.status, headers: res.headers, body: parsed, text };
  };
  const must = async (what: string, res: Promise<ApiResponse>, status = 200) => {
    const r = await res;
    if (r.status !== status) throw new Error(`${what}: HTTP ${r.status} ${r.text}`);
    return r;
  };
  await must("save config", api("PUT", "/config", options.config));
  await must("set bind password", api("PUT", "/config/bind-password", { password: dc.servicePassword }));
  const enrolled = await must("enroll", api("POST", "/agents/enrollment-tokens", { label: "test" }), 201);
  const agent = startAgent({
    url: base,
    token: enrolled.body.token,
    id: `${options.tenant}-agent`,
    // A worker of its own, so an agent state of its own: nothing enrolled with an earlier one.
    stateDir: await mkdtemp(join(tmpdir(), "adsync-agent-")),
    // The agent host allows the test's DC, by address and by name, and whatever else the test names.
    dcs: [dc.ip, dc.hostname, ...(options.agentDcs ?? [])],
    ...(options.agentEnv ? { env: options.agentEnv } : {}),
  });
  await agent.waitFor(/connected to/);
  return {
    base,
    tenant: options.tenant,
    token,
    agent,
    logs,
    api,
    async finished(runId, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const run = (await api("GET", `/runs/${runId}`)).body;
        if (!["queued", "reading", "planning", "applying"].includes(run.status)) return run;
        if (Date.now() > deadline) throw new Error(`run ${runId} still ${run.status} after ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async stop() {
      await agent.kill("SIGKILL");
      await mf.dispose();
    },
  };
}
