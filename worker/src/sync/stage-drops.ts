// A finished run's staged rows, removed a bounded batch at a time after the run has ended.
// At 100,000 users a run stages several hundred thousand rows (the users read, the plan's
// users, claims, numbers and items); deleting them all in the step that ends the run held the
// Durable Object for seconds (7.5 s on a slow machine) without answering anything, the portal's
// polls included, and counted against that step's CPU budget. No one reads a finished run's
// stages, so the run ends when its outcome is known and the alarm clears them afterwards.
import type { Sql } from "../sql.ts";

export const stageDropsSchema = `
  CREATE TABLE IF NOT EXISTS stage_drops (run_id TEXT NOT NULL, tbl TEXT NOT NULL, PRIMARY KEY (run_id, tbl));
`;

/** Rows deleted a batch: about 0.1 s of SQLite work, well inside what a request waits. */
export const DROP_BATCH = 10_000;

export class StageDrops {
  readonly #sql: Sql;
  readonly #tables: ReadonlySet<string>;

  /** `tables`: the stage tables there are (the only names a drop may name). */
  constructor(sql: Sql, tables: readonly string[]) {
    this.#sql = sql;
    this.#tables = new Set(tables);
    sql.exec(stageDropsSchema);
  }

  /** The run's rows in `tables` are no longer needed: they go in later batches. */
  drop(runId: string, tables: readonly string[]): void {
    for (const table of tables) {
      if (!this.#tables.has(table)) throw new Error(`${table} is not a stage table`);
      this.#sql.exec("INSERT OR IGNORE INTO stage_drops (run_id, tbl) VALUES (?, ?)", runId, table);
    }
  }

  /** Whether some dropped rows are still there. */
  pending(): boolean {
    return this.#sql.exec("SELECT 1 FROM stage_drops LIMIT 1").toArray().length > 0;
  }

  /**
   * Deletes up to `budget` dropped rows, along each table's (run_id, …) key; returns whether
   * some remain. A run read again under the same id (a retried read) deletes its own stages
   * first, so a drop never races a run that still uses them.
   */
  sweep(budget = DROP_BATCH): boolean {
    const drops = this.#sql.exec<{ run_id: string; tbl: string }>("SELECT run_id, tbl FROM stage_drops ORDER BY run_id, tbl").toArray();
    for (const { run_id: runId, tbl } of drops) {
      if (budget <= 0) return true;
      if (!this.#tables.has(tbl)) {
        this.#sql.exec("DELETE FROM stage_drops WHERE run_id = ? AND tbl = ?", runId, tbl);
        continue;
      }
      const deleted = this.#sql.exec(
        `DELETE FROM ${tbl} WHERE rowid IN (SELECT rowid FROM ${tbl} WHERE run_id = ? LIMIT ?)`,
        runId,
        budget,
      ).rowsWritten;
      // rowsWritten may count index entries as well: only "nothing deleted" is sure to mean done.
      if (deleted === 0) this.#sql.exec("DELETE FROM stage_drops WHERE run_id = ? AND tbl = ?", runId, tbl);
      budget -= Math.max(1, deleted);
    }
    return this.pending();
  }
}
