// Runs of the sync, kept in the tenant's SQLite: the run lock, the staged read, the plan's
// items as a journal (pending -> applying -> done | failed), and the run's events. A run is
// driven in steps (read and plan, then chunks of operations) so that a Durable Object that
// restarts mid-run resumes from the journal instead of repeating or losing operations.

import { applyItem, applyStructure } from "../../../engine/apply-item.ts";
import type { DesiredUser } from "../../../engine/map-user.ts";
import type { PbxDirectory } from "../../../engine/pbx/pbx-port.ts";
import { type Plan, type PlanAction, type PlanItem, summaryText } from "../../../engine/plan.ts";
import { chooseRead, configKey, type ReadBasis } from "../../../engine/read-basis.ts";
import type { SearchStream } from "../../../engine/read-directory.ts";
import type { SyncConfig } from "../../../schema/generated/config.ts";
import type { DirectoryPosition, LdapTarget } from "../../../schema/src/agent-protocol.ts";
import { ApiError } from "../api-error.ts";
import { csv } from "../csv.ts";
import { addMissingColumns, containsPattern, type Sql } from "../sql.ts";
import { DirectoryMirror, mirrorStages } from "./directory-mirror.ts";
import { RowBatch } from "./row-batch.ts";
import { planStages, RunPlanner, STEP_ROWS } from "./run-plan.ts";
import { readForRun } from "./run-read.ts";
import { StageDrops } from "./stage-drops.ts";
import { renewStages } from "./stage-renewal.ts";

export const syncRunsSchema = `
  CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, trigger TEXT NOT NULL, status TEXT NOT NULL, requested_by TEXT,
    started_at INTEGER NOT NULL, finished_at INTEGER, complete INTEGER, incomplete_reason TEXT,
    summary TEXT, structure TEXT, held TEXT, progress TEXT, error TEXT, decided_by TEXT, attempts TEXT,
    full_requested INTEGER, read TEXT, basis TEXT, ops_done INTEGER, ops_failed INTEGER);
  CREATE INDEX IF NOT EXISTS runs_started ON runs (started_at);
  CREATE TABLE IF NOT EXISTS run_items (
    run_id TEXT NOT NULL, seq INTEGER NOT NULL, action TEXT NOT NULL, name TEXT NOT NULL, number TEXT,
    reason TEXT NOT NULL, code TEXT, item TEXT NOT NULL, op_status TEXT NOT NULL, error TEXT,
    log_event TEXT, settled_at INTEGER, PRIMARY KEY (run_id, seq));
  CREATE INDEX IF NOT EXISTS run_items_status ON run_items (run_id, op_status, seq);
  CREATE TABLE IF NOT EXISTS run_events (
    run_id TEXT NOT NULL, seq INTEGER NOT NULL, at INTEGER NOT NULL, type TEXT NOT NULL, event TEXT NOT NULL,
    user TEXT, operation TEXT, PRIMARY KEY (run_id, seq));
  CREATE TABLE IF NOT EXISTS stage_users (run_id TEXT NOT NULL, guid TEXT NOT NULL, data TEXT NOT NULL);
  CREATE INDEX IF NOT EXISTS stage_users_run ON stage_users (run_id);
  CREATE TABLE IF NOT EXISTS stage_present (
    run_id TEXT NOT NULL, guid TEXT NOT NULL, dn TEXT NOT NULL, name TEXT NOT NULL, disabled INTEGER NOT NULL,
    PRIMARY KEY (run_id, guid));
  CREATE TABLE IF NOT EXISTS stage_photos (run_id TEXT NOT NULL, guid TEXT NOT NULL, photo BLOB NOT NULL, PRIMARY KEY (run_id, guid));
`;

export type RunStatus =
  | "queued"
  | "reading"
  | "planning"
  | "awaiting-approval"
  | "applying"
  | "succeeded"
  | "partial"
  | "failed"
  | "rejected"
  | "missed"
  | "previewed"
  | "cancelled";

/** Every stage table of a run: emptied when its read starts again and when it ends. */
const STAGES = ["stage_users", "stage_present", "stage_photos", ...mirrorStages, ...planStages];

/** A run holds the lock in these states: one at a time per tenant. */
const ACTIVE: RunStatus[] = ["queued", "reading", "planning", "awaiting-approval", "applying"];
/**
 * Operations a step applies at most, whatever the target: each step is one invocation and
 * commits once, and a target that costs no subrequests (the built-in directory) is bound by
 * this alone. 2,000 keeps a step's CPU well inside a Durable Object invocation's budget at
 * about 70 µs an operation, and its commit far fewer than 200-operation steps made.
 */
const MAX_STEP_OPERATIONS = 2000;
/**
 * Subrequests a step plans for, retries among them: Workers Paid allows 10,000 per invocation
 * (its older limit was 1,000, which this stays within as well).
 */
const STEP_SUBREQUESTS = 1000;
/** Operations read and parsed at once within a step. */
const APPLY_READ = 20;

/**
 * Operations per apply step for a target whose operations take `requestsPerOperation`
 * subrequests each: as many as its subrequests allow, at most MAX_STEP_OPERATIONS, at least one.
 */
export function operationsPerStep(requestsPerOperation: number): number {
  if (requestsPerOperation === 0) return MAX_STEP_OPERATIONS;
  if (!(requestsPerOperation > 0)) return 1;
  return Math.min(MAX_STEP_OPERATIONS, Math.max(1, Math.floor(STEP_SUBREQUESTS / requestsPerOperation)));
}
/** What an operation left half-way by a step that died may have done: it is not known. */
const INTERRUPTED = "Interrupted while it was being applied: it may or may not have reached the PBX; the next sync checks it again.";

export interface RunInfo {
  id: string;
  kind: "preview" | "sync";
  trigger: "manual" | "schedule";
  status: RunStatus;
  requestedBy: string | null;
  startedAt: number;
  finishedAt: number | null;
  complete: boolean | null;
  incompleteReason: string | null;
  summary: Record<PlanAction, number> | null;
  held: Plan["held"] | null;
  progress: {
    phase: string;
    read?: number;
    present?: number;
    /** While planning: what it is doing. */
    planning?: string;
    done?: number;
    failed?: number;
    total?: number;
  } | null;
  error: string | null;
  decidedBy: string | null;
  /** How the directory was read: the whole scope, or what changed since a DC's position. */
  read: RunReadInfo | null;
}

export interface RunReadInfo {
  mode: "full" | "incremental";
  /** Why the read was a full one. */
  reason?: string;
  /** For an incremental read: the USN it read from, and the DC. */
  sinceUsn?: string;
  server?: string;
}

export interface RunEvent {
  at: number;
  type: "info" | "warning" | "error";
  event: string;
  user: string | null;
  operation: string | null;
}

export interface RunSources {
  /** The saved configuration and the target the agent connects with. */
  target(): Promise<{ config: SyncConfig; target: LdapTarget }>;
  search(target: LdapTarget): SearchStream;
  pbx: PbxDirectory;
  /** The clock runs are timed by (and the retention measured with); Date.now unless a test moves it. */
  now?: () => number;
}

/**
 * What the watchdog (TenantRuns) keeps of a run's attempts at its steps, beside the run so that
 * it outlives the instance: an attempt whose invocation dies cannot write anything after it.
 */
export interface StepAttempts {
  /** Attempts in a row that did not move the run on, the last one (or the one under way) included. */
  count: number;
  /** Where the run stood when the last attempt began (progressMark): progress is this moving. */
  mark: string;
  /** The last attempt began and never came back: its invocation died. */
  open: boolean;
  startedAt: number;
  /** After a step that threw, the alarm waits until then before the next attempt. */
  retryAt: number | null;
  /** The message of the last exception an attempt threw since the run last moved on. */
  lastError: string | null;
}

type Row = Record<string, string | number | null>;

/** What a sync run's complete read leaves for the next run, kept until its plan is made. */
type PendingBasis =
  | ({ commit: "full" } & ReadBasis)
  | { commit: "changes"; position: DirectoryPosition; removed: string[] }
  | { commit: "swept"; position: DirectoryPosition };

export class SyncRuns {
  readonly #sql: Sql;
  readonly #sources: RunSources;
  readonly #now: () => number;
  readonly #mirror: DirectoryMirror;
  readonly #planner: RunPlanner;
  readonly #drops: StageDrops;

  constructor(sql: Sql, sources: RunSources) {
    this.#sql = sql;
    this.#sources = sources;
    this.#now = sources.now ?? Date.now;
    // The users a read stages were keyed by objectGUID, a random key: at 100,000 users each
    // page's rows dirtied a page of the key's index apiece. They are appended now, each found
    // through its lean row's srow, and the lean rows are keyed once read (run-plan.ts).
    renewStages(sql, { table: "stage_plan_users", current: (c) => c.some((x) => x.name === "srow") && c.every((x) => x.pk === 0) }, [
      "stage_users",
      "stage_plan_users",
    ]);
    sql.exec(syncRunsSchema);
    // Tenants whose runs table an earlier version made.
    addMissingColumns(sql, "runs", {
      attempts: "TEXT",
      full_requested: "INTEGER",
      read: "TEXT",
      basis: "TEXT",
      ops_done: "INTEGER",
      ops_failed: "INTEGER",
    });
    addMissingColumns(sql, "run_items", { log_event: "TEXT", settled_at: "INTEGER" });
    // Each operation that settles counts itself on its run and logs itself, in the statement that
    // settles it: the counts and the log stay exact through a step that dies, at one statement
    // an operation (each statement costs workerd native memory that outlives it). The event's
    // text and time come with the settling (log_event, settled_at), and stay on the operation.
    sql.exec(`CREATE TRIGGER IF NOT EXISTS run_items_settled AFTER UPDATE OF op_status ON run_items
      WHEN new.op_status IN ('done', 'failed') AND old.op_status IS NOT new.op_status
      BEGIN
        UPDATE runs SET ops_done = coalesce(ops_done, 0) + (new.op_status = 'done'),
          ops_failed = coalesce(ops_failed, 0) + (new.op_status = 'failed') WHERE id = new.run_id;
      END`);
    sql.exec(`CREATE TRIGGER IF NOT EXISTS run_items_logged AFTER UPDATE OF op_status ON run_items
      WHEN new.op_status IN ('done', 'failed') AND old.op_status IS NOT new.op_status AND new.log_event IS NOT NULL
      BEGIN
        INSERT INTO run_events (run_id, seq, at, type, event, user, operation)
          SELECT new.run_id, coalesce(max(seq), 0) + 1, coalesce(new.settled_at, 0),
                 CASE new.op_status WHEN 'done' THEN 'info' ELSE 'error' END, new.log_event, new.name, new.action
          FROM run_events WHERE run_id = new.run_id;
      END`);
    this.#mirror = new DirectoryMirror(sql);
    this.#planner = new RunPlanner(sql);
    this.#drops = new StageDrops(sql, STAGES);
  }

  /** Clears a batch of finished runs' stages; whether some remain (the alarm comes back for them). */
  sweepStages(): boolean {
    return this.#drops.sweep();
  }

  /** Finished runs' stages are still being cleared. */
  stagesPending(): boolean {
    return this.#drops.pending();
  }

  active(): RunInfo | undefined {
    const row = this.#sql
      .exec<Row>(`SELECT * FROM runs WHERE status IN (${ACTIVE.map(() => "?").join(",")}) ORDER BY started_at DESC LIMIT 1`, ...ACTIVE)
      .toArray()[0];
    return row ? toRun(row) : undefined;
  }

  /**
   * Takes the run lock; 409 with the running run's id when another run holds it. `full` asks
   * for a full read of the scope whatever the stored position would allow.
   */
  begin(kind: RunInfo["kind"], trigger: RunInfo["trigger"], by: string | null, options: { full?: boolean } = {}): string {
    const running = this.active();
    if (running) {
      throw new ApiError(409, "run_in_progress", `Run ${running.id} is ${running.status}; wait for it to finish.`, {
        runId: running.id,
        status: running.status,
      });
    }
    const id = crypto.randomUUID();
    this.#sql.exec(
      "INSERT INTO runs (id, kind, trigger, status, requested_by, started_at, progress, full_requested) VALUES (?, ?, ?, 'queued', ?, ?, ?, ?)",
      id,
      kind,
      trigger,
      by,
      this.#now(),
      JSON.stringify({ phase: "queued" }),
      options.full === true ? 1 : 0,
    );
    this.event(
      id,
      "info",
      kind === "preview" ? "Preview started" : `Sync started (${trigger === "schedule" ? "scheduled" : "Sync Now"})`,
      by,
    );
    return id;
  }

  /** A scheduled run that could not happen, logged rather than skipped in silence. */
  missed(reason: string): string {
    const id = crypto.randomUUID();
    const now = this.#now();
    this.#sql.exec(
      "INSERT INTO runs (id, kind, trigger, status, started_at, finished_at, error) VALUES (?, 'sync', 'schedule', 'missed', ?, ?, ?)",
      id,
      now,
      now,
      reason,
    );
    this.event(id, "warning", `Scheduled sync missed: ${reason}`);
    return id;
  }

  /**
   * One step of a run: read and plan a queued (or interrupted) run, or apply the next chunk of
   * operations. Returns true while there is more to do.
   *
   * An ApiError is the run's answer (no connection saved, the agent offline or gone, the
   * directory refusing the bind): the run fails with it at once, since trying again would only
   * repeat it (and a wrong bind password, tried again, locks the account). Any other exception
   * (a storage error, a PBX that could not be reached, a bug) is thrown on to the caller, whose
   * watchdog counts it as a failed attempt and tries the step again.
   */
  async step(id: string): Promise<boolean> {
    const run = this.get(id);
    if (!run) return false;
    try {
      if (run.status === "queued" || run.status === "reading") {
        await this.#read(run);
        const status = this.get(id)?.status;
        return status === "planning" || status === "applying";
      }
      if (run.status === "planning") {
        await this.#planStep(run);
        const status = this.get(id)?.status;
        return status === "planning" || status === "applying";
      }
      if (run.status === "applying") return await this.#applyChunk(run);
      return false;
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      this.fail(id, error.message);
      return false;
    }
  }

  /**
   * Ends a run that holds the lock as failed, with the reason the administrator reads: what was
   * applied stays applied and is counted, and the lock is free.
   */
  fail(id: string, reason: string): void {
    if (!this.holdsLock(id)) return;
    this.#settleOperations(id, "failed");
    this.#finish(id, "failed", reason);
    this.event(id, "error", `Run failed: ${reason}`);
  }

  /**
   * An administrator stops a run that holds the lock (queued, reading, applying or waiting for
   * approval): what was already applied stays applied and is counted in its progress and
   * events, nothing more is applied, and the lock is free for the next run. `inFlight` says
   * whether a step of this run is still going in this instance: that step finishes the one
   * operation it is in (and logs it), then stops.
   */
  cancel(id: string, by: string, inFlight: boolean): RunInfo {
    const run = this.get(id);
    if (!run) throw new ApiError(404, "run_not_found", `No run ${id}.`);
    if (!ACTIVE.includes(run.status))
      throw new ApiError(409, "run_finished", `Run ${id} has already ended (${run.status}); there is nothing to cancel.`, {
        runId: id,
        status: run.status,
      });
    const counts = this.#settleOperations(id, "cancelled", inFlight);
    const underWay = inFlight ? this.#underWay(id) : 0;
    const applied =
      run.status === "applying"
        ? `${counts.done} operations applied (they stay applied), ${counts.failed} failed, ${counts.pending - underWay} not applied` +
          (underWay > 0 ? "; the operation under way finishes and is logged after this" : "")
        : run.status === "reading"
          ? "the directory read was stopped; nothing was changed"
          : run.status === "planning"
            ? "planning was stopped; nothing was changed"
            : "nothing was changed";
    this.#finish(id, "cancelled", `Cancelled by ${by}: ${applied}.`);
    this.event(id, "warning", `Cancelled by ${by}: ${applied}`, by);
    return this.get(id) as RunInfo;
  }

  /**
   * The counts of a run that ends before its operations do, written to its progress. An
   * operation left 'applying' by a step that is no longer going (`inFlight` false) is marked
   * as not known to have been applied; one whose step is still going is that step's to finish.
   */
  #settleOperations(id: string, phase: string, inFlight = false): { total: number; done: number; failed: number; pending: number } {
    if (!inFlight)
      this.#sql.exec("UPDATE run_items SET op_status = 'pending', error = ? WHERE run_id = ? AND op_status = 'applying'", INTERRUPTED, id);
    const counts = this.#opCounts(id);
    this.#sql.exec(
      "UPDATE runs SET progress = json_patch(coalesce(progress, '{}'), ?) WHERE id = ?",
      JSON.stringify(counts.total > 0 ? { phase, done: counts.done, failed: counts.failed, total: counts.total } : { phase }),
      id,
    );
    return counts;
  }

  #underWay(id: string): number {
    return Number(
      this.#sql.exec<{ n: number }>("SELECT count(*) AS n FROM run_items WHERE run_id = ? AND op_status = 'applying'", id).one().n,
    );
  }

  /** The watchdog's record of the run's attempts (see StepAttempts). */
  attempts(id: string): StepAttempts | null {
    const text = this.#row(id)?.attempts;
    return typeof text === "string" ? (JSON.parse(text) as StepAttempts) : null;
  }

  setAttempts(id: string, attempts: StepAttempts | null): void {
    this.#sql.exec("UPDATE runs SET attempts = ? WHERE id = ?", attempts === null ? null : JSON.stringify(attempts), id);
  }

  /**
   * Where the run stands, as far as progress goes: its phase, and how many operations are
   * settled. A read starts again from nothing each attempt, so the pages it got are no progress.
   */
  progressMark(id: string): string {
    const run = this.get(id);
    if (!run) return "gone";
    if (run.status === "queued" || run.status === "reading") return "read";
    if (run.status === "planning") return `planning:${this.#planner.mark(id)}`;
    const counts = this.#settled(id) ?? this.#opCounts(id);
    return `${run.status}:${counts.done + counts.failed}`;
  }

  /** The run is in one of the states that hold the lock. */
  holdsLock(id: string): boolean {
    const status = this.#row(id)?.status;
    return ACTIVE.includes(status as RunStatus);
  }

  /** The run is still in `status`: a cancel (or the watchdog) may have ended it while a step awaited. */
  /** Asked before every operation of a run: its status alone, not the run's whole row. */
  #still(id: string, status: RunStatus): boolean {
    return this.#sql.exec<{ status: string }>("SELECT status FROM runs WHERE id = ?", id).toArray()[0]?.status === status;
  }

  async #read(run: RunInfo): Promise<void> {
    const { id } = run;
    this.#sql.exec("UPDATE runs SET status = 'reading', progress = ? WHERE id = ?", JSON.stringify({ phase: "reading", read: 0 }), id);
    for (const table of [...STAGES, "run_items"]) this.#sql.exec(`DELETE FROM ${table} WHERE run_id = ?`, id);
    // Set once a page finds the run cancelled: the rest of the read is let go unstaged.
    let stopped = false;
    const { config, target } = await this.#sources.target();
    const pbx = this.#sources.pbx;
    const synced = () => pbx.syncedGuids();
    const choice = chooseRead(this.#mirror.basis(), {
      config,
      at: run.startedAt,
      full: Number(this.#row(id)?.full_requested ?? 0) === 1,
    });
    // A page's users are written together when the page ends (its progress), a statement for
    // many rows rather than one each. Appended, each with the row id its lean row keeps (a user
    // staged twice keeps the later: the lean row is replaced, the earlier row is no one's).
    const users = new RowBatch(
      this.#sql,
      "INSERT INTO stage_users (rowid, run_id, guid, data) SELECT value ->> 0, ?1, value ->> 1, value ->> 2 FROM json_each(?2)",
      id,
    );
    let srow = Number(this.#sql.exec<{ n: number | null }>("SELECT max(rowid) AS n FROM stage_users").one().n ?? 0);
    const present = new RowBatch(
      this.#sql,
      `INSERT OR REPLACE INTO stage_present (run_id, guid, dn, name, disabled)
       SELECT ?1, value ->> 0, value ->> 1, value ->> 2, value ->> 3 FROM json_each(?2)`,
      id,
    );
    const lean = this.#planner.leanStage(id, config);
    const flush = () => {
      users.flush();
      lean.flush();
      present.flush();
    };
    const drop = () => {
      users.drop();
      lean.drop();
      present.drop();
    };
    const stage = {
      user: (user: DesiredUser, data: string, photo: Uint8Array | undefined) => {
        if (stopped) return;
        srow++;
        users.add([srow, user.guid, data]);
        lean.add(user, srow);
        if (photo)
          this.#sql.exec("INSERT OR REPLACE INTO stage_photos (run_id, guid, photo) VALUES (?, ?, ?)", id, user.guid, photo.slice().buffer);
      },
      present: (guid: string, dn: string, name: string, disabled: boolean) => {
        if (stopped) return;
        present.add([guid, dn, name, disabled ? 1 : 0]);
      },
      progress: (p: { inScope: number; present: number }) => {
        const written = this.#sql.exec(
          "UPDATE runs SET progress = ? WHERE id = ? AND status = 'reading'",
          JSON.stringify({ phase: "reading", read: p.inScope, present: p.present }),
          id,
        ).rowsWritten;
        if (written === 0) {
          // Cancelled: what the page brought is let go with the rest.
          stopped = true;
          drop();
        } else flush();
      },
      warn: (message: string) => this.event(id, "warning", message),
      keyStaged: () => {
        flush();
        lean.key();
      },
      notStaged: (guids: string[]) => {
        flush();
        lean.key();
        return this.#sql
          .exec<{ guid: string }>(
            `SELECT value AS guid FROM json_each(?1) j
             WHERE NOT EXISTS (SELECT 1 FROM stage_keys k JOIN stage_plan_users p ON p.rowid = k.lrow
                               WHERE k.run_id = ?2 AND k.guid = j.value AND p.srow IS NOT NULL)`,
            JSON.stringify(guids),
            id,
          )
          .toArray()
          .map((r) => r.guid);
      },
    };
    if (choice.mode === "incremental")
      this.event(
        id,
        "info",
        `Incremental read: what changed on ${choice.since.server} since update sequence number ${choice.since.highestCommittedUsn}`,
      );
    const outcome = await readForRun({
      runId: id,
      config,
      target,
      synced,
      search: this.#sources.search(target),
      mirror: this.#mirror,
      stage,
      choice,
      fallBack: (reason) => {
        drop();
        this.event(id, "info", `Full read instead: ${reason}`);
        for (const table of STAGES) this.#sql.exec(`DELETE FROM ${table} WHERE run_id = ?`, id);
      },
    });
    if (stopped || !this.#still(id, "reading")) {
      users.drop();
      present.drop();
    } else {
      flush();
      lean.key();
    }
    const { read } = outcome;
    const readInfo: RunReadInfo =
      outcome.mode === "full"
        ? { mode: "full", ...(outcome.why !== undefined ? { reason: outcome.why } : {}) }
        : {
            mode: "incremental",
            sinceUsn: outcome.since?.highestCommittedUsn as string,
            server: outcome.since?.server as string,
          };
    this.#sql.exec("UPDATE runs SET read = ? WHERE id = ?", JSON.stringify(readInfo), id);
    if (outcome.mode === "full" && choice.mode === "full") this.event(id, "info", `Full read: ${outcome.why}`);
    this.event(
      id,
      read.complete ? "info" : "warning",
      !read.complete
        ? `Directory read incomplete (${read.reason}): nothing will be disabled or deleted`
        : outcome.mode === "incremental"
          ? `Directory read (incremental): ${read.inScope} users in scope to decide about again; ${outcome.left.length} synced users no longer in it${read.present > 0 ? `, ${read.present} of them still in AD` : ""}; ` +
            (outcome.evidence === "tombstones"
              ? "who left was told by the deleted users' tombstones and the changed users"
              : `who left was found by a sweep of the ${outcome.swept ?? 0} users in scope (${outcome.sweepWhy})`)
          : `Directory read: ${read.inScope} users in scope${read.present > 0 ? `, ${read.present} synced users found outside it` : ""}`,
    );
    if (outcome.mode === "full" && read.complete && read.positionProblem !== undefined)
      this.event(id, "info", `The next run reads everything again: ${read.positionProblem}`);

    // A sync run's complete read is what the directory looks like now, whatever the PBX does
    // with the plan: the next run reads from here, once the plan is made. A preview changes
    // nothing, this included.
    const basis: PendingBasis | null =
      run.kind !== "sync" || !read.complete
        ? null
        : outcome.mode === "full"
          ? {
              commit: "full",
              configKey: configKey(config),
              fullAt: run.startedAt,
              position: read.position ?? null,
              positionProblem: read.position === undefined ? (read.positionProblem ?? "no position") : null,
            }
          : outcome.position === undefined
            ? null
            : outcome.evidence === "tombstones"
              ? { commit: "changes", position: outcome.position, removed: outcome.removed ?? [] }
              : { commit: "swept", position: outcome.position };
    this.#sql.exec(
      "UPDATE runs SET status = 'planning', complete = ?, incomplete_reason = ?, basis = ?, progress = ? WHERE id = ? AND status = 'reading'",
      read.complete ? 1 : 0,
      read.reason ?? null,
      basis === null ? null : JSON.stringify(basis),
      JSON.stringify({ phase: "planning", read: read.inScope, present: read.present }),
      id,
    );
    // Cancelled while the read was awaited: nothing is planned.
    if (!this.#still(id, "planning")) {
      for (const table of STAGES) this.#sql.exec(`DELETE FROM ${table} WHERE run_id = ?`, id);
      return;
    }
    this.#planner.begin(id, {
      config,
      complete: read.complete,
      ...(read.reason !== undefined ? { reason: read.reason } : {}),
      incremental: outcome.mode === "incremental",
      left: outcome.left,
      leanStaged: true,
    });
    // A small directory is planned in the step that read it; a large one in the steps after.
    const budget = STEP_ROWS - read.inScope - read.present;
    if (budget > 0) await this.#planStep({ ...run, status: "planning" }, budget);
  }

  /**
   * One step of planning (run-plan.ts): the plan is made in SQLite a chunk at a time, over as
   * many steps as a large directory needs. When it is made, the run waits, applies or ends.
   */
  async #planStep(run: RunInfo, budget?: number): Promise<void> {
    const { id } = run;
    const pbx = this.#sources.pbx;
    if (!this.#planner.planning(id)) {
      // Planning state lost with its stages (an earlier version's run, a cleared stage): read again.
      this.#sql.exec("UPDATE runs SET status = 'reading' WHERE id = ? AND status = 'planning'", id);
      return;
    }
    const plan = await this.#planner.step({ runId: id, kind: run.kind, pbx }, budget);
    if (plan === undefined) {
      this.#sql.exec(
        "UPDATE runs SET progress = json_set(progress, '$.planning', ?) WHERE id = ? AND status = 'planning'",
        this.#planner.doing(id),
        id,
      );
      return;
    }
    // Cancelled while the PBX's listings were awaited: the plan is dropped.
    if (!this.#still(id, "planning")) {
      this.#sql.exec("DELETE FROM run_items WHERE run_id = ?", id);
      for (const table of STAGES) this.#sql.exec(`DELETE FROM ${table} WHERE run_id = ?`, id);
      return;
    }
    const row = this.#row(id);
    const basis = typeof row?.basis === "string" ? (JSON.parse(row.basis) as PendingBasis) : null;
    if (basis?.commit === "full") this.#mirror.commitFull(id, basis);
    else if (basis?.commit === "changes") this.#mirror.commitChanges(id, basis.position, basis.removed);
    else if (basis?.commit === "swept") this.#mirror.commitSwept(id, basis.position);
    if (run.kind === "sync" && basis !== null) this.#mirror.plannedSync(id, basis.commit === "full");
    // The read's and the plan's stages are spent: run_items hold the plan from here on (the
    // photos are applied from stage_photos, which goes when the run ends).
    this.#drops.drop(
      id,
      STAGES.filter((t) => t !== "plan_state" && t !== "stage_photos"),
    );
    const { operations } = plan;
    const status: RunStatus =
      run.kind === "preview" ? "previewed" : plan.held ? "awaiting-approval" : operations > 0 ? "applying" : "succeeded";
    const progress = (run.progress ?? {}) as { read?: number; present?: number };
    this.#sql.exec(
      "UPDATE runs SET status = ?, summary = ?, structure = ?, held = ?, progress = ?, ops_done = 0, ops_failed = 0 WHERE id = ?",
      status,
      JSON.stringify(plan.summary),
      JSON.stringify({ departmentsToCreate: plan.departmentsToCreate, groupsToCreate: plan.groupsToCreate, applied: false }),
      plan.held ? JSON.stringify(plan.held) : null,
      JSON.stringify({
        phase: status === "applying" ? "applying" : "planned",
        read: progress.read ?? 0,
        present: progress.present ?? 0,
        done: 0,
        failed: 0,
        total: operations,
      }),
      id,
    );
    this.event(id, "info", `Plan: ${summaryText(plan.summary)}`);
    if (plan.held && run.kind === "sync") this.event(id, "warning", `Waiting for approval: ${plan.held.reason}`);
    if (status === "previewed" || status === "succeeded") this.#finish(id, status);
  }

  async #applyChunk(run: RunInfo): Promise<boolean> {
    const { id } = run;
    const pbx = this.#sources.pbx;
    const structure = JSON.parse(String(this.#row(id)?.structure ?? "{}")) as Pick<Plan, "departmentsToCreate" | "groupsToCreate"> & {
      applied: boolean;
    };
    if (!structure.applied) {
      await applyStructure(structure, pbx);
      for (const d of structure.departmentsToCreate) this.event(id, "info", `Created department ${d}`, null, "createDepartment");
      for (const g of structure.groupsToCreate) this.event(id, "info", `Created extension group ${g}`, null, "createExtensionGroup");
      this.#sql.exec("UPDATE runs SET structure = ? WHERE id = ?", JSON.stringify({ ...structure, applied: true }), id);
    }
    const photos = async (guid: string) => {
      const row = this.#sql
        .exec<{ photo: ArrayBuffer }>("SELECT photo FROM stage_photos WHERE run_id = ? AND guid = ?", id, guid)
        .toArray()[0];
      return row ? new Uint8Array(row.photo) : undefined;
    };
    // 'applying' left over from an interrupted step is applied again: operations are idempotent.
    // Each status its own index range, in seq order: a filter on the whole journal would walk
    // every operation done so far at each chunk, which made applying quadratic.
    const take = (status: string, limit: number) =>
      this.#sql
        .exec<{ seq: number; item: string }>(
          "SELECT seq, item FROM run_items WHERE run_id = ? AND op_status = ? ORDER BY seq LIMIT ?",
          id,
          status,
          limit,
        )
        .toArray();
    const stepOperations = operationsPerStep(pbx.requestsPerOperation);
    const leftover = take("applying", stepOperations);

    type Op = { seq: number; item: PlanItem };
    /** Marks an operation applying, only while the run is: false, with nothing done, once it is not. */
    const mark = (op: Op) =>
      this.#sql.exec(
        "UPDATE run_items SET op_status = 'applying' WHERE run_id = ?1 AND seq = ?2 AND (SELECT status FROM runs WHERE id = ?1) = 'applying'",
        id,
        op.seq,
      ).rowsWritten !== 0;
    /**
     * Settles an operation and, in the same statement, marks the next one this lane takes, only
     * while the run is applying (a run cancelled, or failed by the watchdog, while the operation
     * was awaited starts nothing more). The run_items_logged trigger counts the settled one on
     * its run and logs it: the counts and the log stay exact through a step that dies, at one
     * statement an operation (each statement costs workerd native memory until V8 collects its
     * cursor). Whether the next one was marked.
     */
    const settle = (op: Op, status: "done" | "failed", error: string | null, event: string, next: Op | undefined): boolean => {
      const marked = this.#sql
        .exec<{ seq: number }>(
          `UPDATE run_items SET
             op_status = CASE WHEN seq = ?2 THEN ?3 ELSE 'applying' END,
             error = CASE WHEN seq = ?2 AND ?4 IS NOT NULL THEN ?4 ELSE error END,
             log_event = CASE WHEN seq = ?2 THEN ?5 ELSE log_event END,
             settled_at = CASE WHEN seq = ?2 THEN ?6 ELSE settled_at END
           WHERE run_id = ?1 AND seq IN (?2, ?7) AND (seq = ?2 OR (SELECT status FROM runs WHERE id = ?1) = 'applying')
           RETURNING seq`,
          id,
          op.seq,
          status,
          error,
          event,
          this.#now(),
          next?.seq ?? null,
        )
        .toArray();
      return next !== undefined && marked.some((r) => r.seq === next.seq);
    };
    /** Applies an operation marked applying, then settles it and marks `next`; whether `next` was marked. */
    const applyOne = async (op: Op, next: () => Op | undefined): Promise<{ next: Op | undefined; marked: boolean }> => {
      const { item } = op;
      let status: "done" | "failed" = "done";
      let error: string | null = null;
      let event = describe(item);
      try {
        await applyItem(item, pbx, photos);
      } catch (e) {
        status = "failed";
        error = e instanceof Error ? e.message : String(e);
        event = `Could not ${item.action} extension ${item.number ?? ""} (${item.name}): ${error}`;
      }
      const following = next();
      return { next: following, marked: settle(op, status, error, event, following) };
    };
    // The operations of one wave are independent (the planner's apply order), so a target that
    // takes several calls at once gets up to that many; waves still apply one after another.
    const lanes = Math.max(1, Math.floor(pbx.concurrency));
    /** The waves of `batch`, one after another; false once the run is no longer applying. */
    const applyWaves = async (batch: Array<{ seq: number; item: string }>): Promise<boolean> => {
      for (const wave of waves(batch.map((row) => ({ seq: row.seq, item: JSON.parse(row.item) as PlanItem })))) {
        let next = 0;
        let ended = false;
        const claim = () => (ended || next >= wave.length ? undefined : wave[next++]);
        const lane = async () => {
          let op = claim();
          if (op !== undefined && !mark(op)) {
            ended = true;
            op = undefined;
          }
          while (op !== undefined) {
            const settled = await applyOne(op, claim);
            // Cancelled (or failed by the watchdog) while the operation was awaited: stop here.
            if (settled.next !== undefined && !settled.marked) ended = true;
            op = settled.marked ? settled.next : undefined;
          }
        };
        await Promise.all(Array.from({ length: Math.min(lanes, wave.length) }, lane));
        if (!this.#still(id, "applying")) return false;
      }
      return true;
    };
    // The step's operations a few at a time: what is read and parsed at once stays alive while
    // each of them is awaited, and bytes that outlive V8's young-generation collections make it
    // widen the young generation (a chunk parsed at once took workerd's RSS 20 MB higher at
    // 100,000 users). A wave split between two reads drains its lanes once, no more.
    let taken = 0;
    for (
      let batch = [...leftover, ...take("pending", Math.max(0, Math.min(APPLY_READ, stepOperations) - leftover.length))];
      batch.length > 0;
    ) {
      taken += batch.length;
      if (!(await applyWaves(batch)) || taken >= stepOperations) break;
      batch = take("pending", Math.min(APPLY_READ, stepOperations - taken));
    }
    const more = this.#sql.exec("SELECT 1 FROM run_items WHERE run_id = ? AND op_status = 'pending' LIMIT 1", id).toArray().length > 0;
    const counts = this.#settled(id) ?? this.#opCounts(id);
    if (!this.#still(id, "applying")) {
      // The run was ended meanwhile; its progress keeps counting what this step did.
      this.#sql.exec(
        "UPDATE runs SET progress = json_patch(progress, ?) WHERE id = ?",
        JSON.stringify({ done: counts.done, failed: counts.failed }),
        id,
      );
      return false;
    }
    this.#sql.exec(
      "UPDATE runs SET progress = json_patch(progress, ?) WHERE id = ?",
      JSON.stringify({ phase: more ? "applying" : "done", done: counts.done, failed: counts.failed, total: counts.total }),
      id,
    );
    if (!more) {
      this.#finish(id, counts.failed > 0 ? "partial" : "succeeded");
      this.event(id, counts.failed > 0 ? "warning" : "info", `Sync finished: ${counts.done} operations applied, ${counts.failed} failed`);
    }
    return more;
  }

  /**
   * The operations settled so far, from the counts each one adds as it settles: a chunk and the
   * watchdog need them without counting the journal (which, at 100,000 operations, made
   * applying quadratic). Undefined for a run planned before the counts were kept.
   */
  #settled(id: string): { total: number; done: number; failed: number } | undefined {
    const row = this.#row(id);
    if (row?.ops_done === null || row?.ops_done === undefined) return undefined;
    const total = (JSON.parse(String(row.progress ?? "{}")) as { total?: number }).total;
    if (total === undefined) return undefined;
    return { total, done: Number(row.ops_done), failed: Number(row.ops_failed ?? 0) };
  }

  #opCounts(id: string): { total: number; done: number; failed: number; pending: number } {
    const counts = { total: 0, done: 0, failed: 0, pending: 0 };
    for (const r of this.#sql.exec<{ op_status: string; n: number }>(
      "SELECT op_status, count(*) AS n FROM run_items WHERE run_id = ? AND op_status != 'none' GROUP BY op_status",
      id,
    )) {
      counts.total += r.n;
      if (r.op_status === "done") counts.done += r.n;
      else if (r.op_status === "failed") counts.failed += r.n;
      else counts.pending += r.n;
    }
    return counts;
  }

  /** An administrator's answer to a run held by the safety limits. */
  decide(id: string, approve: boolean, by: string): RunInfo {
    const run = this.get(id);
    if (!run) throw new ApiError(404, "run_not_found", `No run ${id}.`);
    if (run.status !== "awaiting-approval")
      throw new ApiError(409, "not_awaiting_approval", `Run ${id} is ${run.status}, not awaiting approval.`);
    this.#sql.exec("UPDATE runs SET decided_by = ? WHERE id = ?", by, id);
    if (approve) {
      this.#sql.exec("UPDATE runs SET status = 'applying', progress = json_set(progress, '$.phase', 'applying') WHERE id = ?", id);
      this.event(id, "info", `Approved by ${by}`, by);
    } else {
      // Finished first: its operations, none of them done, leave their users unsettled.
      this.#finish(id, "rejected");
      this.#sql.exec("UPDATE run_items SET op_status = 'none' WHERE run_id = ? AND op_status = 'pending'", id);
      this.event(id, "warning", `Rejected by ${by}: nothing was changed`, by);
    }
    return this.get(id) as RunInfo;
  }

  #finish(id: string, status: RunStatus, error?: string): void {
    this.#sql.exec(
      "UPDATE runs SET status = ?, finished_at = ?, error = coalesce(?, error) WHERE id = ?",
      status,
      this.#now(),
      error ?? null,
      id,
    );
    const row = this.#row(id);
    // plannedSync ran for a sync run whose plan was made (its summary) with a basis to commit.
    if (row?.kind === "sync") this.#mirror.settled(id, typeof row.basis === "string" && typeof row.summary === "string");
    // A run that ends is never read or planned again: its stages go in the alarm's batches.
    this.#drops.drop(
      id,
      STAGES.filter((t) => t !== "plan_state"),
    );
    this.#sql.exec("DELETE FROM plan_state WHERE run_id = ?", id);
  }

  event(id: string, type: RunEvent["type"], event: string, user: string | null = null, operation: string | null = null): void {
    this.#sql.exec(
      `INSERT INTO run_events (run_id, seq, at, type, event, user, operation)
       VALUES (?, (SELECT coalesce(max(seq), 0) + 1 FROM run_events WHERE run_id = ?), ?, ?, ?, ?, ?)`,
      id,
      id,
      this.#now(),
      type,
      event,
      user,
      operation,
    );
  }

  #row(id: string): Row | undefined {
    return this.#sql.exec<Row>("SELECT * FROM runs WHERE id = ?", id).toArray()[0];
  }

  get(id: string): RunInfo | undefined {
    const row = this.#row(id);
    return row ? toRun(row) : undefined;
  }

  list(limit = 50, offset = 0): RunInfo[] {
    return this.#sql.exec<Row>("SELECT * FROM runs ORDER BY started_at DESC LIMIT ? OFFSET ?", limit, offset).toArray().map(toRun);
  }

  items(
    id: string,
    options: { action?: string; q?: string; offset?: number; limit?: number },
  ): { total: number; items: Array<PlanItem & { status: string; error: string | null }> } {
    const where = ["run_id = ?"];
    const args: Array<string | number> = [id];
    if (options.action) {
      where.push("action = ?");
      args.push(options.action);
    }
    if (options.q) {
      where.push("(name LIKE ? ESCAPE '\\' OR number LIKE ? ESCAPE '\\')");
      const like = containsPattern(options.q);
      args.push(like, like);
    }
    const total = Number(
      this.#sql.exec<{ n: number }>(`SELECT count(*) AS n FROM run_items WHERE ${where.join(" AND ")}`, ...args).one().n,
    );
    const items = this.#sql
      .exec<{ item: string; op_status: string; error: string | null }>(
        `SELECT item, op_status, error FROM run_items WHERE ${where.join(" AND ")} ORDER BY seq LIMIT ? OFFSET ?`,
        ...args,
        options.limit ?? 100,
        options.offset ?? 0,
      )
      .toArray()
      .map((r) => ({ ...(JSON.parse(r.item) as PlanItem), status: r.op_status, error: r.error }));
    return { total, items };
  }

  events(id: string): RunEvent[] {
    return this.#sql
      .exec<Row>("SELECT at, type, event, user, operation FROM run_events WHERE run_id = ? ORDER BY seq", id)
      .toArray()
      .map((r) => ({
        at: Number(r.at),
        type: r.type as RunEvent["type"],
        event: String(r.event),
        user: r.user === null ? null : String(r.user),
        operation: r.operation === null ? null : String(r.operation),
      }));
  }

  /** Clears the log: every run that is not running, with its items and events. */
  clear(): number {
    const ids = this.#sql
      .exec<{ id: string }>(`SELECT id FROM runs WHERE status NOT IN (${ACTIVE.map(() => "?").join(",")})`, ...ACTIVE)
      .toArray()
      .map((r) => r.id);
    for (const id of ids) this.#remove(id);
    return ids.length;
  }

  /** Log retention: runs that ended before the cut-off go, with their items and events. */
  prune(olderThan: number): number {
    const ids = this.#sql
      .exec<{ id: string }>("SELECT id FROM runs WHERE finished_at IS NOT NULL AND finished_at < ?", olderThan)
      .toArray()
      .map((r) => r.id);
    for (const id of ids) this.#remove(id);
    return ids.length;
  }

  #remove(id: string): void {
    for (const table of ["run_items", "run_events", ...STAGES]) this.#sql.exec(`DELETE FROM ${table} WHERE run_id = ?`, id);
    this.#sql.exec("DELETE FROM runs WHERE id = ?", id);
  }
}

function describe(item: PlanItem): string {
  const who = `extension ${item.number} (${item.name})`;
  switch (item.action) {
    case "create":
      return `Created ${who}${item.template ? ` from template ${item.template}` : ""}`;
    case "update":
      return `Updated ${who}: ${(item.changes ?? []).map((c) => c.field).join(", ")}`;
    case "adopt":
      return `Took over ${who} from the PBX's hand-made extensions`;
    case "recreate":
      return `Deleted ${who} and created it again as ${item.state?.number}${item.archive ? `; data moved to extension ${item.archive.extension}` : ""}`;
    case "enable":
      return `Enabled ${who} again`;
    case "disable":
      return `Disabled ${who}: ${item.reason}`;
    case "delete":
      return `Deleted ${who}${item.archive ? `; data moved to extension ${item.archive.extension}` : ""}`;
    default:
      return `${item.action} ${who}`;
  }
}

function toRun(row: Row): RunInfo {
  const json = <T>(v: unknown) => (v === null || v === undefined ? null : (JSON.parse(String(v)) as T));
  return {
    id: String(row.id),
    kind: row.kind === "preview" ? "preview" : "sync",
    trigger: row.trigger === "schedule" ? "schedule" : "manual",
    status: row.status as RunStatus,
    requestedBy: row.requested_by === null ? null : String(row.requested_by),
    startedAt: Number(row.started_at),
    finishedAt: row.finished_at === null ? null : Number(row.finished_at),
    complete: row.complete === null ? null : Number(row.complete) === 1,
    incompleteReason: row.incomplete_reason === null ? null : String(row.incomplete_reason),
    summary: json(row.summary),
    held: json(row.held),
    progress: json(row.progress),
    error: row.error === null ? null : String(row.error),
    decidedBy: row.decided_by === null ? null : String(row.decided_by),
    read: json(row.read),
  };
}

/** RFC 4180 CSV of a run's events, with the columns of the portal's Log view. */
export function eventsCsv(events: RunEvent[]): string {
  return csv(
    ["Date", "Type", "Event", "User", "Operation"],
    events.map((e) => [new Date(e.at).toISOString(), e.type, e.event, e.user, e.operation]),
  );
}

/** Consecutive operations of the same wave; an item from before waves were planned is a wave of its own. */
function waves<T extends { item: PlanItem }>(batch: T[]): T[][] {
  const out: T[][] = [];
  let current: number | undefined;
  for (const row of batch) {
    const wave = row.item.wave;
    const last = out.at(-1);
    if (last !== undefined && wave !== undefined && wave === current) last.push(row);
    else out.push([row]);
    current = wave;
  }
  return out;
}
