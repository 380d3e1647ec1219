// Sync into a SCIM 2.0 service, end to end: a private Samba DC (127.0.0.63) that the test edits
// as an administrator would, the bundled worker in workerd, a real agent, and a SCIM service
// provider that is not ours (scimmy, test/support/scim-server.ts) as the phone system.
import type { Client } from "ldapts";
import { Attribute, Change } from "ldapts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addUser, adminClient, targetFor } from "../agent/src/ldap/test-support.ts";
import { type SambaDc, startSambaDc } from "./support/samba-dc.ts";
import { type ScimServer, startScimServer } from "./support/scim-server.ts";
import { type Json, type Stack, startStack } from "./support/stack.ts";
import { addVoiceOus, person, replaceAttribute, runsOf, storeSecretAndTest, syncThroughOutage, voiceOus } from "./support/target-e2e.ts";

const BASE = "DC=example,DC=com";
const { voice: VOICE, east: EAST, west: WEST } = voiceOus(BASE);
const TEAM = `CN=Voice Team,${VOICE}`;
const enterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

describe("sync into a SCIM 2.0 service", () => {
  let dc: SambaDc;
  let admin: Client;
  let scim: ScimServer;
  let stack: Stack;
  const dn: Record<string, string> = {};

  const config = () => ({
    connection: targetFor(dc).connection,
    scope: { users: "ous", ous: [{ dn: VOICE }] },
    extensionNumbers: { source: "attribute", attribute: "ipPhone" },
    organisation: { departments: { from: "none" }, extensionGroups: { from: "memberOf", groups: [{ dn: TEAM }], createMissing: true } },
    deprovisioning: { whenDeleted: "delete", whenDisabled: "disable", whenOutOfScope: "delete" },
    safety: { maxDeletesPerRun: 100, maxDeletePercent: 100 },
    schedule: { mode: "manual" },
    pbx: { kind: "scim", baseUrl: scim.url, secret: { source: "stored" }, groups: true, adopt: "email" },
  });
  const sync = () => runsOf(stack).sync();
  const previewItems = () => runsOf(stack).previewItems();
  const user = (userName: string) => scim.users().find((u) => u.userName === userName);
  const modify = (target: string, type: string, values: string[]) => replaceAttribute(admin, target, type, values);

  beforeAll(async () => {
    dc = await startSambaDc({ ip: "127.0.0.63" });
    admin = await adminClient(dc);
    await addVoiceOus(admin, BASE);
    dn.ren = await addUser(admin, dc, EAST, "s-ren", person("Rena", "Oldname", { ipPhone: ["5001"], department: ["Sales"] }));
    dn.num = await addUser(admin, dc, EAST, "s-num", person("Nia", "Number", { ipPhone: ["5002"] }));
    dn.dis = await addUser(admin, dc, WEST, "s-dis", person("Dee", "Disabled", { ipPhone: ["5003"] }));
    dn.lea = await addUser(admin, dc, WEST, "s-lea", person("Leo", "Leaver", { ipPhone: ["5004"] }));
    dn.ado = await addUser(admin, dc, EAST, "s-ado", person("Ada", "Adopted", { ipPhone: ["5005"] }));
    dn.tak = await addUser(admin, dc, EAST, "s-tak", person("Tia", "Taken", { ipPhone: ["5500"] }));
    await admin.add(TEAM, [
      new Attribute({ type: "objectClass", values: ["top", "group"] }),
      new Attribute({ type: "member", values: [dn.ren as string, dn.num as string] }),
    ]);

    scim = await startScimServer({ groups: true });
    // Made in the service before sync was set up: Ada's own account, and the front desk on 5500.
    scim.addUser({
      userName: "ada.a@example.com",
      emails: [{ value: "ada@example.com", type: "work" }],
      phoneNumbers: [{ value: "5050", type: "work" }],
    });
    scim.addUser({ userName: "desk@example.com", displayName: "Front Desk", phoneNumbers: [{ value: "5500", type: "work" }] });
    stack = await startStack(dc, { tenant: "scim-sync", config: config() });
  });

  afterAll(async () => {
    await stack?.stop();
    await scim?.close();
    await admin?.unbind().catch(() => {});
    await dc?.destroy();
  });

  it("takes the token write-only, and Test Connection checks the service with it", async () => {
    const details = await storeSecretAndTest(stack, scim.token);
    expect(details.at(-1)).toMatch(/The service has 2 users/);
  });

  it("first sync: adopts by e-mail, reports the number the front desk has, provisions the rest with their group", async () => {
    const plan = await previewItems();
    expect(plan["Ada Adopted"]).toMatchObject({ action: "adopt", number: "5050" });
    expect(plan["Tia Taken"]).toMatchObject({ action: "conflict", code: "number_taken_manual" });
    const run = await sync();
    expect(run, JSON.stringify(run)).toMatchObject({ status: "succeeded", summary: { create: 4, adopt: 1, conflict: 1 } });
    expect(user("s-ren@example.com")).toMatchObject({
      externalId: expect.any(String),
      name: { givenName: "Rena", familyName: "Oldname" },
      phoneNumbers: [{ value: "5001", type: "work" }],
      [enterprise]: { department: "Sales" },
      active: true,
    });
    // Taken over, and given the number AD has for Ada: a SCIM number is just an attribute.
    expect(user("s-ado@example.com")).toMatchObject({ phoneNumbers: [{ value: "5005", type: "work" }], name: { givenName: "Ada" } });
    expect(user("desk@example.com")).toMatchObject({ displayName: "Front Desk" });
    expect(user("desk@example.com")?.externalId).toBeUndefined();
    const team = scim.groups().find((g) => g.displayName === "Voice Team");
    expect(((team?.members ?? []) as Json[]).map((m) => m.value).sort()).toEqual(
      [user("s-ren@example.com")?.id, user("s-num@example.com")?.id].sort(),
    );
    const writes = scim.writes().length;
    const again = await sync();
    expect(again).toMatchObject({ status: "succeeded", summary: { create: 0, update: 0, adopt: 0 } });
    expect(scim.writes().length).toBe(writes);
  });

  it("follows a rename, a move, a number change, a group change, a disable and a deletion", async () => {
    await modify(dn.ren as string, "sn", ["Newname"]);
    await modify(dn.ren as string, "displayName", ["Rena Newname"]);
    await modify(dn.num as string, "ipPhone", ["5092"]);
    await admin.modify(
      TEAM,
      new Change({ operation: "delete", modification: new Attribute({ type: "member", values: [dn.num as string] }) }),
    );
    await modify(dn.dis as string, "userAccountControl", ["514"]);
    await admin.del(dn.lea as string);
    // A move between OUs: nothing the service holds changes (the department comes from the attribute).
    await admin.modifyDN(dn.ado as string, `CN=s-ado,${WEST}`);

    const plan = await previewItems();
    expect(plan["Rena Newname"]).toMatchObject({ action: "update" });
    expect(plan["Nia Number"]).toMatchObject({ action: "update", state: { number: "5092", groups: [] } });
    expect(plan["Dee Disabled"]).toMatchObject({ action: "disable" });
    expect(plan["Leo Leaver"]).toMatchObject({ action: "delete" });
    expect(plan["Ada Adopted"]).toMatchObject({ action: "update", changes: [{ field: "dn" }] });
    const writesBefore = scim.writes().length;
    const run = await sync();
    expect(run, JSON.stringify(run)).toMatchObject({ status: "succeeded", summary: { update: 3, disable: 1, delete: 1 } });
    const ada = user("s-ado@example.com")?.id;
    expect(
      scim
        .writes()
        .slice(writesBefore)
        .filter((w) => w.id === ada),
    ).toEqual([]);
    expect(user("s-ren@example.com")).toMatchObject({ name: { familyName: "Newname" }, displayName: "Rena Newname" });
    expect(user("s-num@example.com")).toMatchObject({ phoneNumbers: [{ value: "5092", type: "work" }] });
    expect(((scim.groups().find((g) => g.displayName === "Voice Team")?.members ?? []) as Json[]).map((m) => m.value)).toEqual([
      user("s-ren@example.com")?.id,
    ]);
    expect(user("s-dis@example.com")?.active).toBe(false);
    expect(user("s-lea@example.com")).toBeUndefined();

    // Back in AD: activated again, as it was deactivated by sync.
    await modify(dn.dis as string, "userAccountControl", ["512"]);
    const back = await sync();
    expect(back).toMatchObject({ status: "succeeded", summary: { enable: 1 } });
    expect(user("s-dis@example.com")?.active).toBe(true);
  });

  it("rides out 429s, and after the service went down mid-apply the next run finishes without duplicates", {
    timeout: 120_000,
  }, async () => {
    for (let i = 0; i < 6; i++) await addUser(admin, dc, WEST, `s-new${i}`, { displayName: [`New User${i}`], ipPhone: [String(5600 + i)] });
    scim.rateLimit(2, 1);
    await syncThroughOutage(stack, scim, /The SCIM service did not answer POST \/Users/);
    for (let i = 0; i < 6; i++) expect(scim.users().filter((u) => u.userName === `s-new${i}@example.com`)).toHaveLength(1);
  });
});
