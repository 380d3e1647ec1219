// Runs and the schedule: Preview, Sync Now, approval of held runs, the run log, and the one
// alarm that both drives a run in progress (a chunk of operations per alarm) and starts
// scheduled runs. The runs themselves (lock, staged read, journal) live in SyncRuns.

import type { PbxDirectory } from "../../../engine/pbx/pbx-port.ts";
import type { PlanItem } from "../../../engine/plan.ts";
import { nextScheduledRun } from "../../../engine/schedule.ts";
import type { SyncConfig } from "../../../schema/generated/config.ts";
import { ApiError } from "../api-error.ts";
import type { Sql } from "../sql.ts";
import { eventsCsv, type RunEvent, type RunInfo, SyncRuns } from "../sync/sync-runs.ts";
import { type AgentLink, agentOffline } from "./agent-link.ts";
import { logEvent } from "./event-log.ts";
import type { TenantConfig } from "./tenant-config.ts";

// Should the instance driving a preview go away mid-read, the alarm ends it and frees the lock.
const previewWatchdogMs = 5 * 60_000;

export const tenantRunsSchema = "CREATE TABLE IF NOT EXISTS schedule (id INTEGER PRIMARY KEY CHECK (id = 1), next_at INTEGER);";

/** The Durable Object's one alarm (ctx.storage), as the runs set it. */
export interface Alarms {
  setAlarm(at: number): Promise<void>;
  deleteAlarm(): Promise<void>;
}

export interface RunDeps {
  config: Pick<TenantConfig, "config" | "rememberTenant" | "tenantName" | "target">;
  link: Pick<AgentLink, "stream">;
  pbx: PbxDirectory;
  alarms: Alarms;
  agentConnected(): boolean;
  now?: () => number;
}

export class TenantRuns {
  readonly #sql: Sql;
  readonly #deps: RunDeps;
  readonly #runs: SyncRuns;
  readonly #now: () => number;
  /** Runs this instance is driving right now; after a restart the alarm picks the others up. */
  readonly #driving = new Set<string>();

  constructor(sql: Sql, deps: RunDeps) {
    this.#sql = sql;
    this.#deps = deps;
    this.#now = deps.now ?? Date.now;
    sql.exec(tenantRunsSchema);
    const { config, link } = deps;
    this.#runs = new SyncRuns(sql, {
      pbx: deps.pbx,
      now: this.#now,
      target: async () => {
        const saved = config.config();
        if (!saved?.connection) throw new ApiError(409, "not_configured", "Save a connection first.");
        return { config: saved, target: await config.target(config.tenantName(), saved, undefined) };
      },
      search: (target) => (spec, page) =>
        link.stream({ op: "search", target, ...spec }, ((target.connection.searchTimeoutSeconds ?? 120) + 10) * 1000, { page }),
    });
  }

  /** A saved configuration may move the schedule: the next run is computed from it. */
  async configSaved(config: SyncConfig): Promise<void> {
    this.#setNextRun(nextScheduledRun(config.schedule, this.#now()));
    await this.#arm(false);
  }

  /** Preview: the read and the plan of a sync, stopped before anything is applied. */
  async preview(tenant: string, by: string, limit: number): Promise<{ run: RunInfo; total: number; items: PlanItem[] }> {
    this.#deps.config.rememberTenant(tenant);
    this.#requireReady();
    const id = this.#begin("preview", "manual", by);
    await this.#arm(false);
    await this.#drive(id);
    const result = this.#runs.get(id) as RunInfo;
    if (result.status === "failed") throw new ApiError(502, "preview_failed", result.error ?? "The preview failed.", { runId: id });
    return { run: result, ...this.#runs.items(id, { limit }) };
  }

  /** Sync Now: takes the run lock and returns at once; the alarm drives the run. */
  async startSync(tenant: string, by: string): Promise<RunInfo> {
    this.#deps.config.rememberTenant(tenant);
    this.#requireReady();
    const id = this.#begin("sync", "manual", by);
    await this.#arm(true);
    return this.#runs.get(id) as RunInfo;
  }

  async decide(id: string, approve: boolean, by: string): Promise<RunInfo> {
    const result = this.#runs.decide(id, approve, by);
    logEvent(approve ? "run_approved" : "run_rejected", { id, by });
    if (approve) await this.#arm(true);
    return result;
  }

  /** The schedule as configured, and when the alarm will start the next run. */
  schedule(): { mode: string; nextRunAt: string | null; timeZone?: string } {
    const schedule = this.#deps.config.config()?.schedule;
    const mode = schedule?.mode ?? "interval";
    const next = this.#nextRun();
    return {
      mode,
      nextRunAt: next === null ? null : new Date(next).toISOString(),
      ...(mode === "daily" ? { timeZone: schedule?.timeZone ?? "UTC" } : {}),
    };
  }

  list(limit: number, offset: number): RunInfo[] {
    return this.#runs.list(limit, offset);
  }

  get(id: string): RunInfo {
    const found = this.#runs.get(id);
    if (!found) throw new ApiError(404, "run_not_found", `No run ${id}.`);
    return found;
  }

  items(id: string, options: { action?: string; q?: string; offset?: number; limit?: number }): { total: number; items: PlanItem[] } {
    this.get(id);
    return this.#runs.items(id, options);
  }

  events(id: string, format: "json" | "csv"): RunEvent[] | string {
    this.get(id);
    const events = this.#runs.events(id);
    return format === "csv" ? eventsCsv(events) : events;
  }

  clear(by: string): { removed: number } {
    const removed = this.#runs.clear();
    logEvent("log_cleared", { by, removed });
    return { removed };
  }

  /** Drives the active run, starts a due scheduled run, and sets the next alarm. */
  async alarm(): Promise<void> {
    let more = false;
    const active = this.#runs.active();
    if (active && active.status !== "awaiting-approval" && !this.#driving.has(active.id)) more = await this.#drive(active.id);
    const now = this.#now();
    const due = this.#nextRun();
    const config = this.#deps.config.config();
    if (due !== null && due <= now && config) {
      this.#applyRetention();
      const running = this.#runs.active();
      if (running) this.#runs.missed(`run ${running.id} was still in progress`);
      else if (!this.#deps.agentConnected()) this.#runs.missed("no connector agent was connected");
      else {
        // Retention was applied just above.
        this.#runs.begin("sync", "schedule", null);
        more = true;
      }
      this.#setNextRun(nextScheduledRun(config.schedule, now));
    }
    await this.#arm(more);
  }

  /** Starts a run, first dropping the log of runs older than the retention. */
  #begin(kind: RunInfo["kind"], trigger: RunInfo["trigger"], by: string | null): string {
    this.#applyRetention();
    return this.#runs.begin(kind, trigger, by);
  }

  #applyRetention(): void {
    const retentionDays = this.#deps.config.config()?.log?.retentionDays ?? 90;
    this.#runs.prune(this.#now() - retentionDays * 86_400_000);
  }

  async #drive(id: string): Promise<boolean> {
    this.#driving.add(id);
    try {
      let more = await this.#runs.step(id);
      // A preview ends after its read and plan; a sync goes on in chunks, one alarm each.
      if (this.#runs.get(id)?.kind === "preview") more = false;
      return more;
    } finally {
      this.#driving.delete(id);
    }
  }

  async #arm(now: boolean): Promise<void> {
    let next = now ? this.#now() : this.#nextRun();
    // The same alarm drives a run in progress: setting the schedule must not put that off.
    const active = this.#runs.active();
    if (active && active.status !== "awaiting-approval") {
      const due = active.kind === "sync" ? this.#now() : this.#now() + previewWatchdogMs;
      next = next === null ? due : Math.min(next, due);
    }
    if (next === null) await this.#deps.alarms.deleteAlarm();
    else await this.#deps.alarms.setAlarm(next);
  }

  #nextRun(): number | null {
    return this.#sql.exec<{ next_at: number | null }>("SELECT next_at FROM schedule WHERE id = 1").toArray()[0]?.next_at ?? null;
  }

  #setNextRun(at: number | null): void {
    this.#sql.exec("INSERT INTO schedule (id, next_at) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET next_at = excluded.next_at", at);
  }

  #requireReady(): void {
    if (!this.#deps.config.config()?.connection)
      throw new ApiError(409, "not_configured", "Save a connection (domain controllers, bind account, base DN) first.");
    if (!this.#deps.agentConnected()) throw agentOffline();
  }
}
