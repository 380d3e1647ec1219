// Runs and the schedule: Preview, Sync Now, approval and cancelling of runs, the run log, and
// the one alarm that both drives a run in progress (a chunk of operations per alarm) and starts
// scheduled runs. The runs themselves (lock, staged read, journal) live in SyncRuns; the
// watchdog that fails a run whose steps keep dying lives here, beside the alarm it relies on.

import type { PbxDirectory } from "../../../engine/pbx/pbx-port.ts";
import type { PlanItem } from "../../../engine/plan.ts";
import { nextScheduledRun } from "../../../engine/schedule.ts";
import type { SyncConfig } from "../../../schema/generated/config.ts";
import { ApiError } from "../api-error.ts";
import type { Sql } from "../sql.ts";
import { eventsCsv, type RunEvent, type RunInfo, type StepAttempts, SyncRuns } from "../sync/sync-runs.ts";
import { type AgentLink, agentOffline } from "./agent-link.ts";
import { logEvent } from "./event-log.ts";
import type { TenantConfig } from "./tenant-config.ts";

/**
 * The watchdog over a run's steps. Each step (a read and plan, a chunk of operations) first
 * records an attempt and sets the alarm `watchdogMs` ahead: should the invocation die without
 * a word (the object evicted or reset, over its CPU or memory limit), nothing after the step
 * runs, but that alarm does, and the next attempt sees the last one never came back. A step
 * that throws is tried again after `retryMs` times the attempts so far. `maxAttempts` attempts
 * in a row that do not move the run on fail it, and the lock and the schedule go free.
 */
export interface WatchdogOptions {
  maxAttempts: number;
  watchdogMs: number;
  retryMs: number;
  /**
   * A step this instance has been driving for longer is taken for dead even though its promise
   * never settled: its invocation was cut off (an alarm handler's wall-time limit) mid-await.
   */
  stalledMs: number;
}

export const defaultWatchdog: WatchdogOptions = {
  maxAttempts: 5,
  // A step still going when it fires is left alone (see #driving), and a new instance looks at
  // once (see the constructor): this only bounds how late a dead step is seen when nothing else
  // wakes the object.
  watchdogMs: 60_000,
  retryMs: 10_000,
  stalledMs: 30 * 60_000,
};

export const tenantRunsSchema = "CREATE TABLE IF NOT EXISTS schedule (id INTEGER PRIMARY KEY CHECK (id = 1), next_at INTEGER);";

/** The Durable Object's one alarm (ctx.storage), as the runs set it. */
export interface Alarms {
  setAlarm(at: number): Promise<void>;
  deleteAlarm(): Promise<void>;
  /**
   * Resolves once the writes so far are on disk. Writes are flushed after the code that made
   * them yields; an invocation killed before that (a CPU-bound step) would lose the attempt it
   * just recorded and the watchdog alarm with it, and then count nothing forever.
   */
  sync(): Promise<void>;
}

export interface RunDeps {
  config: Pick<TenantConfig, "config" | "rememberTenant" | "tenantName" | "target">;
  link: Pick<AgentLink, "stream">;
  pbx: PbxDirectory;
  alarms: Alarms;
  agentConnected(): boolean;
  now?: () => number;
  watchdog?: Partial<WatchdogOptions>;
}

export class TenantRuns {
  readonly #sql: Sql;
  readonly #deps: RunDeps;
  readonly #runs: SyncRuns;
  readonly #now: () => number;
  readonly #watchdog: WatchdogOptions;
  /**
   * Runs this instance is driving right now, with when their step began: the alarm leaves
   * those alone (unless stalled). Lost with the instance, so after a restart the alarm picks
   * the run up again.
   */
  readonly #driving = new Map<string, { since: number }>();

  constructor(sql: Sql, deps: RunDeps) {
    this.#sql = sql;
    this.#deps = deps;
    this.#now = deps.now ?? Date.now;
    this.#watchdog = { ...defaultWatchdog, ...deps.watchdog };
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
    // A Durable Object has one live instance: in a new one, a step recorded as under way died
    // with the instance before it (a reset, a deploy). Whatever woke this one (the agent
    // reconnecting, a request) need not wait for that step's watchdog alarm.
    const active = this.#runs.active();
    if (active && active.status !== "awaiting-approval" && this.#runs.attempts(active.id)?.open)
      deps.alarms.setAlarm(this.#now()).catch((e: unknown) => logEvent("alarm_not_set", { error: String(e) }));
  }

  /** A saved configuration may move the schedule: the next run is computed from it. */
  async configSaved(config: SyncConfig): Promise<void> {
    this.#setNextRun(nextScheduledRun(config.schedule, this.#now()));
    await this.#arm(false);
  }

  /** Preview: the read and the plan of a sync, stopped before anything is applied. */
  async preview(
    tenant: string,
    by: string,
    limit: number,
    options: { full?: boolean } = {},
  ): Promise<{ run: RunInfo; total: number; items: PlanItem[] }> {
    this.#deps.config.rememberTenant(tenant);
    this.#requireReady();
    const id = this.#begin("preview", "manual", by, options);
    await this.#arm(false);
    // The read, then planning a chunk at a time (as many steps as a large directory needs).
    // A step that neither moves the run on nor ends it counts against the watchdog's attempts,
    // which end the preview when they are spent.
    // Between steps the object takes other requests (the portal's polls among them), as between alarms.
    while (["queued", "reading", "planning"].includes(this.#runs.get(id)?.status ?? "")) {
      await this.#drive(id);
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
    // The preview is over one way or another: the alarm goes back to the schedule.
    await this.#arm(false);
    const result = this.#runs.get(id) as RunInfo;
    if (result.status === "failed") throw new ApiError(502, "preview_failed", result.error ?? "The preview failed.", { runId: id });
    if (result.status === "cancelled")
      throw new ApiError(409, "run_cancelled", result.error ?? "The preview was cancelled.", { runId: id });
    return { run: result, ...this.#runs.items(id, { limit }) };
  }

  /** Sync Now: takes the run lock and returns at once; the alarm drives the run. */
  async startSync(tenant: string, by: string, options: { full?: boolean } = {}): Promise<RunInfo> {
    this.#deps.config.rememberTenant(tenant);
    this.#requireReady();
    const id = this.#begin("sync", "manual", by, options);
    await this.#arm(true);
    return this.#runs.get(id) as RunInfo;
  }

  async decide(id: string, approve: boolean, by: string): Promise<RunInfo> {
    const result = this.#runs.decide(id, approve, by);
    logEvent(approve ? "run_approved" : "run_rejected", { id, by });
    if (approve) await this.#arm(true);
    return result;
  }

  /**
   * Cancels a run that holds the lock: what it applied stays, nothing more is, the lock is
   * free at once (a new Sync Now starts), and the alarm goes back to the schedule.
   */
  async cancel(id: string, by: string): Promise<RunInfo> {
    const result = this.#runs.cancel(id, by, this.#driving.has(id));
    logEvent("run_cancelled", { id, by });
    await this.#arm(false);
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
    if (active && active.status !== "awaiting-approval" && this.#driveNow(active)) more = await this.#drive(active.id);
    // A batch of finished runs' stages each alarm while no run is going: the clearing waits
    // for the object's idle time rather than lengthening the next run.
    if (this.#idle() && this.#runs.sweepStages()) more = true;
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
  #begin(kind: RunInfo["kind"], trigger: RunInfo["trigger"], by: string | null, options: { full?: boolean } = {}): string {
    this.#applyRetention();
    return this.#runs.begin(kind, trigger, by, options);
  }

  #applyRetention(): void {
    const retentionDays = this.#deps.config.config()?.log?.retentionDays ?? 90;
    this.#runs.prune(this.#now() - retentionDays * 86_400_000);
  }

  /** Whether the alarm should take the next step of the active run now. */
  #driveNow(active: RunInfo): boolean {
    const now = this.#now();
    const driving = this.#driving.get(active.id);
    if (driving && now - driving.since < this.#watchdog.stalledMs) return false;
    return (this.#runs.attempts(active.id)?.retryAt ?? 0) <= now;
  }

  /**
   * One step of a run, under the watchdog: the attempt is recorded (and on disk, with the
   * watchdog alarm) before the step starts, and settled after it, if it comes back at all.
   */
  async #drive(id: string): Promise<boolean> {
    const run = this.#runs.get(id);
    if (!run) return false;
    const { maxAttempts, watchdogMs, retryMs } = this.#watchdog;
    const now = this.#now();
    const previous = this.#runs.attempts(id);
    const mark = this.#runs.progressMark(id);
    // The run moved on since the last attempt began (even one that then died): a fresh count.
    const moved = previous === null || previous.mark !== mark;
    const count = moved ? 0 : previous.count;
    const lastError = moved ? null : previous.lastError;
    // An attempt that never came back: its invocation died. Logged, so the run's events show it.
    if (previous?.open)
      this.#runs.event(
        id,
        moved ? "info" : "warning",
        moved
          ? `A step was interrupted after it had moved the run on; the ${stepName(run)} step goes on from there`
          : `The ${stepName(run)} step was interrupted without an error (attempt ${count} of ${maxAttempts})`,
      );
    if (count >= maxAttempts) {
      this.#giveUp(id, run, count, lastError);
      return false;
    }
    const attempt: StepAttempts = { count: count + 1, mark, open: true, startedAt: now, retryAt: null, lastError };
    this.#runs.setAttempts(id, attempt);
    const token = { since: now };
    this.#driving.set(id, token);
    try {
      await this.#deps.alarms.setAlarm(now + watchdogMs);
      await this.#deps.alarms.sync();
      let more: boolean;
      try {
        more = await this.#runs.step(id);
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        // Cancelled while the step was under way, which then threw: there is nothing to retry.
        if (!this.#runs.holdsLock(id)) return false;
        const progressed = this.#runs.progressMark(id) !== mark;
        const failed = progressed ? 1 : attempt.count;
        // A preview is someone waiting on a request: a retry in the background helps nobody.
        if (run.kind === "preview" || failed >= maxAttempts) {
          this.#giveUp(id, run, failed, message);
          return false;
        }
        const retryAt = this.#now() + retryMs * failed;
        this.#runs.setAttempts(id, {
          ...attempt,
          count: failed,
          mark: this.#runs.progressMark(id),
          open: false,
          retryAt,
          lastError: message,
        });
        this.#runs.event(
          id,
          "warning",
          `The ${stepName(run)} step failed (attempt ${failed} of ${maxAttempts}): ${message}; trying again in ${Math.round((retryMs * failed) / 1000)} s`,
        );
        return false;
      }
      // A step that came back moved the run on, unless the mark says otherwise.
      const progressed = this.#runs.progressMark(id) !== mark;
      this.#runs.setAttempts(
        id,
        progressed
          ? { ...attempt, count: 0, mark: this.#runs.progressMark(id), open: false, lastError: null }
          : { ...attempt, open: false },
      );
      // A preview's request drives it through its read and plan; a sync goes on one alarm a step.
      if (run.kind === "preview") more = false;
      return more;
    } finally {
      if (this.#driving.get(id) === token) this.#driving.delete(id);
    }
  }

  /** The watchdog's verdict: the run is failed with a reason an administrator can act on. */
  #giveUp(id: string, run: RunInfo, attempts: number, lastError: string | null): void {
    const why = lastError
      ? `last error: ${lastError}`
      : "no error was caught: the instance was evicted, or went over a CPU or memory limit, in the middle of the step";
    const reason =
      run.kind === "preview" && lastError
        ? `The preview failed: ${lastError}`
        : `The run stopped making progress: its ${stepName(run)} step was interrupted ${attempts} time${attempts === 1 ? "" : "s"} in a row (${why}).`;
    this.#runs.fail(id, reason);
    this.#runs.setAttempts(id, null);
    logEvent("run_stalled", { id, attempts, lastError });
  }

  async #arm(now: boolean): Promise<void> {
    let next = now ? this.#now() : this.#nextRun();
    // The same alarm drives a run in progress: setting the schedule must not put that off.
    const active = this.#runs.active();
    if (active && active.status !== "awaiting-approval") {
      const due = this.#runDue(active);
      next = next === null ? due : Math.min(next, due);
    }
    // Finished runs' stages still to clear, and no run going: the alarm comes back for the next batch.
    if (this.#idle() && this.#runs.stagesPending()) next = next === null ? this.#now() : Math.min(next, this.#now());
    if (next === null) await this.#deps.alarms.deleteAlarm();
    else await this.#deps.alarms.setAlarm(next);
  }

  /** No run is going: none holds the lock, or the one that does waits for approval. */
  #idle(): boolean {
    const active = this.#runs.active();
    return active === undefined || active.status === "awaiting-approval";
  }

  /** When the alarm should next look at the active run. */
  #runDue(active: RunInfo): number {
    const now = this.#now();
    // A step going on here (or a preview, which its request drives): only the watchdog, in
    // case the instance dies under it.
    if (this.#driving.has(active.id) || active.kind === "preview") return now + this.#watchdog.watchdogMs;
    return Math.max(now, this.#runs.attempts(active.id)?.retryAt ?? now);
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

function stepName(run: RunInfo): string {
  return run.status === "applying" ? "apply" : run.status === "planning" ? "planning" : "read and plan";
}
