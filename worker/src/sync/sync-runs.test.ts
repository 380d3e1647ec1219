// Runs over a real SQLite (node:sqlite standing in for the Durable Object's), with the
// directory read faked at the agent's boundary: what a restart in the middle of applying does.
import { DatabaseSync } from "node:sqlite";
import { describe, expect, it } from "vitest";
import type { PbxDirectory } from "../../../engine/pbx/pbx-port.ts";
import type { SearchStream } from "../../../engine/read-directory.ts";
import type { SyncConfig } from "../../../schema/generated/config.ts";
import type { SearchCompleteness, WireEntry } from "../../../schema/src/agent-protocol.ts";
import { sqliteStorage } from "../../../test/support/sqlite-storage.ts";
import { ApiError } from "../api-error.ts";
import { BuiltinPbx } from "../pbx/builtin/builtin-pbx.ts";
import { operationsPerStep, type RunSources, SyncRuns } from "./sync-runs.ts";

const BASE = "DC=example,DC=com";
const config: SyncConfig = {
  connection: { domainControllers: [{ host: "dc1" }], bindUsername: "svc", bindPassword: { source: "stored" }, baseDn: BASE },
  extensionNumbers: { source: "sequential", ranges: [{ start: "1000", end: "1999" }] },
};

function entry(i: number, extra: Record<string, string[]> = {}): WireEntry {
  const guid = Buffer.alloc(16, 0);
  guid.writeUInt32BE(i, 12);
  return {
    dn: `CN=User ${i},OU=Staff,${BASE}`,
    attributes: { objectGUID: [guid.toString("base64")], displayName: [`User ${i}`], userAccountControl: ["512"], ...extra },
    binary: ["objectGUID"],
  };
}

/** A directory of `n` users as the agent would stream it, in pages of 7. */
function directory(n: number): SearchStream {
  const entries = Array.from({ length: n }, (_, i) => entry(i + 1));
  return async (_spec, page): Promise<SearchCompleteness> => {
    for (let i = 0; i < entries.length; i += 7) await page(entries.slice(i, i + 7));
    return { complete: true, pages: Math.ceil(n / 7), entries: n };
  };
}

/** The built-in PBX, counting creates per number; `hangOn` makes one create never return. */
function countingPbx(pbx: BuiltinPbx, creates: Map<string, number>, hangOn?: string): PbxDirectory {
  return new Proxy(pbx, {
    get(target, prop, receiver) {
      if (prop === "createExtension") {
        return async (create: Parameters<PbxDirectory["createExtension"]>[0]) => {
          const n = (creates.get(create.state.number) ?? 0) + 1;
          creates.set(create.state.number, n);
          if (create.state.number === hangOn && n === 1) return new Promise(() => {});
          return target.createExtension(create);
        };
      }
      const value = Reflect.get(target, prop, receiver);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

type Answer = { complete: boolean; reason?: string; entries?: number[] };

/**
 * A directory whose scope search answers `users`, the lookup of synced users the scope did
 * not return `lookup` (nobody, complete, unless told), and the nested-group search `nested`.
 */
function scripted(users: number[], answers: { lookup?: Answer; nested?: Answer } = {}, asked: string[] = []): SearchStream {
  return async (spec, page): Promise<SearchCompleteness> => {
    // A nested group's search: the groups inside it.
    const kind = spec.filter.includes("objectGUID=") ? "lookup" : spec.filter.startsWith("(&(objectClass=group)") ? "nested" : "scope";
    asked.push(kind);
    const answer: Answer = kind === "scope" ? { complete: true, entries: users } : (answers[kind] ?? { complete: true });
    const entries = (answer.entries ?? []).map((i) => entry(i));
    if (entries.length > 0) await page(entries);
    return {
      complete: answer.complete,
      pages: 1,
      entries: entries.length,
      ...(answer.complete ? {} : { reason: answer.reason ?? "the size limit was reached" }),
    };
  };
}

/** Steps a run until it has nothing left to do; bounded, so a run that never ends fails here instead of hanging the suite. */
async function drain(runs: SyncRuns, id: string): Promise<void> {
  for (let i = 0; i < 100; i++) if (!(await runs.step(id))) return;
  throw new Error(`run ${id} was not done after 100 steps`);
}

async function runToEnd(runs: SyncRuns): Promise<string> {
  const id = runs.begin("sync", "manual", "admin");
  await drain(runs, id);
  return id;
}

function sources(pbx: PbxDirectory, users: number): RunSources {
  return { pbx, target: async () => ({ config, target: { connection: config.connection as never } }), search: () => directory(users) };
}

describe("SyncRuns", () => {
  it("plans a large directory over steps of its own, and a restart between them loses nothing", async () => {
    const db = new DatabaseSync(":memory:");
    const wide: SyncConfig = { ...config, extensionNumbers: { source: "sequential", ranges: [{ start: "10000", end: "19999" }] } };
    const from = (pbx: PbxDirectory): RunSources => ({
      ...sources(pbx, 4000),
      target: async () => ({ config: wide, target: { connection: wide.connection as never } }),
    });
    const first = new SyncRuns(sqliteStorage(db), from(new BuiltinPbx(sqliteStorage(db))));
    const id = first.begin("sync", "manual", "admin");
    expect(await first.step(id)).toBe(true);
    // Read, and planned only in part: 4,000 users are more than one step's work.
    expect(first.get(id)).toMatchObject({ status: "planning", progress: { phase: "planning", read: 4000 } });
    expect(first.get(id)?.progress?.planning).toMatch(/\w/);

    const restarted = new SyncRuns(sqliteStorage(db), from(new BuiltinPbx(sqliteStorage(db))));
    await drain(restarted, id);
    expect(restarted.get(id)).toMatchObject({ status: "succeeded", summary: { create: 4000 }, progress: { done: 4000, total: 4000 } });
    const numbers = new BuiltinPbx(sqliteStorage(db)).views().map((e) => e.number);
    expect(new Set(numbers).size).toBe(4000);
    expect(numbers[0]).toBe("10000");
  });

  it("plans a user the directory returns twice in one read once, as read last", async () => {
    const db = new DatabaseSync(":memory:");
    const pbx = new BuiltinPbx(sqliteStorage(db));
    // User 5 comes again in a later page with another name (as from a second scope OU).
    const entries = [...Array.from({ length: 20 }, (_, i) => entry(i + 1)), entry(5, { displayName: ["User Five"] })];
    const search: SearchStream = async (spec, page) => {
      const found = spec.filter.includes("objectGUID=") ? [] : entries;
      for (let i = 0; i < found.length; i += 7) await page(found.slice(i, i + 7));
      return { complete: true, pages: 3, entries: found.length };
    };
    const runs = new SyncRuns(sqliteStorage(db), { ...sources(pbx, 0), search: () => search });
    const id = await runToEnd(runs);
    expect(runs.get(id)).toMatchObject({ status: "succeeded", summary: { create: 20 } });
    expect(pbx.views().filter((e) => e.displayName?.startsWith("User 5") || e.displayName === "User Five")).toEqual([
      expect.objectContaining({ displayName: "User Five" }),
    ]);
    // The mirror kept the later one too: a second run finds nothing to change.
    const again = await runToEnd(runs);
    expect(runs.get(again)).toMatchObject({ status: "succeeded", summary: { create: 0, update: 0, delete: 0 } });
  });

  it("resumes after a restart mid-apply without repeating or losing an operation", async () => {
    const db = new DatabaseSync(":memory:");
    const creates = new Map<string, number>();
    const first = new SyncRuns(sqliteStorage(db), sources(countingPbx(new BuiltinPbx(sqliteStorage(db)), creates, "1005"), 12));
    const id = first.begin("sync", "manual", "admin");
    expect(await first.step(id)).toBe(true); // read and plan
    // The first chunk hangs in the sixth create: the object "crashes" there.
    void first.step(id);
    await expect.poll(() => creates.get("1005"), { timeout: 5_000, interval: 5 }).toBe(1);
    expect(creates.has("1006")).toBe(false);

    const restarted = new SyncRuns(sqliteStorage(db), sources(countingPbx(new BuiltinPbx(sqliteStorage(db)), creates), 12));
    await drain(restarted, id);
    expect(restarted.get(id)).toMatchObject({ status: "succeeded", progress: { done: 12, failed: 0, total: 12 } });
    const pbx = new BuiltinPbx(sqliteStorage(db));
    expect(pbx.views().map((e) => e.number)).toEqual(Array.from({ length: 12 }, (_, i) => String(1000 + i)));
    // Only the operation that was in flight ran twice; the PBX took it once.
    expect([...creates].filter(([, n]) => n > 1)).toEqual([["1005", 2]]);
    expect(restarted.events(id).filter((e) => e.operation === "create")).toHaveLength(12);
  });

  it("runs a few statements an operation and one a page of users read, not one a user", async () => {
    // Each statement a Durable Object runs costs workerd native memory that outlives it, so a
    // run's statements are what its memory follows at 100,000 users.
    const db = new DatabaseSync(":memory:");
    const store = sqliteStorage(db);
    const statements = new Map<string, number>();
    const counted = {
      exec: (query: string, ...bindings: unknown[]) => {
        const key = query.replace(/\s+/g, " ").trim().slice(0, 40);
        statements.set(key, (statements.get(key) ?? 0) + 1);
        return store.exec(query, ...bindings);
      },
    } as typeof store;
    const users = 700;
    const runs = new SyncRuns(counted, sources(new BuiltinPbx(counted), users));
    statements.clear();
    const id = await runToEnd(runs);
    expect(runs.get(id)).toMatchObject({ status: "succeeded", progress: { done: users, failed: 0, total: users } });
    const count = (prefix: string) => [...statements].filter(([k]) => k.startsWith(prefix)).reduce((n, [, c]) => n + c, 0);
    // The directory streams pages of 7: a statement a page stages them.
    expect(count("INSERT INTO stage_users")).toBeLessThanOrEqual(Math.ceil(users / 7));
    // Each user's lean row for planning goes with the page: planning reads no staged user for it.
    expect(count("INSERT OR REPLACE INTO stage_plan_users")).toBeLessThanOrEqual(Math.ceil(users / 7));
    expect(count("SELECT rowid AS srow, data FROM stage_users")).toBe(0);
    // An operation: the built-in PBX's insert, and one statement that settles it (counted and
    // logged by triggers) and marks the next one, with the check that the run goes on.
    expect(count("INSERT INTO pbx_extensions")).toBe(users);
    expect(count("UPDATE run_items SET op_status = CASE")).toBe(users);
    expect(count("INSERT INTO run_events")).toBeLessThan(20);
    const total = [...statements.values()].reduce((a, b) => a + b, 0);
    expect(total).toBeLessThan(3 * users);
  });

  it("logs a failed operation and goes on with the others: status partial", async () => {
    const db = new DatabaseSync(":memory:");
    const pbx = new BuiltinPbx(sqliteStorage(db));
    const withTemplate: SyncConfig = { ...config, organisation: { templateExtensions: [{ ou: `OU=Staff,${BASE}`, extension: "900" }] } };
    const runs = new SyncRuns(sqliteStorage(db), {
      pbx,
      target: async () => ({ config: withTemplate, target: { connection: config.connection as never } }),
      search: () => directory(3),
    });
    const id = runs.begin("sync", "manual", "admin");
    await drain(runs, id);
    // The template extension does not exist: every create fails, and says why.
    expect(runs.get(id)).toMatchObject({ status: "partial", progress: { done: 0, failed: 3 } });
    expect(
      runs
        .events(id)
        .filter((e) => e.type === "error")
        .map((e) => e.event),
    ).toEqual([
      "Could not create extension 1000 (User 1): The template extension 900 does not exist.",
      "Could not create extension 1001 (User 2): The template extension 900 does not exist.",
      "Could not create extension 1002 (User 3): The template extension 900 does not exist.",
    ]);
    pbx.createManual("900", "Template", { forwardTo: "voicemail" });
    const again = runs.begin("sync", "manual", "admin");
    await drain(runs, again);
    expect(runs.get(again)?.status).toBe("succeeded");
    expect(pbx.views().find((e) => e.number === "1000")?.settings).toEqual({ forwardTo: "voicemail" });
  });

  it("applies the operations of one wave at once, up to the target's concurrency, and the waves one after another", async () => {
    const db = new DatabaseSync(":memory:");
    const builtin = new BuiltinPbx(sqliteStorage(db));
    const cfg: SyncConfig = {
      ...config,
      deprovisioning: { whenDeleted: "delete" },
      safety: { maxDeletesPerRun: 100, maxDeletePercent: 100 },
    };
    let search = scripted(Array.from({ length: 12 }, (_, i) => i + 1));
    const target = async () => ({ config: cfg, target: { connection: cfg.connection as never } });
    await runToEnd(new SyncRuns(sqliteStorage(db), { pbx: builtin, target, search: () => search }));
    expect(builtin.count()).toBe(12);

    // A target that takes four calls at once, each taking a while.
    let inFlight = 0;
    let most = 0;
    const log: string[] = [];
    const slow =
      (action: string, call: (...args: never[]) => Promise<void>) =>
      async (...args: never[]) => {
        inFlight++;
        most = Math.max(most, inFlight);
        log.push(`start ${action}`);
        await new Promise((r) => setTimeout(r, 5));
        await call(...args);
        log.push(`end ${action}`);
        inFlight--;
      };
    const pbx = new Proxy(builtin, {
      get(t, prop, receiver) {
        if (prop === "concurrency") return 4;
        const value = Reflect.get(t, prop, receiver);
        if (typeof value !== "function") return value;
        const bound = value.bind(t);
        return prop === "createExtension" || prop === "deleteExtension" ? slow(String(prop), bound) : bound;
      },
    }) as PbxDirectory;
    // Users 1 to 6 are gone from AD, 13 to 24 are new.
    search = scripted(Array.from({ length: 18 }, (_, i) => i + 7));
    const runs = new SyncRuns(sqliteStorage(db), { pbx, target, search: () => search });
    const id = await runToEnd(runs);
    expect(runs.get(id)).toMatchObject({ status: "succeeded", summary: { delete: 6, create: 12 }, progress: { done: 18, failed: 0 } });
    expect(most).toBe(4);
    // Every delete freed its number before the first create began.
    expect(log.lastIndexOf("end deleteExtension")).toBeLessThan(log.indexOf("start createExtension"));
    expect(builtin.count()).toBe(18);
    expect(runs.events(id).filter((e) => e.operation === "create" || e.operation === "delete")).toHaveLength(18);
  });

  it("applies as many operations a step as the target's subrequests allow", async () => {
    const wide: SyncConfig = { ...config, extensionNumbers: { source: "sequential", ranges: [{ start: "10000", end: "19999" }] } };
    /** The operations each apply step did, for a target declaring `cost` subrequests an operation. */
    const steps = async (cost: number, users: number) => {
      const db = new DatabaseSync(":memory:");
      const builtin = new BuiltinPbx(sqliteStorage(db));
      const pbx = new Proxy(builtin, {
        get(t, prop, receiver) {
          if (prop === "requestsPerOperation") return cost;
          const value = Reflect.get(t, prop, receiver);
          return typeof value === "function" ? value.bind(t) : value;
        },
      }) as PbxDirectory;
      const runs = new SyncRuns(sqliteStorage(db), {
        pbx,
        target: async () => ({ config: wide, target: { connection: wide.connection as never } }),
        search: () => directory(users),
      });
      const id = runs.begin("sync", "manual", "admin");
      const done: number[] = [];
      for (let i = 0; i < 100 && (await runs.step(id)); i++) done.push(runs.get(id)?.progress?.done ?? 0);
      done.push(runs.get(id)?.progress?.done ?? 0);
      expect(runs.get(id)).toMatchObject({ status: "succeeded", progress: { done: users, failed: 0 } });
      expect(builtin.count()).toBe(users);
      const applied = [...new Set(done)].filter((n) => n > 0);
      return applied.map((n, i) => n - (applied[i - 1] ?? 0));
    };
    // The built-in directory costs no subrequests: a step applies up to 2,000 operations.
    expect(await steps(0, 2100)).toEqual([2000, 100]);
    // A vendor target's five an operation: 200 a step, as vendor targets have been applied.
    expect(await steps(5, 1100)).toEqual([200, 200, 200, 200, 200, 100]);
    // A costly target still makes progress a step, never more than its share.
    expect(await steps(400, 6)).toEqual([2, 2, 2]);
  });

  it("takes a step's size from what an operation costs, at least one and at most 2,000", () => {
    expect(operationsPerStep(0)).toBe(2000);
    expect(operationsPerStep(0.1)).toBe(2000);
    expect(operationsPerStep(1)).toBe(1000);
    expect(operationsPerStep(5)).toBe(200);
    expect(operationsPerStep(3)).toBe(333);
    expect(operationsPerStep(1000)).toBe(1);
    expect(operationsPerStep(5000)).toBe(1);
    // A declaration that makes no sense applies one at a time rather than guessing.
    expect(operationsPerStep(Number.NaN)).toBe(1);
    expect(operationsPerStep(-1)).toBe(1);
  });

  it("lists the PBX once a run: the synced users it looks up in AD come from what the target keeps", async () => {
    const db = new DatabaseSync(":memory:");
    const builtin = new BuiltinPbx(sqliteStorage(db));
    let listings = 0;
    const pbx = new Proxy(builtin, {
      get(t, prop, receiver) {
        if (prop === "listExtensions" || prop === "listExtensionPages") listings++;
        const value = Reflect.get(t, prop, receiver);
        return typeof value === "function" ? value.bind(t) : value;
      },
    }) as PbxDirectory;
    const runs = new SyncRuns(sqliteStorage(db), sources(pbx, 5));
    await runToEnd(runs);
    expect(builtin.count()).toBe(5);
    listings = 0;
    const again = await runToEnd(runs);
    expect(runs.get(again)?.summary).toMatchObject({ unchanged: 5 });
    expect(listings).toBe(1);
  });

  it("drops runs older than the retention with their items and events, never the one in progress", async () => {
    const db = new DatabaseSync(":memory:");
    let clock = Date.UTC(2027, 0, 1);
    const runs = new SyncRuns(sqliteStorage(db), { ...sources(new BuiltinPbx(sqliteStorage(db)), 3), now: () => clock });
    const old = runs.begin("sync", "manual", "admin");
    await drain(runs, old);
    const missed = runs.missed("no connector agent was connected");
    clock += 1000;
    const cutoff = clock;
    const recent = runs.begin("preview", "manual", "admin");
    await runs.step(recent);
    const running = runs.begin("sync", "manual", "admin");

    expect(runs.prune(cutoff)).toBe(2);
    expect(
      runs
        .list()
        .map((r) => r.id)
        .sort(),
    ).toEqual([recent, running].sort());
    expect(runs.events(old)).toEqual([]);
    expect(runs.items(old, {}).total).toBe(0);
    expect(runs.events(missed)).toEqual([]);
    expect(runs.items(recent, {}).total).toBe(3);
    // Whatever the cutoff, a run still going stays.
    expect(runs.prune(clock + 86_400_000)).toBe(1);
    expect(runs.list().map((r) => r.id)).toEqual([running]);
  });

  describe("after an incomplete read", () => {
    const deleting: SyncConfig = {
      ...config,
      deprovisioning: { whenDeleted: "delete", whenOutOfScope: "delete", whenDisabled: "delete" },
      safety: { maxDeletesPerRun: 100, maxDeletePercent: 100 },
    };

    it("deletes and disables nobody when the lookup of synced users outside the scope is incomplete", async () => {
      for (const whenDeleted of ["delete", "disable"] as const) {
        const db = new DatabaseSync(":memory:");
        const pbx = new BuiltinPbx(sqliteStorage(db));
        const cfg = { ...deleting, deprovisioning: { whenDeleted, whenOutOfScope: whenDeleted } };
        let search = scripted([1, 2, 3, 4]);
        const runs = new SyncRuns(sqliteStorage(db), {
          pbx,
          target: async () => ({ config: cfg, target: { connection: cfg.connection as never } }),
          search: () => search,
        });
        await runToEnd(runs);
        expect(pbx.count()).toBe(4);

        // Users 3 and 4 left the scope (or AD); the lookup that would tell which is cut short.
        const asked: string[] = [];
        search = scripted([1, 2], { lookup: { complete: false, reason: "the size limit of 1 entries was reached" } }, asked);
        const id = await runToEnd(runs);
        expect(asked).toEqual(["scope", "lookup"]);
        const run = runs.get(id);
        expect(run).toMatchObject({ status: "succeeded", complete: false, incompleteReason: "the size limit of 1 entries was reached" });
        expect(run?.summary).toMatchObject({ delete: 0, disable: 0, unchanged: 4 });
        expect(pbx.views().map((e) => [e.number, e.enabled])).toEqual([
          ["1000", true],
          ["1001", true],
          ["1002", true],
          ["1003", true],
        ]);
        const kept = runs.items(id, {}).items.filter((i) => i.name === "User 3" || i.name === "User 4");
        expect(kept.map((i) => [i.action, i.reason])).toEqual([
          ["unchanged", expect.stringMatching(/directory read was incomplete \(the size limit of 1 entries was reached\)/)],
          ["unchanged", expect.stringMatching(/directory read was incomplete/)],
        ]);
      }
    });

    it("deletes nobody when the nested-group search is incomplete", async () => {
      const group = `CN=Phone Users,OU=Groups,${BASE}`;
      const nested: SyncConfig = {
        ...deleting,
        organisation: { extensionGroups: { from: "memberOf", groups: [{ dn: group, nested: true }] } },
      };
      const db = new DatabaseSync(":memory:");
      const pbx = new BuiltinPbx(sqliteStorage(db));
      let search = scripted([1, 2, 3], { nested: { complete: true, entries: [1, 2] } });
      const runs = new SyncRuns(sqliteStorage(db), {
        pbx,
        target: async () => ({ config: nested, target: { connection: nested.connection as never } }),
        search: () => search,
      });
      await runToEnd(runs);
      expect(pbx.count()).toBe(3);

      const asked: string[] = [];
      // User 3 is gone from AD and the lookup says so; the nested search is cut short.
      search = scripted([1, 2], { nested: { complete: false, reason: "the time limit was reached" } }, asked);
      const id = await runToEnd(runs);
      expect(asked).toEqual(["nested", "scope", "lookup"]);
      expect(runs.get(id)).toMatchObject({
        complete: false,
        incompleteReason: "the time limit was reached",
        summary: { delete: 0, disable: 0 },
      });
      expect(pbx.count()).toBe(3);
    });

    it("deletes a user gone from AD once the lookup is complete again", async () => {
      const db = new DatabaseSync(":memory:");
      const pbx = new BuiltinPbx(sqliteStorage(db));
      let search = scripted([1, 2, 3]);
      const runs = new SyncRuns(sqliteStorage(db), {
        pbx,
        target: async () => ({ config: deleting, target: { connection: deleting.connection as never } }),
        search: () => search,
      });
      await runToEnd(runs);
      search = scripted([1, 2]);
      const id = await runToEnd(runs);
      expect(runs.get(id)).toMatchObject({ complete: true, summary: { delete: 1 } });
      expect(pbx.views().map((e) => e.number)).toEqual(["1000", "1001"]);
    });
  });

  it("moves a deleted user's voicemail and recordings to the archive extension before the delete", async () => {
    const db = new DatabaseSync(":memory:");
    const pbx = new BuiltinPbx(sqliteStorage(db));
    const archiving: SyncConfig = {
      ...config,
      deprovisioning: { whenDeleted: "delete", archive: { extension: "0999", recordings: false } },
      safety: { maxDeletesPerRun: 100, maxDeletePercent: 100 },
    };
    pbx.createManual("0999", "Leavers archive");
    let users = 3;
    const runs = new SyncRuns(sqliteStorage(db), {
      pbx,
      target: async () => ({ config: archiving, target: { connection: archiving.connection as never } }),
      search: () => directory(users),
    });
    await runToEnd(runs);
    pbx.addMessages("1002", 4, 2);
    users = 2;
    const id = await runToEnd(runs);
    expect(runs.get(id)).toMatchObject({ status: "succeeded", summary: { delete: 1 } });
    expect(pbx.views().map((e) => e.number)).toEqual(["0999", "1000", "1001"]);
    // Voicemail is archived by default; recordings were switched off.
    expect(pbx.views().find((e) => e.number === "0999")).toMatchObject({ voicemails: 4, recordings: 0 });
    expect(runs.events(id).find((e) => e.operation === "delete")?.event).toMatch(/1002/);
  });

  it("refuses a second run while one holds the lock", () => {
    const db = new DatabaseSync(":memory:");
    const runs = new SyncRuns(sqliteStorage(db), sources(new BuiltinPbx(sqliteStorage(db)), 1));
    const id = runs.begin("sync", "manual", "admin");
    expect(() => runs.begin("preview", "manual", "admin")).toThrow(
      expect.objectContaining({ status: 409, code: "run_in_progress", details: { runId: id, status: "queued" } }),
    );
  });

  it("fails a run at once on the product's own answer, and throws anything else on to the watchdog", async () => {
    const db = new DatabaseSync(":memory:");
    const pbx = new BuiltinPbx(sqliteStorage(db));
    let failure: Error = new ApiError(502, "bind_failed", "The directory refused the bind account's password.");
    const runs = new SyncRuns(sqliteStorage(db), {
      pbx,
      target: async () => {
        throw failure;
      },
      search: () => directory(1),
    });
    // An ApiError is the run's answer: trying again would repeat it (and lock the bind account).
    const refused = runs.begin("sync", "manual", "admin");
    expect(await runs.step(refused)).toBe(false);
    expect(runs.get(refused)).toMatchObject({ status: "failed", error: "The directory refused the bind account's password." });

    // Anything else goes to the caller, and the run keeps its lock for the next attempt.
    failure = new TypeError("Network connection lost.");
    const interrupted = runs.begin("sync", "manual", "admin");
    await expect(runs.step(interrupted)).rejects.toThrow("Network connection lost.");
    expect(runs.get(interrupted)?.status).toBe("reading");
    expect(runs.active()?.id).toBe(interrupted);
    runs.fail(interrupted, "given up");
    expect(runs.get(interrupted)).toMatchObject({ status: "failed", error: "given up" });
    expect(runs.active()).toBeUndefined();
  });

  it("adds the watchdog's column to a runs table an earlier version made", () => {
    const db = new DatabaseSync(":memory:");
    db.exec(`CREATE TABLE runs (
      id TEXT PRIMARY KEY, kind TEXT NOT NULL, trigger TEXT NOT NULL, status TEXT NOT NULL, requested_by TEXT,
      started_at INTEGER NOT NULL, finished_at INTEGER, complete INTEGER, incomplete_reason TEXT,
      summary TEXT, structure TEXT, held TEXT, progress TEXT, error TEXT, decided_by TEXT)`);
    const runs = new SyncRuns(sqliteStorage(db), sources(new BuiltinPbx(sqliteStorage(db)), 1));
    const id = runs.begin("sync", "manual", "admin");
    expect(runs.attempts(id)).toBeNull();
    const attempts = { count: 2, mark: runs.progressMark(id), open: true, startedAt: 1, retryAt: null, lastError: "boom" };
    runs.setAttempts(id, attempts);
    expect(runs.attempts(id)).toEqual(attempts);
    expect(attempts.mark).toBe("read");
  });
});
