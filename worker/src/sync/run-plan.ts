// The plan of a run made in the tenant's SQLite, a bounded chunk at a time, so that a
// directory of 100,000 users is never one array in the Durable Object's memory (an isolate
// has 128 MB) and no step runs longer than an invocation may. The decisions are the engine's
// pure pieces, the same planSync composes (each user's number start and claim outcome, each
// user's item, each leaver's extension, the apply order, the safety limits); what is done
// here is the walk: joins by objectGUID and number instead of maps, claims settled a page of
// numbers at a time, the apply order by window functions, the summary by GROUP BY. A step
// that dies leaves the cursor where the last finished chunk put it, and every chunk's writes
// replace what an attempt before it may have written, so the next attempt goes on from there.

import { NumberPool, rangesFor } from "../../../engine/extension-numbers.ts";
import type { DesiredUser } from "../../../engine/map-user.ts";
import type { Extension, PbxDirectory } from "../../../engine/pbx/pbx-port.ts";
import {
  adoptionReason,
  adoptKeyOfExtension,
  adoptKeyOfUser,
  adoptMode,
  applyRank,
  type Plan,
  type PlanItem,
  safetyHold,
} from "../../../engine/plan.ts";
import { operationActions, type PlanAction, planActions } from "../../../engine/plan-actions.ts";
import { deprovisionOf, planDeprovision } from "../../../engine/plan-deprovision.ts";
import {
  type AssignedNumber,
  claimOutcome,
  heldClaim,
  lostClaim,
  type NumberConflict,
  numberStart,
  rangeExhausted,
} from "../../../engine/plan-numbers.ts";
import { planUser, type UserContext } from "../../../engine/plan-user.ts";
import { outsideUser } from "../../../engine/read-directory.ts";
import type { SyncConfig } from "../../../schema/generated/config.ts";
import { jsonArrays, type Sql } from "../sql.ts";
import { RowBatch } from "./row-batch.ts";
import { renewStages } from "./stage-renewal.ts";

export const runPlanSchema = `
  CREATE TABLE IF NOT EXISTS plan_state (run_id TEXT PRIMARY KEY, state TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS stage_plan_users (
    run_id TEXT NOT NULL, guid TEXT NOT NULL, dn TEXT NOT NULL, dn_key TEXT NOT NULL, name TEXT NOT NULL,
    excluded TEXT, attr_number TEXT, attr_value TEXT, adopt_key TEXT, outside TEXT, srow INTEGER);
  CREATE INDEX IF NOT EXISTS stage_plan_users_dn ON stage_plan_users (run_id, dn_key, guid);
  CREATE TABLE IF NOT EXISTS stage_keys (run_id TEXT NOT NULL, guid TEXT NOT NULL, lrow INTEGER NOT NULL, PRIMARY KEY (run_id, guid));
  CREATE TABLE IF NOT EXISTS stage_order (
    run_id TEXT NOT NULL, pos INTEGER NOT NULL, guid TEXT NOT NULL, dn TEXT NOT NULL, name TEXT NOT NULL, excluded TEXT,
    attr_number TEXT, attr_value TEXT, srow INTEGER, outside TEXT, lrow INTEGER NOT NULL, PRIMARY KEY (run_id, pos));
  CREATE TABLE IF NOT EXISTS stage_pbx (
    run_id TEXT NOT NULL, number TEXT NOT NULL, ord INTEGER NOT NULL, origin TEXT NOT NULL, guid TEXT, adopt_key TEXT,
    adopted TEXT, released_in INTEGER, display_name TEXT, data TEXT, PRIMARY KEY (run_id, number));
  CREATE INDEX IF NOT EXISTS stage_pbx_guid ON stage_pbx (run_id, guid);
  CREATE INDEX IF NOT EXISTS stage_pbx_ord ON stage_pbx (run_id, ord);
  CREATE TABLE IF NOT EXISTS stage_decides (run_id TEXT NOT NULL, guid TEXT NOT NULL, PRIMARY KEY (run_id, guid));
  CREATE TABLE IF NOT EXISTS stage_claims (
    run_id TEXT NOT NULL, guid TEXT NOT NULL, number TEXT NOT NULL, pos INTEGER NOT NULL, name TEXT NOT NULL,
    old_number TEXT, resolved INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (run_id, pos));
  CREATE INDEX IF NOT EXISTS stage_claims_number ON stage_claims (run_id, number, pos);
  CREATE TABLE IF NOT EXISTS stage_numbers (
    run_id TEXT NOT NULL, pos INTEGER NOT NULL, number TEXT, source TEXT, round INTEGER, code TEXT, reason TEXT,
    PRIMARY KEY (run_id, pos));
  CREATE TABLE IF NOT EXISTS stage_items (
    run_id TEXT NOT NULL, part INTEGER NOT NULL, pos INTEGER NOT NULL, rank REAL NOT NULL, action TEXT NOT NULL,
    item TEXT NOT NULL, PRIMARY KEY (run_id, part, pos));
  CREATE INDEX IF NOT EXISTS stage_items_order ON stage_items (run_id, rank, part, pos);
  CREATE TABLE IF NOT EXISTS stage_structure (run_id TEXT NOT NULL, kind TEXT NOT NULL, name TEXT NOT NULL, PRIMARY KEY (run_id, kind, name));
`;

/** The stage tables the planner fills, cleared with the run's other stages. */
export const planStages = [
  "plan_state",
  "stage_plan_users",
  "stage_keys",
  "stage_order",
  "stage_pbx",
  "stage_decides",
  "stage_claims",
  "stage_numbers",
  "stage_items",
  "stage_structure",
] as const;

/**
 * Rows a chunk. A chunk's users live until it is written, and V8 moves what outlives two
 * young-generation collections to the old generation: at 1,000 a chunk that promoted garbage
 * grew the heap V8 keeps by tens of MB over a 100,000-user plan, at 250 it did not, in the
 * same time.
 */
const CHUNK = 250;
/**
 * Rows a step, over its chunks: a few seconds of CPU at most, well within an invocation's
 * budget. Time cannot measure it: a Worker's clock stands still while it computes.
 */
export const STEP_ROWS = 20_000;
/**
 * Lean rows keyed a statement, in objectGUID order within it: a chunk's keys go into the
 * index as runs of neighbours (a page of it written once for many), where keying each row as
 * it came wrote a random page of the index per row; and SQLite sorts a chunk in its memory
 * without spilling (sorting every row at once kept some 4 MB more of workerd's memory).
 */
const KEY_CHUNK = 10_000;
/** Extensions a page when the PBX is listed. */
const PAGE = 500;
/** Parts of stage_items: each user's item in DN order, then each leaver's in the PBX's order. */
const USERS = 0;
const LEAVERS = 1;

type Phase =
  | "users"
  | "outside"
  | "order"
  | "extensions"
  | "deprovision"
  | "starts"
  | "claims"
  | "held"
  | "sequential"
  | "items"
  | "write"
  | "finish";

interface PlanState {
  phase: Phase;
  /** Where the phase's walk stands: the last key it finished. */
  after: string | number | null;
  /** The claims' round under way, and whether a number was won in it. */
  round: number;
  won: boolean;
  /** The configuration the read was made under: a save during planning does not change this plan. */
  config: SyncConfig;
  complete: boolean;
  incompleteReason: string | null;
  /** Incremental: only the users read again and the synced users who may have left are decided about. */
  incremental: boolean;
  /**
   * Set when stage_pbx holds only what findExtensions found (an incremental run): the synced
   * extensions the PBX holds in all, before this run's adoptions.
   */
  synced?: number;
}

/** What the plan came to, without its items (they are in run_items). */
export interface PlanOutcome {
  summary: Record<PlanAction, number>;
  operations: number;
  departmentsToCreate: string[];
  groupsToCreate: string[];
  held?: Plan["held"];
}

export interface PlanStepInput {
  runId: string;
  kind: "preview" | "sync";
  pbx: PbxDirectory;
}

interface StepContext extends PlanStepInput {
  config: SyncConfig;
}

type Row = Record<string, string | number | null>;

export class RunPlanner {
  readonly #sql: Sql;
  readonly #chunk: number;
  readonly #stepRows: number;

  /** `sizes` for tests that walk many chunk and step boundaries over a small directory. */
  constructor(sql: Sql, sizes: { chunk?: number; stepRows?: number } = {}) {
    this.#sql = sql;
    this.#chunk = sizes.chunk ?? CHUNK;
    this.#stepRows = sizes.stepRows ?? STEP_ROWS;
    // Numbers and claims were keyed by objectGUID: random keys, which dirtied a page of each
    // index per row at 100,000 users; by the DN order's position they are written in order.
    renewStages(sql, { table: "stage_numbers", current: (c) => c.some((x) => x.name === "pos") }, ["stage_numbers", "stage_claims"]);
    sql.exec(runPlanSchema);
    // A user staged twice: the later lean row is the user's, and the earlier one goes.
    sql.exec(`CREATE TRIGGER IF NOT EXISTS stage_keys_replaced AFTER UPDATE OF lrow ON stage_keys WHEN old.lrow <> new.lrow
      BEGIN DELETE FROM stage_plan_users WHERE rowid = old.lrow; END`);
  }

  /**
   * Planning of a run whose read is staged (stage_users, stage_present) begins. `left`: for an
   * incremental read, the synced users it did not find in scope, decided about besides those
   * it read again. `leanStaged`: the read staged each user's lean row too (leanStage), so
   * planning does not read every user again for it.
   */
  begin(
    runId: string,
    read: { config: SyncConfig; complete: boolean; reason?: string; incremental: boolean; left: string[]; leanStaged?: boolean },
  ): void {
    for (const table of planStages)
      if (!(read.leanStaged && (table === "stage_plan_users" || table === "stage_keys")))
        this.#sql.exec(`DELETE FROM ${table} WHERE run_id = ?`, runId);
    for (let i = 0; i < read.left.length; i += this.#chunk)
      this.#sql.exec(
        "INSERT OR IGNORE INTO stage_decides (run_id, guid) SELECT ?, value FROM json_each(?)",
        runId,
        JSON.stringify(read.left.slice(i, i + this.#chunk)),
      );
    this.#save(runId, {
      phase: read.leanStaged ? "outside" : "users",
      after: null,
      round: 1,
      won: false,
      config: read.config,
      complete: read.complete,
      incompleteReason: read.reason ?? null,
      incremental: read.incremental,
    });
  }

  /**
   * The lean rows of the users a read stages, written as the read goes (a page's rows in a
   * statement or a few): the planner's set work joins and orders by them, and making them
   * here costs the read little (its object mostly waits for the directory) where making them
   * after it read every staged user again. Each keeps `srow`, the row id of the user's row in
   * stage_users. Appended as they come, and keyed by objectGUID (stage_keys) when `key` is
   * called, which the read does before it looks users up and once it ends: keyed as they came,
   * the random objectGUIDs wrote a random page of the key's index per user, most of what the
   * worker wrote while it read 100,000 users. A user staged twice keeps the later row.
   */
  leanStage(runId: string, config: SyncConfig): { add(user: DesiredUser, srow: number): void; flush(): void; key(): void; drop(): void } {
    const batch = new RowBatch(
      this.#sql,
      `INSERT INTO stage_plan_users (run_id, guid, dn, dn_key, name, excluded, attr_number, attr_value, adopt_key, srow)
       SELECT ?1, value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, value ->> 6, value ->> 7, value ->> 8
       FROM json_each(?2)`,
      runId,
    );
    const mode = adoptMode(config);
    // Rows after this one are the read's (it starts with the run's stages cleared).
    let keyed = this.#lastLeanRow();
    return {
      add: (u, srow) => {
        const lean = leanRow(mode, u);
        batch.add([lean.guid, lean.dn, lean.dnKey, lean.name, lean.excluded, lean.attrNumber, lean.attrValue, lean.adoptKey, srow]);
      },
      flush: () => batch.flush(),
      key: () => {
        batch.flush();
        keyed = this.#key(runId, keyed);
      },
      drop: () => batch.drop(),
    };
  }

  /** The last lean row there is, of any run (0: none). */
  #lastLeanRow(): number {
    return Number(this.#sql.exec<{ n: number | null }>("SELECT max(rowid) AS n FROM stage_plan_users").one().n ?? 0);
  }

  /**
   * Keys the run's lean rows after row `after` by objectGUID, KEY_CHUNK rows a statement in
   * objectGUID order; a later row of the same user replaces the earlier (stage_keys_replaced).
   * Returns the last row keyed.
   */
  #key(runId: string, after: number): number {
    for (let from = after; ; ) {
      // Along the table from `from`: the rows after it are this run's, appended.
      const chunk = this.#sql
        .exec<{ last: number | null }>(
          "SELECT max(r) AS last FROM (SELECT rowid AS r FROM stage_plan_users NOT INDEXED WHERE rowid > ? AND run_id = ? ORDER BY rowid LIMIT ?)",
          from,
          runId,
          KEY_CHUNK,
        )
        .one().last;
      if (chunk === null) return from;
      this.#sql.exec(
        `INSERT INTO stage_keys (run_id, guid, lrow)
         SELECT run_id, guid, rowid FROM stage_plan_users NOT INDEXED WHERE rowid > ?2 AND rowid <= ?3 AND run_id = ?1 ORDER BY guid, rowid
         ON CONFLICT (run_id, guid) DO UPDATE SET lrow = excluded.lrow WHERE excluded.lrow > stage_keys.lrow`,
        runId,
        from,
        Number(chunk),
      );
      from = Number(chunk);
    }
  }

  /** Planning is under way for the run (begun, not finished). */
  planning(runId: string): boolean {
    return this.#state(runId) !== undefined;
  }

  /** Where planning stands, for the watchdog: it moves with every chunk. */
  mark(runId: string): string {
    const s = this.#state(runId);
    return s === undefined ? "none" : `${s.phase}:${s.round}:${s.after ?? ""}`;
  }

  /** What planning is doing, in the administrator's words, for the run's progress. */
  doing(runId: string): string {
    const phase = this.#state(runId)?.phase;
    return phase === undefined
      ? "done"
      : phase === "users" || phase === "outside" || phase === "order"
        ? "sorting the users read"
        : phase === "extensions"
          ? "listing the PBX's extensions"
          : phase === "deprovision"
            ? "deciding about users who left"
            : phase === "items"
              ? "deciding each user's extension"
              : phase === "write" || phase === "finish"
                ? "putting the changes in order"
                : "giving out extension numbers";
  }

  /**
   * One step of planning: chunks until the step's budget (rows) is spent. Returns the outcome
   * once the plan is in run_items, else undefined (call again).
   */
  async step(input: PlanStepInput, budget = this.#stepRows): Promise<PlanOutcome | undefined> {
    for (;;) {
      const state = this.#state(input.runId);
      if (state === undefined) throw new Error(`run ${input.runId} is not being planned`);
      const ctx = { ...input, config: state.config };
      if (state.phase === "finish") return this.#finish(ctx, state);
      if (budget <= 0) return undefined;
      budget -= await this.#advance(ctx, state);
    }
  }

  /** One chunk of the phase under way (or the whole phase when it has no chunks); returns the rows it took. */
  async #advance(input: StepContext, state: PlanState): Promise<number> {
    const { runId, config } = input;
    switch (state.phase) {
      case "users":
        return this.#leanUsers(runId, config, state);
      case "outside":
        return this.#outsideUsers(runId, config, state);
      case "order":
        return this.#order(runId, state);
      case "extensions":
        return this.#stageExtensions(input, state);
      case "deprovision":
        return this.#leavers(input, state);
      case "starts":
        return this.#starts(runId, config, state);
      case "claims":
        return this.#claims(runId, config, state);
      case "held":
        return this.#heldClaims(runId, state);
      case "sequential":
        return this.#sequential(input, state);
      case "items":
        return this.#userItems(input, state);
      case "write":
        return this.#writeItems(input, state);
      default:
        throw new Error(`unknown planning phase ${state.phase}`);
    }
  }

  /**
   * The DN order every decision that takes "the first by DN" follows (planSync's byName), a
   * chunk at a time along the (dn_key, guid) index: numbering everyone in one statement sorted
   * the whole scope in SQLite's memory (20 MB at 100,000 users), which workerd kept after.
   * Each lean row is copied in that order into stage_order, which the phases that walk the
   * users in DN order read: the lean rows lie in the order the read staged them, and walking
   * them in DN order (or numbering them in place) read and wrote a random page of them per
   * user at 100,000 users.
   */
  #order(runId: string, state: PlanState): number {
    const done = Number(state.after ?? 0);
    const last =
      done === 0
        ? { dn_key: "", guid: "" }
        : this.#sql
            .exec<{ dn_key: string; guid: string }>(
              "SELECT p.dn_key, p.guid FROM stage_order o JOIN stage_plan_users p ON p.rowid = o.lrow WHERE o.run_id = ? AND o.pos = ?",
              runId,
              done,
            )
            .one();
    // The next chunk along the index, numbered by a window over that chunk alone. What a step
    // that died wrote of it is written again the same.
    this.#sql.exec(
      `INSERT OR REPLACE INTO stage_order (run_id, pos, guid, dn, name, excluded, attr_number, attr_value, srow, outside, lrow)
       SELECT run_id, ?2 + row_number() OVER (ORDER BY dn_key, guid), guid, dn, name, excluded, attr_number, attr_value, srow, outside, lrow
       FROM (SELECT *, rowid AS lrow FROM stage_plan_users WHERE run_id = ?1 AND (dn_key, guid) > (?3, ?4) ORDER BY dn_key, guid LIMIT ?5)`,
      runId,
      done,
      last.dn_key,
      last.guid,
      this.#chunk,
    );
    const now = Number(this.#sql.exec<{ n: number | null }>("SELECT max(pos) AS n FROM stage_order WHERE run_id = ?", runId).one().n ?? 0);
    return this.#chunkDone(runId, state, now - done, now, "extensions");
  }

  /**
   * Each staged user's lean row, for a read that did not stage them: what the set work joins
   * and orders by. In the order the users were staged, so a user staged twice keeps the later.
   */
  #leanUsers(runId: string, config: SyncConfig, state: PlanState): number {
    const rows = this.#sql
      .exec<{ srow: number; data: string }>(
        "SELECT rowid AS srow, data FROM stage_users WHERE run_id = ? AND rowid > ? ORDER BY rowid LIMIT ?",
        runId,
        Number(state.after ?? 0),
        this.#chunk,
      )
      .toArray();
    this.#insertLean(
      runId,
      config,
      rows.map((r) => ({ user: JSON.parse(r.data) as DesiredUser, srow: Number(r.srow) })),
    );
    return this.#chunkDone(runId, state, rows.length, rows.at(-1)?.srow ?? null, "outside");
  }

  /** Synced users the read found outside the scope: mapped as out of it, staged like the others. */
  #outsideUsers(runId: string, config: SyncConfig, state: PlanState): number {
    const rows = this.#sql
      .exec<Row>(
        `SELECT p.guid, p.dn, p.name, p.disabled FROM stage_present p
         WHERE p.run_id = ? AND p.guid > ?
           AND NOT EXISTS (SELECT 1 FROM stage_keys k JOIN stage_plan_users u ON u.rowid = k.lrow
                           WHERE k.run_id = p.run_id AND k.guid = p.guid AND u.srow IS NOT NULL)
         ORDER BY p.guid LIMIT ?`,
        runId,
        String(state.after ?? ""),
        this.#chunk,
      )
      .toArray();
    const users = rows.map((r) =>
      outsideUser(config, { guid: String(r.guid), dn: String(r.dn), name: String(r.name), disabled: Number(r.disabled) === 1 }),
    );
    // Beside the lean row, not in stage_users: the directory mirror is what the scope returned.
    this.#insertLean(
      runId,
      config,
      users.map((user) => ({ user, srow: null })),
    );
    return this.#chunkDone(runId, state, rows.length, String(rows.at(-1)?.guid), "order");
  }

  /** Lean rows; a user without `srow` (not staged: outside the scope) carries its mapping itself. */
  #insertLean(runId: string, config: SyncConfig, users: Array<{ user: DesiredUser; srow: number | null }>): void {
    if (users.length === 0) return;
    const mode = adoptMode(config);
    const lean = users.map(({ user, srow }) => ({ ...leanRow(mode, user), srow, outside: srow === null ? JSON.stringify(user) : null }));
    const after = this.#lastLeanRow();
    this.#insertRows(
      "stage_plan_users",
      {
        guid: "$.guid",
        dn: "$.dn",
        dn_key: "$.dnKey",
        name: "$.name",
        excluded: "$.excluded",
        attr_number: "$.attrNumber",
        attr_value: "$.attrValue",
        adopt_key: "$.adoptKey",
        outside: "$.outside",
        srow: "$.srow",
      },
      runId,
      lean,
    );
    this.#key(runId, after);
  }

  /**
   * The PBX's extensions, a page at a time, and the hand-made ones a first sync takes over.
   * An incremental run with nobody to decide about lists nothing: its plan is empty.
   */
  async #stageExtensions(input: StepContext, state: PlanState): Promise<number> {
    const { runId, config, pbx } = input;
    this.#sql.exec("DELETE FROM stage_pbx WHERE run_id = ?", runId);
    this.#sql.exec("DELETE FROM stage_structure WHERE run_id = ?", runId);
    const nobody =
      state.incremental &&
      this.#count("SELECT count(*) AS n FROM stage_plan_users WHERE run_id = ?", runId) === 0 &&
      this.#count("SELECT count(*) AS n FROM stage_decides WHERE run_id = ?", runId) === 0;
    if (nobody) {
      this.#next(runId, state, "write");
      return 0;
    }
    const mode = adoptMode(config);
    const columns = {
      number: "$.number",
      ord: "$.ord",
      origin: "$.origin",
      guid: "$.guid",
      adopt_key: "$.adoptKey",
      display_name: "$.displayName",
      data: "$.data",
    };
    let ord = 0;
    let planState = state;
    const stageRows = (page: Extension[]) =>
      page.map((e) => ({
        number: e.number,
        ord: ord++,
        origin: e.origin,
        guid: e.guid,
        adoptKey: mode !== "none" && e.origin === "manual" ? (adoptKeyOfExtension(mode, e) ?? null) : null,
        displayName: e.displayName,
        data: JSON.stringify(e),
      }));
    if (state.incremental) {
      // An incremental plan decides from what the PBX holds of the users decided about: their
      // extensions, the holders of the numbers they claim, and the hand-made ones adoption may
      // take; the PBX finds them without a listing. Only a sequential number needs every number
      // in use, and #sequential lists them when some user needs one.
      const users = this.#sql
        .exec<{ guid: string; attr: string | null }>(
          `SELECT guid, NULL AS attr FROM stage_decides WHERE run_id = ?1
           UNION SELECT guid, attr_number AS attr FROM stage_plan_users WHERE run_id = ?1`,
          runId,
        )
        .toArray();
      const found = await pbx.findExtensions({
        guids: [...new Set(users.map((u) => u.guid))],
        numbers: [...new Set(users.flatMap((u) => (u.attr === null ? [] : [u.attr])))],
        manual: mode !== "none",
      });
      for (let i = 0; i < found.extensions.length; i += this.#chunk)
        this.#insertRows("stage_pbx", columns, runId, stageRows(found.extensions.slice(i, i + this.#chunk)));
      planState = { ...state, synced: found.synced };
    } else for await (const page of pbx.listExtensionPages(PAGE)) this.#insertRows("stage_pbx", columns, runId, stageRows(page));
    const known = (kind: string, names: string[]) =>
      this.#sql.exec(
        "INSERT OR IGNORE INTO stage_structure (run_id, kind, name) SELECT ?, ?, value FROM json_each(?)",
        runId,
        kind,
        JSON.stringify(names),
      );
    known("department", await pbx.listDepartments());
    known("group", await pbx.listExtensionGroups());
    if (mode !== "none") this.#adopt(runId);
    this.#next(runId, planState, "deprovision");
    return Math.max(ord, 1);
  }

  /**
   * pbx.adopt: a hand-made extension whose key (e-mail address or number) no other hand-made
   * extension has is taken over by the one active user without an extension who has that key
   * and shares it with no other such user (planSync's adoptions).
   */
  #adopt(runId: string): void {
    const matches = this.#sql
      .exec<{ number: string; guid: string }>(
        `SELECT e.number, u.guid FROM
           (SELECT adopt_key, min(number) AS number FROM stage_pbx
            WHERE run_id = ?1 AND origin = 'manual' AND adopt_key IS NOT NULL GROUP BY adopt_key HAVING count(*) = 1) e
         JOIN
           (SELECT adopt_key, min(guid) AS guid FROM stage_plan_users p
            WHERE run_id = ?1 AND excluded IS NULL AND adopt_key IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM stage_pbx x WHERE x.run_id = ?1 AND x.origin = 'ad' AND x.guid = p.guid)
            GROUP BY adopt_key HAVING count(*) = 1) u
         ON u.adopt_key = e.adopt_key`,
        runId,
      )
      .toArray();
    // Read in full before any is written: who is synced already is what the PBX said.
    for (const m of matches)
      this.#sql.exec(
        "UPDATE stage_pbx SET origin = 'ad', guid = ?, adopted = adopt_key WHERE run_id = ? AND number = ?",
        m.guid,
        runId,
        m.number,
      );
  }

  /** Synced extensions whose user is gone, disabled, out of scope or excluded, in the PBX's order. */
  #leavers(input: StepContext, state: PlanState): number {
    const { runId, config, pbx } = input;
    const columns = `e.ord, e.data, e.guid, u.guid AS present, coalesce(s.data, u.outside) AS user`;
    const joins = `LEFT JOIN stage_keys k ON k.run_id = e.run_id AND k.guid = e.guid LEFT JOIN stage_plan_users u ON u.rowid = k.lrow
         LEFT JOIN stage_users s ON s.rowid = u.srow`;
    const leaving = `e.origin = 'ad' AND e.guid IS NOT NULL AND (u.guid IS NULL OR u.excluded IS NOT NULL)`;
    // Incremental: only the users decided about, walked from their side (a few, against a PBX
    // of any size); their items' order comes from each extension's place in the listing.
    const rows = state.incremental
      ? this.#sql
          .exec<Row>(
            `SELECT ${columns}, d.guid AS key FROM
               (SELECT guid FROM stage_plan_users WHERE run_id = ?1 UNION SELECT guid FROM stage_decides WHERE run_id = ?1) d
             CROSS JOIN stage_pbx e ON e.run_id = ?1 AND e.guid = d.guid ${joins}
             WHERE d.guid > ?2 AND ${leaving} ORDER BY d.guid LIMIT ?3`,
            runId,
            String(state.after ?? ""),
            this.#chunk,
          )
          .toArray()
      : this.#sql
          .exec<Row>(
            `SELECT ${columns}, e.ord AS key FROM stage_pbx e ${joins}
             WHERE e.run_id = ?1 AND e.ord > ?2 AND ${leaving} ORDER BY e.ord LIMIT ?3`,
            runId,
            Number(state.after ?? -1),
            this.#chunk,
          )
          .toArray();
    const items: StagedItem[] = [];
    const released: string[] = [];
    for (const r of rows) {
      const e = extensionOf({ data: r.data, guid: r.guid });
      const guid = String(r.guid);
      const present = new Set(r.present === null ? [] : [guid]);
      const users = new Map(r.user === null ? [] : [[guid, JSON.parse(String(r.user)) as DesiredUser]]);
      const d = deprovisionOf(config, e, present, users, state.complete);
      // Its number is free for others once it is deleted: the apply order deletes first.
      if (d.action === "delete") released.push(e.number);
      const item = planDeprovision(e, d, {
        config,
        caps: pbx.capabilities,
        incompleteReason: state.incompleteReason ?? undefined,
      });
      items.push({ part: LEAVERS, pos: Number(r.ord), rank: applyRank(item, 0), item });
    }
    this.#insertItems(runId, items);
    this.#release(runId, released, 0);
    return this.#chunkDone(runId, state, rows.length, rows.at(-1)?.key ?? null, "starts");
  }

  /** Each active user's number start: kept, claimed from the attribute, none, or sequential later. */
  #starts(runId: string, config: SyncConfig, state: PlanState): number {
    const rows = this.#sql
      .exec<Row>(
        `SELECT p.pos, p.guid, p.name, p.attr_number, p.attr_value, e.number AS current, json_extract(e.data, '$.numberSource') AS source
         FROM stage_order p LEFT JOIN stage_pbx e ON e.run_id = p.run_id AND e.origin = 'ad' AND e.guid = p.guid
         WHERE p.run_id = ? AND p.excluded IS NULL AND p.pos > ? ORDER BY p.pos LIMIT ?`,
        runId,
        Number(state.after ?? 0),
        this.#chunk,
      )
      .toArray();
    const claims: Array<{ guid: string; number: string; pos: number; name: string; old: string | null }> = [];
    const numbers: NumberRow[] = [];
    for (const r of rows) {
      const current =
        r.current === null ? undefined : { number: String(r.current), numberSource: (r.source ?? null) as Extension["numberSource"] };
      const start = numberStart(
        config,
        {
          ...(r.attr_number === null ? {} : { attributeNumber: String(r.attr_number) }),
          ...(r.attr_value === null ? {} : { attributeValue: String(r.attr_value) }),
        },
        current,
      );
      const pos = Number(r.pos);
      if (start.kind === "claim")
        claims.push({ guid: String(r.guid), number: start.number, pos, name: String(r.name), old: current?.number ?? null });
      else if (start.kind === "keep") numbers.push({ pos, ...start.assigned });
      else if (start.kind === "conflict") numbers.push({ pos, ...start.conflict });
    }
    this.#insertRows(
      "stage_claims",
      { guid: "$.guid", number: "$.number", pos: "$.pos", name: "$.name", old_number: "$.old" },
      runId,
      claims,
    );
    this.#insertNumbers(runId, numbers);
    return this.#chunkDone(runId, state, rows.length, Number(rows.at(-1)?.pos), "claims");
  }

  /**
   * One page of claimed numbers in the round under way (assignNumbers' rounds): each is
   * refused, won by its first claimant by DN, or left for the next round. A number its
   * winner lets go of is free from the next round on.
   */
  #claims(runId: string, config: SyncConfig, state: PlanState): number {
    const archive = config.deprovisioning?.archive?.extension;
    // SQLite gives the other columns of a min() group from the row that has the minimum: the winner.
    const rows = this.#sql
      .exec<Row>(
        `SELECT c.number, min(c.pos) AS pos, c.guid, c.name, c.old_number, x.origin, x.released_in
         FROM stage_claims c LEFT JOIN stage_pbx x ON x.run_id = c.run_id AND x.number = c.number
         WHERE c.run_id = ? AND c.resolved = 0 AND c.number > ? GROUP BY c.number ORDER BY c.number LIMIT ?`,
        runId,
        String(state.after ?? ""),
        this.#chunk,
      )
      .toArray();
    const refused: Array<{ number: string } & NumberConflict> = [];
    const winners: Array<{ number: string; pos: number; reason: string }> = [];
    const freed: string[] = [];
    for (const r of rows) {
      const number = String(r.number);
      const holder = r.origin === null ? undefined : { origin: r.origin as Extension["origin"] };
      const outcome = claimOutcome(number, holder, r.released_in !== null && Number(r.released_in) < state.round, archive);
      if (outcome === "wait") continue;
      if (outcome !== "win") refused.push({ number, ...outcome.refuse });
      else {
        winners.push({ number, pos: Number(r.pos), reason: lostClaim(number, String(r.name)).reason });
        if (r.old_number !== null) freed.push(String(r.old_number));
      }
    }
    // The winner gets the number; every other claimant of it (and of a refused one) a conflict.
    // CROSS JOIN keeps the page's numbers the outer loop: left to itself, SQLite scans every
    // claim and the page for each, which makes the claims quadratic.
    this.#sql.exec(
      `INSERT OR REPLACE INTO stage_numbers (run_id, pos, number, source, round)
       SELECT ?, value ->> '$.pos', value ->> '$.number', 'attribute', ? FROM json_each(?)`,
      runId,
      state.round,
      JSON.stringify(winners),
    );
    this.#sql.exec(
      `INSERT OR REPLACE INTO stage_numbers (run_id, pos, code, reason)
       SELECT c.run_id, c.pos, 'number_duplicate', json_extract(w.value, '$.reason') FROM json_each(?2) w
       CROSS JOIN stage_claims c ON c.run_id = ?1 AND c.number = json_extract(w.value, '$.number')
       WHERE c.pos != w.value ->> '$.pos'`,
      runId,
      JSON.stringify(winners),
    );
    this.#sql.exec(
      `INSERT OR REPLACE INTO stage_numbers (run_id, pos, code, reason)
       SELECT c.run_id, c.pos, json_extract(f.value, '$.code'), json_extract(f.value, '$.reason') FROM json_each(?2) f
       CROSS JOIN stage_claims c ON c.run_id = ?1 AND c.number = json_extract(f.value, '$.number')`,
      runId,
      JSON.stringify(refused),
    );
    this.#sql.exec(
      "UPDATE stage_claims SET resolved = 1 WHERE run_id = ? AND number IN (SELECT value FROM json_each(?))",
      runId,
      JSON.stringify([...winners.map((w) => w.number), ...refused.map((f) => f.number)]),
    );
    this.#release(runId, freed, state.round);
    const won = state.won || winners.length > 0;
    if (rows.length === this.#chunk) this.#save(runId, { ...state, after: String(rows.at(-1)?.number), won });
    // A round in which some number was won may have freed another: one more round.
    else if (won) this.#save(runId, { ...state, after: null, round: state.round + 1, won: false });
    else this.#next(runId, state, "held");
    return Math.max(rows.length, 1);
  }

  /** Claims no round settled: the number's holder keeps it. */
  #heldClaims(runId: string, state: PlanState): number {
    const rows = this.#sql
      .exec<Row>(
        `SELECT c.pos, c.number, x.display_name AS holder FROM stage_claims c
         LEFT JOIN stage_pbx x ON x.run_id = c.run_id AND x.number = c.number
         WHERE c.run_id = ? AND c.resolved = 0 AND c.pos > ? ORDER BY c.pos LIMIT ?`,
        runId,
        Number(state.after ?? 0),
        this.#chunk,
      )
      .toArray();
    this.#insertNumbers(
      runId,
      rows.map((r) => ({ pos: Number(r.pos), ...heldClaim(String(r.number), r.holder === null ? null : String(r.holder)) })),
    );
    return this.#chunkDone(runId, state, rows.length, Number(rows.at(-1)?.pos), "sequential");
  }

  /**
   * Sequential numbers, in DN order, from what no extension holds after this run's deletes
   * and renumbering and no claim won, never the archive's. The pool is the one set held in
   * memory: the numbers in use, some bytes each, so one walk gives every number.
   */
  async #sequential(input: StepContext, state: PlanState): Promise<number> {
    const { runId, config, pbx } = input;
    const anyone = this.#sql
      .exec(
        `SELECT 1 FROM stage_order p WHERE p.run_id = ? AND p.excluded IS NULL
         AND NOT EXISTS (SELECT 1 FROM stage_numbers n WHERE n.run_id = p.run_id AND n.pos = p.pos) LIMIT 1`,
        runId,
      )
      .toArray();
    // Nobody needs one (every incremental run where no new user came): no pool to fill.
    if (anyone.length === 0) {
      this.#next(runId, state, "items");
      return 1;
    }
    const pool = new NumberPool();
    if (state.synced === undefined)
      for (const r of this.#sql.exec<{ number: string }>("SELECT number FROM stage_pbx WHERE run_id = ? AND released_in IS NULL", runId))
        pool.take(r.number);
    else {
      // stage_pbx holds only what the run decides from: every number in use comes from the
      // PBX, less those this run's deletes and renumbering let go of.
      const released = new Set(
        this.#sql
          .exec<{ number: string }>("SELECT number FROM stage_pbx WHERE run_id = ? AND released_in IS NOT NULL", runId)
          .toArray()
          .map((r) => r.number),
      );
      for await (const page of pbx.listExtensionPages(PAGE)) for (const e of page) if (!released.has(e.number)) pool.take(e.number);
    }
    for (const r of this.#sql.exec<{ number: string }>(
      "SELECT number FROM stage_numbers WHERE run_id = ? AND source = 'attribute' AND round > 0",
      runId,
    ))
      pool.take(r.number);
    const archive = config.deprovisioning?.archive?.extension;
    if (archive !== undefined) pool.take(archive);
    let rows = 0;
    for (let after = 0; ; ) {
      const page = this.#sql
        .exec<{ pos: number; guid: string; dn: string }>(
          `SELECT p.pos, p.guid, p.dn FROM stage_order p
           WHERE p.run_id = ? AND p.excluded IS NULL AND p.pos > ?
             AND NOT EXISTS (SELECT 1 FROM stage_numbers n WHERE n.run_id = p.run_id AND n.pos = p.pos)
           ORDER BY p.pos LIMIT ?`,
          runId,
          after,
          this.#chunk,
        )
        .toArray();
      const numbers: NumberRow[] = page.map((u) => {
        const ranges = rangesFor(config.extensionNumbers, u.dn);
        const number = pool.allocate(ranges);
        return number === undefined
          ? { pos: u.pos, ...rangeExhausted(ranges) }
          : { pos: u.pos, number, source: "sequential" as const, round: 0 };
      });
      this.#insertNumbers(runId, numbers);
      rows += page.length;
      if (page.length < this.#chunk) break;
      after = Number(page.at(-1)?.pos);
    }
    this.#next(runId, state, "items");
    return rows;
  }

  /**
   * Each user's item, a chunk at a time in DN order, a row at a time: each user's data is
   * parsed, planned and written out as text before the next row is read, so what the chunk
   * holds at once is its statement's JSON and not every user, extension and item of it (the
   * bytes that outlive V8's young-generation collections are what makes it widen the young
   * generation).
   */
  #userItems(input: StepContext, state: PlanState): number {
    const { runId, config, pbx } = input;
    const rows = this.#sql.exec<Row>(
      `SELECT p.pos, p.guid, coalesce(s.data, p.outside) AS user, e.data AS ext, e.adopted,
              n.number, n.source, n.round, n.code, n.reason
       FROM stage_order p LEFT JOIN stage_users s ON s.rowid = p.srow
       LEFT JOIN stage_pbx e ON e.run_id = p.run_id AND e.origin = 'ad' AND e.guid = p.guid
       LEFT JOIN stage_numbers n ON n.run_id = p.run_id AND n.pos = p.pos
       WHERE p.run_id = ? AND p.pos > ? ORDER BY p.pos LIMIT ?`,
      runId,
      Number(state.after ?? 0),
      this.#chunk,
    );
    // planUser looks up the user it plans and no other: the maps hold the current row's alone.
    const byGuid = new Map<string, Extension>();
    const numberOf = new Map<string, AssignedNumber>();
    const conflicts = new Map<string, NumberConflict>();
    const adopted = new Map<string, string>();
    const mode = adoptMode(config);
    const structure = (kind: string) =>
      new Set(
        this.#sql
          .exec<{ name: string }>("SELECT name FROM stage_structure WHERE run_id = ? AND kind = ?", runId, kind)
          .toArray()
          .map((r) => r.name),
      );
    const caps = pbx.capabilities;
    const ctx: UserContext = {
      config,
      caps,
      byGuid,
      numberOf,
      conflicts,
      adopted,
      groupsManaged: caps.extensionGroups && (config.organisation?.extensionGroups?.from ?? "none") !== "none",
      departmentsManaged: caps.departments && (config.organisation?.departments?.from ?? "ouTree") !== "none",
      knownGroups: structure("group"),
      knownDepartments: structure("department"),
      createMissing: config.organisation?.extensionGroups?.createMissing !== false,
      groupsToCreate: new Set(),
      departmentsToCreate: new Set(),
    };
    const items = this.#itemBatch(runId);
    let taken = 0;
    let last = 0;
    for (const r of rows) {
      taken++;
      last = Number(r.pos);
      const guid = String(r.guid);
      byGuid.clear();
      numberOf.clear();
      conflicts.clear();
      adopted.clear();
      if (r.ext !== null) byGuid.set(guid, extensionOf({ data: r.ext, guid }));
      if (r.adopted !== null && mode !== "none") adopted.set(guid, adoptionReason(config, mode, String(r.adopted)));
      if (r.code !== null) conflicts.set(guid, { code: String(r.code), reason: String(r.reason) });
      else if (r.number !== null)
        numberOf.set(guid, { number: String(r.number), source: r.source as AssignedNumber["source"], round: Number(r.round) });
      const item = planUser(JSON.parse(String(r.user)) as DesiredUser, ctx);
      if (item) items.add([USERS, last, applyRank(item, numberOf.get(guid)?.round ?? 0), item.action, item]);
    }
    items.flush();
    const toCreate = (kind: string, names: Set<string>) =>
      this.#sql.exec(
        "INSERT OR IGNORE INTO stage_structure (run_id, kind, name) SELECT ?, ?, value FROM json_each(?)",
        runId,
        kind,
        JSON.stringify([...names]),
      );
    toCreate("createGroup", ctx.groupsToCreate);
    toCreate("createDepartment", ctx.departmentsToCreate);
    return this.#chunkDone(runId, state, taken, last, "write");
  }

  /**
   * The items in apply order into run_items, a chunk at a time along stage_items_order: by
   * rank (planSync's applyRank), users before leavers within a rank, each in its own order;
   * the operations' waves are their distinct ranks. One statement over the whole plan sorted
   * every item's JSON in SQLite's memory and held the object for seconds at 100,000 users.
   */
  #writeItems(input: StepContext, state: PlanState): number {
    const { runId, kind } = input;
    const first = state.after === null;
    const at: WriteCursor = first
      ? { rank: 0, part: 0, pos: 0, seq: 0, wave: -1, opRank: null }
      : (JSON.parse(String(state.after)) as WriteCursor);
    if (first) this.#sql.exec("DELETE FROM run_items WHERE run_id = ?", runId);
    // The range on the index, or (the first chunk) from its start: an OR of the two would scan.
    const rows = this.#sql
      .exec<{ part: number; pos: number; rank: number; action: string }>(
        `SELECT part, pos, rank, action FROM stage_items WHERE run_id = ?1 ${first ? "" : "AND (rank, part, pos) > (?3, ?4, ?5)"}
         ORDER BY rank, part, pos LIMIT ?2`,
        runId,
        this.#chunk,
        ...(first ? [] : [at.rank, at.part, at.pos]),
      )
      .toArray();
    const ops = new Set<string>(operationActions);
    const placed = rows.map((r) => {
      let wave: number | null = null;
      if (ops.has(r.action)) {
        if (r.rank !== at.opRank) {
          at.wave++;
          at.opRank = r.rank;
        }
        wave = at.wave;
      }
      return [r.part, r.pos, at.seq++, wave];
    });
    // json_each first (CROSS JOIN keeps it the outer loop), each row found by stage_items' key.
    for (const json of jsonArrays(placed))
      this.#sql.exec(
        `INSERT INTO run_items (run_id, seq, action, name, number, reason, code, item, op_status)
         SELECT s.run_id, j.value ->> 2, s.action,
                json_extract(s.item, '$.name'), json_extract(s.item, '$.number'), json_extract(s.item, '$.reason'), json_extract(s.item, '$.code'),
                CASE WHEN j.value ->> 3 IS NOT NULL THEN json_set(s.item, '$.wave', j.value ->> 3) ELSE s.item END,
                CASE WHEN j.value ->> 3 IS NOT NULL AND ?3 THEN 'pending' ELSE 'none' END
         FROM json_each(?2) j CROSS JOIN stage_items s
         WHERE s.run_id = ?1 AND s.part = j.value ->> 0 AND s.pos = j.value ->> 1`,
        runId,
        json,
        kind === "sync" ? 1 : 0,
      );
    const last = rows.at(-1);
    const next = last === undefined ? at : { ...at, rank: last.rank, part: last.part, pos: last.pos };
    return this.#chunkDone(runId, state, rows.length, JSON.stringify(next), "finish");
  }

  /**
   * Once the items are written: the summary, the safety limits and the structure to create.
   */
  #finish(input: StepContext, state: PlanState): PlanOutcome {
    const { runId, config } = input;
    const summary = Object.fromEntries(planActions.map((a) => [a, 0])) as Record<PlanAction, number>;
    for (const r of this.#sql.exec<{ action: string; n: number }>(
      "SELECT action, count(*) AS n FROM stage_items WHERE run_id = ? GROUP BY action",
      runId,
    ))
      summary[r.action as PlanAction] = Number(r.n);
    // Every synced extension was staged, or (incremental) the PBX counted them: then this
    // run's adoptions are the synced ones it adds.
    const synced =
      state.synced === undefined
        ? this.#count("SELECT count(DISTINCT guid) AS n FROM stage_pbx WHERE run_id = ? AND origin = 'ad' AND guid IS NOT NULL", runId)
        : state.synced + this.#count("SELECT count(*) AS n FROM stage_pbx WHERE run_id = ? AND adopted IS NOT NULL", runId);
    const names = (kind: string) =>
      this.#sql
        .exec<{ name: string }>("SELECT name FROM stage_structure WHERE run_id = ? AND kind = ?", runId, kind)
        .toArray()
        .map((r) => r.name)
        .sort();
    // A recreate deletes an extension (and what it holds) too: it counts against the limits.
    const held = safetyHold(config, summary.delete + summary.recreate, synced);
    const outcome: PlanOutcome = {
      summary,
      operations: operationActions.reduce((n, a) => n + summary[a], 0),
      departmentsToCreate: names("createDepartment"),
      groupsToCreate: names("createGroup"),
      ...(held ? { held } : {}),
    };
    // The stage tables stay for the caller to drop a batch at a time (stage-drops.ts): at
    // 100,000 users deleting them here held the object for seconds.
    this.#sql.exec("DELETE FROM plan_state WHERE run_id = ?", runId);
    return outcome;
  }

  /**
   * Rows into a stage table, as JSON bound to json_each: each column from its JSON path in the
   * row. A Durable Object binds at most 100 values a statement, and each statement costs of its
   * own; jsonArrays keeps each bound string small enough to die young.
   */
  #insertRows(table: (typeof planStages)[number], columns: Record<string, string>, runId: string, rows: unknown[]): void {
    if (rows.length === 0) return;
    const names = Object.keys(columns);
    const insert = `INSERT OR REPLACE INTO ${table} (run_id, ${names.join(", ")})
       SELECT ?, ${names.map((n) => `json_extract(value, '${columns[n]}')`).join(", ")} FROM json_each(?)`;
    for (const json of jsonArrays(rows)) this.#sql.exec(insert, runId, json);
  }

  #insertItems(runId: string, items: StagedItem[]): void {
    const batch = this.#itemBatch(runId);
    for (const { part, pos, rank, item } of items) batch.add([part, pos, rank, item.action, item]);
    batch.flush();
  }

  /** stage_items rows as [part, pos, rank, action, item], written as they come. */
  #itemBatch(runId: string): RowBatch {
    return new RowBatch(
      this.#sql,
      `INSERT OR REPLACE INTO stage_items (run_id, part, pos, rank, action, item)
       SELECT ?1, value ->> 0, value ->> 1, value ->> 2, value ->> 3, value -> 4 FROM json_each(?2)`,
      runId,
    );
  }

  #insertNumbers(runId: string, numbers: NumberRow[]): void {
    if (numbers.length === 0) return;
    this.#insertRows(
      "stage_numbers",
      { pos: "$.pos", number: "$.number", source: "$.source", round: "$.round", code: "$.code", reason: "$.reason" },
      runId,
      numbers,
    );
  }

  /** Numbers their holder lets go of in `round` (0: deleted), free to claims of later rounds. */
  #release(runId: string, numbers: string[], round: number): void {
    if (numbers.length === 0) return;
    this.#sql.exec(
      "UPDATE stage_pbx SET released_in = ? WHERE run_id = ? AND released_in IS NULL AND number IN (SELECT value FROM json_each(?))",
      round,
      runId,
      JSON.stringify(numbers),
    );
  }

  #count(query: string, ...bindings: unknown[]): number {
    return Number(this.#sql.exec<{ n: number }>(query, ...bindings).one().n);
  }

  #state(runId: string): PlanState | undefined {
    const row = this.#sql.exec<{ state: string }>("SELECT state FROM plan_state WHERE run_id = ?", runId).toArray()[0];
    return row === undefined ? undefined : (JSON.parse(row.state) as PlanState);
  }

  #save(runId: string, state: PlanState): void {
    this.#sql.exec("INSERT OR REPLACE INTO plan_state (run_id, state) VALUES (?, ?)", runId, JSON.stringify(state));
  }

  /** After a chunk of `taken` rows: the next phase when it was the last (short) one, else the cursor after `last`. */
  #chunkDone(runId: string, state: PlanState, taken: number, last: string | number | null | undefined, next: Phase): number {
    if (taken < this.#chunk) this.#next(runId, state, next);
    else this.#save(runId, { ...state, after: last ?? null });
    return taken;
  }

  #next(runId: string, state: PlanState, phase: Phase): void {
    this.#save(runId, { ...state, phase, after: null });
  }
}

/** A user's number or conflict, by the user's place in the DN order. */
type NumberRow = { pos: number } & (AssignedNumber | NumberConflict);

/** Where writing the items stands: the last one written, the next seq, and the wave under way. */
interface WriteCursor {
  rank: number;
  part: number;
  pos: number;
  seq: number;
  wave: number;
  opRank: number | null;
}

interface StagedItem {
  part: number;
  pos: number;
  rank: number;
  item: PlanItem;
}

/** A staged extension as the PBX listed it, with what adoption made of it (origin, guid). */
function extensionOf(r: { data: unknown; guid: unknown }): Extension {
  const e = JSON.parse(String(r.data)) as Extension;
  return r.guid === null || r.guid === undefined || e.origin === "ad" ? e : { ...e, origin: "ad", guid: String(r.guid) };
}

/** A user's lean row: what planning joins and orders by (the DN order is by dn_key, then guid). */
function leanRow(mode: ReturnType<typeof adoptMode>, u: DesiredUser) {
  return {
    guid: u.guid,
    dn: u.dn,
    dnKey: u.dn.toLowerCase(),
    name: u.name,
    excluded: u.excluded?.code ?? null,
    attrNumber: u.attributeNumber ?? null,
    attrValue: u.attributeValue ?? null,
    adoptKey: mode === "none" ? null : (adoptKeyOfUser(mode, u) ?? null),
  };
}
