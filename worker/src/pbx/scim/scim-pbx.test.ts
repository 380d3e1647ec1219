// The SCIM target against a SCIM service provider that is not ours (scimmy behind
// scimmy-routers, test/support/scim-server.ts), driven by the engine's own planner and apply
// step, as a run drives it.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { applyItem } from "../../../../engine/apply-item.ts";
import { mapUser } from "../../../../engine/map-user.ts";
import { capabilityProblems } from "../../../../engine/pbx/capability-problems.ts";
import { planSync } from "../../../../engine/plan.ts";
import type { PbxScim, SyncConfig } from "../../../../schema/generated/config.ts";
import { type ScimServer, startScimServer } from "../../../../test/support/scim-server.ts";
import { sqliteStorage } from "../../../../test/support/sqlite-storage.ts";
import { runAgainst, testBaseDn, directoryUser as user } from "../../../../test/support/target-run.ts";
import type { Sql } from "../../sql.ts";
import { ScimClient } from "./scim-client.ts";
import { ScimPbx } from "./scim-pbx.ts";

const enterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

describe("the SCIM target", () => {
  let scim: ScimServer;
  let sql: Sql;
  const sleeps: number[] = [];

  const settings = (patch: Partial<PbxScim> = {}): PbxScim => ({ kind: "scim", baseUrl: scim.url, secret: { source: "stored" }, ...patch });
  const config = (patch: Partial<SyncConfig> = {}, pbx: Partial<PbxScim> = {}): SyncConfig => ({
    connection: { domainControllers: [{ host: "dc1" }], bindUsername: "svc", bindPassword: { source: "agent" }, baseDn: testBaseDn },
    extensionNumbers: { source: "attribute", attribute: "ipPhone" },
    deprovisioning: { whenDeleted: "delete", whenDisabled: "disable", whenOutOfScope: "delete" },
    pbx: settings(pbx),
    ...patch,
  });
  const target = (pbx: Partial<PbxScim> = {}, token = scim.token) =>
    new ScimPbx(
      sql,
      new ScimClient({
        baseUrl: scim.url,
        token: async () => token,
        sleep: async (ms) => {
          sleeps.push(ms);
        },
      }),
      settings(pbx),
    );
  const byName = (userName: string) => scim.users().find((u) => u.userName === userName);
  const writes = () => scim.writes().length;

  beforeEach(async () => {
    scim = await startScimServer({ groups: true });
    sql = sqliteStorage();
    sleeps.length = 0;
  });
  afterEach(async () => {
    await scim.close();
  });

  it("provisions each user with externalId, userName, names, e-mail, the number as the work phone and the department, and re-syncs with no write", async () => {
    const pbx = target();
    const users = [
      user("ann", { ipPhone: "2001", mobile: "+44 7700 900123", title: "Engineer", department: "Sales" }),
      user("bob", { ipPhone: "2002" }),
    ];
    const first = await runAgainst(pbx, users, config());
    expect(first.failures).toEqual([]);
    expect(first.plan.summary.create).toBe(2);
    expect(byName("ann@example.com")).toMatchObject({
      externalId: users[0]?.guid,
      name: { givenName: "ann", familyName: "Tester" },
      displayName: "ann Tester",
      emails: [{ value: "ann@example.com", type: "work", primary: true }],
      phoneNumbers: expect.arrayContaining([
        { value: "2001", type: "work" },
        { value: "+44 7700 900123", type: "mobile" },
      ]),
      title: "Engineer",
      active: true,
      [enterprise]: { department: "Sales" },
    });
    expect(byName("bob@example.com")).toMatchObject({ phoneNumbers: [{ value: "2002", type: "work" }] });
    const before = writes();
    const again = await runAgainst(target(), users, config());
    expect(again.plan.items.map((i) => i.action)).toEqual(["unchanged", "unchanged"]);
    expect(writes()).toBe(before);
  });

  it("renames, changes department and number with a PATCH of what changed, and nothing else", async () => {
    const pbx = target();
    await runAgainst(pbx, [user("ann", { ipPhone: "2001", department: "Sales" })], config());
    const id = byName("ann@example.com")?.id;
    const before = writes();
    const changed = await runAgainst(pbx, [user("ann", { ipPhone: "2091", department: "Support", sn: "Newname" })], config());
    expect(changed.failures).toEqual([]);
    expect(changed.plan.items.map((i) => [i.action, i.number, i.state?.number])).toEqual([["update", "2001", "2091"]]);
    const patches = scim.writes().slice(before);
    expect(patches.map((w) => [w.method, w.id])).toEqual([["PATCH", id]]);
    const body = patches[0]?.body as { Operations: Array<{ path: string }> } | undefined;
    const ops = (body?.Operations ?? []).map((o) => o.path).sort();
    expect(ops).toEqual(["name.familyName", "phoneNumbers", `${enterprise}:department`]);
    expect(byName("ann@example.com")).toMatchObject({
      id,
      name: { givenName: "ann", familyName: "Newname" },
      phoneNumbers: [{ value: "2091", type: "work" }],
      [enterprise]: { department: "Support" },
    });
    const again = await runAgainst(target(), [user("ann", { ipPhone: "2091", department: "Support", sn: "Newname" })], config());
    expect(again.plan.items.map((i) => i.action)).toEqual(["unchanged"]);
  });

  it("writes a change as a PUT of the whole user where the service has no PATCH, keeping what the service added", async () => {
    const pbx = target({ updateMethod: "put" });
    const c = config({}, { updateMethod: "put" });
    await runAgainst(pbx, [user("ann", { ipPhone: "2001", mobile: "+44 7700 900123" })], c);
    const id = byName("ann@example.com")?.id as string;
    // A fax number added in the service's console: not sync's, so it stays.
    await fetch(`${scim.url}/Users/${id}`, {
      method: "PATCH",
      headers: { Authorization: `Bearer ${scim.token}`, "Content-Type": "application/scim+json" },
      body: JSON.stringify({
        schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        Operations: [{ op: "add", path: "phoneNumbers", value: [{ value: "+44 20 7946 0999", type: "fax" }] }],
      }),
    });
    const before = writes();
    const changed = await runAgainst(target({ updateMethod: "put" }), [user("ann", { ipPhone: "2001", mobile: "+44 7700 900999" })], c);
    expect(changed.failures).toEqual([]);
    expect(
      scim
        .writes()
        .slice(before)
        .map((w) => [w.method, w.id]),
    ).toEqual([["PUT", id]]);
    expect(byName("ann@example.com")?.phoneNumbers).toEqual(
      expect.arrayContaining([
        { value: "2001", type: "work" },
        { value: "+44 7700 900999", type: "mobile" },
        { value: "+44 20 7946 0999", type: "fax" },
      ]),
    );
  });

  it("deactivates a disabled user and activates it again when it is back; deletes a leaver", async () => {
    const pbx = target();
    await runAgainst(pbx, [user("ann", { ipPhone: "2001" }), user("bob", { ipPhone: "2002" })], config());
    const disabled = await runAgainst(
      pbx,
      [user("ann", { ipPhone: "2001", userAccountControl: "514" }), user("bob", { ipPhone: "2002" })],
      config(),
    );
    expect(disabled.plan.items.find((i) => i.name === "ann Tester")?.action).toBe("disable");
    expect(byName("ann@example.com")?.active).toBe(false);
    const back = await runAgainst(pbx, [user("ann", { ipPhone: "2001" }), user("bob", { ipPhone: "2002" })], config());
    expect(back.plan.items.find((i) => i.name === "ann Tester")?.action).toBe("enable");
    expect(byName("ann@example.com")?.active).toBe(true);
    const left = await runAgainst(pbx, [user("ann", { ipPhone: "2001" })], config());
    expect(left.failures).toEqual([]);
    expect(left.plan.items.find((i) => i.action === "delete")?.number).toBe("2002");
    expect(byName("bob@example.com")).toBeUndefined();
  });

  it("on a service that only deactivates, refuses deprovisioning by delete, and deactivates instead", async () => {
    await scim.close();
    scim = await startScimServer({ deleteAllowed: false });
    const pbx = target({ deleteUsers: false, groups: false });
    const errors = capabilityProblems(config(), pbx.capabilities).filter((p) => p.severity === "error");
    expect(errors.map((p) => [p.path, p.severity])).toEqual([
      ["/deprovisioning/whenDeleted", "error"],
      ["/deprovisioning/whenOutOfScope", "error"],
    ]);
    const deactivating = config(
      { deprovisioning: { whenDeleted: "disable", whenDisabled: "disable", whenOutOfScope: "disable" } },
      { deleteUsers: false, groups: false },
    );
    await runAgainst(pbx, [user("ann", { ipPhone: "2001" }), user("bob", { ipPhone: "2002" })], deactivating);
    const left = await runAgainst(pbx, [user("ann", { ipPhone: "2001" })], deactivating);
    expect(left.failures).toEqual([]);
    expect(byName("bob@example.com")).toMatchObject({ active: false });
    expect(scim.writes().some((w) => w.method === "DELETE")).toBe(false);
  });

  it("leaves a user made in the service alone, and reports its number as taken", async () => {
    scim.addUser({ userName: "reception@example.com", displayName: "Reception", phoneNumbers: [{ value: "2001", type: "work" }] });
    const pbx = target();
    const first = await runAgainst(pbx, [user("ann", { ipPhone: "2001" })], config());
    expect(first.plan.items.map((i) => [i.action, i.code])).toEqual([["conflict", "number_taken_manual"]]);
    expect(scim.writes()).toEqual([]);
  });

  it("adopts the user made in the service with the AD user's e-mail address", async () => {
    const made = scim.addUser({
      userName: "ann.old@example.com",
      emails: [{ value: "ann@example.com", type: "work" }],
      phoneNumbers: [{ value: "2050", type: "work" }],
    });
    const pbx = target({ adopt: "email" });
    const first = await runAgainst(pbx, [user("ann", { ipPhone: "2001" })], config({}, { adopt: "email" }));
    expect(first.failures).toEqual([]);
    expect(first.plan.items.map((i) => [i.action, i.number])).toEqual([["adopt", "2050"]]);
    expect(scim.users()).toMatchObject([
      { id: made.id, userName: "ann@example.com", externalId: expect.any(String), name: { givenName: "ann" } },
    ]);
    const again = await runAgainst(pbx, [user("ann", { ipPhone: "2001" })], config({}, { adopt: "email" }));
    expect(again.plan.items.map((i) => i.action)).toEqual(["unchanged"]);
  });

  it("mirrors AD groups as SCIM groups and keeps their members as AD has them", async () => {
    const pbx = target({ groups: true });
    const groups = config({ organisation: { extensionGroups: { from: "memberOf", createMissing: true } } }, { groups: true });
    const sales = `CN=Sales Team,OU=Groups,${testBaseDn}`;
    const support = `CN=Support Team,OU=Groups,${testBaseDn}`;
    const first = await runAgainst(
      pbx,
      [user("ann", { ipPhone: "2001", memberOf: sales }), user("bob", { ipPhone: "2002", memberOf: support })],
      groups,
    );
    expect(first.failures).toEqual([]);
    const members = () =>
      Object.fromEntries(
        scim.groups().map((g) => [g.displayName, ((g.members ?? []) as Array<{ value: string }>).map((m) => m.value).sort()]),
      );
    const ann = byName("ann@example.com")?.id as string;
    const bob = byName("bob@example.com")?.id as string;
    expect(members()).toEqual({ "Sales Team": [ann], "Support Team": [bob] });
    const moved = await runAgainst(
      pbx,
      [user("ann", { ipPhone: "2001", memberOf: support }), user("bob", { ipPhone: "2002", memberOf: support })],
      groups,
    );
    expect(moved.failures).toEqual([]);
    expect(members()).toEqual({ "Sales Team": [], "Support Team": [ann, bob].sort() });
  });

  it("after a restart in the middle of a create, finds the user by externalId instead of creating it twice", async () => {
    const pbx = target();
    const c = config();
    const plan = planSync({
      config: c,
      users: [mapUser(c, user("ann", { ipPhone: "2001" }), true)],
      extensions: await pbx.listExtensions(),
      capabilities: pbx.capabilities,
      complete: true,
    });
    const create = plan.items[0];
    if (create?.action !== "create") throw new Error("no create planned");
    scim.down(true);
    await expect(applyItem(create, pbx)).rejects.toThrow(/did not answer POST \/Users/);
    scim.down(false);
    // Meanwhile the service did make it (as if the answer, not the request, was lost).
    await fetch(`${scim.url}/Users`, {
      method: "POST",
      headers: { Authorization: `Bearer ${scim.token}`, "Content-Type": "application/scim+json" },
      body: JSON.stringify({
        schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"],
        userName: "ann@example.com",
        externalId: create.guid,
        phoneNumbers: [{ value: "2001", type: "work" }],
      }),
    });
    await applyItem(create, target());
    expect(scim.users().filter((u) => u.externalId === create.guid)).toHaveLength(1);
    expect((await target().listExtensions())[0]).toMatchObject({ number: "2001", origin: "ad" });
  });

  it("turns the service's refusals into failures with its own words, and rides out 429s", async () => {
    scim.addUser({ userName: "ann@example.com", displayName: "Someone else" });
    const pbx = target();
    scim.rateLimit(2, 1);
    const first = await runAgainst(pbx, [user("ann", { ipPhone: "2001" }), user("bob", { ipPhone: "2002" })], config());
    expect(first.failures).toEqual([expect.stringMatching(/^ann Tester: SCIM service: .*\(uniqueness\) \[HTTP 409\]/)]);
    expect(sleeps).toEqual([1000, 1000]);
    expect(byName("bob@example.com")).toBeDefined();
    expect(pbx.findByLogin({ upn: "ann@example.com" })).toEqual([]);
    const refused = await target({}, "not-the-token")
      .listExtensions()
      .catch((e: unknown) => e);
    expect((refused as Error).message).toMatch(/HTTP 401/);
    expect((refused as Error).message).not.toContain("not-the-token");
  });
});
