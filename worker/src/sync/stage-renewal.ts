// Stage tables whose keys a later version changed. SQLite cannot change a table's primary key
// in place, and `CREATE TABLE IF NOT EXISTS` keeps the old one, so a tenant made by an earlier
// version would go on with the old keys (and the statements written for the new ones would
// fail). Stage tables hold only what runs under way staged, so they are dropped and made anew;
// a run being planned whose planning state is gone with them reads again (sync-runs.ts).
import type { Sql } from "../sql.ts";

export interface TableColumn {
  name: string;
  /** Its place in the primary key (1, 2, …); 0 when it is not in it. */
  pk: number;
}

/**
 * When `mark.table` exists and `mark.current` says its columns are not the current version's,
 * drops every table of `tables` (the caller makes them again) and the planning state of every
 * run. Whether it did.
 */
export function renewStages(
  sql: Sql,
  mark: { table: string; current: (columns: TableColumn[]) => boolean },
  tables: readonly string[],
): boolean {
  const columns = tableColumns(sql, mark.table);
  if (columns.length === 0 || mark.current(columns)) return false;
  for (const table of tables) sql.exec(`DROP TABLE IF EXISTS ${table}`);
  if (tableColumns(sql, "plan_state").length > 0) sql.exec("DELETE FROM plan_state");
  return true;
}

function tableColumns(sql: Sql, table: string): TableColumn[] {
  return sql
    .exec<{ name: string; pk: number }>(`PRAGMA table_info(${table})`)
    .toArray()
    .map((c) => ({ name: String(c.name), pk: Number(c.pk) }));
}
