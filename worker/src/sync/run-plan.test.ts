import { DatabaseSync } from "node:sqlite";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { applyItem, applyStructure } from "../../../engine/apply-item.ts";
import type { DirectoryUser } from "../../../engine/directory-user.ts";
import { type DesiredUser, mapUser } from "../../../engine/map-user.ts";
import { MemoryPbx } from "../../../engine/pbx/memory-pbx.ts";
import { fullCapabilities, type PbxCapabilities } from "../../../engine/pbx/pbx-capabilities.ts";
import { blankExtension, type Extension, type ExtensionQuery, type PbxDirectory } from "../../../engine/pbx/pbx-port.ts";
import { type Plan, type PlanInput, planSync } from "../../../engine/plan.ts";
import { isOperation } from "../../../engine/plan-actions.ts";
import { type OutsideUser, usersForPlan } from "../../../engine/read-directory.ts";
import type { SyncConfig } from "../../../schema/generated/config.ts";
import { sqliteStorage } from "../../../test/support/sqlite-storage.ts";
import type { Sql } from "../sql.ts";
import { type PlanOutcome, RunPlanner } from "./run-plan.ts";
import { syncRunsSchema } from "./sync-runs.ts";

const BASE = "DC=example,DC=com";
const OUS = ["OU=Sales,OU=Staff", "OU=Support,OU=Staff", "OU=Staff", "CN=Users"];

const users = fc.uniqueArray(
  fc.record({
    id: fc.integer({ min: 1, max: 40 }),
    ou: fc.constantFrom(...OUS),
    disabled: fc.boolean(),
    inScope: fc.boolean(),
    phone: fc.option(fc.constantFrom("1000", "1001", "1002", "1003", "1004", "x", "1050"), { nil: undefined }),
    mail: fc.option(fc.constantFrom("a@example.com", "B@example.com", "c@example.com"), { nil: undefined }),
    title: fc.constantFrom("A", "B"),
  }),
  { selector: (u) => u.id, maxLength: 24 },
);

const configs = fc.record({
  source: fc.constantFrom("sequential", "attribute", "attributeThenSequential") as fc.Arbitrary<
    "sequential" | "attribute" | "attributeThenSequential"
  >,
  end: fc.constantFrom("1006", "1015", "1099"),
  salesRange: fc.boolean(),
  whenDeleted: fc.constantFrom("delete", "disable", "keep") as fc.Arbitrary<"delete" | "disable" | "keep">,
  whenDisabled: fc.constantFrom("delete", "disable", "keep") as fc.Arbitrary<"delete" | "disable" | "keep">,
  whenOutOfScope: fc.constantFrom("delete", "disable", "keep") as fc.Arbitrary<"delete" | "disable" | "keep">,
  includeDisabled: fc.boolean(),
  titleSync: fc.boolean(),
  archive: fc.option(fc.constantFrom("1001", "1003"), { nil: undefined }),
  adopt: fc.constantFrom("none", "email", "number") as fc.Arbitrary<"none" | "email" | "number">,
  maxDeletes: fc.constantFrom<number>(1, 3, 1000),
  groups: fc.boolean(),
});

const capabilities = fc.constantFrom<PbxCapabilities>(
  fullCapabilities,
  { ...fullCapabilities, renumber: false, numberChange: "keep" },
  { ...fullCapabilities, renumber: false, numberChange: "conflict" },
  { ...fullCapabilities, renumber: false, numberChange: "recreate", archiveOnDelete: false, disable: false },
);

type Arb<A> = A extends fc.Arbitrary<infer T> ? T : never;

/** A configuration for the cases below: numbers from ipPhone, then sequential. */
const attributeNumbers = (patch: Partial<Parameters<typeof toConfig>[0]> = {}) =>
  toConfig({
    source: "attributeThenSequential",
    end: "1099",
    salesRange: false,
    whenDeleted: "delete",
    whenDisabled: "disable",
    whenOutOfScope: "disable",
    includeDisabled: false,
    titleSync: true,
    adopt: "none",
    maxDeletes: 100,
    groups: false,
    ...patch,
  });

function toConfig(c: Omit<Arb<typeof configs>, "archive"> & { archive?: string | undefined }): SyncConfig {
  return {
    connection: { domainControllers: [{ host: "dc1" }], bindUsername: "svc", bindPassword: { source: "stored" }, baseDn: BASE },
    extensionNumbers: {
      source: c.source,
      attribute: "ipPhone",
      ranges: [{ start: "1000", end: c.end }],
      ...(c.salesRange ? { ouRanges: [{ ou: `OU=Sales,OU=Staff,${BASE}`, ranges: [{ start: "1004", end: "1008" }] }] } : {}),
    },
    deprovisioning: {
      whenDeleted: c.whenDeleted,
      whenDisabled: c.whenDisabled,
      whenOutOfScope: c.whenOutOfScope,
      ...(c.archive ? { archive: { extension: c.archive } } : {}),
    },
    scope: { includeDisabled: c.includeDisabled },
    fields: { jobTitle: { sync: c.titleSync } },
    safety: { maxDeletesPerRun: c.maxDeletes, maxDeletePercent: 100 },
    pbx: { adopt: c.adopt } as SyncConfig["pbx"],
    ...(c.groups ? { organisation: { extensionGroups: { from: "attribute", attribute: "title" } } } : {}),
  } as SyncConfig;
}

interface Person {
  id: number;
  ou: string;
  disabled: boolean;
  inScope: boolean;
  phone: string | undefined;
  mail: string | undefined;
  title: string;
}

function directoryUser(u: Person): DirectoryUser {
  const name = `User ${String(u.id).padStart(2, "0")}`;
  const attributes: Record<string, string[]> = { displayname: [name], givenname: ["User"], title: [u.title] };
  if (u.phone) attributes.ipphone = [u.phone];
  if (u.mail) attributes.mail = [u.mail];
  return { guid: `guid-${u.id}`, dn: `CN=${name},${u.ou},${BASE}`, disabled: u.disabled, attributes };
}

/** Hand-made extensions: the front desk, and one whose e-mail address a user may have. */
const manual: Extension[] = [
  { ...blankExtension("1002", { displayName: "Front desk" }) },
  { ...blankExtension("1010", { displayName: "Reception", email: "b@example.com" }) },
];

/** What an earlier run over another state of the directory left on the PBX. */
async function earlierState(config: SyncConfig, before: Person[]): Promise<Extension[]> {
  const mapped = before.map((u) => mapUser(config, directoryUser(u), u.inScope));
  const { pbx: _adopt, ...earlier } = config;
  const p = planSync({ config: earlier, users: mapped, extensions: manual, complete: true });
  const pbx = new MemoryPbx(manual);
  await applyStructure(p, pbx);
  for (const item of p.items) if (isOperation(item)) await applyItem(item, pbx);
  return pbx.listExtensions();
}

/** A PBX target with these capabilities over what `extensions` hold. */
function target(extensions: Extension[], caps: PbxCapabilities, groups: string[]): PbxDirectory {
  const pbx = new MemoryPbx(extensions, groups, ["Staff"]);
  return Object.assign(Object.create(pbx) as MemoryPbx, { capabilities: caps });
}

interface Scenario {
  config: SyncConfig;
  inScope: DesiredUser[];
  outside: OutsideUser[];
  extensions: Extension[];
  caps: PbxCapabilities;
  complete: boolean;
  /** Incremental: the synced users who may have left. */
  left?: string[];
}

function stage(sql: Sql, runId: string, s: Scenario): void {
  for (const u of s.inScope) sql.exec("INSERT INTO stage_users (run_id, guid, data) VALUES (?, ?, ?)", runId, u.guid, JSON.stringify(u));
  for (const o of s.outside)
    sql.exec(
      "INSERT INTO stage_present (run_id, guid, dn, name, disabled) VALUES (?, ?, ?, ?, ?)",
      runId,
      o.guid,
      o.dn,
      o.name,
      o.disabled ? 1 : 0,
    );
}

async function planInSql(
  s: Scenario,
  sizes: { chunk: number; stepRows: number },
  restartEvery?: number,
  pbx: PbxDirectory = target(s.extensions, s.caps, ["A"]),
): Promise<{ outcome: PlanOutcome; items: unknown[] }> {
  const db = new DatabaseSync(":memory:");
  const sql = sqliteStorage(db);
  sql.exec(syncRunsSchema);
  let planner = new RunPlanner(sql, sizes);
  stage(sql, "run", s);
  planner.begin("run", {
    config: s.config,
    complete: s.complete,
    ...(s.complete ? {} : { reason: "a page was refused" }),
    incremental: s.left !== undefined,
    left: s.left ?? [],
  });
  for (let step = 1; step < 10_000; step++) {
    // A restart: the next step is another instance's, from what the last one left in SQLite.
    if (restartEvery !== undefined && step % restartEvery === 0) planner = new RunPlanner(sql, sizes);
    const outcome = await planner.step({ runId: "run", kind: "sync", pbx });
    if (outcome !== undefined) {
      const items = sql
        .exec<{ item: string }>("SELECT item FROM run_items WHERE run_id = 'run' ORDER BY seq")
        .toArray()
        .map((r) => JSON.parse(r.item) as unknown);
      return { outcome, items };
    }
  }
  throw new Error("planning did not end");
}

function planInMemory(s: Scenario): Plan {
  const { users: all, present } = usersForPlan(s.config, s.inScope, s.outside);
  const input: PlanInput = {
    config: s.config,
    users: all,
    present,
    extensions: s.extensions,
    departments: ["Staff"],
    extensionGroups: ["A"],
    capabilities: s.caps,
    complete: s.complete,
    ...(s.complete ? {} : { incompleteReason: "a page was refused" }),
    ...(s.left !== undefined ? { decides: new Set([...present, ...s.left]) } : {}),
  };
  return planSync(input);
}

const scenarios = fc
  .record({
    c: configs,
    before: users,
    changes: fc.array(
      fc.record({
        keep: fc.boolean(),
        phone: fc.option(fc.constantFrom("1000", "1001", "1003", "1004", "1005", "x"), { nil: undefined }),
        ou: fc.option(fc.constantFrom(...OUS), { nil: undefined }),
        title: fc.option(fc.constantFrom("A", "B"), { nil: undefined }),
        disabled: fc.option(fc.boolean(), { nil: undefined }),
        inScope: fc.option(fc.boolean(), { nil: undefined }),
      }),
      { minLength: 24, maxLength: 24 },
    ),
    added: users,
    caps: capabilities,
    complete: fc.boolean(),
    incremental: fc.boolean(),
    readAgain: fc.array(fc.boolean(), { minLength: 40, maxLength: 40 }),
    disabledOnPbx: fc.array(fc.boolean(), { minLength: 40, maxLength: 40 }),
  })
  .map(async (r): Promise<Scenario> => {
    const config = toConfig(r.c);
    // The directory now: the earlier users, some gone and some changed (renumbered, moved,
    // retitled, disabled, out of scope), and some new ones.
    const known = new Set(r.before.map((u) => u.id));
    const after = [
      ...r.before.flatMap((u, i) => {
        const c = r.changes[i];
        if (c === undefined || !c.keep) return c === undefined ? [u] : [];
        return [
          {
            ...u,
            ...(c.phone !== undefined ? { phone: c.phone } : {}),
            ...(c.ou !== undefined ? { ou: c.ou } : {}),
            ...(c.title !== undefined ? { title: c.title } : {}),
            ...(c.disabled !== undefined ? { disabled: c.disabled } : {}),
            ...(c.inScope !== undefined ? { inScope: c.inScope } : {}),
          },
        ];
      }),
      ...r.added.filter((u) => !known.has(u.id)).slice(0, 6),
    ];
    const state = (await earlierState(config, r.before)).map((e, i) =>
      // Some the PBX's administrator disabled, some sync did.
      r.disabledOnPbx[i] && e.origin === "ad" ? { ...e, enabled: false, disabledBySync: i % 2 === 0 } : e,
    );
    const read = r.incremental ? after.filter((u) => r.readAgain[u.id - 1]) : after;
    const synced = state.flatMap((e) => (e.origin === "ad" && e.guid !== null ? [e.guid] : []));
    const inScopeIds = new Set(read.filter((u) => u.inScope).map((u) => `guid-${u.id}`));
    return {
      config,
      inScope: read.filter((u) => u.inScope).map((u) => mapUser(config, directoryUser(u), true)),
      // The read looks up synced users the scope did not return: those still in AD.
      outside: read
        .filter((u) => !u.inScope && synced.includes(`guid-${u.id}`))
        .map((u) => {
          const d = directoryUser(u);
          return { guid: d.guid, dn: d.dn, name: String(d.attributes.displayname?.[0]), disabled: d.disabled };
        }),
      extensions: state,
      caps: r.caps,
      complete: r.complete,
      ...(r.incremental ? { left: synced.filter((g) => !inScopeIds.has(g) && r.readAgain[Number(g.slice(5)) - 1] !== false) } : {}),
    };
  });

describe("planning in SQLite, a chunk at a time", () => {
  it("makes exactly the plan planSync makes, in the same order, with the same summary, limits and structure", async () => {
    await fc.assert(
      fc.asyncProperty(scenarios, fc.constantFrom(1, 2, 3, 7, 1000), fc.constantFrom(1, 5, 50, 20_000), async (made, chunk, stepRows) => {
        const s = await made;
        const expected = planInMemory(s);
        const { outcome, items } = await planInSql(s, { chunk, stepRows });
        expect(items).toEqual(expected.items);
        expect(outcome.summary).toEqual(expected.summary);
        expect(outcome.held).toEqual(expected.held);
        expect(outcome.departmentsToCreate).toEqual(expected.departmentsToCreate);
        expect(outcome.groupsToCreate).toEqual(expected.groupsToCreate);
        expect(outcome.operations).toBe(expected.items.filter(isOperation).length);
      }),
      { numRuns: 400 },
    );
  });

  it("goes on from where a restarted instance's last step left it, to the same plan", async () => {
    await fc.assert(
      fc.asyncProperty(scenarios, async (made) => {
        const s = await made;
        const { items } = await planInSql(s, { chunk: 2, stepRows: 3 }, 2);
        expect(items).toEqual(planInMemory(s).items);
      }),
      { numRuns: 100 },
    );
  });

  // Cases random directories seldom make, each planned both ways.
  const person = (id: number, phone?: string, extra: Partial<Person> = {}): Person => ({
    id,
    ou: "OU=Staff",
    disabled: false,
    inScope: true,
    phone,
    mail: undefined,
    title: "A",
    ...extra,
  });
  it.each([
    {
      name: "a number freed in a round goes to its next claimant only in the next round, though it sorts after",
      config: attributeNumbers(),
      before: [person(1, "1001"), person(2, "1004")],
      after: [person(1, "1004"), person(2, "1003")],
    },
    {
      name: "a chain of three renumberings, each in its own wave",
      config: attributeNumbers(),
      before: [person(1, "1001"), person(2, "1002"), person(3, "1003")],
      after: [person(1, "1002"), person(2, "1003"), person(3, "1005")],
    },
    {
      name: "a swap stays two conflicts",
      config: attributeNumbers(),
      before: [person(1, "1001"), person(2, "1002")],
      after: [person(1, "1002"), person(2, "1001")],
    },
    {
      name: "a deleted user's number goes to the one who claims it, in the first round",
      config: attributeNumbers(),
      before: [person(1, "1001"), person(2, "1002")],
      after: [person(2, "1001")],
    },
    {
      name: "the same number wanted by three: the first by DN gets it",
      config: attributeNumbers({ source: "attribute" }),
      before: [],
      after: [person(3, "1007"), person(1, "1007"), person(2, "1007")],
    },
    {
      name: "adoption by e-mail address, one of two users sharing an address taking nothing",
      config: attributeNumbers({ adopt: "email" }),
      before: [],
      after: [
        person(1, undefined, { mail: "B@example.com" }),
        person(2, undefined, { mail: "a@example.com" }),
        person(3, undefined, { mail: "a@example.com" }),
      ],
    },
  ])("$name", async ({ config, before, after }) => {
    const state = await earlierState(config, before);
    const s: Scenario = {
      config,
      inScope: after.map((u) => mapUser(config, directoryUser(u), true)),
      outside: [],
      extensions: state,
      caps: fullCapabilities,
      complete: true,
    };
    const expected = planInMemory(s);
    expect(expected.items.length).toBeGreaterThan(0);
    for (const chunk of [1, 1000]) expect((await planInSql(s, { chunk, stepRows: 4 })).items).toEqual(expected.items);
  });

  it("counts an incremental run's deletes against every synced extension, those it adopts included", async () => {
    // Nine synced users; one is deleted while a new one takes over the hand-made 1010 by its
    // e-mail address: 1 delete of 10 synced is within 10%, of the 9 listed beforehand it is not.
    const config = { ...attributeNumbers({ adopt: "email" }), safety: { maxDeletesPerRun: 100, maxDeletePercent: 10 } };
    const before = [1, 2, 3, 4, 5, 6, 7, 8, 9].map((id) => person(id, `10${20 + id}`));
    const s: Scenario = {
      config,
      inScope: [mapUser(config, directoryUser(person(20, undefined, { mail: "b@example.com" })), true)],
      outside: [],
      extensions: await earlierState(config, before),
      caps: fullCapabilities,
      complete: true,
      left: ["guid-1"],
    };
    const expected = planInMemory(s);
    expect(expected.summary).toMatchObject({ adopt: 1, delete: 1 });
    expect(expected.held).toBeUndefined();
    const { outcome, items } = await planInSql(s, { chunk: 1000, stepRows: 20_000 });
    expect(items).toEqual(expected.items);
    expect(outcome.held).toBeUndefined();
  });

  it("plans an incremental run from what the PBX finds for it, listing it only for a sequential number", async () => {
    const config = attributeNumbers();
    const before = [1, 2, 3].map((id) => person(id, `10${20 + id}`));
    const extensions = await earlierState(config, before);
    const run = async (inScope: Person[]) => {
      const pbx = target(extensions, fullCapabilities, ["A"]);
      let listed = 0;
      const counting = Object.assign(Object.create(pbx) as MemoryPbx, {
        listExtensionPages: (size: number) => {
          listed++;
          return pbx.listExtensionPages(size);
        },
        listExtensions: () => {
          listed++;
          return pbx.listExtensions();
        },
        findExtensions: (query: ExtensionQuery) => pbx.findExtensions(query),
      });
      const s: Scenario = {
        config,
        inScope: inScope.map((u) => mapUser(config, directoryUser(u), true)),
        outside: [],
        extensions,
        caps: fullCapabilities,
        complete: true,
        left: ["guid-3"],
      };
      const { items } = await planInSql(s, { chunk: 1000, stepRows: 20_000 }, undefined, counting);
      expect(items).toEqual(planInMemory(s).items);
      return { listed, items };
    };
    // A retitled user and a deleted one: nothing needs the numbers in use.
    const changed = await run([person(1, "1021", { title: "B" })]);
    expect(changed.listed).toBe(0);
    expect(changed.items.length).toBe(2);
    // A new user without ipPhone takes the first number no extension holds: 1000, then past
    // the front desk's 1002 and the synced users' 1021 and 1022.
    const added = await run([person(1, "1021", { title: "B" }), person(4, undefined)]);
    expect(added.listed).toBe(1);
    expect(added.items).toContainEqual(expect.objectContaining({ action: "create", number: "1000" }));
  });

  it("lists nothing and plans nothing for an incremental run with nobody to decide about", async () => {
    const config = attributeNumbers({ source: "sequential" });
    const db = new DatabaseSync(":memory:");
    const sql = sqliteStorage(db);
    sql.exec(syncRunsSchema);
    const planner = new RunPlanner(sql);
    planner.begin("run", { config, complete: true, incremental: true, left: [] });
    let listed = 0;
    const pbx = new MemoryPbx(manual);
    const counting = Object.assign(Object.create(pbx) as MemoryPbx, {
      listExtensionPages: (size: number) => {
        listed++;
        return pbx.listExtensionPages(size);
      },
    });
    const outcome = await planner.step({ runId: "run", kind: "sync", pbx: counting });
    expect(listed).toBe(0);
    expect(outcome?.operations).toBe(0);
    expect(
      planInMemory({ config, inScope: [], outside: [], extensions: manual, caps: fullCapabilities, complete: true, left: [] }).items,
    ).toEqual([]);
  });
});
