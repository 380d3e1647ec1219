import { describe, expect, it } from "vitest";
import { sqliteStorage } from "../../../test/support/sqlite-storage.ts";
import { BuiltinPbx } from "../pbx/builtin/builtin-pbx.ts";
import { RunPlanner } from "./run-plan.ts";
import { type RunSources, SyncRuns } from "./sync-runs.ts";

describe("stage tables an earlier version keyed otherwise", () => {
  it("are made anew with the current keys, and the runs being planned over them read again", () => {
    const sql = sqliteStorage();
    // As an earlier version made them: numbers and claims keyed by objectGUID.
    sql.exec(`CREATE TABLE plan_state (run_id TEXT PRIMARY KEY, state TEXT NOT NULL);
      CREATE TABLE stage_claims (run_id TEXT NOT NULL, guid TEXT NOT NULL, number TEXT NOT NULL, pos INTEGER NOT NULL,
        name TEXT NOT NULL, old_number TEXT, resolved INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (run_id, guid));
      CREATE TABLE stage_numbers (run_id TEXT NOT NULL, guid TEXT NOT NULL, number TEXT, source TEXT, round INTEGER,
        code TEXT, reason TEXT, PRIMARY KEY (run_id, guid));`);
    sql.exec("INSERT INTO plan_state (run_id, state) VALUES ('r1', '{}')");
    sql.exec("INSERT INTO stage_numbers (run_id, guid, number) VALUES ('r1', 'g1', '1000')");

    const planner = new RunPlanner(sql);
    expect(planner.planning("r1")).toBe(false);
    const keys = (table: string) =>
      sql
        .exec<{ name: string; pk: number }>(`PRAGMA table_info(${table})`)
        .toArray()
        .filter((c) => c.pk > 0)
        .map((c) => c.name);
    expect(keys("stage_numbers")).toEqual(["run_id", "pos"]);
    expect(keys("stage_claims")).toEqual(["run_id", "pos"]);
    expect(sql.exec("SELECT * FROM stage_numbers").toArray()).toEqual([]);

    // Made with the current keys, a second start leaves them and the planning state alone.
    sql.exec("INSERT INTO plan_state (run_id, state) VALUES ('r2', '{}')");
    new RunPlanner(sql);
    expect(sql.exec("SELECT run_id FROM plan_state").toArray()).toEqual([{ run_id: "r2" }]);
  });

  it("drop the users a read staged by objectGUID, and make them anew appended, each found through its lean row", () => {
    const sql = sqliteStorage();
    sql.exec(`CREATE TABLE plan_state (run_id TEXT PRIMARY KEY, state TEXT NOT NULL);
      CREATE TABLE stage_users (run_id TEXT NOT NULL, guid TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (run_id, guid));
      CREATE TABLE stage_plan_users (run_id TEXT NOT NULL, guid TEXT NOT NULL, pos INTEGER, dn TEXT NOT NULL, dn_key TEXT NOT NULL,
        name TEXT NOT NULL, excluded TEXT, attr_number TEXT, attr_value TEXT, adopt_key TEXT, outside TEXT, PRIMARY KEY (run_id, guid));`);
    sql.exec("INSERT INTO stage_users (run_id, guid, data) VALUES ('r1', 'g1', '{}')");
    sql.exec("INSERT INTO plan_state (run_id, state) VALUES ('r1', '{}')");
    new SyncRuns(sql, { pbx: new BuiltinPbx(sql) } as unknown as RunSources);
    const columns = (table: string) =>
      sql
        .exec<{ name: string; pk: number }>(`PRAGMA table_info(${table})`)
        .toArray()
        .map((c) => `${c.name}${c.pk > 0 ? "*" : ""}`);
    expect(columns("stage_users")).toEqual(["run_id", "guid", "data"]);
    expect(columns("stage_plan_users")).toContain("srow");
    expect(sql.exec("SELECT * FROM stage_users").toArray()).toEqual([]);
    expect(sql.exec("SELECT * FROM plan_state").toArray()).toEqual([]);
    expect(columns("stage_plan_users").some((c) => c.endsWith("*"))).toBe(false);

    // Lean rows keyed by objectGUID as they were staged, with the row id of their user: made anew too.
    sql.exec("DROP TABLE stage_plan_users");
    sql.exec(`CREATE TABLE stage_plan_users (run_id TEXT NOT NULL, guid TEXT NOT NULL, dn TEXT NOT NULL, dn_key TEXT NOT NULL,
      name TEXT NOT NULL, excluded TEXT, attr_number TEXT, attr_value TEXT, adopt_key TEXT, outside TEXT, srow INTEGER,
      PRIMARY KEY (run_id, guid))`);
    new SyncRuns(sql, { pbx: new BuiltinPbx(sql) } as unknown as RunSources);
    expect(columns("stage_plan_users").some((c) => c.endsWith("*"))).toBe(false);
  });
});
