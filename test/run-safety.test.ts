// The run as it ships, in workerd, fed by an agent whose directory the test scripts: a
// lookup or nested search cut short deletes nobody, a worker restarted in the middle of
// applying a plan finishes it with every operation done exactly once, and a run cancelled
// over HTTP in the middle of applying keeps what it applied and frees the lock.
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sign } from "hono/jwt";
import type { Miniflare } from "miniflare";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "./support/agent-process.ts";
import { enrollAgent } from "./support/enroll-agent.ts";
import {
  type ScriptedAgent,
  type ScriptedAnswer,
  type SearchOperation,
  scriptedUser,
  searchKind,
  startScriptedAgent,
} from "./support/scripted-agent.ts";
import { adminToken, type Json } from "./support/stack.ts";
import { bundleWorker, startWorker, testSecrets } from "./support/worker-bundle.ts";

const BASE = "DC=example,DC=com";
const GROUP = `CN=Phone Users,OU=Groups,${BASE}`;
const connection = {
  domainControllers: [{ host: "dc1.example.com" }],
  security: "ldaps",
  bindUsername: "svc-pbx@example.com",
  // The scripted agent holds no password; the worker sends none.
  bindPassword: { source: "agent" },
  baseDn: BASE,
};
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** One worker on a loopback port with its state on disk, and what a test does through it. */
async function worker(tenant: string, persistDir?: string, port?: number) {
  const { script } = await bundleWorker();
  const dir = persistDir ?? (await mkdtemp(join(tmpdir(), "adsync-run-safety-")));
  const at = port ?? (await freePort());
  const mf: Miniflare = await startWorker(script, { port: at, persistDir: dir });
  const base = (await mf.ready).origin;
  const token = await adminToken(tenant);
  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${base}/api/v1/tenants/${tenant}${path}`, {
      method,
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null, text };
  };
  const finished = async (runId: string, timeoutMs = 60_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const run = (await api("GET", `/runs/${runId}`)).body;
      if (!["queued", "reading", "planning", "applying"].includes(run.status)) return run;
      if (Date.now() > deadline) throw new Error(`run ${runId} still ${run.status} after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const sync = async () => {
    const started = await api("POST", "/sync");
    expect(started.status, started.text).toBe(202);
    return finished(started.body.id);
  };
  const extensions = async () => ((await api("GET", "/extensions?limit=1000")).body.extensions as Json[]).map((e) => e.number as string);
  return { mf, base, dir, port: at, api, finished, sync, extensions };
}

/** A scripted agent's credential: a token made and spent, as an agent's first start does. */
async function enroll(w: Awaited<ReturnType<typeof worker>>, id: string): Promise<string> {
  const created = await w.api("POST", "/agents/enrollment-tokens", { label: "scripted" });
  expect(created.status).toBe(201);
  return enrollAgent(w.base, created.body.token, id);
}

describe("an incomplete read through the run in workerd", () => {
  let w: Awaited<ReturnType<typeof worker>>;
  let agent: ScriptedAgent;
  /** What the scripted directory answers now; tests change it between runs. */
  let answer: (search: SearchOperation) => ScriptedAnswer = () => ({ entries: [] });

  beforeAll(async () => {
    w = await worker("partial");
    agent = startScriptedAgent({ url: w.base, credential: await enroll(w, "scripted-1"), id: "scripted-1", answer: (s) => answer(s) });
    await agent.connected;
  });
  afterAll(async () => {
    agent?.close();
    await w?.mf.dispose();
  });

  const deleting = (organisation: Record<string, unknown> = {}) => ({
    connection,
    scope: { users: "all" },
    extensionNumbers: { source: "sequential", ranges: [{ start: "1000", end: "1999" }] },
    organisation: { departments: { from: "none" }, ...organisation },
    deprovisioning: { whenDeleted: "delete", whenOutOfScope: "delete", whenDisabled: "delete" },
    safety: { maxDeletesPerRun: 100, maxDeletePercent: 100 },
    schedule: { mode: "manual" },
  });

  it("deletes nobody when the lookup of synced users outside the scope is cut short, and deletes once it is whole", async () => {
    expect((await w.api("PUT", "/config", deleting())).status).toBe(200);
    answer = (s) => ({ entries: searchKind(s) === "scope" ? range(1, 4).map((i) => scriptedUser(i)) : [] });
    expect(await w.sync()).toMatchObject({ status: "succeeded", complete: true, summary: { create: 4 } });
    expect(await w.extensions()).toEqual(["1000", "1001", "1002", "1003"]);

    // Users 3 and 4 are gone from the scope; the lookup that would say whether AD still has
    // them stops at a size limit.
    agent.searches.length = 0;
    answer = (s) =>
      searchKind(s) === "scope"
        ? { entries: [scriptedUser(1), scriptedUser(2)] }
        : { entries: [], complete: false, reason: "the size limit of 1 entries was reached" };
    const cut = await w.sync();
    expect(agent.searches.map(searchKind)).toEqual(["scope", "lookup"]);
    expect(cut).toMatchObject({
      status: "succeeded",
      complete: false,
      incompleteReason: "the size limit of 1 entries was reached",
      summary: { delete: 0, disable: 0, unchanged: 4 },
    });
    expect(await w.extensions()).toEqual(["1000", "1001", "1002", "1003"]);
    const kept = (await w.api("GET", `/runs/${cut.id}/items?q=User%203`)).body.items;
    expect(kept).toEqual([expect.objectContaining({ name: "User 3", action: "unchanged", reason: expect.stringMatching(/incomplete/) })]);

    // The same directory read whole: users 3 and 4 are deleted, and only they.
    answer = (s) => ({ entries: searchKind(s) === "scope" ? [scriptedUser(1), scriptedUser(2)] : [] });
    const whole = await w.sync();
    expect(whole).toMatchObject({ status: "succeeded", complete: true, summary: { delete: 2 } });
    const deleted = (await w.api("GET", `/runs/${whole.id}/items?action=delete`)).body.items.map((i: Json) => [i.number, i.name]);
    expect(deleted).toEqual([
      ["1002", "User 3"],
      ["1003", "User 4"],
    ]);
    expect(await w.extensions()).toEqual(["1000", "1001"]);
  });

  it("deletes nobody when the nested-group search is cut short", async () => {
    const config = deleting({ extensionGroups: { from: "memberOf", groups: [{ dn: GROUP, nested: true }] } });
    expect((await w.api("PUT", "/config", config)).status).toBe(200);
    answer = (s) => ({ entries: searchKind(s) === "lookup" ? [] : range(1, 2).map((i) => scriptedUser(i)) });
    expect(await w.sync()).toMatchObject({ status: "succeeded", complete: true });
    expect(await w.extensions()).toEqual(["1000", "1001"]);

    // User 2 is gone from AD (the lookup, whole, does not find them); the nested search times out.
    agent.searches.length = 0;
    answer = (s) =>
      searchKind(s) === "nested"
        ? { entries: [], complete: false, reason: "the time limit was reached" }
        : { entries: searchKind(s) === "scope" ? [scriptedUser(1)] : [] };
    const cut = await w.sync();
    expect(agent.searches.map(searchKind)).toEqual(["nested", "scope", "lookup"]);
    expect(cut).toMatchObject({ complete: false, incompleteReason: "the time limit was reached", summary: { delete: 0, disable: 0 } });
    expect(await w.extensions()).toEqual(["1000", "1001"]);
  });
});

/** A run of many creates and nothing else: long enough to stop in the middle of. */
const manyCreates = {
  connection,
  scope: { users: "all" },
  extensionNumbers: { source: "sequential", ranges: [{ start: "10000", end: "49999" }] },
  organisation: { departments: { from: "none" } },
  safety: { maxDeletesPerRun: 100, maxDeletePercent: 100 },
  schedule: { mode: "manual" },
};

describe("a worker restarted in the middle of applying a plan", () => {
  const USERS = 6000;

  it("finishes the run after the restart with every operation done exactly once", async () => {
    const first = await worker("resume");
    const config = manyCreates;
    expect((await first.api("PUT", "/config", config)).status).toBe(200);
    const credential = await enroll(first, "scripted-resume");
    const directory = (s: SearchOperation) => ({ entries: searchKind(s) === "scope" ? range(1, USERS).map((i) => scriptedUser(i)) : [] });
    let agent = startScriptedAgent({ url: first.base, credential, id: "scripted-resume", answer: directory });
    await agent.connected;

    const started = await first.api("POST", "/sync");
    expect(started.status).toBe(202);
    // Wait until some operations are done and most are not, then stop the worker there.
    const deadline = Date.now() + 60_000;
    let progress: Json;
    for (;;) {
      progress = (await first.api("GET", `/runs/${started.body.id}`)).body.progress;
      if (progress?.phase === "applying" && progress.done > 0) break;
      if (Date.now() > deadline) throw new Error(`the run did not start applying: ${JSON.stringify(progress)}`);
      await new Promise((r) => setTimeout(r, 10));
    }
    agent.close();
    await first.mf.dispose();
    expect(progress.done).toBeLessThan(USERS);

    // The same state on disk, the same address: the agent reconnects and the alarm goes on.
    const second = await worker("resume", first.dir, first.port);
    agent = startScriptedAgent({ url: second.base, credential, id: "scripted-resume", answer: directory });
    await agent.connected;
    try {
      const run = await second.finished(started.body.id, 120_000);
      expect(run).toMatchObject({ status: "succeeded", progress: { done: USERS, failed: 0, total: USERS } });
      const numbers = (await second.api("GET", "/extensions?limit=1000")).body;
      expect(numbers.total).toBe(USERS);
      // One create event per user, none twice, none missing.
      const events = (await second.api("GET", `/runs/${started.body.id}/events`)).body as Json[];
      const created = events.filter((e) => e.operation === "create").map((e) => e.user as string);
      expect(created).toHaveLength(USERS);
      expect(new Set(created).size).toBe(USERS);
      expect(new Set(created)).toEqual(new Set(range(1, USERS).map((i) => `User ${i}`)));
      // And the reads happened before the restart only: the plan was not made twice.
      expect(agent.searches).toEqual([]);
    } finally {
      agent.close();
      await second.mf.dispose();
    }
  }, 240_000);
});

describe("a run cancelled over HTTP", () => {
  const USERS = 30000;

  it("ends the run in the middle of applying, keeps what it applied, and lets a new Sync Now start", async () => {
    const w = await worker("cancel");
    const config = manyCreates;
    expect((await w.api("PUT", "/config", config)).status).toBe(200);
    const directory = (s: SearchOperation) => ({ entries: searchKind(s) === "scope" ? range(1, USERS).map((i) => scriptedUser(i)) : [] });
    const agent = startScriptedAgent({
      url: w.base,
      credential: await enroll(w, "scripted-cancel"),
      id: "scripted-cancel",
      answer: directory,
    });
    await agent.connected;
    try {
      const started = await w.api("POST", "/sync");
      expect(started.status).toBe(202);
      const id = started.body.id as string;
      // Some operations done, most not: the run is in the middle of applying.
      const deadline = Date.now() + 60_000;
      for (;;) {
        const progress = (await w.api("GET", `/runs/${id}`)).body.progress;
        if (progress?.phase === "applying" && progress.done > 0) break;
        if (Date.now() > deadline) throw new Error(`the run did not start applying: ${JSON.stringify(progress)}`);
        await new Promise((r) => setTimeout(r, 10));
      }

      const cancelled = await w.api("POST", `/runs/${id}/cancel`);
      expect(cancelled.status, cancelled.text).toBe(200);
      expect(cancelled.body).toMatchObject({
        id,
        status: "cancelled",
        error: expect.stringMatching(/^Cancelled by admin@cancel: \d+ operations applied/),
      });
      const done = cancelled.body.progress.done as number;
      expect(done).toBeGreaterThan(0);
      expect(done).toBeLessThan(USERS);

      // A viewer may not cancel, like any other write (asked once the run is cancelled, so
      // that the cancel above lands while the run still has steps to go).
      const viewer = await sign(
        { sub: "viewer@cancel", tenant: "cancel", role: "viewer", exp: Math.floor(Date.now() / 1000) + 3600 },
        testSecrets.ADMIN_JWT_SECRET,
      );
      const refused = await fetch(`${w.base}/api/v1/tenants/cancel/runs/${id}/cancel`, {
        method: "POST",
        headers: { Authorization: `Bearer ${viewer}` },
      });
      expect(refused.status).toBe(403);
      expect(((await refused.json()) as Json).error).toMatchObject({ code: "forbidden_role" });

      // Nothing more is applied after the cancel; what was applied stays, and is what the run reports.
      await new Promise((r) => setTimeout(r, 1_000));
      const after = (await w.api("GET", `/runs/${id}`)).body;
      expect(after).toMatchObject({ status: "cancelled", progress: { phase: "cancelled", done, total: USERS } });
      expect((await w.api("GET", "/extensions?limit=1")).body.total).toBe(done);
      const events = (await w.api("GET", `/runs/${id}/events`)).body as Json[];
      expect(events.filter((e) => e.operation === "create")).toHaveLength(done);
      expect(events.at(-1)).toMatchObject({
        type: "warning",
        user: "admin@cancel",
        event: expect.stringMatching(/^Cancelled by admin@cancel/),
      });

      // An ended run cannot be cancelled again; an unknown one is not found.
      expect(await w.api("POST", `/runs/${id}/cancel`)).toMatchObject({ status: 409, body: { error: { code: "run_finished" } } });
      expect(await w.api("POST", "/runs/no-such-run/cancel")).toMatchObject({ status: 404, body: { error: { code: "run_not_found" } } });

      // The lock is free: a new Sync Now starts (202) and does the rest.
      const next = await w.sync();
      expect(next).toMatchObject({ status: "succeeded", summary: { create: USERS - done, unchanged: done } });
      expect((await w.api("GET", "/extensions?limit=1")).body.total).toBe(USERS);
    } finally {
      agent.close();
      await w.mf.dispose();
    }
  }, 240_000);
});
