// Sync following changes made in AD, end to end: a private Samba DC (127.0.0.61) that the
// test edits as an administrator would, the bundled worker in workerd and a real agent.
import type { Client } from "ldapts";
import { Attribute, Change } from "ldapts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openConnection } from "../agent/src/ldap/connection.ts";
import { readDirectoryPosition } from "../agent/src/ldap/directory-position.ts";
import { searchPages } from "../agent/src/ldap/search.ts";
import { addUser, adminClient, targetFor } from "../agent/src/ldap/test-support.ts";
import { freePort } from "./support/agent-process.ts";
import { type SambaDc, startSambaDc } from "./support/samba-dc.ts";
import { startSlowProxy } from "./support/slow-proxy.ts";
import { type Json, type Stack, startStack } from "./support/stack.ts";

const BASE = "DC=example,DC=com";
const STAFF = `OU=Staff,${BASE}`;
const SALES = `OU=Sales,${STAFF}`;
const SUPPORT = `OU=Support,${STAFF}`;
const TIER2 = `CN=Support (Tier 2),OU=Groups,${BASE}`;
// Sales Team is a member of Phone Users: its members count, through the nesting.
const PHONE_USERS = `CN=Phone Users,OU=Groups,${BASE}`;

const config = (dc: SambaDc, connection: Record<string, unknown> = {}) => ({
  connection: { ...targetFor(dc).connection, ...connection },
  scope: { users: "ous", ous: [{ dn: STAFF }] },
  // Room for two users without an ipPhone: Dave, and the first one added below.
  extensionNumbers: { source: "attributeThenSequential", attribute: "ipPhone", ranges: [{ start: "2000", end: "2001" }] },
  organisation: {
    departments: { from: "ouTree" },
    extensionGroups: { from: "memberOf", groups: [{ dn: TIER2 }, { dn: PHONE_USERS, nested: true }], createMissing: true },
  },
  deprovisioning: { whenOutOfScope: "delete", whenDisabled: "disable", whenDeleted: "delete", archive: { extension: "0999" } },
  schedule: { mode: "manual" },
});

describe("sync following AD changes", () => {
  let dc: SambaDc;
  let admin: Client;
  let stack: Stack;
  const dnOf = { nonum1: "", nonum2: "", dup: "" };
  let proxyPort: number;

  const sync = async () => {
    const started = await stack.api("POST", "/sync");
    expect(started.status, started.text).toBe(202);
    return stack.finished(started.body.id);
  };
  const items = async (runId: string) => (await stack.api("GET", `/runs/${runId}/items?limit=1000`)).body.items as Json[];
  const extensions = async () => (await stack.api("GET", "/extensions?limit=1000")).body.extensions as Json[];
  const byName = async (name: string) => (await extensions()).find((e) => e.displayName === name);
  const modify = (dn: string, type: string, values: string[]) =>
    admin.modify(dn, new Change({ operation: "replace", modification: new Attribute({ type, values }) }));

  beforeAll(async () => {
    dc = await startSambaDc({ ip: "127.0.0.61" });
    admin = await adminClient(dc);
    // Two more users without an ipPhone than the range has room for, and one whose ipPhone
    // another user already has.
    dnOf.nonum1 = await addUser(admin, dc, SUPPORT, "t-nonum1", { displayName: ["Nora Number"] });
    dnOf.nonum2 = await addUser(admin, dc, SUPPORT, "t-nonum2", { displayName: ["Nils Number"] });
    dnOf.dup = await addUser(admin, dc, SUPPORT, "t-dup", { displayName: ["Dana Duplicate"], ipPhone: ["1002"] });
    // The agent host allows the relay the last test puts in front of the DC, as a second address of it.
    proxyPort = await freePort();
    stack = await startStack(dc, { tenant: "changes", config: config(dc), agentDcs: [`${dc.ip}:${proxyPort}`] });
    expect((await stack.api("POST", "/extensions", { number: "0999", displayName: "Leavers archive" })).status).toBe(201);
  });

  afterAll(async () => {
    await stack?.stop();
    await admin?.unbind().catch(() => {});
    await dc?.destroy();
  });

  it("first sync: names with commas and accents, groups with parentheses, duplicates and a full range", async () => {
    const run = await sync();
    expect(run.status).toBe("succeeded");
    const plan = Object.fromEntries((await items(run.id)).map((i) => [i.name, i]));
    const exts = await extensions();
    const ext = (name: string) => exts.find((e) => e.displayName === name);

    expect(ext("Smith, John")).toMatchObject({ number: "1002", dn: `CN=Smith\\, John,${SALES}`, departmentPath: "Staff > Sales" });
    expect(ext("Zoë Müller")).toMatchObject({ number: "1003", firstName: "Zoë", lastName: "Müller" });
    expect(ext("José Núñez")).toMatchObject({ number: "1101", groups: ["Support (Tier 2)"] });
    expect(ext("Carol Chen")?.groups).toEqual(["Phone Users", "Support (Tier 2)"]);
    expect(ext("Judy Jones")?.groups).toEqual(["Phone Users"]);
    expect(ext("Zoë Müller")?.groups).toEqual(["Phone Users"]);
    expect(ext("Grace Garcia")?.groups).toEqual([]);
    // John was there first (by the deterministic order); Dana's copy of his number is a conflict.
    expect(plan["Dana Duplicate"]).toMatchObject({ action: "conflict", code: "number_duplicate" });
    expect(plan["Dana Duplicate"].reason).toMatch(/1002/);
    // Dave and one of the two new users get 2000 and 2001; the other finds the range full.
    const numbered = ["Dave Davis", "Nora Number", "Nils Number"].map((n) => ext(n)?.number ?? plan[n]?.code);
    expect(numbered.sort()).toEqual(["2000", "2001", "range_exhausted"]);
    expect(exts.filter((e) => e.origin === "ad").every((e) => e.enabled)).toBe(true);
  });

  it("changes nothing when nothing changed in AD", async () => {
    const run = await sync();
    expect(run.summary).toMatchObject({ create: 0, update: 0, enable: 0, disable: 0, delete: 0 });
  });

  it("follows a rename, a move between OUs and a changed number as updates of the same extension", async () => {
    const judy = await byName("Judy Jones");
    const bob = await byName("Bob Baker");
    const frank = await byName("Frank Fischer");
    await modify(`CN=Judy Jones,${STAFF}`, "displayName", ["Judy Jones-Khan"]);
    await modify(`CN=Judy Jones,${STAFF}`, "sn", ["Jones-Khan"]);
    await admin.modifyDN(`CN=Bob Baker,${SALES}`, `CN=Bob Baker,${SUPPORT}`);
    await modify(`CN=Frank Fischer,OU=Engineering,${STAFF}`, "ipPhone", ["1250"]);

    const run = await sync();
    expect(run).toMatchObject({ status: "succeeded", summary: { update: 3, create: 0, delete: 0 } });
    const updates = Object.fromEntries((await items(run.id)).filter((i) => i.action === "update").map((i) => [i.name, i]));
    expect(updates["Judy Jones-Khan"].changes).toEqual(
      expect.arrayContaining([
        { field: "displayName", from: "Judy Jones", to: "Judy Jones-Khan" },
        { field: "lastName", from: "Jones", to: "Jones-Khan" },
      ]),
    );
    expect(updates["Bob Baker"].changes).toEqual(
      expect.arrayContaining([{ field: "departmentPath", from: "Staff > Sales", to: "Staff > Support" }]),
    );
    expect(updates["Frank Fischer"].changes).toEqual(expect.arrayContaining([{ field: "number", from: "1201", to: "1250" }]));

    // The same extensions, found by objectGUID: no new ones, none gone.
    expect(await byName("Judy Jones-Khan")).toMatchObject({ guid: judy.guid, number: "1000" });
    expect(await byName("Bob Baker")).toMatchObject({ guid: bob.guid, number: "1004", departmentPath: "Staff > Support" });
    expect(await byName("Frank Fischer")).toMatchObject({ guid: frank.guid, number: "1250" });
  });

  it("disables the extension of a disabled account and enables it again when the account is", async () => {
    const carol = `CN=Carol Chen,${SUPPORT}`;
    await modify(carol, "userAccountControl", ["514"]);
    const disabled = await sync();
    expect(disabled.summary).toMatchObject({ disable: 1, delete: 0 });
    expect(await byName("Carol Chen")).toMatchObject({ enabled: false, disabledBySync: true, number: "1102" });

    await modify(carol, "userAccountControl", ["512"]);
    const enabled = await sync();
    expect(enabled.summary).toMatchObject({ enable: 1, disable: 0 });
    expect(await byName("Carol Chen")).toMatchObject({ enabled: true, number: "1102" });
  });

  it("deletes the extension of a deleted user to the archive, and its number goes to the user who had none", async () => {
    const before = await extensions();
    const gone = before.find((e) => e.displayName === "Nora Number" || e.displayName === "Nils Number");
    const waiting = gone?.displayName === "Nora Number" ? "Nils Number" : "Nora Number";
    await admin.del(gone?.displayName === "Nora Number" ? dnOf.nonum1 : dnOf.nonum2);

    const run = await sync();
    expect(run).toMatchObject({ status: "succeeded", summary: { delete: 1, create: 1 } });
    const after = await extensions();
    expect(after.find((e) => e.guid === gone?.guid)).toBeUndefined();
    expect(after.find((e) => e.displayName === waiting)).toMatchObject({ number: gone?.number });
    const events = (await stack.api("GET", `/runs/${run.id}/events`)).body as Json[];
    expect(events.some((e) => e.operation === "delete" && /0999/.test(e.event))).toBe(true);
  });

  it("moves the DC's position on at a change, and (uSNChanged>=N) after the old position finds the changed user alone", async () => {
    const connection = await openConnection(targetFor(dc));
    try {
      // Outside the scope the other tests sync.
      const user = await addUser(admin, dc, `OU=Service Accounts,${BASE}`, "t-position");
      const before = await readDirectoryPosition(connection);
      await modify(user, "title", ["Position Tester"]);
      const after = await readDirectoryPosition(connection);
      expect(after.invocationId).toBe(before.invocationId);
      expect(BigInt(after.highestCommittedUsn)).toBeGreaterThan(BigInt(before.highestCommittedUsn));
      const changed: string[] = [];
      for await (const page of searchPages(connection, {
        base: BASE,
        scope: "sub",
        filter: `(&(objectCategory=person)(objectClass=user)(uSNChanged>=${BigInt(before.highestCommittedUsn) + 1n}))`,
        attributes: ["sAMAccountName"],
      }))
        for (const e of page) changed.push(String(e.attributes.sAMAccountName?.[0]));
      expect(changed).toEqual(["t-position"]);
    } finally {
      await connection.close();
    }
  });

  it("fails a run whose DC goes away halfway through the read, and deletes nothing", async () => {
    // Every chunk the DC sends waits 150 ms, so the read is still going when the DC stops.
    const proxy = await startSlowProxy({ host: dc.ip, port: 636 }, 150, proxyPort);
    expect(
      (await stack.api("PUT", "/config", config(dc, { domainControllers: [{ host: dc.ip, port: proxy.port }], pageSize: 10 }))).status,
    ).toBe(200);
    const before = await extensions();
    // A full read: one that takes long enough to be cut halfway.
    const started = await stack.api("POST", "/sync?full=true");
    const deadline = Date.now() + 20_000;
    for (;;) {
      const run = (await stack.api("GET", `/runs/${started.body.id}`)).body;
      if ((run.progress?.read ?? 0) >= 10) break;
      // Queued until the alarm takes the run's first step; then reading until the DC stops.
      expect(["queued", "reading"], "the read ended before the DC could be stopped").toContain(run.status);
      if (Date.now() > deadline) throw new Error("the read never got past its first page");
      await new Promise((r) => setTimeout(r, 20));
    }
    await Promise.all([proxy.cut(), dc.stop()]);

    const run = await stack.finished(started.body.id);
    expect(run.status).toBe("failed");
    expect(run.error).toMatch(/domain controller \(127\.0\.0\.61:\d+\) closed the connection/);
    expect(await extensions()).toEqual(before);
  });
});
