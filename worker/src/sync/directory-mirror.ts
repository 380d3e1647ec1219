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
    this.#sql.exec("INSERT INTO directory_users (guid, data) SELECT guid, data FROM stage_users WHERE run_id = ?", runId);
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
    this.#sql.exec("INSERT OR REPLACE INTO directory_users (guid, data) SELECT guid, data FROM stage_users WHERE run_id = ?", runId);
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
         AND s.guid NOT IN (SELECT guid FROM stage_users WHERE run_id = s.run_id)`,
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

  /** Users an earlier run left unsettled and not read already; those out of scope now the read does not find. */
  unsettled(runId: string): string[] {
    return this.#guids(
      `SELECT u.guid FROM directory_unsettled u JOIN directory_users d ON d.guid = u.guid
       WHERE u.guid NOT IN (SELECT guid FROM stage_users WHERE run_id = ?)`,
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
   * After a sync run's plan: its users are settled or not anew. An operation is unsettled
   * until it is done; a conflict stays unsettled unless only its user can resolve it.
   */
  plannedSync(runId: string): void {
    this.#sql.exec(
      `DELETE FROM directory_unsettled WHERE guid IN
       (SELECT json_extract(item, '$.guid') FROM run_items WHERE run_id = ? AND json_extract(item, '$.guid') IS NOT NULL)`,
      runId,
    );
    this.#sql.exec(
      `INSERT OR IGNORE INTO directory_unsettled (guid)
       SELECT json_extract(item, '$.guid') FROM run_items
       WHERE run_id = ? AND json_extract(item, '$.guid') IS NOT NULL
         AND (op_status IN ('pending', 'applying', 'failed') OR (action = 'conflict' AND coalesce(code, '') != ?))`,
      runId,
      WAITS_FOR_ITS_USER,
    );
  }

  /** When a sync run ends: the operations it finished settle their users. */
  settled(runId: string): void {
    this.#sql.exec(
      `DELETE FROM directory_unsettled WHERE guid IN
       (SELECT json_extract(item, '$.guid') FROM run_items WHERE run_id = ? AND op_status = 'done')`,
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
