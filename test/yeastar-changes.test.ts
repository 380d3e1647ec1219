// Sync into Yeastar following changes made in AD, end to end: a private Samba DC (127.0.0.62)
// that the test edits as an administrator would, the bundled worker in workerd, a real agent,
// and the Yeastar simulator as the PBX, which already holds hand-made extensions.
import type { Client } from "ldapts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addUser, adminClient, targetFor } from "../agent/src/ldap/test-support.ts";
import { type SambaDc, startSambaDc } from "./support/samba-dc.ts";
import { type Stack, startStack } from "./support/stack.ts";
import { addVoiceOus, person, replaceAttribute, runsOf, voiceOus } from "./support/target-e2e.ts";
import { type SimulatedExtension, startYeastarSimulator, type YeastarSimulator } from "./support/yeastar-simulator.ts";

const BASE = "DC=example,DC=com";
const { voice: VOICE, east: EAST, west: WEST } = voiceOus(BASE);
const secret = "Yeastar-Changes-Secret-77";

describe("sync into Yeastar following AD changes", () => {
  let dc: SambaDc;
  let admin: Client;
  let sim: YeastarSimulator;
  let stack: Stack;
  let adoptedId = 0;
  const dn: Record<string, string> = {};

  const config = () => ({
    connection: targetFor(dc).connection,
    scope: { users: "ous", ous: [{ dn: VOICE }] },
    extensionNumbers: { source: "attributeThenSequential", attribute: "ipPhone", ranges: [{ start: "4100", end: "4199" }] },
    organisation: { departments: { from: "ouTree" } },
    deprovisioning: { whenDeleted: "delete", whenDisabled: "delete", whenOutOfScope: "delete" },
    safety: { maxDeletesPerRun: 100, maxDeletePercent: 100 },
    schedule: { mode: "manual" },
    pbx: { kind: "yeastar", baseUrl: sim.url, clientId: sim.clientId, secret: { source: "stored" }, adopt: "email" },
  });
  const sync = () => runsOf(stack).sync();
  const previewItems = () => runsOf(stack).previewItems();
  const ext = (number: string): SimulatedExtension | undefined => sim.extensions().find((e) => e.number === number);
  const organizationPath = (id: number | undefined): string => {
    const orgs = new Map(sim.organizations().map((o) => [o.id, o]));
    const walk = (at: number | undefined): string[] => {
      const o = at === undefined ? undefined : orgs.get(at);
      return o === undefined || o.parent_id === 0 ? [] : [...walk(o.parent_id), o.name];
    };
    return walk(id).join(" > ");
  };
  const modify = (target: string, type: string, values: string[]) => replaceAttribute(admin, target, type, values);

  beforeAll(async () => {
    dc = await startSambaDc({ ip: "127.0.0.62" });
    admin = await adminClient(dc);
    await addVoiceOus(admin, BASE);
    dn.ren = await addUser(admin, dc, EAST, "y-ren", person("Rena", "Oldname", { ipPhone: ["4001"] }));
    dn.mov = await addUser(admin, dc, EAST, "y-mov", person("Moe", "Mover", { ipPhone: ["4002"] }));
    dn.num = await addUser(admin, dc, EAST, "y-num", person("Nia", "Number", { ipPhone: ["4003"] }));
    dn.lea = await addUser(admin, dc, WEST, "y-lea", person("Leo", "Leaver", { ipPhone: ["4004"] }));
    dn.dis = await addUser(admin, dc, WEST, "y-dis", person("Dee", "Disabled", { ipPhone: ["4005"] }));
    dn.ado = await addUser(admin, dc, EAST, "y-ado", person("Ada", "Adopted", { mail: ["ada.adopted@example.com"] }));
    dn.tak = await addUser(admin, dc, EAST, "y-tak", person("Tia", "Taken", { ipPhone: ["4500"] }));

    sim = await startYeastarSimulator({ organizationManagement: true, clientSecret: secret });
    // Made by hand before sync was set up: Ada's own phone, and the front desk on 4500.
    adoptedId = sim.addExtension({ number: "4050", first_name: "Ada", last_name: "A.", email_addr: "ada.adopted@example.com" }).id;
    sim.addExtension({ number: "4500", first_name: "Front", last_name: "Desk" });
    stack = await startStack(dc, { tenant: "yeastar-changes", config: config() });
    expect((await stack.api("PUT", "/config/pbx-secret", { secret })).status).toBe(200);
  });

  afterAll(async () => {
    await stack?.stop();
    await sim?.close();
    await admin?.unbind().catch(() => {});
    await dc?.destroy();
  });

  it("first sync: adopts the hand-made extension by e-mail, reports the hand-made number as taken, creates the rest", async () => {
    const plan = await previewItems();
    expect(plan["Ada Adopted"]).toMatchObject({ action: "adopt", number: "4050" });
    expect(plan["Tia Taken"]).toMatchObject({ action: "conflict", code: "number_taken_manual" });
    expect(plan["Tia Taken"].reason).toMatch(/4500 belongs to a hand-made extension/);
    for (const name of ["Rena Oldname", "Moe Mover", "Nia Number", "Leo Leaver", "Dee Disabled"]) expect(plan[name].action).toBe("create");

    const run = await sync();
    expect(run, JSON.stringify(run)).toMatchObject({ status: "succeeded", summary: { create: 5, adopt: 1, conflict: 1 } });
    // Taken over, not made again: the same Yeastar extension, now with AD's names.
    expect(ext("4050")).toMatchObject({ id: adoptedId, first_name: "Ada", last_name: "Adopted" });
    expect(ext("4500")).toMatchObject({ first_name: "Front", last_name: "Desk", handMade: true });
    expect(sim.extensions()).toHaveLength(7);
    expect(organizationPath(ext("4002")?.organization_ids[0])).toBe("Voice > East");
    expect(organizationPath(ext("4004")?.organization_ids[0])).toBe("Voice > West");
  });

  it("follows a rename, a move, a number change, a deletion and a disable as the PBX's capabilities allow", async () => {
    await modify(dn.ren as string, "sn", ["Newname"]);
    await modify(dn.ren as string, "displayName", ["Rena Newname"]);
    await admin.modifyDN(dn.mov as string, `CN=y-mov,${WEST}`);
    await modify(dn.num as string, "ipPhone", ["4093"]);
    await admin.del(dn.lea as string);
    await modify(dn.dis as string, "userAccountControl", ["514"]);

    const plan = await previewItems();
    expect(plan["Rena Newname"]).toMatchObject({ action: "update", number: "4001" });
    expect(plan["Rena Newname"].changes).toEqual([{ field: "lastName", from: "Oldname", to: "Newname" }]);
    expect(plan["Moe Mover"]).toMatchObject({ action: "update", number: "4002" });
    expect(plan["Moe Mover"].changes).toEqual(
      expect.arrayContaining([{ field: "departmentPath", from: "Voice > East", to: "Voice > West" }]),
    );
    // Yeastar cannot change a number: Preview says so, and the extension keeps its own.
    expect(plan["Nia Number"]).toMatchObject({ action: "unchanged", number: "4003" });
    expect(plan["Nia Number"].reason).toMatch(/cannot change an extension's number: it stays 4003 \(AD gives 4093\)/);
    expect(plan["Leo Leaver"]).toMatchObject({ action: "delete", number: "4004" });
    // Yeastar cannot disable either: deprovisioning deletes, as the configuration says.
    expect(plan["Dee Disabled"]).toMatchObject({ action: "delete", number: "4005" });

    const run = await sync();
    expect(run, JSON.stringify(run)).toMatchObject({ status: "succeeded", summary: { update: 2, delete: 2 } });
    expect(ext("4001")).toMatchObject({ first_name: "Rena", last_name: "Newname" });
    expect(organizationPath(ext("4002")?.organization_ids[0])).toBe("Voice > West");
    expect(ext("4003")).toMatchObject({ first_name: "Nia" });
    expect(ext("4093")).toBeUndefined();
    expect(ext("4004")).toBeUndefined();
    expect(ext("4005")).toBeUndefined();
    expect(ext("4500")).toMatchObject({ first_name: "Front", handMade: true });

    // Nothing left to do, and nothing written.
    const writes = sim.writes().length;
    const again = await sync();
    expect(again).toMatchObject({ status: "succeeded", summary: { create: 0, update: 0, delete: 0, adopt: 0 } });
    expect(sim.writes().length).toBe(writes);
  });
});
