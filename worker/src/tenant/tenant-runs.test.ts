// TenantRuns on its own: node:sqlite for the tenant's storage, an agent that streams a small
// directory, a recorded alarm and a clock the test moves.
import { DatabaseSync } from "node:sqlite";
import { describe, expect, it } from "vitest";
import type { SyncConfig } from "../../../schema/generated/config.ts";
import type { SearchCompleteness, WireEntry } from "../../../schema/src/agent-protocol.ts";
import { sqliteStorage } from "../../../test/support/sqlite-storage.ts";
import { BuiltinPbx } from "../pbx/builtin/builtin-pbx.ts";
import type { PageSink } from "./agent-link.ts";
import { TenantRuns } from "./tenant-runs.ts";

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

function tenantRuns(options: { users?: number; config?: SyncConfig; agent?: boolean } = {}) {
  const db = new DatabaseSync(":memory:");
  const sql = sqliteStorage(db);
  const pbx = new BuiltinPbx(sql);
  const state = { now: Date.now(), alarm: null as number | null, agent: options.agent ?? true, config: options.config ?? baseConfig };
  const entries = Array.from({ length: options.users ?? 3 }, (_, i) => entry(i + 1));
  const runs = new TenantRuns(sql, {
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
        for (let i = 0; i < found.length; i += 7) await sink?.page(found.slice(i, i + 7));
        return { complete: true, pages: 1, entries: found.length };
      },
    },
    pbx,
    alarms: {
      setAlarm: async (at) => {
        state.alarm = at;
      },
      deleteAlarm: async () => {
        state.alarm = null;
      },
    },
    agentConnected: () => state.agent,
    now: () => state.now,
  });
  /** Runs the alarm while it is due, as the runtime would; bounded, so a loop that never ends fails instead. */
  const fireAlarms = async () => {
    for (let i = 0; i < 50; i++) {
      if (state.alarm === null || state.alarm > state.now) return;
      await runs.alarm();
    }
    throw new Error("the alarm was still due after 50 rounds");
  };
  return { runs, pbx, state, fireAlarms };
}

describe("TenantRuns", () => {
  it("drives a Sync Now run to the end through the alarm, and disarms it after", async () => {
    const { runs, pbx, state, fireAlarms } = tenantRuns({ users: 450 });
    const started = await runs.startSync("acme", "admin");
    expect(started.status).toBe("queued");
    expect(state.alarm).toBe(state.now);
    await fireAlarms();
    expect(runs.get(started.id)).toMatchObject({ status: "succeeded", progress: { done: 450, failed: 0, total: 450 } });
    expect(pbx.count()).toBe(450);
    expect(state.alarm).toBeNull();
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
});
