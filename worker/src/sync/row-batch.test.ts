import { describe, expect, it } from "vitest";
import { sqliteStorage } from "../../../test/support/sqlite-storage.ts";
import { RowBatch } from "./row-batch.ts";

function table() {
  const store = sqliteStorage();
  store.exec("CREATE TABLE t (run_id TEXT NOT NULL, k TEXT NOT NULL, v TEXT NOT NULL, PRIMARY KEY (run_id, k))");
  let statements = 0;
  const sql = {
    exec: (query: string, ...bindings: unknown[]) => {
      statements++;
      return store.exec(query, ...bindings);
    },
  } as typeof store;
  const batch = new RowBatch(sql, "INSERT OR REPLACE INTO t (run_id, k, v) SELECT ?1, value ->> 0, value ->> 1 FROM json_each(?2)", "run");
  const rows = () => store.exec<{ k: string; v: string }>("SELECT k, v FROM t WHERE run_id = 'run' ORDER BY k").toArray();
  return { batch, rows, statements: () => statements };
}

describe("RowBatch", () => {
  it("writes what was added on flush, many rows to a statement, a later row replacing an earlier one", () => {
    const { batch, rows, statements } = table();
    for (let i = 0; i < 100; i++) batch.add([`k${String(i).padStart(3, "0")}`, `{"n":${i},"q":"\\"quoted\\""}`]);
    batch.add(["k000", "last"]);
    expect(rows()).toEqual([]);
    batch.flush();
    expect(statements()).toBe(1);
    expect(rows()).toHaveLength(100);
    expect(rows()[0]).toEqual({ k: "k000", v: "last" });
    expect(rows()[1]).toEqual({ k: "k001", v: '{"n":1,"q":"\\"quoted\\""}' });
  });

  it("writes on its own before a statement's JSON passes its limit, a larger row alone, and forgets what is dropped", () => {
    const { batch, rows, statements } = table();
    const big = "x".repeat(20_000);
    for (let i = 0; i < 30; i++) batch.add([`k${String(i).padStart(2, "0")}`, big]);
    // 600,000 characters, two rows a statement under 60,000: 14 statements written before the flush.
    expect(statements()).toBe(14);
    expect(rows()).toHaveLength(28);
    batch.flush();
    expect(rows()).toHaveLength(30);
    expect(statements()).toBe(15);
    batch.add(["huge", "y".repeat(70_000)]);
    expect(rows().map((r) => r.k)).not.toContain("huge");
    // The next row sends it out alone.
    batch.add(["after", "v"]);
    expect(statements()).toBe(16);
    expect(rows().map((r) => r.k)).toContain("huge");
    batch.flush();
    expect(statements()).toBe(17);
    expect(rows().find((r) => r.k === "huge")?.v).toHaveLength(70_000);
    batch.add(["dropped", "v"]);
    batch.drop();
    batch.flush();
    expect(rows().map((r) => r.k)).not.toContain("dropped");
  });
});
