// TenantRuns on its own: node:sqlite for the tenant's storage, an agent that streams a small
// directory, a PBX a test can make throw or hang, a recorded alarm and a clock the test moves.
import { DatabaseSync } from "node:sqlite";
import { describe, expect, it } from "vitest";
import type { PbxDirectory } from "../../../engine/pbx/pbx-port.ts";
import type { PlanItem } from "../../../engine/plan.ts";
import type { SyncConfig } from "../../../schema/generated/config.ts";
import type { SearchCompleteness, WireEntry } from "../../../schema/src/agent-protocol.ts";
import { sqliteStorage } from "../../../test/support/sqlite-storage.ts";
import { BuiltinPbx } from "../pbx/builtin/builtin-pbx.ts";
import type { RunEvent } from "../sync/sync-runs.ts";
import type { PageSink } from "./agent-link.ts";
import { type RunDeps, TenantRuns, type WatchdogOptions } from "./tenant-runs.ts";

const BASE = "DC=example,DC=com";
const DAY = 86_400_000;
const baseConfig: SyncConfig = {
  connection: { domainControllers: [{ host: "dc1" }], bindUsername: "svc", bindPassword: { source: "agent" }, baseDn: BASE },
  extensionNumbers: { source: "sequential", ranges: [{ start: "1000", end: "1999" }] },
  schedule: { mode: "manual" },
};

function entry(i: number): WireEntry {
  const guid = Buffer.alloc(16, 0);
  guid.writeUInt32BE(i, 12);
  return {
    dn: `CN=User ${i},OU=Staff,${BASE}`,
    attributes: { objectGUID: [guid.toString("base64")], displayName: [`User ${i}`], userAccountControl: ["512"] },
    binary: ["objectGUID"],
  };
}

/**
 * What a test makes the PBX do on a call before the call itself: throw, hang (a promise that
 * never settles) or wait for the test (a gate). Undefined lets the call through.
 */
type Fault = (method: string, args: unknown[]) => Promise<void> | undefined;

/** The built-in PBX with `fault` consulted before every method call. */
function faultyPbx(pbx: BuiltinPbx, fault: () => Fault | undefined, requestsPerOperation?: number): PbxDirectory {
  return new Proxy(pbx, {
    get(target, prop, receiver) {
      if (prop === "requestsPerOperation" && requestsPerOperation !== undefined) return requestsPerOperation;
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== "function") return value;
      // A listing in pages is an async iterable: the fault comes before its first page.
      if (prop === "listExtensionPages")
        return async function* (...args: unknown[]) {
          await fault()?.(String(prop), args);
          yield* value.apply(target, args) as AsyncIterable<unknown>;
        };
      return (...args: unknown[]) => {
        const before = fault()?.(String(prop), args);
        if (before === undefined) return value.apply(target, args);
        return before.then(() => value.apply(target, args));
      };
    },
  });
}

/** A promise that never settles: from outside, a step whose isolate was torn down mid-await. */
const never = () => new Promise<void>(() => {});

function tenantRuns(
  options: {
    users?: number;
    config?: SyncConfig;
    agent?: boolean;
    watchdog?: Partial<WatchdogOptions>;
    /** What the PBX declares an operation costs in subrequests; 5, as a vendor's, makes 200-operation steps. */
    requestsPerOperation?: number;
  } = {},
) {
  const db = new DatabaseSync(":memory:");
  const sql = sqliteStorage(db);
  const pbx = new BuiltinPbx(sql);
  const state = {
    now: Date.now(),
    alarm: null as number | null,
    agent: options.agent ?? true,
    config: options.config ?? baseConfig,
    fault: undefined as Fault | undefined,
    /** While set, the directory read waits for it before its first page. */
    readGate: undefined as Promise<void> | undefined,
  };
  const entries = Array.from({ length: options.users ?? 3 }, (_, i) => entry(i + 1));
  const deps: RunDeps = {
    config: {
      config: () => state.config,
      rememberTenant: () => {},
      tenantName: () => "acme",
      target: async (_tenant, config) => ({ connection: config.connection as never }),
    },
    link: {
      // The scope's search answers the users; the lookup of synced users outside it, nobody.
      stream: async (operation, _timeout, sink?: PageSink): Promise<SearchCompleteness> => {
        const found = operation.op === "search" && !operation.filter.includes("objectGUID=") ? entries : [];
        await state.readGate;
        for (let i = 0; i < found.length; i += 7) await sink?.page(found.slice(i, i + 7));
        return { complete: true, pages: 1, entries: found.length };
      },
    },
    pbx: faultyPbx(pbx, () => state.fault, options.requestsPerOperation),
    alarms: {
      setAlarm: async (at) => {
        state.alarm = at;
      },
      deleteAlarm: async () => {
        state.alarm = null;
      },
      sync: async () => {},
    },
    agentConnected: () => state.agent,
    now: () => state.now,
    ...(options.watchdog ? { watchdog: options.watchdog } : {}),
  };
  const h = {
    runs: new TenantRuns(sql, deps),
    pbx,
    state,
    /** Rows left in the stage tables, all runs together. */
    stagedRows: () =>
      sql
        .exec<{ name: string }>(
          "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'stage\\_%' ESCAPE '\\' AND name <> 'stage_drops'",
        )
        .toArray()
        .reduce((n, { name }) => n + Number(sql.exec<{ n: number }>(`SELECT count(*) AS n FROM ${name}`).one().n), 0),
    /** Runs the alarm while it is due, as the runtime would; bounded, so a loop that never ends fails instead. */
    fireAlarms: async () => {
      for (let i = 0; i < 50; i++) {
        if (state.alarm === null || state.alarm > state.now) return;
        await h.runs.alarm();
      }
      throw new Error("the alarm was still due after 50 rounds");
    },
    /** Moves the clock to the alarm and fires it, until the alarm is not set or `until` holds; bounded too. */
    waitForAlarms: async (until: () => boolean) => {
      for (let i = 0; i < 50; i++) {
        if (until() || state.alarm === null) return;
        state.now = Math.max(state.now, state.alarm);
        await h.runs.alarm();
      }
      throw new Error("still waiting after 50 alarms");
    },
    /**
     * The object reset (evicted, or over a CPU or memory limit) with a step under way: a new
     * TenantRuns over the same SQLite and the same alarm, as the runtime's next instance is. What
     * the old one wrote stays; what it holds in memory (the runs it was driving) is gone.
     */
    restart: () => {
      h.runs = new TenantRuns(sql, deps);
    },
  };
  return h;
}

describe("TenantRuns", () => {
  it("drives a Sync Now run to the end through the alarm, and disarms it after", async () => {
    const { runs, pbx, state, fireAlarms, stagedRows } = tenantRuns({ users: 450 });
    const started = await runs.startSync("acme", "admin");
    expect(started.status).toBe("queued");
    expect(state.alarm).toBe(state.now);
    await fireAlarms();
    expect(runs.get(started.id)).toMatchObject({ status: "succeeded", progress: { done: 450, failed: 0, total: 450 } });
    expect(pbx.count()).toBe(450);
    // What the run staged is cleared by the alarm once the run is over, and then the alarm rests.
    expect(stagedRows()).toBe(0);
    expect(state.alarm).toBeNull();
  });

  it("clears a run's dropped stages only while no run is going, so the clearing never lengthens a run", async () => {
    const t = tenantRuns({ users: 450, requestsPerOperation: 5 });
    const started = await t.runs.startSync("acme", "admin");
    // Planned: what the read staged is dropped, but not deleted while the run applies.
    for (let i = 0; i < 20 && t.runs.get(started.id).status !== "applying"; i++) await t.runs.alarm();
    expect(t.runs.get(started.id)).toMatchObject({ status: "applying", progress: { done: 0 } });
    const staged = t.stagedRows();
    expect(staged).toBeGreaterThan(0);
    await t.runs.alarm();
    expect(t.runs.get(started.id)).toMatchObject({ status: "applying", progress: { done: 200 } });
    expect(t.stagedRows()).toBe(staged);

    await t.fireAlarms();
    expect(t.runs.get(started.id).status).toBe("succeeded");
    expect(t.stagedRows()).toBe(0);
    expect(t.state.alarm).toBeNull();
  });

  it("applies the log's retention whenever a run starts: Sync Now, Preview and a scheduled run", async () => {
    const { runs, state, fireAlarms } = tenantRuns({ config: { ...baseConfig, log: { retentionDays: 30 } } });
    const first = await runs.startSync("acme", "admin");
    await fireAlarms();
    const start = state.now;

    // 29 days on, a Preview keeps the run of 29 days ago.
    state.now = start + 29 * DAY;
    const preview = await runs.preview("acme", "admin", 10);
    expect(runs.list(10, 0).map((r) => r.id)).toEqual([preview.run.id, first.id]);

    // 31 days on, Sync Now drops it, with its items and events; the preview (still young by
    // the log's clock) stays.
    state.now = start + 31 * DAY;
    const second = await runs.startSync("acme", "admin");
    expect(runs.list(10, 0).map((r) => r.id)).toEqual([second.id, preview.run.id]);
    expect(() => runs.get(first.id)).toThrow(expect.objectContaining({ status: 404, code: "run_not_found" }));
    await fireAlarms();

    // A scheduled run prunes the same way, here with the default retention of 90 days: 122
    // days on, both runs of days 29 and 31 are older than that.
    state.config = { ...baseConfig, schedule: { mode: "interval", everyMinutes: 15 } };
    await runs.configSaved(state.config);
    state.now = start + 122 * DAY;
    await fireAlarms();
    const left = runs.list(10, 0);
    expect(left).toHaveLength(1);
    expect(left[0]).toMatchObject({ trigger: "schedule", status: "succeeded" });
  });

  it("logs a scheduled run as missed when no agent is connected, and sets the next slot", async () => {
    const config: SyncConfig = { ...baseConfig, schedule: { mode: "interval", everyMinutes: 15 } };
    const { runs, state, fireAlarms } = tenantRuns({ config, agent: false });
    await runs.configSaved(config);
    const due = state.now + 15 * 60_000;
    expect(runs.schedule()).toEqual({ mode: "interval", nextRunAt: new Date(due).toISOString() });
    expect(state.alarm).toBe(due);
    state.now = due;
    await fireAlarms();
    expect(runs.list(10, 0)).toEqual([expect.objectContaining({ status: "missed", trigger: "schedule" })]);
    expect(runs.events(runs.list(10, 0)[0]?.id as string, "json")).toEqual([
      expect.objectContaining({ type: "warning", event: expect.stringContaining("no connector agent was connected") }),
    ]);
    expect(state.alarm).toBe(due + 15 * 60_000);
  });

  it("refuses Preview and Sync Now without an agent, and before a connection is saved", async () => {
    const offline = tenantRuns({ agent: false });
    await expect(offline.runs.startSync("acme", "admin")).rejects.toMatchObject({ status: 503, code: "agent_offline" });
    const unconfigured = tenantRuns({ config: { extensionNumbers: baseConfig.extensionNumbers } as SyncConfig });
    await expect(unconfigured.runs.preview("acme", "admin", 10)).rejects.toMatchObject({ status: 409, code: "not_configured" });
    expect(offline.runs.list(10, 0)).toEqual([]);
  });

  describe("the watchdog", () => {
    it("fails a run whose step throws every time after N attempts, with the error; the lock and the schedule go on", async () => {
      const config: SyncConfig = { ...baseConfig, schedule: { mode: "interval", everyMinutes: 60 } };
      const t = tenantRuns({ config, watchdog: { maxAttempts: 3, retryMs: 1_000 } });
      await t.runs.configSaved(config);
      const slot = t.state.now + 60 * 60_000;
      let listings = 0;
      t.state.fault = (method) => {
        if (method !== "listExtensionPages") return undefined;
        listings++;
        return Promise.reject(new Error("the PBX database is locked"));
      };
      const start = t.state.now;
      const started = await t.runs.startSync("acme", "admin");
      await t.waitForAlarms(() => !["queued", "reading", "planning"].includes(t.runs.get(started.id).status));

      // Three attempts, 1 s then 2 s apart, and no more.
      expect(listings).toBe(3);
      expect(t.state.now - start).toBe(3_000);
      const reason =
        "The run stopped making progress: its planning step was interrupted 3 times in a row (last error: the PBX database is locked).";
      expect(t.runs.get(started.id)).toMatchObject({ status: "failed", error: reason });
      expect((t.runs.events(started.id, "json") as RunEvent[]).filter((e) => e.type !== "info").map((e) => [e.type, e.event])).toEqual([
        ["warning", "The read and plan step failed (attempt 1 of 3): the PBX database is locked; trying again in 1 s"],
        // The read is done: the second attempt plans from it.
        ["warning", "The planning step failed (attempt 2 of 3): the PBX database is locked; trying again in 2 s"],
        ["error", `Run failed: ${reason}`],
      ]);
      // The schedule goes on: once the alarm has cleared the failed run's stages, its next
      // slot is what the alarm is set to.
      await t.fireAlarms();
      expect(t.state.alarm).toBe(slot);
      expect(t.runs.schedule().nextRunAt).toBe(new Date(slot).toISOString());

      // The lock is free: a new Sync Now starts, and with a PBX that answers, finishes.
      t.state.fault = undefined;
      const next = await t.runs.startSync("acme", "admin");
      expect(next.status).toBe("queued");
      await t.fireAlarms();
      expect(t.runs.get(next.id)).toMatchObject({ status: "succeeded", progress: { done: 3, total: 3 } });
    });

    // How a step "dies without throwing" is simulated: when a Durable Object is reset in the
    // middle of an alarm (evicted, over its CPU or memory limit, a deploy), its isolate is
    // dropped. The alarm handler's promise never settles, nothing after the await it was in runs
    // (the bookkeeping after the step included), and the next alarm goes to a fresh instance
    // that has only the storage. Here a PBX call that never returns is the await the isolate
    // died in, and restart() is the fresh instance over the same SQLite and the same alarm.
    it("fails a run whose step dies without throwing, once it was interrupted N times in a row", async () => {
      const t = tenantRuns({ watchdog: { maxAttempts: 3, watchdogMs: 60_000 } });
      let creates = 0;
      t.state.fault = (method) => {
        if (method !== "createExtension") return undefined;
        creates++;
        return never();
      };
      const started = await t.runs.startSync("acme", "admin");
      await t.runs.alarm();
      expect(t.runs.get(started.id).status).toBe("applying");

      for (let attempt = 1; attempt <= 3; attempt++) {
        const at = t.state.now;
        void t.runs.alarm();
        await expect.poll(() => creates, { timeout: 5_000, interval: 1 }).toBe(attempt);
        // Before the step began, its attempt was on disk and the watchdog alarm set.
        expect(t.state.alarm).toBe(at + 60_000);
        if (attempt === 1) {
          // The watchdog firing while this instance still drives the step leaves it alone.
          t.state.now = t.state.alarm as number;
          await t.runs.alarm();
          expect(creates).toBe(1);
          expect(t.state.alarm).toBe(t.state.now + 60_000);
        }
        // Nothing else wakes the object: its watchdog alarm does, in a new instance, which
        // sees the step under way never came back and looks at once.
        t.state.now = t.state.alarm as number;
        t.restart();
        expect(t.state.alarm).toBe(t.state.now);
      }
      await t.runs.alarm();
      expect(creates).toBe(3);
      const reason =
        "The run stopped making progress: its apply step was interrupted 3 times in a row (no error was caught: the instance was evicted, or went over a CPU or memory limit, in the middle of the step).";
      expect(t.runs.get(started.id)).toMatchObject({ status: "failed", error: reason, progress: { done: 0, total: 3 } });
      expect((t.runs.events(started.id, "json") as RunEvent[]).filter((e) => e.type !== "info").map((e) => e.event)).toEqual([
        "The apply step was interrupted without an error (attempt 1 of 3)",
        "The apply step was interrupted without an error (attempt 2 of 3)",
        "The apply step was interrupted without an error (attempt 3 of 3)",
        `Run failed: ${reason}`,
      ]);
      // The create the step died in is not known to have happened, and says so.
      expect(t.runs.items(started.id, { limit: 1 }).items[0]).toMatchObject({
        status: "pending",
        error: expect.stringMatching(/^Interrupted/),
      });
      // The failed run's stages are cleared by the alarm, now the object is idle; then nothing is armed.
      expect(t.state.alarm).toBe(t.state.now);
      await t.fireAlarms();
      expect(t.stagedRows()).toBe(0);
      expect(t.state.alarm).toBeNull();

      t.state.fault = undefined;
      const next = await t.runs.startSync("acme", "admin");
      await t.fireAlarms();
      expect(t.runs.get(next.id).status).toBe("succeeded");
      expect(t.pbx.count()).toBe(3);
    });

    it("starts the count again when a step moved the run on before it died", async () => {
      // Each create from 1000 to 1004 hangs the first time: five deaths in a row, each (but the
      // first) after the one before had been done, with only two attempts allowed without progress.
      const t = tenantRuns({ users: 6, watchdog: { maxAttempts: 2, watchdogMs: 60_000 } });
      const hung: string[] = [];
      t.state.fault = (method, args) => {
        const number = (args[0] as { state?: { number?: string } } | undefined)?.state?.number ?? "";
        if (method !== "createExtension" || hung.includes(number) || Number(number) > 1004) return undefined;
        hung.push(number);
        return never();
      };
      const started = await t.runs.startSync("acme", "admin");
      await t.runs.alarm();
      for (let death = 1; death <= 5; death++) {
        void t.runs.alarm();
        await expect.poll(() => hung.length, { timeout: 5_000, interval: 1 }).toBe(death);
        t.state.now = t.state.alarm as number;
        t.restart();
      }
      await t.fireAlarms();
      expect(t.runs.get(started.id)).toMatchObject({ status: "succeeded", progress: { done: 6, failed: 0, total: 6 } });
      expect(t.pbx.views().map((e) => e.number)).toEqual(["1000", "1001", "1002", "1003", "1004", "1005"]);
      const interrupted = (t.runs.events(started.id, "json") as RunEvent[]).filter((e) => /interrupted/.test(e.event)).map((e) => e.event);
      expect(interrupted).toEqual([
        "The apply step was interrupted without an error (attempt 1 of 2)",
        ...Array(4).fill("A step was interrupted after it had moved the run on; the apply step goes on from there"),
      ]);
    });
  });

  describe("cancel", () => {
    it("ends a run mid-apply: what was applied stays and is reported, the lock is free, the event names who", async () => {
      const t = tenantRuns({ users: 450, requestsPerOperation: 5 });
      const started = await t.runs.startSync("acme", "admin");
      await t.runs.alarm(); // read and plan
      await t.runs.alarm(); // the first chunk of 200
      expect(t.pbx.count()).toBe(200);

      const message = "Cancelled by second-admin: 200 operations applied (they stay applied), 0 failed, 250 not applied";
      const cancelled = await t.runs.cancel(started.id, "second-admin");
      expect(cancelled).toMatchObject({
        status: "cancelled",
        finishedAt: t.state.now,
        error: `${message}.`,
        progress: { phase: "cancelled", done: 200, failed: 0, total: 450 },
      });
      expect((t.runs.events(started.id, "json") as RunEvent[]).at(-1)).toMatchObject({
        type: "warning",
        event: message,
        user: "second-admin",
      });
      // The items answer carries each operation's journal status beside the plan item.
      const statuses = (t.runs.items(started.id, { limit: 1000 }).items as Array<PlanItem & { status?: string }>).map((i) => i.status);
      expect(statuses.filter((s) => s === "done")).toHaveLength(200);
      expect(statuses.filter((s) => s === "pending")).toHaveLength(250);
      // Nothing more is applied: the alarm only clears the run's stages, then is off (the
      // schedule is manual).
      await t.fireAlarms();
      expect(t.state.alarm).toBeNull();
      await t.runs.alarm();
      expect(t.pbx.count()).toBe(200);

      const next = await t.runs.startSync("acme", "admin");
      expect(next.status).toBe("queued");
      await t.fireAlarms();
      expect(t.runs.get(next.id)).toMatchObject({ status: "succeeded", summary: { create: 250, unchanged: 200 } });
      expect(t.pbx.count()).toBe(450);
    });

    it("lets the operation under way in this instance finish and be logged, and applies nothing after it", async () => {
      const t = tenantRuns({ users: 12 });
      let release = () => {};
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      let reached = false;
      t.state.fault = (method, args) => {
        if (method !== "createExtension" || (args[0] as { state: { number: string } }).state.number !== "1005") return undefined;
        reached = true;
        return gate;
      };
      const started = await t.runs.startSync("acme", "admin");
      await t.runs.alarm();
      const step = t.runs.alarm();
      await expect.poll(() => reached, { timeout: 5_000, interval: 1 }).toBe(true);

      const cancelled = await t.runs.cancel(started.id, "admin");
      expect(cancelled.error).toBe(
        "Cancelled by admin: 5 operations applied (they stay applied), 0 failed, 6 not applied; the operation under way finishes and is logged after this.",
      );
      release();
      await step;
      // Cancelled it stays; the create under way was done and logged after the cancel, no other.
      expect(t.runs.get(started.id)).toMatchObject({ status: "cancelled", progress: { done: 6, total: 12 } });
      expect(t.pbx.views().map((e) => e.number)).toEqual(["1000", "1001", "1002", "1003", "1004", "1005"]);
      const events = (t.runs.events(started.id, "json") as RunEvent[]).map((e) => e.event);
      expect(events.slice(-2)).toEqual([expect.stringMatching(/^Cancelled by admin/), expect.stringMatching(/^Created extension 1005 /)]);
      // The cancelled run's stages are cleared by the alarm; then nothing is armed.
      expect(t.state.alarm).toBe(t.state.now);
      await t.fireAlarms();
      expect(t.stagedRows()).toBe(0);
      expect(t.state.alarm).toBeNull();
    });

    it("stops a run during its read: nothing is staged or planned, and nothing changed", async () => {
      const t = tenantRuns({ users: 20 });
      let release = () => {};
      t.state.readGate = new Promise<void>((resolve) => {
        release = resolve;
      });
      const started = await t.runs.startSync("acme", "admin");
      const step = t.runs.alarm();
      await expect.poll(() => t.runs.get(started.id).status, { timeout: 5_000, interval: 1 }).toBe("reading");
      expect((await t.runs.cancel(started.id, "admin")).error).toBe(
        "Cancelled by admin: the directory read was stopped; nothing was changed.",
      );
      release();
      await step;
      expect(t.runs.get(started.id)).toMatchObject({ status: "cancelled", summary: null });
      expect(t.runs.items(started.id, {}).total).toBe(0);
      expect(t.pbx.count()).toBe(0);
    });

    it("answers 409 for a run that has ended, and 404 for an unknown one", async () => {
      const t = tenantRuns();
      const started = await t.runs.startSync("acme", "admin");
      await t.fireAlarms();
      await expect(t.runs.cancel(started.id, "admin")).rejects.toMatchObject({
        status: 409,
        code: "run_finished",
        message: `Run ${started.id} has already ended (succeeded); there is nothing to cancel.`,
      });
      expect(t.runs.get(started.id).status).toBe("succeeded");
      await expect(t.runs.cancel("no-such-run", "admin")).rejects.toMatchObject({ status: 404, code: "run_not_found" });
    });
  });
});
