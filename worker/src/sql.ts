// The part of a Durable Object's SQL API the stores use, as a structural type: the Durable
// Object passes ctx.storage.sql, tests pass node:sqlite behind the same shape.
export type SqlValue = string | number | null | ArrayBuffer;

export interface SqlCursor<T> extends Iterable<T> {
  toArray(): T[];
  one(): T;
  readonly rowsWritten: number;
}

export interface Sql {
  exec<T extends Record<string, SqlValue>>(query: string, ...bindings: unknown[]): SqlCursor<T>;
}

/** A LIKE pattern matching `text` anywhere, its % _ and \ taken literally (use with ESCAPE '\'). */
export function containsPattern(text: string): string {
  return `%${text.replace(/[%_\\]/g, (c) => `\\${c}`)}%`;
}

/** The columns a table has now: migrations add the ones a tenant made earlier lacks. */
export function columnNames(sql: Sql, table: string): Set<string> {
  return new Set(
    sql
      .exec<{ name: string }>(`PRAGMA table_info(${table})`)
      .toArray()
      .map((c) => c.name),
  );
}

/** Adds the columns a table made by an earlier version lacks (`ALTER TABLE … ADD COLUMN`). */
export function addMissingColumns(sql: Sql, table: string, columns: Record<string, string>): void {
  const have = columnNames(sql, table);
  for (const [name, type] of Object.entries(columns)) if (!have.has(name)) sql.exec(`ALTER TABLE ${table} ADD COLUMN ${name} ${type}`);
}

/**
 * `rows` as JSON arrays to bind to json_each, each under `maxChars` characters (a row larger
 * than that goes alone). A bound string over 128 KB lands in V8's large-object space, which
 * only a full collection frees: a run that bound a megabyte a chunk grew the heap the isolate
 * keeps with the directory's size, where strings of this size die young.
 */
export function* jsonArrays(rows: Iterable<unknown>, maxChars = 60_000): Generator<string> {
  let parts: string[] = [];
  let size = 2;
  for (const row of rows) {
    const json = JSON.stringify(row);
    if (parts.length > 0 && size + json.length + 1 > maxChars) {
      yield `[${parts.join(",")}]`;
      parts = [];
      size = 2;
    }
    parts.push(json);
    size += json.length + 1;
  }
  if (parts.length > 0) yield `[${parts.join(",")}]`;
}
