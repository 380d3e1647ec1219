// Incremental runs over a real SQLite and the built-in PBX, against a directory that keeps
// update sequence numbers as a DC does: after each kind of AD change, an incremental run
// reads only what changed, does what a full read would have done, and leaves nothing for a
// full read to do after it.
import { DatabaseSync } from "node:sqlite";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isOperation } from "../../../engine/plan-actions.ts";
import type { SyncConfig } from "../../../schema/generated/config.ts";
import { sqliteStorage } from "../../../test/support/sqlite-storage.ts";
import { USN_BASE as BASE, UsnDirectory } from "../../../test/support/usn-directory.ts";
import { BuiltinPbx } from "../pbx/builtin/builtin-pbx.ts";
import { SyncRuns } from "./sync-runs.ts";

const STAFF = `OU=Staff,${BASE}`;
const SALES = `OU=Sales,${STAFF}`;
const SUPPORT = `OU=Support,${STAFF}`;
const FORMER = `OU=Former,${BASE}`;
const PHONES = `CN=Phones,OU=Groups,${BASE}`;
const USER = ["top", "person", "organizationalPerson", "user"];

type Evidence = "sweep" | "tombstones";

const baseConfig: SyncConfig = {
  connection: { domainControllers: [{ host: "dc1" }], bindUsername: "svc", bindPassword: { source: "stored" }, baseDn: BASE },
  scope: { users: "ous", ous: [{ dn: STAFF }] },
  extensionNumbers: { source: "attributeThenSequential", attribute: "ipPhone", ranges: [{ start: "2000", end: "2099" }] },
  organisation: { departments: { from: "ouTree" }, extensionGroups: { from: "memberOf", groups: [{ dn: PHONES }] } },
  deprovisioning: { whenOutOfScope: "delete", whenDisabled: "disable", whenDeleted: "delete" },
  safety: { maxDeletesPerRun: 100, maxDeletePercent: 100 },
};

/** `evidence`: whether the service account may list tombstones, or the read must sweep the scope. */
function makeWorld(config: SyncConfig, evidence: Evidence) {
  const dc = new UsnDirectory([
    { dn: STAFF, attributes: { objectClass: ["top", "organizationalUnit"] } },
    { dn: SALES, attributes: { objectClass: ["top", "organizationalUnit"] } },
    { dn: SUPPORT, attributes: { objectClass: ["top", "organizationalUnit"] } },
    { dn: FORMER, attributes: { objectClass: ["top", "organizationalUnit"] } },
    { dn: `OU=Groups,${BASE}`, attributes: { objectClass: ["top", "organizationalUnit"] } },
  ]);
  dc.listsDeleted = evidence === "tombstones";
  const user = (ou: string, name: string, extra: Record<string, string[]> = {}) =>
    dc.add(`CN=${name},${ou}`, {
      objectClass: USER,
      cn: [name],
      displayName: [name],
      sAMAccountName: [name.toLowerCase().replace(/ /g, ".")],
      userAccountControl: ["512"],
      ...extra,
    });
  const ann = user(SALES, "Ann Archer", { ipPhone: ["1001"] });
  const bob = user(SALES, "Bob Baker", { ipPhone: ["1002"] });
  const cat = user(SUPPORT, "Cat Cole");
  const dan = user(SUPPORT, "Dan Dale", { ipPhone: ["1004"] });
  dc.add(PHONES, { objectClass: ["top", "group"], cn: ["Phones"], member: [ann] });
  // A domain where someone was deleted once: a tombstone the account can list says it may.
  if (evidence === "tombstones") dc.remove(user(SALES, "Long Gone"));
  const db = new DatabaseSync(":memory:");
  const pbx = new BuiltinPbx(sqliteStorage(db));
  let now = Date.UTC(2026, 11, 1, 9, 0);
  const current = { config };
  const runs = new SyncRuns(sqliteStorage(db), {
    pbx,
    now: () => now,
    target: async () => ({ config: current.config, target: { connection: current.config.connection as never } }),
    search: () => dc.search,
  });
  const run = async (kind: "sync" | "preview" = "sync", options: { full?: boolean } = {}) => {
    now += 60_000;
    const id = runs.begin(kind, "manual", "admin", options);
    for (let i = 0; i < 50 && (await runs.step(id)); i++);
    const info = runs.get(id);
    const items = runs.items(id, { limit: 1000 }).items;
    return { id, info, items, events: runs.events(id).map((e) => e.event) };
  };
  /** The operations a full read would plan now: none, when the incremental runs left nothing out. */
  const fullPlan = async () => (await run("preview", { full: true })).items.filter(isOperation);
  return {
    dc,
    pbx,
    runs,
    run,
    fullPlan,
    user,
    dns: { ann, bob, cat, dan },
    ext: (name: string) => pbx.views().find((e) => e.displayName === name),
    setConfig: (c: SyncConfig) => {
      current.config = c;
    },
    later: (ms: number) => {
      now += ms;
    },
  };
}

const ops = (items: Array<{ action: string; name: string }>) =>
  items
    .filter((i) => i.action !== "unchanged")
    .map((i) => `${i.action} ${i.name}`)
    .sort();

describe.each(["sweep", "tombstones"] as const)("incremental runs, who left found by %s", (evidence) => {
  const world = (config: SyncConfig = baseConfig) => makeWorld(config, evidence);

  it("reads everything the first time, and after that only what changed", async () => {
    const w = world();
    const first = await w.run();
    expect(first.info).toMatchObject({ status: "succeeded", read: { mode: "full", reason: "there is no complete read to start from" } });
    expect(w.pbx.count()).toBe(4);

    w.dc.asked.length = 0;
    const second = await w.run();
    expect(second.info).toMatchObject({
      status: "succeeded",
      read: { mode: "incremental", sinceUsn: String(w.dc.usn), server: w.dc.server },
      summary: { create: 0, update: 0, delete: 0 },
    });
    expect(second.items).toEqual([]);
    expect(
      second.events.some((e) => e.startsWith("Incremental read: what changed on dc1.example.com:636 since update sequence number")),
    ).toBe(true);
    // No search read every user's attributes: the changed users' search, the sweep (objectGUID only), the group.
    const wide = w.dc.asked.filter((s) => s.attributes.length > 1 && !s.filter.includes("uSNChanged") && !s.filter.includes("objectGUID="));
    expect(wide).toEqual([]);
    expect(w.dc.asked.some((s) => s.filter.includes(`(uSNChanged>=${w.dc.usn + 1})`))).toBe(true);
    const sweeps = w.dc.asked.filter((s) => s.attributes.join() === "objectGUID" && s.base === STAFF && !s.filter.includes("uSNChanged"));
    const tombstones = w.dc.asked.filter((s) => s.showDeleted === true && s.filter.includes("uSNChanged"));
    // With tombstones to tell who was deleted, nothing is read in proportion to the scope.
    expect(sweeps).toHaveLength(evidence === "sweep" ? 1 : 0);
    expect(tombstones.map((s) => s.base)).toEqual(evidence === "sweep" ? [] : [`CN=Deleted Objects,${BASE}`]);
    expect(second.events.find((e) => e.startsWith("Directory read (incremental)"))).toBe(
      evidence === "sweep"
        ? `Directory read (incremental): 0 users in scope to decide about again; 0 synced users no longer in it; who left was found by a sweep of the 4 users in scope (the service account cannot list deleted objects (grant it List Contents and Read Property on CN=Deleted Objects,${BASE}))`
        : "Directory read (incremental): 0 users in scope to decide about again; 0 synced users no longer in it; who left was told by the deleted users' tombstones and the changed users",
    );
  });

  it("follows a rename, a move between OUs, a move out of scope, a disable, a delete, a new user and a group change", async () => {
    const w = world();
    await w.run();
    const annExt = w.ext("Ann Archer");
    w.dc.modify(w.dns.ann, { displayName: ["Ann Smith"] });
    const bob = w.dc.move(w.dns.bob, `CN=Bob Baker,${SUPPORT}`);
    w.dc.move(w.dns.cat, `CN=Cat Cole,${FORMER}`);
    w.dc.modify(w.dns.dan, { userAccountControl: ["514"] });
    const eve = w.user(SUPPORT, "Eve Ernst", { ipPhone: ["1005"] });
    w.dc.membership(PHONES, bob, true);

    const run = await w.run();
    expect(run.info?.read?.mode).toBe("incremental");
    expect(ops(run.items)).toEqual(["create Eve Ernst", "delete Cat Cole", "disable Dan Dale", "update Ann Smith", "update Bob Baker"]);
    expect(w.ext("Ann Smith")?.number).toBe(annExt?.number);
    expect(w.ext("Bob Baker")).toMatchObject({ departmentPath: "Staff > Support", groups: ["Phones"] });
    expect(w.ext("Cat Cole")).toBeUndefined();
    expect(w.ext("Dan Dale")?.enabled).toBe(false);
    expect(w.ext("Eve Ernst")?.number).toBe("1005");
    expect(await w.fullPlan()).toEqual([]);

    // Taken out of the group, and deleted: the membership is the group's change, not Ann's.
    w.dc.membership(PHONES, w.dns.ann, false);
    w.dc.remove(eve);
    const next = await w.run();
    expect(next.info?.read?.mode).toBe("incremental");
    expect(ops(next.items)).toEqual(["delete Eve Ernst", "update Ann Smith"]);
    expect(w.ext("Ann Smith")?.groups).toEqual([]);
    expect(await w.fullPlan()).toEqual([]);
  });

  it("finds users who came into a group scope or left it, though their own uSNChanged did not move", async () => {
    // The scope's group, and no extension groups: nothing but the sweep can see the change.
    const w = world({ ...baseConfig, scope: { users: "groups", groups: [{ dn: PHONES }] }, organisation: {} });
    await w.run();
    expect(w.pbx.views().map((e) => e.displayName)).toEqual(["Ann Archer"]);
    w.dc.membership(PHONES, w.dns.bob, true);
    w.dc.membership(PHONES, w.dns.ann, false);
    const run = await w.run();
    expect(run.info?.read?.mode).toBe("incremental");
    expect(ops(run.items)).toEqual(["create Bob Baker", "delete Ann Archer"]);
    expect(await w.fullPlan()).toEqual([]);
  });

  it("reads everything again after an OU was renamed, which changes its users' DNs and not the users", async () => {
    const w = world();
    await w.run();
    w.dc.moveOu(SALES, `OU=Sales EMEA,${STAFF}`);
    const run = await w.run();
    expect(run.info?.read).toEqual({
      mode: "full",
      reason: `the OU or container OU=Sales EMEA,${STAFF} was changed, and a rename or move changes its users' DNs without changing the users`,
    });
    expect(ops(run.items)).toEqual(["update Ann Archer", "update Bob Baker"]);
    expect(w.ext("Bob Baker")?.departmentPath).toBe("Staff > Sales EMEA");
    expect((await w.run()).info?.read?.mode).toBe("incremental");
  });

  it("follows membership through a nested group, and every group when the extension groups are all of a user's groups", async () => {
    const ALL = `CN=All Phones,OU=Groups,${BASE}`;
    const nested = world({
      ...baseConfig,
      organisation: { extensionGroups: { from: "memberOf", groups: [{ dn: ALL, nested: true, extensionGroup: "All" }] } },
    });
    nested.dc.add(ALL, { objectClass: ["top", "group"], cn: ["All Phones"], member: [PHONES] });
    await nested.run();
    expect(nested.ext("Ann Archer")?.groups).toEqual(["All"]);
    // Cat joins Phones, inside All Phones: neither Cat's nor All Phones' uSNChanged moves.
    nested.dc.membership(PHONES, nested.dns.cat, true);
    const run = await nested.run();
    expect(run.info?.read?.mode).toBe("incremental");
    expect(ops(run.items)).toEqual(["update Cat Cole"]);
    expect(nested.ext("Cat Cole")?.groups).toEqual(["All"]);
    expect(await nested.fullPlan()).toEqual([]);

    const every = world({ ...baseConfig, organisation: { extensionGroups: { from: "memberOf" } } });
    const SUPPORTERS = `CN=Supporters,OU=Groups,${BASE}`;
    every.dc.add(SUPPORTERS, { objectClass: ["top", "group"], cn: ["Supporters"], member: [every.dns.dan] });
    await every.run();
    every.dc.membership(SUPPORTERS, every.dns.bob, true);
    every.dc.membership(SUPPORTERS, every.dns.dan, false);
    const next = await every.run();
    expect(next.info?.read?.mode).toBe("incremental");
    expect(ops(next.items)).toEqual(["update Bob Baker", "update Dan Dale"]);
    expect(every.ext("Bob Baker")?.groups).toEqual(["Supporters"]);
    expect(every.ext("Dan Dale")?.groups).toEqual([]);
    expect(await every.fullPlan()).toEqual([]);
  });

  it("gives a freed number to the user who waited for it, as a full read would", async () => {
    const w = world();
    await w.run();
    // Fay wants 1001, which Ann holds: a conflict that waits on Ann, not on Fay.
    w.user(SUPPORT, "Fay Fox", { ipPhone: ["1001"] });
    const first = await w.run();
    expect(first.info?.read?.mode).toBe("incremental");
    expect(first.items.find((i) => i.name === "Fay Fox")).toMatchObject({ action: "conflict", code: "number_taken" });
    w.dc.remove(w.dns.ann);
    const run = await w.run();
    expect(run.info?.read?.mode).toBe("incremental");
    expect(ops(run.items)).toEqual(["create Fay Fox", "delete Ann Archer"]);
    expect(w.ext("Fay Fox")?.number).toBe("1001");
  });

  it("plans again an operation that failed, though its user did not change again", async () => {
    const w = world();
    await w.run();
    w.dc.modify(w.dns.ann, { mobile: ["+44 7700 900001"] });
    const original = w.pbx.updateExtension.bind(w.pbx);
    w.pbx.updateExtension = async () => {
      throw new Error("the PBX refused the update");
    };
    expect((await w.run()).info?.status).toBe("partial");
    w.pbx.updateExtension = original;
    const again = await w.run();
    expect(again.info).toMatchObject({ status: "succeeded", read: { mode: "incremental" } });
    expect(ops(again.items)).toEqual(["update Ann Archer"]);
    expect(w.ext("Ann Archer")?.mobile).toBe("+44 7700 900001");
  });

  it("plans again the operations of a run that was rejected, and of one cancelled before it applied them, a deleted user's delete included", async () => {
    const w = world({ ...baseConfig, safety: { maxDeletesPerRun: 0, maxDeletePercent: 100 } });
    await w.run();
    w.dc.modify(w.dns.ann, { mobile: ["+44 7700 900001"] });
    w.dc.remove(w.dns.bob);
    // The delete waits for approval, and the run is rejected: nothing was done, Ann's update included.
    const held = await w.run();
    expect(held.info?.status).toBe("awaiting-approval");
    expect(w.runs.decide(held.id, false, "admin").status).toBe("rejected");
    const again = await w.run();
    expect(again.info).toMatchObject({ status: "awaiting-approval", read: { mode: "incremental" } });
    expect(ops(again.items)).toEqual(["delete Bob Baker", "update Ann Archer"]);
    // Cancelled while it waits: the next run decides about both again too.
    w.runs.cancel(again.id, "admin", false);
    const third = await w.run();
    expect(ops(third.items)).toEqual(["delete Bob Baker", "update Ann Archer"]);
    w.runs.decide(third.id, true, "admin");
    for (let i = 0; i < 10 && (await w.runs.step(third.id)); i++);
    expect(w.runs.get(third.id)?.status).toBe("succeeded");
    expect(w.ext("Ann Archer")?.mobile).toBe("+44 7700 900001");
    expect(ops((await w.run()).items)).toEqual([]);
  });

  it("reads everything again when the DC was restored, another DC answers, the configuration changed or the daily full read is due", async () => {
    const w = world();
    await w.run();
    w.dc.invocationId = "0b".repeat(16);
    const restored = await w.run();
    expect(restored.info?.read).toEqual({
      mode: "full",
      reason: "the domain controller dc1.example.com:636 was restored from a backup since the last read (its invocationId changed)",
    });
    expect(restored.events).toContain(
      "Full read instead: the domain controller dc1.example.com:636 was restored from a backup since the last read (its invocationId changed)",
    );
    expect((await w.run()).info?.read?.mode).toBe("incremental");

    w.dc.server = "dc2.example.com:636";
    w.dc.dsServiceName = w.dc.dsServiceName.replace("CN=DC1,", "CN=DC2,");
    expect((await w.run()).info?.read?.reason).toBe(
      "another domain controller answered (dc2.example.com:636, DC2) than the one the last read came from (dc1.example.com:636, DC1)",
    );
    expect((await w.run()).info?.read?.mode).toBe("incremental");

    w.setConfig({ ...baseConfig, fields: { mobile: { attribute: "otherMobile" } } });
    expect((await w.run()).info?.read?.reason).toBe(
      "the configuration changed since the last full read (scope, mapping, deprovisioning or PBX)",
    );
    // The schedule and the safety limits decide nothing about what is read.
    w.setConfig({ ...baseConfig, fields: { mobile: { attribute: "otherMobile" } }, schedule: { mode: "manual" }, safety: {} });
    expect((await w.run()).info?.read?.mode).toBe("incremental");

    w.later(24 * 3_600_000);
    expect((await w.run()).info?.read?.reason).toBe("the full read every 24 hours is due (schedule.fullReadEveryHours)");
    expect((await w.run("sync", { full: true })).info?.read?.reason).toBe("a full read was asked for");
  });

  it("deletes nothing when a search of the read is incomplete, and reads from the same position again", async () => {
    const w = world();
    await w.run();
    w.dc.remove(w.dns.bob);
    const since = w.dc.usn;
    w.dc.fault = { filter: "(&(objectCategory=person)(objectClass=user))", kind: "incomplete" };
    const cut = await w.run();
    expect(cut.info).toMatchObject({ complete: false, read: { mode: "incremental" } });
    expect(ops(cut.items)).toEqual([]);
    expect(w.ext("Bob Baker")).toBeDefined();
    w.dc.fault = undefined;
    const next = await w.run();
    // The incomplete run moved nothing on: this one reads from where the last complete one stood.
    expect(next.info?.read).toMatchObject({ mode: "incremental" });
    expect(Number(next.info?.read?.sinceUsn)).toBeLessThan(since);
    expect(ops(next.items)).toEqual(["delete Bob Baker"]);
  });

  it("resumes an interrupted incremental run from the start of its read", async () => {
    const w = world();
    await w.run();
    w.dc.modify(w.dns.ann, { title: ["Head of Sales"] });
    const id = w.runs.begin("sync", "manual", "admin");
    w.dc.fault = { filter: "uSNChanged", kind: "throw" };
    await expect(w.runs.step(id)).rejects.toThrow("the connection to the domain controller was lost");
    w.dc.fault = undefined;
    for (let i = 0; i < 10 && (await w.runs.step(id)); i++);
    expect(w.runs.get(id)).toMatchObject({ status: "succeeded", read: { mode: "incremental" }, summary: { update: 1 } });
    expect(w.ext("Ann Archer")?.jobTitle).toBe("Head of Sales");
  });

  it("shows in a preview what the next run does, and a preview moves nothing on", async () => {
    const w = world();
    await w.run();
    w.dc.modify(w.dns.cat, { ipPhone: ["1003"] });
    const preview = await w.run("preview");
    expect(preview.info?.read?.mode).toBe("incremental");
    const sync = await w.run();
    expect(ops(sync.items)).toEqual(ops(preview.items));
    expect(ops(sync.items)).toEqual(["update Cat Cole"]);
  });

  describe("as properties", () => {
    const OUS = [SALES, SUPPORT, FORMER];
    const change = fc.oneof(
      fc.record({
        kind: fc.constant("add" as const),
        ou: fc.constantFrom(...OUS),
        phone: fc.option(fc.constantFrom("1001", "1002", "1007"), { nil: undefined }),
      }),
      fc.record({ kind: fc.constant("rename" as const), who: fc.nat() }),
      fc.record({ kind: fc.constant("move" as const), who: fc.nat(), ou: fc.constantFrom(...OUS) }),
      fc.record({ kind: fc.constant("disable" as const), who: fc.nat(), disabled: fc.boolean() }),
      fc.record({ kind: fc.constant("delete" as const), who: fc.nat() }),
      fc.record({
        kind: fc.constant("phone" as const),
        who: fc.nat(),
        phone: fc.option(fc.constantFrom("1001", "1002", "1007"), { nil: undefined }),
      }),
      fc.record({ kind: fc.constant("group" as const), who: fc.nat(), member: fc.boolean() }),
    );
    const batches = fc.array(fc.array(change, { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 4 });

    const play = (w: ReturnType<typeof world>, users: string[], c: typeof change extends fc.Arbitrary<infer T> ? T : never, n: number) => {
      if (c.kind === "add") {
        users.push(w.user(c.ou, `New ${n}`, c.phone ? { ipPhone: [c.phone] } : {}));
        return;
      }
      if (users.length === 0) return;
      const i = c.who % users.length;
      const dn = users[i] as string;
      const cn = /^CN=([^,]+),/.exec(dn)?.[1] as string;
      if (c.kind === "rename") users[i] = w.dc.move(dn, dn.replace(/^CN=[^,]+/, `CN=${cn} R`));
      if (c.kind === "move") users[i] = w.dc.move(dn, `CN=${cn},${c.ou}`);
      if (c.kind === "disable") w.dc.modify(dn, { userAccountControl: [c.disabled ? "514" : "512"] });
      if (c.kind === "phone") w.dc.modify(dn, { ipPhone: c.phone ? [c.phone] : undefined });
      if (c.kind === "group") w.dc.membership(PHONES, dn, c.member);
      if (c.kind === "delete") {
        w.dc.remove(dn);
        users.splice(i, 1);
      }
    };

    /** A world after its first (full) sync, and a way to make the changes of a batch in its AD. */
    const synced = async () => {
      const w = world();
      const users = [w.dns.ann, w.dns.bob, w.dns.cat, w.dns.dan];
      await w.run();
      let n = 0;
      return {
        w,
        change: (batch: Array<typeof change extends fc.Arbitrary<infer T> ? T : never>) => {
          for (const c of batch) play(w, users, c, n++);
        },
      };
    };

    it("each incremental run leaves nothing for a full read to do", async () => {
      await fc.assert(
        fc.asyncProperty(batches, async (plan) => {
          const { w, change: make } = await synced();
          for (const batch of plan) {
            make(batch);
            const run = await w.run();
            expect(run.info?.read?.mode).toBe("incremental");
            expect(await w.fullPlan()).toEqual([]);
          }
        }),
        { numRuns: 60 },
      );
    });

    it("an incremental run with a search cut short never deletes or disables", async () => {
      await fc.assert(
        fc.asyncProperty(batches, async (plan) => {
          const { w, change: make } = await synced();
          for (const batch of plan) make(batch);
          w.dc.fault = { filter: "(&(objectCategory=person)(objectClass=user))", kind: "incomplete" };
          const run = await w.run();
          expect(run.info?.read?.mode).toBe("incremental");
          expect(run.items.filter((i) => i.action === "delete" || i.action === "disable")).toEqual([]);
        }),
        { numRuns: 60 },
      );
    });
  });
});
