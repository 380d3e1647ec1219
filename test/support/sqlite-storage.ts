// The part of a Durable Object's SqlStorage that the worker's stores use, over node:sqlite,
// so that they can be tested in Node: including a "restart", which is a second store over
// the same database after the first was abandoned mid-operation.
import { DatabaseSync, type SQLInputValue } from "node:sqlite";
import type { Sql } from "../../worker/src/sql.ts";

type Value = string | number | null | ArrayBuffer;

class Cursor<T> {
  readonly #rows: T[];
  readonly rowsWritten: number;
  constructor(rows: T[], rowsWritten: number) {
    this.#rows = rows;
    this.rowsWritten = rowsWritten;
  }
  toArray(): T[] {
    return this.#rows;
  }
  one(): T {
    if (this.#rows.length !== 1) throw new Error(`expected exactly one row, got ${this.#rows.length}`);
    return this.#rows[0] as T;
  }
  [Symbol.iterator](): Iterator<T> {
    return this.#rows[Symbol.iterator]();
  }
}

export function sqliteStorage(db = new DatabaseSync(":memory:")): Sql {
  const toInput = (v: unknown): SQLInputValue =>
    v instanceof ArrayBuffer ? new Uint8Array(v) : v === undefined ? null : (v as SQLInputValue);
  const fromOutput = (row: Record<string, unknown>) => {
    const out: Record<string, Value> = {};
    for (const [k, v] of Object.entries(row)) out[k] = v instanceof Uint8Array ? (v.slice().buffer as ArrayBuffer) : (v as Value);
    return out;
  };
  const storage = {
    exec(query: string, ...bindings: unknown[]) {
      if (bindings.length === 0 && query.split(";").filter((s) => s.trim() !== "").length > 1) {
        db.exec(query);
        return new Cursor([], 0);
      }
      const statement = db.prepare(query);
      if (statement.columns().length === 0) {
        const result = statement.run(...bindings.map(toInput));
        return new Cursor([], Number(result.changes));
      }
      return new Cursor(
        statement.all(...bindings.map(toInput)).map((r) => fromOutput(r as Record<string, unknown>)),
        0,
      );
    },
  };
  return storage as unknown as Sql;
}
