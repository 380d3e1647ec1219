// Rows for a table, written many to a statement: a directory read stages every user of the
// scope, and each statement a Durable Object runs costs workerd native memory that outlives
// the statement (about 90 bytes each, measured), so 100,000 one-row inserts kept 9 MB.
//
// A row is kept as its JSON text from the moment it is added, not as the objects it was made
// of, and a statement goes out once the text reaches `maxChars`: what a batch holds is alive
// across everything allocated while it fills, and V8 widens its young generation by the bytes
// that survive its collections (at 100,000 users, 250 planned items held a chunk at a time
// took it from 8 to 32 MB a semi-space, about 50 MB of workerd's RSS).
import type { Sql } from "../sql.ts";

/** A statement's JSON under this many characters: a bound string over 128 KB lands in V8's large-object space. */
const MAX_CHARS = 60_000;

export class RowBatch {
  readonly #sql: Sql;
  readonly #insert: string;
  readonly #runId: string;
  readonly #maxChars: number;
  #parts: string[] = [];
  #chars = 2;

  /**
   * `insert` takes the run's id as ?1 and the rows as a JSON array of arrays as ?2, e.g.
   * `INSERT INTO t (run_id, a) SELECT ?1, value ->> 0 FROM json_each(?2)`.
   */
  constructor(sql: Sql, insert: string, runId: string, maxChars = MAX_CHARS) {
    this.#sql = sql;
    this.#insert = insert;
    this.#runId = runId;
    this.#maxChars = maxChars;
  }

  add(row: unknown[]): void {
    const json = JSON.stringify(row);
    // A row larger than the limit goes alone.
    if (this.#parts.length > 0 && this.#chars + json.length + 1 > this.#maxChars) this.flush();
    this.#parts.push(json);
    this.#chars += json.length + 1;
  }

  /** Writes what was added, in the order it was added (a later row replaces an earlier one's key). */
  flush(): void {
    if (this.#parts.length === 0) return;
    const json = `[${this.#parts.join(",")}]`;
    this.#parts = [];
    this.#chars = 2;
    this.#sql.exec(this.#insert, this.#runId, json);
  }

  /** Forgets what was added and not yet written. */
  drop(): void {
    this.#parts = [];
    this.#chars = 2;
  }
}
