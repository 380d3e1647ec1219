import { describe, expect, it } from "vitest";
import { sqliteStorage } from "../../../test/support/sqlite-storage.ts";
import { StageDrops } from "./stage-drops.ts";

function stages(rows: Record<string, Record<string, number>>) {
  const sql = sqliteStorage();
  for (const table of ["stage_a", "stage_b"]) {
    sql.exec(`CREATE TABLE ${table} (run_id TEXT NOT NULL, k INTEGER NOT NULL, PRIMARY KEY (run_id, k))`);
    sql.exec(`CREATE INDEX ${table}_k ON ${table} (k)`);
    for (const [run, n] of Object.entries(rows[table] ?? {}))
      sql.exec(
        `WITH RECURSIVE n(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM n WHERE k < ?2) INSERT INTO ${table} (run_id, k) SELECT ?1, k FROM n`,
        run,
        n,
      );
  }
  const count = (table: string, run: string) =>
    Number(sql.exec<{ n: number }>(`SELECT count(*) AS n FROM ${table} WHERE run_id = ?`, run).one().n);
  return { sql, count, drops: new StageDrops(sql, ["stage_a", "stage_b"]) };
}

describe("StageDrops", () => {
  it("clears a dropped run's rows a bounded batch at a time, and leaves other runs' rows alone", () => {
    const { count, drops } = stages({ stage_a: { done: 2500, live: 10 }, stage_b: { done: 700 } });
    drops.drop("done", ["stage_a", "stage_b"]);
    expect(drops.pending()).toBe(true);
    // Dropping deletes nothing by itself.
    expect(count("stage_a", "done")).toBe(2500);

    let batches = 0;
    while (drops.sweep(1000)) {
      batches++;
      const left = count("stage_a", "done") + count("stage_b", "done");
      // Each batch removes at most its budget.
      expect(3200 - left).toBeLessThanOrEqual(1000 * batches);
      expect(batches).toBeLessThan(20);
    }
    expect(batches).toBeGreaterThanOrEqual(3);
    expect(count("stage_a", "done")).toBe(0);
    expect(count("stage_b", "done")).toBe(0);
    expect(count("stage_a", "live")).toBe(10);
    expect(drops.pending()).toBe(false);
  });

  it("refuses to drop a table that is not a stage table", () => {
    const { drops } = stages({});
    expect(() => drops.drop("run", ["runs"])).toThrow("runs is not a stage table");
    expect(drops.pending()).toBe(false);
  });
});
