// An agent that breaks the protocol, against the bundled worker in workerd: whatever it
// sends (a frame over the limit, null, a binary frame, an answer to a request it was not
// given), its socket is closed with a code that says why and the worker keeps serving the
// well-behaved agent; a flood of pages it does not wait to have acknowledged leaves the
// worker's memory bounded. (The window rule itself, for a worker that falls behind, is tested
// on AgentLink.)
import { readdirSync, readFileSync } from "node:fs";
import type { Miniflare } from "miniflare";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { agentCloseCodes, agentConnectPath, agentHeaders, agentProtocolVersion, type WorkerMessage } from "../schema/src/agent-protocol.ts";
import { freePort } from "./support/agent-process.ts";
import { enrollAgent } from "./support/enroll-agent.ts";
import { type ScriptedAgent, scriptedUser, startScriptedAgent } from "./support/scripted-agent.ts";
import { adminToken } from "./support/stack.ts";
import { bundleWorker, startWorker } from "./support/worker-bundle.ts";

const connection = {
  domainControllers: [{ host: "dc1.example.com" }],
  security: "ldaps",
  bindUsername: "svc-pbx@example.com",
  bindPassword: { source: "agent" },
  baseDn: "DC=example,DC=com",
};

/** Resident memory of the workerd process serving `port`, in bytes (Linux /proc). */
function workerdRss(port: number): number {
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    let cmdline = "";
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
    } catch {
      continue;
    }
    if (!cmdline.includes("workerd") || !cmdline.includes(`127.0.0.1:${port}`)) continue;
    const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
    if (rss) return Number(rss) * 1024;
  }
  throw new Error(`no workerd process serves port ${port}`);
}

/** A raw agent socket: what the test sends is exactly what goes on the wire. */
async function rawAgent(base: string, token: string, id: string) {
  // An enrolled agent: the hostile one has a credential of its own, as a compromised host would.
  const credential = await enrollAgent(base, token, id);
  const url = new URL(agentConnectPath, base);
  url.protocol = "ws:";
  const socket = new WebSocket(url, {
    headers: { Authorization: `Bearer ${credential}`, [agentHeaders.id]: id, [agentHeaders.protocol]: String(agentProtocolVersion) },
  } as never);
  const requests: WorkerMessage[] = [];
  socket.addEventListener("message", (e) => requests.push(JSON.parse(String(e.data))));
  const opened = new Promise<void>((resolve, reject) => {
    socket.addEventListener("open", () => resolve());
    socket.addEventListener("error", () => reject(new Error("the raw agent could not connect")));
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    socket.addEventListener("close", (e) => resolve({ code: e.code, reason: e.reason })),
  );
  return { socket, requests, opened, closed };
}

const within = <T>(p: Promise<T>, ms: number, what: string) =>
  Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms))]);

describe("an agent that breaks the protocol", () => {
  let mf: Miniflare;
  let base: string;
  let port: number;
  let good: ScriptedAgent;
  let goodCredential: string;
  const logs: string[] = [];
  let admin: string;
  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${base}/api/v1/tenants/hostile${path}`, {
      method,
      headers: { Authorization: `Bearer ${admin}`, "Content-Type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  };
  /** A new enrollment token: each one enrolls a single agent. */
  const token = async (): Promise<string> => (await api("POST", "/agents/enrollment-tokens", { label: "hostile" })).body.token;
  const startGood = async () => {
    good = startScriptedAgent({
      url: base,
      credential: goodCredential,
      id: "good-agent",
      answer: () => ({ entries: [scriptedUser(1, "OU=Groups,DC=example,DC=com")] }),
    });
    await good.connected;
  };
  /** The good agent serves the editor's group search: the worker is alive and well. */
  const stillServes = async () => {
    const res = await api("GET", "/directory/groups?q=");
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.groups.map((g: { name: string }) => g.name)).toEqual(["User 1"]);
  };

  beforeAll(async () => {
    const { script } = await bundleWorker();
    port = await freePort();
    mf = await startWorker(script, { port, onLog: (l) => logs.push(l) });
    base = (await mf.ready).origin;
    admin = await adminToken("hostile");
    const config = { connection, scope: { users: "all" }, schedule: { mode: "manual" } };
    expect((await api("PUT", "/config", config)).status).toBe(200);
    goodCredential = await enrollAgent(base, await token(), "good-agent");
    await startGood();
  });
  afterAll(async () => {
    good?.close();
    await mf?.dispose();
  });

  it.each([
    [
      "a frame over the 4 MiB limit",
      (s: WebSocket) => s.send("x".repeat(5 * 1024 * 1024)),
      agentCloseCodes.messageTooBig,
      /over the 4194304-byte limit/,
    ],
    ["null", (s: WebSocket) => s.send("null"), agentCloseCodes.malformed, /not an object/],
    ["text that is not JSON", (s: WebSocket) => s.send("{"), agentCloseCodes.malformed, /not JSON/],
    ["a binary frame", (s: WebSocket) => s.send(new Uint8Array([1, 2, 3])), agentCloseCodes.malformed, /binary/],
    [
      "an answer to a request it was not given",
      (s: WebSocket) => s.send(JSON.stringify({ type: "result", id: "00000000-0000-4000-8000-000000000000", result: { ok: true } })),
      agentCloseCodes.foreignRequest,
      /not given/,
    ],
  ])("is disconnected for %s, and the worker goes on", async (what, send, code, reason) => {
    const id = `evil-${code}-${what.replace(/[^a-z0-9]+/gi, "-").slice(0, 30)}`;
    const evil = await rawAgent(base, await token(), id);
    await within(evil.opened, 5000, "connect");
    send(evil.socket);
    const closed = await within(evil.closed, 10_000, "close");
    expect(closed.code).toBe(code);
    expect(closed.reason).toMatch(reason);
    await expect.poll(() => logs.join("\n"), { timeout: 5000 }).toContain(`"agentId":"${id}"`);
    expect(logs.find((l) => l.includes("agent_protocol_violation") && l.includes(id))).toBeDefined();
    // And the administrator reads it in the agents' log.
    const events = (await api("GET", "/agents/events")).body as Array<{ type: string; agentId: string; detail: string }>;
    expect(events.find((e) => e.type === "protocol_violation" && e.agentId === id)?.detail).toMatch(new RegExp(`^${code} `));
    await stillServes();
  });

  it("takes a flood of unacknowledged pages in with bounded memory, and a read cut off by its agent fails cleanly", {
    timeout: 120_000,
  }, async () => {
    // Only the hostile agent is connected, so the Preview's read goes to it.
    good.close();
    await expect
      .poll(async () => (await api("GET", "/agents")).body.filter((a: { connected: boolean }) => a.connected).length, { timeout: 10_000 })
      .toBe(0);
    const evil = await rawAgent(base, await token(), "evil-flood");
    await within(evil.opened, 5000, "connect");
    const before = workerdRss(port);
    const preview = api("POST", "/preview");
    await expect.poll(() => evil.requests.find((m) => m.type === "request"), { timeout: 10_000 }).toBeDefined();
    const request = evil.requests.find((m) => m.type === "request") as { id: string };
    // 150 pages of users with 700 KB photos, about 140 MB, sent without waiting for a single
    // acknowledgement: more than a Durable Object's 128 MB if the worker held them.
    const photo = Buffer.alloc(700 * 1024, 7).toString("base64");
    const frames = Array.from({ length: 150 }, (_, i) => {
      const user = scriptedUser(i + 1);
      return JSON.stringify({
        type: "page",
        id: request.id,
        entries: [{ ...user, attributes: { ...user.attributes, thumbnailPhoto: [photo] }, binary: ["objectGUID", "thumbnailPhoto"] }],
      });
    });
    let peak = before;
    for (const frame of frames) if (evil.socket.readyState === WebSocket.OPEN) evil.socket.send(frame);
    // The worker either keeps up (each page staged and acknowledged before the next is read)
    // or, if it falls behind, closes the socket at the third unacknowledged page; either way
    // it holds at most the window.
    await expect
      .poll(
        async () => {
          peak = Math.max(peak, workerdRss(port));
          const run = (await api("GET", "/runs")).body[0];
          return evil.socket.readyState !== WebSocket.OPEN || run?.progress?.read === 150;
        },
        { timeout: 60_000, interval: 100 },
      )
      .toBe(true);
    const grown = peak - before;
    console.log(`workerd resident memory grew by at most ${(grown / 1048576).toFixed(1)} MB while 140 MB of pages arrived unacknowledged`);
    expect(grown).toBeLessThan(64 * 1024 * 1024);
    // The agent goes away in the middle of the read: the Preview fails, and says why.
    evil.socket.close();
    const answer = await within(preview, 30_000, "preview");
    expect(answer.status).toBe(502);
    expect(answer.body.error.message).toMatch(/disconnected/);
    await startGood();
    await stillServes();
  });
});
