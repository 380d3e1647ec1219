// Incremental sync end to end: a private Samba DC (127.0.0.65) the test edits as an
// administrator would, the bundled worker in workerd and a real agent. After each kind of
// change the next run reads only what changed and does what a full read would; a restored
// DC, a failover to a second DC (127.0.0.66, a copy of the first under another server name)
// and a configuration change each make the run read everything again, and say why.
import type { Client } from "ldapts";
import { Attribute, Change } from "ldapts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addUser, adminClient, targetFor } from "../agent/src/ldap/test-support.ts";
import { changeDcIdentity, grantDeletedObjectsListing, type SambaDc, startDcCopy, startSambaDc } from "./support/samba-dc.ts";
import { type Json, type Stack, startStack } from "./support/stack.ts";

const BASE = "DC=example,DC=com";
const STAFF = `OU=Staff,${BASE}`;
const SALES = `OU=Sales,${STAFF}`;
const SUPPORT = `OU=Support,${STAFF}`;
const OUTSIDE = `OU=Service Accounts,${BASE}`;
const TIER2 = `CN=Support (Tier 2),OU=Groups,${BASE}`;
const DC2_IP = "127.0.0.66";

const config = (dc: SambaDc, extra: Record<string, unknown> = {}) => ({
  // The second DC is listed from the start: the agent uses it when the first does not answer.
  connection: { ...targetFor(dc).connection, domainControllers: [{ host: dc.ip }, { host: DC2_IP }] },
  scope: { users: "ous", ous: [{ dn: STAFF }] },
  extensionNumbers: { source: "attributeThenSequential", attribute: "ipPhone", ranges: [{ start: "3000", end: "3099" }] },
  organisation: { departments: { from: "ouTree" }, extensionGroups: { from: "memberOf", groups: [{ dn: TIER2 }], createMissing: true } },
  deprovisioning: { whenOutOfScope: "delete", whenDisabled: "disable", whenDeleted: "delete" },
  safety: { maxDeletesPerRun: 100, maxDeletePercent: 100 },
  schedule: { mode: "manual" },
  ...extra,
});

describe("incremental sync", () => {
  let dc: SambaDc;
  let dc2: SambaDc | undefined;
  let admin: Client;
  let stack: Stack;

  const sync = async (query = "") => {
    const started = await stack.api("POST", `/sync${query}`);
    expect(started.status, started.text).toBe(202);
    return stack.finished(started.body.id, 60_000);
  };
  const operations = async (runId: string) =>
    ((await stack.api("GET", `/runs/${runId}/items?limit=1000`)).body.items as Json[])
      .filter((i) => !["unchanged", "conflict", "excluded"].includes(i.action))
      .map((i) => `${i.action} ${i.name}`)
      .sort();
  const events = async (runId: string) => ((await stack.api("GET", `/runs/${runId}/events`)).body as Json[]).map((e) => e.event as string);
  const extensions = async () => (await stack.api("GET", "/extensions?limit=1000")).body.extensions as Json[];
  const byName = async (name: string) => (await extensions()).find((e) => e.displayName === name);
  const modify = (dn: string, type: string, values: string[]) =>
    admin.modify(dn, new Change({ operation: "replace", modification: new Attribute({ type, values }) }));
  const member = (group: string, dn: string, add: boolean) =>
    admin.modify(group, new Change({ operation: add ? "add" : "delete", modification: new Attribute({ type: "member", values: [dn] }) }));
  /** After a run: a full read would change nothing. */
  const nothingLeft = async () => {
    const preview = await stack.api("POST", "/preview?full=true&limit=1000");
    expect(preview.status, preview.text).toBe(200);
    expect(preview.body.run.read).toMatchObject({ mode: "full", reason: "a full read was asked for" });
    expect(
      (preview.body.items as Json[]).filter((i) => !["unchanged", "conflict", "excluded"].includes(i.action)).map((i) => i.name),
    ).toEqual([]);
  };

  beforeAll(async () => {
    dc = await startSambaDc({ ip: "127.0.0.65" });
    admin = await adminClient(dc);
    stack = await startStack(dc, { tenant: "incremental", config: config(dc), agentDcs: [DC2_IP] });
  });

  afterAll(async () => {
    await stack?.stop();
    await admin?.unbind().catch(() => {});
    await dc2?.destroy();
    await dc?.destroy();
  });

  it("reads everything the first time and only what changed after that", async () => {
    const first = await sync();
    expect(first).toMatchObject({ status: "succeeded", read: { mode: "full", reason: "there is no complete read to start from" } });
    expect(await events(first.id)).toContain("Full read: there is no complete read to start from");
    const count = (await extensions()).length;
    expect(count).toBeGreaterThan(5);

    const again = await sync();
    expect(again).toMatchObject({ status: "succeeded", read: { mode: "incremental", server: `${dc.ip}:636` } });
    expect(await operations(again.id)).toEqual([]);
    const log = await events(again.id);
    expect(log.some((e) => /^Incremental read: what changed on 127\.0\.0\.65:636 since update sequence number \d+$/.test(e))).toBe(true);
    expect(
      // The service account may not list deleted objects, as AD's default: the scope is swept.
      log.some((e) =>
        /^Directory read \(incremental\): 0 users in scope to decide about again; 0 synced users no longer in it; who left was found by a sweep of the \d+ users in scope \(the service account cannot list deleted objects \(grant it List Contents and Read Property on CN=Deleted Objects,DC=example,DC=com\)\)$/.test(
          e,
        ),
      ),
    ).toBe(true);
  });

  it("follows a rename, a move between OUs, a move out of scope, a disable, a delete, a new user and a group change", async () => {
    const alice = await byName("Alice Anderson");
    await modify(`CN=Alice Anderson,${SALES}`, "displayName", ["Alice Archer"]);
    await admin.modifyDN(`CN=Bob Baker,${SALES}`, `CN=Bob Baker,${SUPPORT}`);
    await admin.modifyDN(`CN=Dave Davis,${SUPPORT}`, `CN=Dave Davis,${OUTSIDE}`);
    await modify(`CN=Carol Chen,${SUPPORT}`, "userAccountControl", ["514"]);
    await admin.del(`CN=Grace Garcia,OU=Engineering,${STAFF}`);
    await addUser(admin, dc, SUPPORT, "t-newcomer", { displayName: ["Nina Newcomer"], ipPhone: ["3050"] });
    // Judy joins Support (Tier 2): the group changes; on AD, Judy's own uSNChanged does not.
    await member(TIER2, `CN=Judy Jones,${STAFF}`, true);

    const run = await sync();
    expect(run).toMatchObject({ status: "succeeded", read: { mode: "incremental" } });
    expect(await operations(run.id)).toEqual([
      "create Nina Newcomer",
      "delete Dave Davis",
      "delete Grace Garcia",
      "disable Carol Chen",
      "update Alice Archer",
      "update Bob Baker",
      "update Judy Jones",
    ]);
    expect((await byName("Alice Archer"))?.number).toBe(alice?.number);
    expect(await byName("Bob Baker")).toMatchObject({ departmentPath: "Staff > Support" });
    expect(await byName("Judy Jones")).toMatchObject({ groups: ["Support (Tier 2)"] });
    expect(await byName("Nina Newcomer")).toMatchObject({ number: "3050" });
    expect((await byName("Carol Chen"))?.enabled).toBe(false);
    await nothingLeft();
  });

  it("reads everything again after a DC was restored from a backup, and says why", async () => {
    await dc.stop();
    await changeDcIdentity(dc);
    await dc.start();
    const run = await sync();
    expect(run).toMatchObject({
      status: "succeeded",
      read: {
        mode: "full",
        reason: "the domain controller 127.0.0.65:636 was restored from a backup since the last read (its invocationId changed)",
      },
    });
    expect(await events(run.id)).toContain(
      "Full read instead: the domain controller 127.0.0.65:636 was restored from a backup since the last read (its invocationId changed)",
    );
    expect(await operations(run.id)).toEqual([]);
    expect((await sync()).read.mode).toBe("incremental");
  });

  it("reads everything again when the second DC answers instead of the first, and incrementally from it after that", async () => {
    dc2 = await startDcCopy(dc, DC2_IP, "DC2");
    await dc.stop();
    try {
      const run = await sync();
      expect(run.status).toBe("succeeded");
      expect(run.read).toEqual({
        mode: "full",
        reason: `another domain controller answered (${DC2_IP}:636, DC2) than the one the last read came from (127.0.0.65:636, DC1)`,
      });
      expect(await operations(run.id)).toEqual([]);
      const next = await sync();
      expect(next.read).toMatchObject({ mode: "incremental", server: `${DC2_IP}:636` });
    } finally {
      await dc.start();
      await dc2.destroy();
      dc2 = undefined;
    }
  });

  it("reads everything again after a change to the configuration's mapping, and not after a change to the schedule", async () => {
    // Back on the first DC, whose position the last full read did not leave: a full read.
    expect((await sync()).read.mode).toBe("full");
    const saved = await stack.api("PUT", "/config", config(dc, { fields: { jobTitle: { sync: false } } }));
    expect(saved.status, saved.text).toBe(200);
    expect((await sync()).read).toEqual({
      mode: "full",
      reason: "the configuration changed since the last full read (scope, mapping, deprovisioning or PBX)",
    });
    const scheduled = await stack.api(
      "PUT",
      "/config",
      config(dc, { fields: { jobTitle: { sync: false } }, schedule: { mode: "interval", everyMinutes: 30 } }),
    );
    expect(scheduled.status, scheduled.text).toBe(200);
    expect((await sync()).read.mode).toBe("incremental");
  });

  it("tells who was deleted from the tombstones, once the service account may list them, and sweeps no more", async () => {
    await dc.stop();
    await grantDeletedObjectsListing(dc, dc.serviceDn);
    await dc.start();
    // The administrator's connection went with the samba it was bound to.
    await admin.unbind().catch(() => {});
    admin = await adminClient(dc);
    const tested = await stack.api("POST", "/test-connection", {});
    expect(tested.status, tested.text).toBe(200);
    expect((tested.body.steps as Json[]).find((st) => st.id === "scope")?.detail).toMatch(
      /Incremental runs find deleted users from their tombstones and read only what changed\.$/,
    );
    // Heidi is deleted, Frank moves out of the base DN's scope: neither is in any search of the scope now.
    await admin.del(`CN=Heidi Hughes,OU=Platform,OU=Engineering,${STAFF}`);
    await admin.modifyDN(`CN=Frank Fischer,OU=Engineering,${STAFF}`, `CN=Frank Fischer,${OUTSIDE}`);
    const run = await sync();
    expect(run).toMatchObject({ status: "succeeded", read: { mode: "incremental" } });
    expect(await operations(run.id)).toEqual(["delete Frank Fischer", "delete Heidi Hughes"]);
    expect(await events(run.id)).toContain(
      "Directory read (incremental): 0 users in scope to decide about again; 2 synced users no longer in it, 1 of them still in AD; who left was told by the deleted users' tombstones and the changed users",
    );
    await nothingLeft();
  });
});
