// Sync into a 3CX V20, end to end: a private Samba DC (127.0.0.64) that the test edits as an
// administrator would, the bundled worker in workerd, a real agent, and the 3CX simulator
// (which refuses what 3CX's Configuration API refuses) as the PBX.
import type { Client } from "ldapts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addUser, adminClient, targetFor } from "../agent/src/ldap/test-support.ts";
import { type SambaDc, startSambaDc } from "./support/samba-dc.ts";
import { type Stack, startStack } from "./support/stack.ts";
import { addVoiceOus, person, replaceAttribute, runsOf, storeSecretAndTest, syncThroughOutage, voiceOus } from "./support/target-e2e.ts";
import { startThreeCxSimulator, type ThreeCxSimulator } from "./support/threecx-simulator.ts";

const BASE = "DC=example,DC=com";
const { voice: VOICE, east: EAST, west: WEST } = voiceOus(BASE);

describe("sync into 3CX V20", () => {
  let dc: SambaDc;
  let admin: Client;
  let sim: ThreeCxSimulator;
  let stack: Stack;
  let adoptedId = 0;
  const dn: Record<string, string> = {};

  const config = (numberChange: "conflict" | "recreate" = "conflict") => ({
    connection: targetFor(dc).connection,
    scope: { users: "ous", ous: [{ dn: VOICE }] },
    extensionNumbers: { source: "attribute", attribute: "ipPhone" },
    organisation: { departments: { from: "ouTree" } },
    deprovisioning: { whenDeleted: "delete", whenDisabled: "disable", whenOutOfScope: "delete" },
    safety: { maxDeletesPerRun: 100, maxDeletePercent: 100 },
    schedule: { mode: "manual" },
    pbx: { kind: "3cx", baseUrl: sim.url, clientId: sim.clientId, secret: { source: "stored" }, adopt: "email", numberChange },
  });
  const sync = (options?: { full?: boolean }) => runsOf(stack).sync(options);
  const previewItems = (options?: { full?: boolean }) => runsOf(stack).previewItems(options);
  const user = (number: string) => sim.users().find((u) => u.Number === number);
  const department = (number: string) => user(number)?.Groups.map((g) => g.GroupName);
  const modify = (target: string, type: string, values: string[]) => replaceAttribute(admin, target, type, values);

  beforeAll(async () => {
    dc = await startSambaDc({ ip: "127.0.0.64" });
    admin = await adminClient(dc);
    await addVoiceOus(admin, BASE);
    dn.ren = await addUser(admin, dc, EAST, "c-ren", person("Rena", "Oldname", { ipPhone: ["301"] }));
    dn.mov = await addUser(admin, dc, EAST, "c-mov", person("Moe", "Mover", { ipPhone: ["302"] }));
    dn.num = await addUser(admin, dc, EAST, "c-num", person("Nia", "Number", { ipPhone: ["303"] }));
    dn.dis = await addUser(admin, dc, WEST, "c-dis", person("Dee", "Disabled", { ipPhone: ["304"] }));
    dn.lea = await addUser(admin, dc, WEST, "c-lea", person("Leo", "Leaver", { ipPhone: ["305"] }));
    dn.ado = await addUser(admin, dc, EAST, "c-ado", person("Ada", "Adopted", { ipPhone: ["306"] }));
    dn.tak = await addUser(admin, dc, EAST, "c-tak", person("Tia", "Taken", { ipPhone: ["350"] }));

    sim = await startThreeCxSimulator();
    // Made in 3CX's console before sync was set up: Ada's own extension, and the front desk on 350.
    adoptedId = sim.addUser({ Number: "360", FirstName: "Ada", LastName: "A.", EmailAddress: "ada@example.com" }).Id;
    sim.addUser({ Number: "350", FirstName: "Front", LastName: "Desk" });
    stack = await startStack(dc, { tenant: "threecx-sync", config: config() });
  });

  afterAll(async () => {
    await stack?.stop();
    await sim?.close();
    await admin?.unbind().catch(() => {});
    await dc?.destroy();
  });

  it("takes the API key write-only, and Test Connection checks the 3CX with it", async () => {
    const details = await storeSecretAndTest(stack, sim.clientSecret);
    expect(details.at(-1)).toMatch(/The PBX has 2 users/);
  });

  it("first sync: departments as 3CX groups, adoption by e-mail, the front desk's number reported, the rest created", async () => {
    const plan = await previewItems();
    expect(plan["Ada Adopted"]).toMatchObject({ action: "adopt", number: "360" });
    expect(plan["Tia Taken"]).toMatchObject({ action: "conflict", code: "number_taken_manual" });
    const run = await sync();
    expect(run, JSON.stringify(run)).toMatchObject({ status: "succeeded", summary: { create: 5, adopt: 1, conflict: 1 } });
    expect(user("360")).toMatchObject({ Id: adoptedId, FirstName: "Ada", LastName: "Adopted" });
    expect(department("360")).toEqual(["Voice > East"]);
    expect(user("301")).toMatchObject({ FirstName: "Rena", LastName: "Oldname", EmailAddress: "rena@example.com" });
    expect(department("304")).toEqual(["Voice > West"]);
    expect(user("350")).toMatchObject({ FirstName: "Front", handMade: true });
    const writes = sim.writes().length;
    const again = await sync();
    expect(again).toMatchObject({ status: "succeeded", summary: { create: 0, update: 0, adopt: 0 } });
    expect(sim.writes().length).toBe(writes);
  });

  it("follows a rename, a move, a disable and a deletion; a number change is a conflict, then a recreate when told so", async () => {
    await modify(dn.ren as string, "sn", ["Newname"]);
    await modify(dn.ren as string, "displayName", ["Rena Newname"]);
    await admin.modifyDN(dn.mov as string, `CN=c-mov,${WEST}`);
    await modify(dn.num as string, "ipPhone", ["393"]);
    await modify(dn.dis as string, "userAccountControl", ["514"]);
    await admin.del(dn.lea as string);

    // Full reads: Ada's conflict comes from the adoption before, not from a change in AD, and
    // an incremental read decides again only about users something changed for.
    const plan = await previewItems({ full: true });
    expect(plan["Rena Newname"]).toMatchObject({ action: "update", number: "301" });
    expect(plan["Moe Mover"]).toMatchObject({ action: "update", state: { departmentPath: "Voice > West" } });
    expect(plan["Nia Number"]).toMatchObject({ action: "conflict", code: "number_change_unsupported", number: "303" });
    expect(plan["Dee Disabled"]).toMatchObject({ action: "disable" });
    expect(plan["Leo Leaver"]).toMatchObject({ action: "delete" });
    // Taken over with its own number, Ada's extension is not the number AD gives her either.
    expect(plan["Ada Adopted"]).toMatchObject({ action: "conflict", code: "number_change_unsupported", number: "360" });
    const run = await sync({ full: true });
    expect(run, JSON.stringify(run)).toMatchObject({ status: "succeeded", summary: { update: 2, disable: 1, delete: 1, conflict: 3 } });
    expect(user("301")).toMatchObject({ LastName: "Newname", DisplayName: "Rena Newname" });
    expect(department("302")).toEqual(["Voice > West"]);
    expect(user("303")).toMatchObject({ FirstName: "Nia" });
    expect(user("304")).toMatchObject({ Enabled: false });
    expect(user("305")).toBeUndefined();

    expect((await stack.api("PUT", "/config", config("recreate"))).status).toBe(200);
    const recreate = await previewItems();
    expect(recreate["Nia Number"]).toMatchObject({ action: "recreate", number: "303", state: { number: "393" } });
    expect(recreate["Ada Adopted"]).toMatchObject({ action: "recreate", number: "360", state: { number: "306" } });
    const again = await sync();
    expect(again, JSON.stringify(again)).toMatchObject({ status: "succeeded", summary: { recreate: 2 } });
    expect(user("303")).toBeUndefined();
    expect(user("393")).toMatchObject({ FirstName: "Nia", LastName: "Number" });
    expect(department("393")).toEqual(["Voice > East"]);
    expect(user("360")).toBeUndefined();
    expect(user("306")).toMatchObject({ FirstName: "Ada" });
  });

  it("gets a new token after its own expired, rides out 429s, and after 3CX went down mid-apply the next run finishes without duplicates", {
    timeout: 120_000,
  }, async () => {
    for (let i = 0; i < 6; i++) await addUser(admin, dc, WEST, `c-new${i}`, { displayName: [`New User${i}`], ipPhone: [String(370 + i)] });
    sim.expireAccessTokens();
    sim.rateLimit(2, 1);
    await syncThroughOutage(stack, sim, /3CX did not answer POST \/Users/);
    for (let i = 0; i < 6; i++) expect(sim.users().filter((u) => u.Number === String(370 + i))).toHaveLength(1);
  });
});
