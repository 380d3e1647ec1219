// The Yeastar target against the Yeastar simulator (test/support/yeastar-simulator.ts, which
// refuses what the developer guide says Yeastar refuses), driven by the engine's own planner
// and apply step, as a run drives it.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { applyItem } from "../../../../engine/apply-item.ts";
import type { DirectoryUser } from "../../../../engine/directory-user.ts";
import { mapUser } from "../../../../engine/map-user.ts";
import { planSync } from "../../../../engine/plan.ts";
import type { PbxYeastar, SyncConfig } from "../../../../schema/generated/config.ts";
import { sqliteStorage } from "../../../../test/support/sqlite-storage.ts";
import { testBaseDn as BASE, runAgainst, directoryUser as user } from "../../../../test/support/target-run.ts";
import { startYeastarSimulator, type YeastarSimulator } from "../../../../test/support/yeastar-simulator.ts";
import type { Sql } from "../../sql.ts";
import type { TokenStore } from "../sealed-token-store.ts";
import { YeastarClient, type YeastarTokens } from "./yeastar-client.ts";
import { YeastarError } from "./yeastar-errors.ts";
import { YeastarPbx } from "./yeastar-pbx.ts";

function memoryTokens(): TokenStore<YeastarTokens> & { saved: YeastarTokens | undefined } {
  const store = {
    saved: undefined as YeastarTokens | undefined,
    async load() {
      return store.saved;
    },
    async save(tokens: YeastarTokens | undefined) {
      store.saved = tokens;
    },
  };
  return store;
}

describe("the Yeastar target", () => {
  let sim: YeastarSimulator;
  let sql: Sql;
  let tokens: ReturnType<typeof memoryTokens>;
  const sleeps: number[] = [];

  const settings = (): PbxYeastar => ({ kind: "yeastar", baseUrl: sim.url, clientId: sim.clientId, secret: { source: "stored" } });
  const config = (patch: Partial<SyncConfig> = {}): SyncConfig => ({
    connection: { domainControllers: [{ host: "dc1" }], bindUsername: "svc", bindPassword: { source: "agent" }, baseDn: BASE },
    extensionNumbers: { source: "sequential", ranges: [{ start: "2000", end: "2999" }] },
    deprovisioning: { whenDeleted: "delete", whenDisabled: "delete", whenOutOfScope: "delete" },
    pbx: settings(),
    ...patch,
  });
  const target = () =>
    new YeastarPbx(
      sql,
      new YeastarClient({
        baseUrl: sim.url,
        clientId: sim.clientId,
        secret: async () => sim.clientSecret,
        tokens,
        sleep: async (ms) => {
          sleeps.push(ms);
        },
      }),
      settings(),
    );
  /** One run: the target's current state, the plan, and its operations applied in order. */
  /** One run: the target's current state, the plan, and its operations applied in order. */
  const run = (pbx: YeastarPbx, users: DirectoryUser[], c = config()) => runAgainst(pbx, users, c);
  const writes = () => sim.writes().length;

  beforeEach(async () => {
    sim = await startYeastarSimulator({ organizationManagement: true });
    sql = sqliteStorage();
    tokens = memoryTokens();
    sleeps.length = 0;
  });
  afterEach(async () => {
    await sim.close();
  });

  it("creates the users' extensions with compliant passwords and their departments as organizations, and re-syncs with no write", async () => {
    const pbx = target();
    const users = [user("ann"), user("bob", {}, "OU=Support,OU=Staff"), user("cyd", { title: "Engineer" }, "OU=Support,OU=Staff")];
    const first = await run(pbx, users);
    expect(first.failures).toEqual([]);
    expect(first.plan.summary.create).toBe(3);
    const extensions = sim.extensions().sort((a, b) => a.number.localeCompare(b.number));
    expect(extensions.map((e) => [e.number, e.first_name, e.last_name, e.email_addr, e.title])).toEqual([
      ["2000", "ann", "Tester", "ann@example.com", ""],
      ["2001", "bob", "Tester", "bob@example.com", ""],
      ["2002", "cyd", "Tester", "cyd@example.com", "Engineer"],
    ]);
    const orgs = new Map(sim.organizations().map((o) => [o.id, o]));
    const pathOf = (id: number): string => {
      const o = orgs.get(id);
      return o === undefined || o.parent_id === 0 ? "" : [pathOf(o.parent_id), o.name].filter(Boolean).join(" > ");
    };
    expect(extensions.map((e) => pathOf(e.organization_ids[0] as number))).toEqual(["Staff > Sales", "Staff > Support", "Staff > Support"]);
    // Nothing in the writes can be read back: the passwords are Yeastar's alone.
    expect(JSON.stringify(sim.writes())).not.toMatch(/"user_password":"(?!\[redacted\])/);

    const before = writes();
    const again = await run(pbx, users);
    expect(again.plan.items.map((i) => i.action)).toEqual(["unchanged", "unchanged", "unchanged"]);
    expect(writes()).toBe(before);
  });

  it("makes one call per new extension, lets its user log in at once, and learns its id from the next listing", async () => {
    const pbx = target();
    await pbx.listExtensions();
    const users = [user("ann"), user("bob"), user("cyd")];
    const c = config({ organisation: {} });
    const calls = sim.calls.length;
    const first = await run(pbx, users, c);
    expect(first.failures).toEqual([]);
    // Listing (list and organizations), then exactly one create each: no search after a create.
    expect(
      sim.calls
        .slice(calls)
        .filter((call) => call.endpoint.startsWith("extension/") && call.endpoint !== "extension/list")
        .map((call) => call.endpoint),
    ).toEqual(["extension/create", "extension/create", "extension/create"]);
    expect(pbx.findByLogin({ sam: "bob" })).toMatchObject([{ number: "2001", origin: "ad" }]);
    // The next run sees them as synced: nothing to do, nothing written.
    const before = writes();
    const again = await run(pbx, users, c);
    expect(again.plan.items.map((i) => i.action)).toEqual(["unchanged", "unchanged", "unchanged"]);
    expect(writes()).toBe(before);
    // An update before any listing learns the id by the number.
    const fresh = await run(pbx, [...users, user("dan")], c);
    expect(fresh.failures).toEqual([]);
    await pbx.updateExtension("2003", { state: { jobTitle: "Manager" } });
    expect(sim.extensions().find((e) => e.number === "2003")).toMatchObject({ title: "Manager" });
  });

  it("creates again an extension deleted in Yeastar's console, and keeps no link for a create Yeastar refused", async () => {
    const pbx = target();
    await run(pbx, [user("ann"), user("bob")]);
    const bob = sim.extensions().find((e) => e.first_name === "bob");
    if (!bob) throw new Error("bob was not created");
    // Deleted by hand in the console, before any run listed the new extensions.
    await fetch(`${sim.url}/openapi/v1.0/extension/delete?id=${bob.id}&access_token=${tokens.saved?.accessToken}`, {
      headers: { "User-Agent": "test" },
    });
    expect(sim.extensions().some((e) => e.first_name === "bob")).toBe(false);
    const again = await run(pbx, [user("ann"), user("bob")]);
    expect(again.plan.items.map((i) => [i.name, i.action])).toEqual([
      ["bob Tester", "create"],
      ["ann Tester", "unchanged"],
    ]);
    expect(sim.extensions().filter((e) => e.first_name === "bob")).toHaveLength(1);

    // Refused (a duplicate e-mail): no extension, and the user cannot log in as if it had one.
    sim.addExtension({ number: "2900", first_name: "Someone", last_name: "Else", email_addr: "cyd@example.com" });
    const refused = await run(pbx, [user("ann"), user("bob"), user("cyd")]);
    expect(refused.failures).toEqual([expect.stringMatching(/DUPLICATE KEY VALUE/)]);
    expect(pbx.findByLogin({ sam: "cyd" })).toEqual([]);
  });

  it("with departments not mirrored, puts new extensions in the root organization and still updates them with Organization Management on", async () => {
    const flat: PbxYeastar = { ...settings(), departments: false };
    const pbx = new YeastarPbx(
      sql,
      new YeastarClient({ baseUrl: sim.url, clientId: sim.clientId, secret: async () => sim.clientSecret, tokens }),
      flat,
    );
    const c = config({ pbx: flat, organisation: { departments: { from: "ouTree" } } });
    expect((await run(pbx, [user("ann")], c)).failures).toEqual([]);
    expect(sim.organizations().map((o) => o.name)).toHaveLength(1);
    const [ann] = sim.extensions();
    expect(ann?.organization_ids).toEqual([1]);
    const renamed = await run(pbx, [user("ann", { displayName: "Anne Tester", givenName: "Anne" })], c);
    expect(renamed.failures).toEqual([]);
    expect(renamed.plan.summary.update).toBe(1);
    expect(sim.extensions()[0]).toMatchObject({ first_name: "Anne", organization_ids: [1] });
  });

  it("writes AD's phone numbers in the characters Yeastar takes, and sees no change in them on a re-sync", async () => {
    const pbx = target();
    const users = [user("ann", { mobile: "+44 7700 900123" }), user("bob", { mobile: "(020) 7946 0000 ext. 12" })];
    const first = await run(pbx, users);
    expect(first.failures).toEqual([]);
    expect(first.plan.items.map((i) => i.state?.mobile)).toEqual(["+447700900123", "(020)79460000ext.12"]);
    expect(sim.extensions().map((e) => e.mobile_number)).toEqual(["+447700900123", "(020)79460000ext.12"]);
    const before = writes();
    const again = await run(pbx, users);
    expect(again.plan.items.map((i) => i.action)).toEqual(["unchanged", "unchanged"]);
    expect(writes()).toBe(before);
  });

  it("lists every page of a PBX with more extensions than a page holds, each once", async () => {
    for (let i = 0; i < 250; i++) sim.addExtension({ number: String(5000 + i), first_name: "Hand", last_name: `Made ${i}` });
    const listed = await target().listExtensions();
    expect(listed.map((e) => e.number).sort()).toEqual(Array.from({ length: 250 }, (_, i) => String(5000 + i)));
    expect(listed.find((e) => e.number === "5249")).toMatchObject({ origin: "manual", lastName: "Made 249" });
  });

  it("renames and moves with updates, keeps a number Yeastar cannot change, and deletes a leaver", async () => {
    const pbx = target();
    await run(pbx, [user("ann"), user("bob")]);
    const before = writes();
    const renamed = user("ann", { displayName: "Anna Tester", givenName: "Anna" }, "OU=Support,OU=Staff");
    const second = await run(pbx, [renamed]);
    expect(second.failures).toEqual([]);
    expect(second.plan.items.map((i) => i.action).sort()).toEqual(["delete", "update"]);
    expect(sim.extensions().map((e) => [e.number, e.first_name])).toEqual([["2000", "Anna"]]);
    expect(
      sim
        .writes()
        .slice(before)
        .map((w) => w.endpoint)
        .sort(),
    ).toEqual(["extension/delete", "extension/update", "organization/create"]);

    const numbered = config({ extensionNumbers: { source: "attribute", attribute: "ipPhone" } });
    const third = await run(pbx, [{ ...renamed, attributes: { ...renamed.attributes, ipphone: ["2100"] } }], numbered);
    expect(third.plan.items[0]).toMatchObject({
      action: "unchanged",
      reason: expect.stringMatching(/cannot change an extension's number: it stays 2000/),
    });
    expect(sim.extensions().map((e) => e.number)).toEqual(["2000"]);
  });

  it("leaves a hand-made extension alone, and reports its number as taken", async () => {
    sim.addExtension({ number: "2000", first_name: "Reception", last_name: "Desk" });
    const pbx = target();
    const first = await run(pbx, [user("ann")]);
    expect(first.failures).toEqual([]);
    expect(
      sim
        .extensions()
        .map((e) => [e.number, e.first_name])
        .sort(),
    ).toEqual([
      ["2000", "Reception"],
      ["2001", "ann"],
    ]);
    const manual = (await pbx.listExtensions()).find((e) => e.number === "2000");
    expect(manual).toMatchObject({ origin: "manual", guid: null });
  });

  it("refreshes an access token that expired mid-run, and rides out 429s and 5xx with backoff", async () => {
    const pbx = target();
    await run(pbx, [user("ann")]);
    sim.expireAccessTokens();
    sim.rateLimit(3, 2);
    const second = await run(pbx, [user("ann"), user("bob")]);
    expect(second.failures).toEqual([]);
    // Retry-After said two seconds, three times.
    expect(sleeps.filter((ms) => ms === 2000)).toHaveLength(3);
    sim.failNext(2, 503);
    const third = await run(pbx, [user("ann"), user("bob"), user("cyd")]);
    expect(third.failures).toEqual([]);
    expect(sim.extensions()).toHaveLength(3);
    // One live token for the tenant, however many times it was renewed.
    expect(sim.liveAccessTokens()).toBe(1);
  });

  it("after a restart in the middle of a create, looks the number up instead of creating it twice", async () => {
    const pbx = target();
    await run(pbx, [user("ann")]);
    // The create of bob reached Yeastar, and the object died before it heard the answer.
    const c = config();
    const plan = planSync({
      config: c,
      users: [user("ann"), user("bob")].map((u) => mapUser(c, u, true)),
      extensions: await pbx.listExtensions(),
      capabilities: pbx.capabilities,
      complete: true,
    });
    const create = plan.items.find((i) => i.action === "create");
    if (!create) throw new Error("no create planned");
    sim.down(true);
    await expect(applyItem(create, pbx)).rejects.toThrow(/did not answer extension\/create/);
    sim.down(false);
    // Meanwhile the PBX did make it (as if the answer, not the request, was lost).
    sim.addExtension({ number: create.number as string, first_name: "bob", last_name: "Tester" });
    const restarted = target();
    await applyItem(create, restarted);
    expect(sim.extensions().filter((e) => e.number === create.number)).toHaveLength(1);
    expect((await restarted.listExtensions()).find((e) => e.number === create.number)).toMatchObject({ origin: "ad" });
  });

  it("turns Yeastar's refusals into failures with Yeastar's own words", async () => {
    sim.addExtension({ number: "2500", first_name: "Someone", last_name: "Else", email_addr: "ann@example.com" });
    const pbx = target();
    const first = await run(pbx, [user("ann")]);
    expect(first.failures).toEqual([expect.stringMatching(/Yeastar: DUPLICATE KEY VALUE.*email_addr.*\[errcode 40003\]/)]);
    const wrong = new YeastarPbx(
      sqliteStorage(),
      new YeastarClient({ baseUrl: sim.url, clientId: sim.clientId, secret: async () => "not-the-secret", tokens: memoryTokens() }),
      settings(),
    );
    const refused = await wrong.listExtensions().catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(YeastarError);
    expect((refused as YeastarError).kind).toBe("auth");
    expect((refused as Error).message).toMatch(/check pbx\.clientId and the secret/);
    expect((refused as Error).message).not.toContain("not-the-secret");
  });

  it("adopts the hand-made extension with the user's e-mail address instead of creating another", async () => {
    const made = sim.addExtension({ number: "2700", first_name: "A.", last_name: "Tester", email_addr: "ann@example.com" });
    const pbx = target();
    const adopting = config({ pbx: { ...settings(), adopt: "email" } });
    const first = await run(pbx, [user("ann")], adopting);
    expect(first.failures).toEqual([]);
    expect(first.plan.items.map((i) => [i.action, i.number])).toEqual([["adopt", "2700"]]);
    expect(sim.extensions()).toMatchObject([{ id: made.id, number: "2700", first_name: "ann" }]);
    const again = await run(pbx, [user("ann")], adopting);
    expect(again.plan.items.map((i) => i.action)).toEqual(["unchanged"]);
  });
});
