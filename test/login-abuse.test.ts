// The public login route under abuse, against the bundled worker in workerd: what an
// anonymous caller can make a tenant store, the per-network address limit, and which web
// pages may call the route at all.
import { readdirSync, statSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Miniflare } from "miniflare";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { enrollAgent } from "./support/enroll-agent.ts";
import { type ScriptedAgent, startScriptedAgent } from "./support/scripted-agent.ts";
import { adminToken } from "./support/stack.ts";
import { bundleWorker, startWorker } from "./support/worker-bundle.ts";

const connection = {
  domainControllers: [{ host: "dc1.example.com" }],
  bindUsername: "svc@example.com",
  bindPassword: { source: "agent" },
  baseDn: "DC=example,DC=com",
};
const config = (domainLogin: Record<string, unknown>) => ({
  connection,
  scope: { users: "all" },
  schedule: { mode: "manual" },
  domainLogin: { enabled: true, ...domainLogin },
});

/** Every file under `dir`, with its size: what the worker has stored. */
function stored(dir: string): Map<string, number> {
  const files = new Map<string, number>();
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const path = join(d, name);
      const stat = statSync(path);
      if (stat.isDirectory()) walk(path);
      else files.set(path, stat.size);
    }
  };
  walk(dir);
  return files;
}

describe("the login route under abuse", () => {
  let mf: Miniflare;
  let base: string;
  let persistDir: string;
  let agent: ScriptedAgent;

  const login = (tenant: string, username: string, headers: Record<string, string> = {}) =>
    fetch(`${base}/api/v1/tenants/${tenant}/auth/domain-login`, {
      method: "POST",
      headers: { "Content-Type": "application/json", ...headers },
      body: JSON.stringify({ username, password: "Wrong-Passw0rd!" }),
    });
  const admin = async (tenant: string, method: string, path: string, body?: unknown) => {
    const res = await fetch(`${base}/api/v1/tenants/${tenant}${path}`, {
      method,
      headers: { Authorization: `Bearer ${await adminToken(tenant)}`, "Content-Type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> & { attempts?: unknown[]; total?: number } };
  };

  beforeAll(async () => {
    const { script } = await bundleWorker();
    persistDir = await mkdtemp(join(tmpdir(), "adsync-abuse-"));
    mf = await startWorker(script, { port: 0, persistDir });
    base = (await mf.ready).origin;
    expect(
      (await admin("sprayed", "PUT", "/config", config({ maxFailuresPerAddress: 3, allowedOrigins: ["https://phone.example.com"] })))
        .status,
    ).toBe(200);
    const token = (await admin("sprayed", "POST", "/agents/enrollment-tokens", { label: "scripted" })).body.token as string;
    agent = startScriptedAgent({
      url: base,
      credential: await enrollAgent(base, token, "scripted-abuse"),
      id: "scripted-abuse",
      answer: () => ({ entries: [] }),
    });
    await agent.connected;
  });
  afterAll(async () => {
    agent?.close();
    await mf?.dispose();
  });

  it("stores nothing for 1,000 attempts at 1,000 tenant names nobody uses", { timeout: 120_000 }, async () => {
    const before = stored(persistDir);
    const names = Array.from({ length: 1000 }, (_, i) => `nobody-${i}-${Math.random().toString(36).slice(2, 8)}`);
    const statuses = new Map<number, number>();
    for (let i = 0; i < names.length; i += 50) {
      const answers = await Promise.all(names.slice(i, i + 50).map((tenant) => login(tenant, "judy@example.com")));
      for (const a of answers) {
        statuses.set(a.status, (statuses.get(a.status) ?? 0) + 1);
        await a.body?.cancel();
      }
    }
    // The answer a wrong password gets, from every one of them.
    expect([...statuses]).toEqual([[401, 1000]]);
    const after = stored(persistDir);
    const added = [...after.keys()].filter((f) => !before.has(f));
    const grown = [...after].filter(([f, size]) => before.has(f) && (before.get(f) as number) < size).map(([f]) => f);
    expect({ added, grown: grown.filter((f) => !f.includes("sprayed")) }).toEqual({ added: [], grown: [] });
  });

  it("writes nothing for a tenant whose domain login is off, however often it is called", async () => {
    expect((await admin("quiet", "PUT", "/config", { ...config({}), domainLogin: { enabled: false } })).status).toBe(200);
    for (let i = 0; i < 50; i++) expect((await login("quiet", `user${i}@example.com`)).status).toBe(401);
    expect((await admin("quiet", "GET", "/auth/attempts")).body).toEqual({ total: 0, attempts: [] });
  });

  it("folds a flood of one attempt into one row of the log", async () => {
    for (let i = 0; i < 200; i += 20)
      await Promise.all(Array.from({ length: 20 }, () => login("sprayed", "flood@example.com", { "CF-Connecting-IP": "198.51.100.200" })));
    const log = (await admin("sprayed", "GET", "/auth/attempts?q=flood")).body as {
      total: number;
      attempts: Array<{ repeats: number; outcome: string }>;
    };
    // Paused after three from that address: one row of failures and one of pauses, with their counts.
    expect(log.total).toBeLessThanOrEqual(3);
    expect(log.attempts.reduce((n, a) => n + a.repeats, 0)).toBe(200);
  });

  it("pauses a client that rotates its IPv6 address inside its /64", async () => {
    const statuses: number[] = [];
    for (let host = 1; host <= 4; host++) {
      const res = await login("sprayed", `v6-${host}@example.com`, { "CF-Connecting-IP": `2001:db8:77:1::${host.toString(16)}` });
      statuses.push(res.status);
    }
    expect(statuses).toEqual([401, 401, 401, 429]);
    // Another /64 is another client.
    expect((await login("sprayed", "v6-other@example.com", { "CF-Connecting-IP": "2001:db8:77:2::1" })).status).toBe(401);
  });

  it("sends CORS headers only to the web origins the tenant lists", async () => {
    const preflight = (origin: string) =>
      fetch(`${base}/api/v1/tenants/sprayed/auth/domain-login`, {
        method: "OPTIONS",
        headers: { Origin: origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type" },
      });
    const allowed = await preflight("https://phone.example.com");
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get("Access-Control-Allow-Origin")).toBe("https://phone.example.com");
    expect(allowed.headers.get("Access-Control-Allow-Methods")).toBe("POST");
    const other = await preflight("https://evil.example.net");
    expect(other.headers.get("Access-Control-Allow-Origin")).toBeNull();
    const unknownTenant = await fetch(`${base}/api/v1/tenants/nobody-cors/auth/domain-login`, {
      method: "OPTIONS",
      headers: { Origin: "https://phone.example.com" },
    });
    expect(unknownTenant.headers.get("Access-Control-Allow-Origin")).toBeNull();
    const post = await login("sprayed", "cors@example.com", { Origin: "https://phone.example.com", "CF-Connecting-IP": "198.51.100.77" });
    expect(post.headers.get("Access-Control-Allow-Origin")).toBe("https://phone.example.com");
    const evil = await login("sprayed", "cors@example.com", { Origin: "https://evil.example.net", "CF-Connecting-IP": "198.51.100.78" });
    expect(evil.headers.get("Access-Control-Allow-Origin")).toBeNull();
  });
});
