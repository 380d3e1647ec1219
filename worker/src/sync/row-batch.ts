// Rows for a table, written many to a statement: a directory read stages every user of the
// scope, and each statement a Durable Object runs costs workerd native memory that outlives
// the statement (about 90 bytes each, measured), so 100,000 one-row inserts kept 9 MB.
import { jsonArrays, type Sql } from "../sql.ts";

export class RowBatch {
  readonly #sql: Sql;
  readonly #insert: string;
  readonly #runId: string;
  #rows: unknown[][] = [];
  #chars = 0;

  /**
   * `insert` takes the run's id as ?1 and the rows as a JSON array of arrays as ?2, e.g.
   * `INSERT INTO t (run_id, a) SELECT ?1, value ->> 0 FROM json_each(?2)`.
   */
  constructor(sql: Sql, insert: string, runId: string) {
    this.#sql = sql;
    this.#insert = insert;
    this.#runId = runId;
  }

  add(row: unknown[]): void {
    this.#rows.push(row);
    // A rough size (strings dominate): flushed before a bound string would outgrow jsonArrays' pieces.
    for (const v of row) this.#chars += typeof v === "string" ? v.length + 4 : 8;
    if (this.#chars > 240_000) this.flush();
  }

  /** Writes what was added, in the order it was added (a later row replaces an earlier one's key). */
  flush(): void {
    const rows = this.#rows;
    this.#rows = [];
    this.#chars = 0;
    for (const json of jsonArrays(rows)) this.#sql.exec(this.#insert, this.#runId, json);
  }

  /** Forgets what was added and not yet written. */
  drop(): void {
    this.#rows = [];
    this.#chars = 0;
  }
}
