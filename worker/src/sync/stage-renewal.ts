// Stage tables whose keys a later version changed. SQLite cannot change a table's primary key
// in place, and `CREATE TABLE IF NOT EXISTS` keeps the old one, so a tenant made by an earlier
// version would go on with the old keys (and the statements written for the new ones would
// fail). Stage tables hold only what runs under way staged, so they are dropped and made anew;
// a run being planned whose planning state is gone with them reads again (sync-runs.ts).
import { columnNames, type Sql } from "../sql.ts";

/**
 * When `table` exists without `column` (its mark of the current keys), drops every table of
 * `tables` (the caller makes them again) and the planning state of every run.
 */
export function renewStages(sql: Sql, mark: { table: string; column: string }, tables: readonly string[]): boolean {
  const have = columnNames(sql, mark.table);
  if (have.size === 0 || have.has(mark.column)) return false;
  for (const table of tables) sql.exec(`DROP TABLE IF EXISTS ${table}`);
  if (columnNames(sql, "plan_state").size > 0) sql.exec("DELETE FROM plan_state");
  return true;
}
