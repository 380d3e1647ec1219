// What the directory looked like at the last complete read, kept between runs so that the
// next one can read only what changed: every user the scope returned, mapped; the DC's
// position before that read; and the users whose outcome a later run must decide again
// although nothing about them changes in AD (an operation that did not reach the PBX, a
// number another user holds). The set work (who is new, who left, whose group changed) is
// done in SQL, so a large directory is never one set in memory.

import type { ReadBasis } from "../../../engine/read-basis.ts";
import type { GroupMembership } from "../../../engine/read-changes.ts";
import type { DirectoryPosition } from "../../../schema/src/agent-protocol.ts";
import type { Sql } from "../sql.ts";

export const directoryMirrorSchema = `
  CREATE TABLE IF NOT EXISTS directory_users (guid TEXT PRIMARY KEY, data TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS directory_basis (
    id INTEGER PRIMARY KEY CHECK (id = 1), config_key TEXT NOT NULL, full_at INTEGER NOT NULL,
    position TEXT, position_problem TEXT);
  CREATE TABLE IF NOT EXISTS directory_unsettled (guid TEXT PRIMARY KEY);
  CREATE TABLE IF NOT EXISTS stage_sweep (run_id TEXT NOT NULL, guid TEXT NOT NULL, PRIMARY KEY (run_id, guid));
  CREATE TABLE IF NOT EXISTS stage_synced (run_id TEXT NOT NULL, guid TEXT NOT NULL, PRIMARY KEY (run_id, guid));
`;

/** The stage tables of a run this store fills, cleared with the run's other stages. */
export const mirrorStages = ["stage_sweep", "stage_synced"] as const;

/**
 * The one conflict only the user's own change in AD can resolve (the number attribute gives no
 * number), and which a directory can hold by the thousand: decided again when the user changes.
 * Every other conflict (a number another user holds, a range with no room, a number this PBX
 * cannot change) is decided again, and shown, at every run.
 */
const WAITS_FOR_ITS_USER = "no_number";

/**
 * Each user a run staged (`?` the run) into the mirror, as read last: stage_users is appended
 * to, so in its order a user staged twice replaces its earlier row. Read in that order, not
 * along objectGUIDs: looking each one up by the lean rows' objectGUID key read a random page
 * of the staged users per user (over a gigabyte at 100,000 users).
 */
const STAGED = "INSERT OR REPLACE INTO directory_users (guid, data) SELECT guid, data FROM stage_users WHERE run_id = ? ORDER BY rowid";

// objectGUIDs a statement: some 40 KB of JSON.
const INSERT_BATCH = 1000;

export class DirectoryMirror {
  readonly #sql: Sql;

  constructor(sql: Sql) {
    this.#sql = sql;
    sql.exec(directoryMirrorSchema);
  }

  basis(): ReadBasis | undefined {
    const row = this.#sql
      .exec<{ config_key: string; full_at: number; position: string | null; position_problem: string | null }>(
        "SELECT config_key, full_at, position, position_problem FROM directory_basis WHERE id = 1",
      )
      .toArray()[0];
    if (!row) return undefined;
    return {
      configKey: row.config_key,
      fullAt: Number(row.full_at),
      position: row.position === null ? null : (JSON.parse(row.position) as DirectoryPosition),
      positionProblem: row.position_problem,
    };
  }

  /** Forgets the basis: the next run reads everything (a restored tenant, a test). */
  forget(): void {
    this.#sql.exec("DELETE FROM directory_basis");
  }

  /** A complete full read of a sync run: the mirror becomes what it staged. */
  commitFull(runId: string, basis: ReadBasis): void {
    this.#sql.exec("DELETE FROM directory_users");
    this.#sql.exec(STAGED, runId);
    this.#sql.exec("DELETE FROM directory_unsettled");
    this.#writeBasis(basis);
  }

  /**
   * A complete incremental read of a sync run that swept the scope: the changed users replace
   * their rows, whoever the sweep did not find is out of the mirror, and the position moves on.
   */
  commitSwept(runId: string, position: DirectoryPosition): void {
    this.#sql.exec("DELETE FROM directory_users WHERE guid NOT IN (SELECT guid FROM stage_sweep WHERE run_id = ?)", runId);
    this.#commitStaged(runId, position);
  }

  /**
   * A complete incremental read of a sync run from the changes and the tombstones: the changed
   * users in scope replace their rows, and `removed` (changed and out of scope now, or deleted)
   * are out of the mirror.
   */
  commitChanges(runId: string, position: DirectoryPosition, removed: string[]): void {
    for (let i = 0; i < removed.length; i += INSERT_BATCH)
      this.#sql.exec(
        "DELETE FROM directory_users WHERE guid IN (SELECT value FROM json_each(?))",
        JSON.stringify(removed.slice(i, i + INSERT_BATCH)),
      );
    this.#commitStaged(runId, position);
  }

  #commitStaged(runId: string, position: DirectoryPosition): void {
    this.#sql.exec(STAGED, runId);
    this.#sql.exec("DELETE FROM directory_unsettled WHERE guid NOT IN (SELECT guid FROM directory_users)");
    this.#sql.exec("UPDATE directory_basis SET position = ?, position_problem = NULL WHERE id = 1", JSON.stringify(position));
  }

  #writeBasis(basis: ReadBasis): void {
    this.#sql.exec(
      "INSERT OR REPLACE INTO directory_basis (id, config_key, full_at, position, position_problem) VALUES (1, ?, ?, ?, ?)",
      basis.configKey,
      basis.fullAt,
      basis.position === null ? null : JSON.stringify(basis.position),
      basis.positionProblem,
    );
  }

  sweep(runId: string, guids: string[]): void {
    this.#insertGuids("stage_sweep", runId, guids);
  }

  synced(runId: string, guids: Iterable<string>): void {
    this.#insertGuids("stage_synced", runId, [...guids]);
  }

  /**
   * Many rows a statement: each statement a Durable Object runs has a cost of its own, and it
   * binds at most 100 values, so the objectGUIDs go in as one JSON array.
   */
  #insertGuids(table: (typeof mirrorStages)[number], runId: string, guids: string[]): void {
    for (let i = 0; i < guids.length; i += INSERT_BATCH)
      this.#sql.exec(
        `INSERT OR IGNORE INTO ${table} (run_id, guid) SELECT ?, value FROM json_each(?)`,
        runId,
        JSON.stringify(guids.slice(i, i + INSERT_BATCH)),
      );
  }

  /** In scope now and not at the last read, nor read already: added to a scope group, or moved in. */
  arrived(runId: string): string[] {
    return this.#guids(
      `SELECT s.guid FROM stage_sweep s
       WHERE s.run_id = ? AND s.guid NOT IN (SELECT guid FROM directory_users)
         AND NOT EXISTS (SELECT 1 FROM stage_keys k JOIN stage_plan_users p ON p.rowid = k.lrow
                         WHERE k.run_id = s.run_id AND k.guid = s.guid AND p.srow IS NOT NULL)`,
      runId,
    );
  }

  /**
   * Users in scope whose extension groups may differ from the mirror's: members of a changed
   * group now who did not carry it, and those who carried it and are not members now.
   */
  regrouped(runId: string, memberships: GroupMembership[]): string[] {
    const out = new Set<string>();
    for (const group of memberships) {
      const carried = new Set(
        this.#guids(
          `SELECT guid FROM directory_users WHERE EXISTS (SELECT 1 FROM json_each(data, '$.groups') WHERE value = ?)`,
          group.name,
        ),
      );
      for (const guid of group.members) if (!carried.has(guid)) out.add(guid);
      for (const guid of carried) if (!group.members.has(guid)) out.add(guid);
    }
    // Not those read already; whoever is out of scope now is not found by the read again.
    const staged = new Set(this.#guids("SELECT guid FROM stage_users WHERE run_id = ?", runId));
    return [...out].filter((g) => !staged.has(g));
  }

  /**
   * Users an earlier run left unsettled and not read already; those out of scope now the read
   * does not find. Those no longer in the mirror too: a deleted user whose delete was not done
   * (a run rejected, cancelled or failed) is gone from the mirror, and decided about again.
   */
  unsettled(runId: string): string[] {
    return this.#guids(
      `SELECT u.guid FROM directory_unsettled u
       WHERE NOT EXISTS (SELECT 1 FROM stage_keys k JOIN stage_plan_users p ON p.rowid = k.lrow
                         WHERE k.run_id = ? AND k.guid = u.guid AND p.srow IS NOT NULL)`,
      runId,
    );
  }

  /** Synced users the sweep did not find: deleted in AD, or out of scope now. */
  left(runId: string): string[] {
    return this.#guids(
      "SELECT guid FROM stage_synced WHERE run_id = ? AND guid NOT IN (SELECT guid FROM stage_sweep WHERE run_id = ?)",
      runId,
      runId,
    );
  }

  /**
   * After a sync run's plan: its users are settled or not anew. A conflict stays unsettled
   * unless only its user can resolve it; an operation is unsettled if the run ends before it
   * is done (settled). `full`: the mirror was just made anew, and holds no unsettled user.
   */
  plannedSync(runId: string, full: boolean): void {
    if (!full)
      this.#sql.exec(
        `DELETE FROM directory_unsettled WHERE guid IN
         (SELECT json_extract(item, '$.guid') FROM run_items WHERE run_id = ? AND json_extract(item, '$.guid') IS NOT NULL)`,
        runId,
      );
    // Conflicts are no operations: along the run's 'none' range of run_items_status.
    this.#sql.exec(
      `INSERT OR IGNORE INTO directory_unsettled (guid)
       SELECT json_extract(item, '$.guid') FROM run_items
       WHERE run_id = ? AND op_status = 'none' AND action = 'conflict' AND coalesce(code, '') != ?
         AND json_extract(item, '$.guid') IS NOT NULL`,
      runId,
      WAITS_FOR_ITS_USER,
    );
  }

  /**
   * When a sync run ends. `planned`: plannedSync settled the run's users anew, and those of its
   * operations that are not done are unsettled now. Else (a run whose read left no basis to
   * commit) the operations it finished settle their users. After a plan only what is not done
   * is looked at: at 100,000 operations, marking each one unsettled and settling it again read
   * every operation's JSON twice and wrote a random page of the key per user.
   */
  settled(runId: string, planned: boolean): void {
    if (!planned) {
      this.#sql.exec(
        `DELETE FROM directory_unsettled WHERE guid IN
         (SELECT json_extract(item, '$.guid') FROM run_items WHERE run_id = ? AND op_status = 'done')`,
        runId,
      );
      return;
    }
    this.#sql.exec(
      `INSERT OR IGNORE INTO directory_unsettled (guid)
       SELECT json_extract(item, '$.guid') FROM run_items
       WHERE run_id = ? AND op_status IN ('pending', 'applying', 'failed') AND json_extract(item, '$.guid') IS NOT NULL`,
      runId,
    );
  }

  #guids(query: string, ...bindings: unknown[]): string[] {
    return this.#sql
      .exec<{ guid: string }>(query, ...bindings)
      .toArray()
      .map((r) => r.guid);
  }
}
