// The 3CX target against the 3CX simulator (test/support/threecx-simulator.ts, which refuses
// what 3CX's Configuration API refuses), driven by the engine's own planner and apply step, as
// a run drives it.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { applyItem } from "../../../../engine/apply-item.ts";
import { mapUser } from "../../../../engine/map-user.ts";
import { planSync } from "../../../../engine/plan.ts";
import type { Pbx3Cx, SyncConfig } from "../../../../schema/generated/config.ts";
import { sqliteStorage } from "../../../../test/support/sqlite-storage.ts";
import { runAgainst, testBaseDn, directoryUser as user } from "../../../../test/support/target-run.ts";
import { startThreeCxSimulator, type ThreeCxSimulator } from "../../../../test/support/threecx-simulator.ts";
import type { Sql } from "../../sql.ts";
import type { TokenStore } from "../sealed-token-store.ts";
import { ThreeCxClient, type ThreeCxToken } from "./threecx-client.ts";
import { ThreeCxPbx } from "./threecx-pbx.ts";

function memoryToken(): TokenStore<ThreeCxToken> {
  let held: ThreeCxToken | undefined;
  return {
    load: async () => held,
    save: async (t) => {
      held = t;
    },
  };
}

describe("the 3CX target", () => {
  let sim: ThreeCxSimulator;
  let sql: Sql;
  let tokens: TokenStore<ThreeCxToken>;
  const sleeps: number[] = [];

  const settings = (patch: Partial<Pbx3Cx> = {}): Pbx3Cx => ({
    kind: "3cx",
    baseUrl: sim.url,
    clientId: sim.clientId,
    secret: { source: "stored" },
    ...patch,
  });
  const config = (patch: Partial<SyncConfig> = {}, pbx: Partial<Pbx3Cx> = {}): SyncConfig => ({
    connection: { domainControllers: [{ host: "dc1" }], bindUsername: "svc", bindPassword: { source: "agent" }, baseDn: testBaseDn },
    extensionNumbers: { source: "attribute", attribute: "ipPhone" },
    organisation: { departments: { from: "ouTree" } },
    deprovisioning: { whenDeleted: "delete", whenDisabled: "disable", whenOutOfScope: "delete" },
    pbx: settings(pbx),
    ...patch,
  });
  const target = (pbx: Partial<Pbx3Cx> = {}, secret = sim.clientSecret, store = tokens) =>
    new ThreeCxPbx(
      sql,
      new ThreeCxClient({
        baseUrl: sim.url,
        clientId: sim.clientId,
        secret: async () => secret,
        tokens: store,
        sleep: async (ms) => {
          sleeps.push(ms);
        },
      }),
      settings(pbx),
    );
  const byNumber = (n: string) => sim.users().find((u) => u.Number === n);
  const groupsOf = (n: string) => (byNumber(n)?.Groups ?? []).map((g) => [g.GroupName, g.RoleName]);
  const writes = () => sim.writes().length;

  beforeEach(async () => {
    sim = await startThreeCxSimulator();
    sql = sqliteStorage();
    tokens = memoryToken();
    sleeps.length = 0;
  });
  afterEach(async () => {
    await sim.close();
  });

  it("creates users with their number, names, e-mail and mobile in their department's group, and re-syncs with no write", async () => {
    const pbx = target({ role: "managers" });
    const users = [user("ann", { ipPhone: "201", mobile: "+44 7700 900123" }), user("bob", { ipPhone: "202" }, "OU=Support,OU=Staff")];
    const first = await runAgainst(pbx, users, config({}, { role: "managers" }));
    expect(first.failures).toEqual([]);
    expect(first.plan.summary.create).toBe(2);
    expect(byNumber("201")).toMatchObject({
      FirstName: "ann",
      LastName: "Tester",
      EmailAddress: "ann@example.com",
      Mobile: "+447700900123",
    });
    expect(groupsOf("201")).toEqual([["Staff > Sales", "managers"]]);
    expect(groupsOf("202")).toEqual([["Staff > Support", "managers"]]);
    const before = writes();
    const again = await runAgainst(target({ role: "managers" }), users, config({}, { role: "managers" }));
    expect(again.plan.items.map((i) => i.action)).toEqual(["unchanged", "unchanged"]);
    expect(writes()).toBe(before);
  });

  it("renames and moves department with one PATCH, disables and enables again, deletes a leaver", async () => {
    const pbx = target();
    await runAgainst(pbx, [user("ann", { ipPhone: "201" }), user("bob", { ipPhone: "202" })], config());
    const id = byNumber("201")?.Id;
    const before = writes();
    const moved = await runAgainst(
      pbx,
      [user("ann", { ipPhone: "201", sn: "Newname" }, "OU=Support,OU=Staff"), user("bob", { ipPhone: "202" })],
      config(),
    );
    expect(moved.failures).toEqual([]);
    expect(
      sim
        .writes()
        .slice(before)
        .map((w) => [w.method, w.id]),
    ).toEqual([
      ["POST", expect.any(Number)],
      ["PATCH", id],
    ]);
    expect(byNumber("201")).toMatchObject({ LastName: "Newname" });
    expect(groupsOf("201")).toEqual([["Staff > Support", "users"]]);

    const disabled = await runAgainst(
      pbx,
      [user("ann", { ipPhone: "201", sn: "Newname", userAccountControl: "514" }, "OU=Support,OU=Staff")],
      config(),
    );
    expect(disabled.plan.items.map((i) => [i.name, i.action])).toEqual(
      expect.arrayContaining([
        ["ann Tester", "disable"],
        ["bob Tester", "delete"],
      ]),
    );
    expect(byNumber("201")?.Enabled).toBe(false);
    expect(byNumber("202")).toBeUndefined();
    const back = await runAgainst(pbx, [user("ann", { ipPhone: "201", sn: "Newname" }, "OU=Support,OU=Staff")], config());
    expect(back.plan.items.map((i) => i.action)).toEqual(["enable"]);
    expect(byNumber("201")?.Enabled).toBe(true);
  });

  it("reports a number change as a conflict, or deletes and creates the extension again, as pbx.numberChange says", async () => {
    const pbx = target();
    await runAgainst(pbx, [user("ann", { ipPhone: "201" })], config());
    const conflict = await runAgainst(pbx, [user("ann", { ipPhone: "291" })], config());
    expect(conflict.plan.items).toMatchObject([{ action: "conflict", code: "number_change_unsupported", number: "201" }]);
    expect(byNumber("201")).toBeDefined();

    const recreating = target({ numberChange: "recreate" });
    const recreate = await runAgainst(recreating, [user("ann", { ipPhone: "291" })], config({}, { numberChange: "recreate" }));
    expect(recreate.failures).toEqual([]);
    expect(recreate.plan.items).toMatchObject([{ action: "recreate", number: "201", state: { number: "291" } }]);
    expect(byNumber("201")).toBeUndefined();
    expect(byNumber("291")).toMatchObject({ FirstName: "ann" });
    const again = await runAgainst(recreating, [user("ann", { ipPhone: "291" })], config({}, { numberChange: "recreate" }));
    expect(again.plan.items.map((i) => i.action)).toEqual(["unchanged"]);
  });

  it("copies the template extension's settings into a new one", async () => {
    sim.addUser({ Number: "900", FirstName: "Template", Language: "DE", VMEnabled: false, Require2FA: true });
    const pbx = target();
    const templated = config({
      organisation: { departments: { from: "ouTree" }, templateExtensions: [{ ou: `OU=Staff,${testBaseDn}`, extension: "900" }] },
    });
    const first = await runAgainst(pbx, [user("ann", { ipPhone: "201" })], templated);
    expect(first.failures).toEqual([]);
    expect(byNumber("201")).toMatchObject({ Language: "DE", VMEnabled: false, Require2FA: true });
  });

  it("leaves a hand-made user alone, reports its number as taken, and takes over one by e-mail when told to", async () => {
    sim.addUser({ Number: "201", FirstName: "Front", LastName: "Desk" });
    const kept = await runAgainst(target(), [user("ann", { ipPhone: "201" })], config());
    expect(kept.plan.items.map((i) => [i.action, i.code])).toEqual([["conflict", "number_taken_manual"]]);
    expect(sim.writes()).toEqual([]);

    const made = sim.addUser({ Number: "250", FirstName: "B.", EmailAddress: "bob@example.com" });
    const adopting = await runAgainst(target({ adopt: "email" }), [user("bob", { ipPhone: "202" })], config({}, { adopt: "email" }));
    expect(adopting.failures).toEqual([]);
    expect(adopting.plan.items.map((i) => [i.action, i.number, i.reason])).toEqual([["adopt", "250", expect.any(String)]]);
    expect(byNumber("250")).toMatchObject({ Id: made.Id, FirstName: "bob", LastName: "Tester" });
    expect(byNumber("201")).toMatchObject({ FirstName: "Front" });
  });

  it("after a restart in the middle of a create, finds the number instead of creating it twice", async () => {
    const pbx = target();
    const c = config();
    const plan = planSync({
      config: c,
      users: [mapUser(c, user("ann", { ipPhone: "201" }), true)],
      extensions: await pbx.listExtensions(),
      departments: await pbx.listDepartments(),
      capabilities: pbx.capabilities,
      complete: true,
    });
    const create = plan.items.find((i) => i.action === "create");
    if (!create) throw new Error("no create planned");
    await pbx.createDepartment("Staff > Sales");
    sim.down(true);
    await expect(applyItem(create, pbx)).rejects.toThrow(/3CX did not answer POST \/Users/);
    sim.down(false);
    sim.addUser({ Number: "201", FirstName: "ann", LastName: "Tester" });
    await applyItem(create, target());
    expect(sim.users().filter((u) => u.Number === "201")).toHaveLength(1);
    expect((await target().listExtensions())[0]).toMatchObject({ number: "201", origin: "ad" });
  });

  it("gets a new token when another one replaced it, rides out 429s, and keeps 3CX's words on a refusal", async () => {
    const pbx = target();
    await runAgainst(pbx, [user("ann", { ipPhone: "201" })], config());
    // Another client of the same credentials (a Test PBX) takes the one live token.
    await fetch(`${sim.url}/connect/token`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ client_id: sim.clientId, client_secret: sim.clientSecret, grant_type: "client_credentials" }),
    });
    sim.rateLimit(2, 1);
    sim.addUser({ Number: "299", FirstName: "Someone", EmailAddress: "bob@example.com" });
    const next = await runAgainst(pbx, [user("ann", { ipPhone: "201", sn: "Again" }), user("bob", { ipPhone: "202" })], config());
    expect(next.failures).toEqual([expect.stringMatching(/^bob Tester: 3CX: EmailAddress: WARNINGS\.XAPI\.ALREADY_IN_USE \[HTTP 400\]/)]);
    expect(byNumber("201")).toMatchObject({ LastName: "Again" });
    expect(sleeps).toEqual([1000, 1000]);
    expect(pbx.findByLogin({ sam: "bob" })).toEqual([]);
    const refused = await target({}, "not-the-key", memoryToken())
      .listExtensions()
      .catch((e: unknown) => e);
    expect((refused as Error).message).toMatch(/3CX refused the API client/);
    expect((refused as Error).message).not.toContain("not-the-key");
  });
});
