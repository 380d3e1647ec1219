import { DatabaseSync } from "node:sqlite";
import { describe, expect, it } from "vitest";
import { matchesOf } from "../../../../engine/pbx/extension-matches.ts";
import { blankExtension, type CreateExtension, type ExtensionState } from "../../../../engine/pbx/pbx-port.ts";
import { sqliteStorage } from "../../../../test/support/sqlite-storage.ts";
import { BuiltinPbx } from "./builtin-pbx.ts";

/** A blank extension's managed state, with `more` set. */
const state = (number: string, displayName: string, more: Partial<ExtensionState> = {}): ExtensionState => {
  const {
    origin: _o,
    guid: _g,
    dn: _d,
    enabled: _e,
    disabledBySync: _b,
    numberSource: _n,
    upn: _u,
    sam: _s,
    ...managed
  } = blankExtension(number, { displayName });
  return { ...managed, ...more };
};

const create = (number: string, guid: string, name: string, more: Partial<CreateExtension> = {}): CreateExtension => ({
  state: state(number, name),
  guid,
  dn: `CN=${name},OU=Staff,DC=example,DC=com`,
  numberSource: "sequential",
  login: { upn: `${name.toLowerCase()}@example.com`, sam: name.toLowerCase() },
  ...more,
});

function pbx() {
  return new BuiltinPbx(sqliteStorage(new DatabaseSync(":memory:")));
}

const view = (p: BuiltinPbx, number: string) => p.views().find((e) => e.number === number);

describe("the built-in PBX", () => {
  it.each([1, 7, 100, 1000])("lists in pages of %i exactly what it lists at once, in the same order", async (size) => {
    const p = pbx();
    // Numbers of several lengths, made out of order: pages must cross from one length to the next.
    const numbers = Array.from({ length: 250 }, (_, i) => String(([12, 987, 4711, 10_000, 123_456][i % 5] ?? 0) + i));
    for (const [i, n] of numbers.entries()) {
      if (i % 3 === 0) p.createManual(n, `Desk ${n}`);
      else await p.createExtension(create(n, `g-${i}`, `User${i}`));
    }
    const pages: number[] = [];
    const listed = [];
    for await (const page of p.listExtensionPages(size)) {
      pages.push(page.length);
      listed.push(...page);
    }
    expect(listed).toEqual(await p.listExtensions());
    expect(listed).toHaveLength(250);
    expect(pages.slice(0, -1).every((n) => n === size)).toBe(true);
  });

  it("finds by index what a listing would give an incremental run: users', claimed and hand-made extensions, in order", async () => {
    const p = pbx();
    const numbers = Array.from({ length: 60 }, (_, i) => String(([12, 987, 4711][i % 3] ?? 0) + i));
    for (const [i, n] of numbers.entries()) {
      if (i % 4 === 0) p.createManual(n, `Desk ${n}`);
      else await p.createExtension(create(n, `g-${i}`, `User${i}`));
    }
    const listing = await p.listExtensions();
    const mixed = { guids: ["g-2", "g-3"], numbers: ["1000"], manual: true };
    const queries = [
      { guids: [], numbers: [], manual: false },
      { guids: ["g-5", "g-58", "g-gone"], numbers: [], manual: false },
      // A claimed number held by a synced user, one held by a hand-made extension, one free, and
      // a user's own number claimed again.
      { guids: ["g-1"], numbers: ["1000", "4747", "99999", "13"], manual: false },
      mixed,
    ];
    for (const query of queries) expect(await p.findExtensions(query)).toEqual(matchesOf(listing, query));
    const found = await p.findExtensions(mixed);
    expect(found.synced).toBe(45);
    expect(found.extensions.map((e) => e.number)).toEqual(
      listing.filter((e) => e.origin === "manual" || e.guid === "g-2" || e.guid === "g-3" || e.number === "1000").map((e) => e.number),
    );
  });

  describe("deleting with an archive", () => {
    it.each([
      ["voicemail and recordings", { voicemail: true, recordings: true }, { voicemails: 3 + 1, recordings: 2 + 5 }],
      ["voicemail only", { voicemail: true, recordings: false }, { voicemails: 3 + 1, recordings: 5 }],
      ["recordings only", { voicemail: false, recordings: true }, { voicemails: 1, recordings: 2 + 5 }],
      ["neither", { voicemail: false, recordings: false }, { voicemails: 1, recordings: 5 }],
    ])("moves %s to the archive extension, then deletes", async (_what, moved, archive) => {
      const p = pbx();
      p.createManual("0999", "Leavers archive");
      p.addMessages("0999", 1, 5);
      await p.createExtension(create("1000", "g-ann", "Ann"));
      p.addMessages("1000", 3, 2);
      await p.deleteExtension("1000", { extension: "0999", ...moved });
      expect(view(p, "1000")).toBeUndefined();
      expect(view(p, "0999")).toMatchObject(archive);
    });

    it("deletes nothing when the archive extension is missing, and says which", async () => {
      const p = pbx();
      await p.createExtension(create("1000", "g-ann", "Ann"));
      p.addMessages("1000", 3, 2);
      await expect(p.deleteExtension("1000", { extension: "0999", voicemail: true, recordings: true })).rejects.toMatchObject({
        code: "archive_missing",
        message: "The archive extension 0999 does not exist.",
      });
      expect(view(p, "1000")).toMatchObject({ voicemails: 3, recordings: 2 });
    });

    it("refuses to delete a hand-made extension, and takes a second delete as done", async () => {
      const p = pbx();
      p.createManual("1000", "Reception");
      await expect(p.deleteExtension("1000")).rejects.toMatchObject({ code: "manual_extension" });
      expect(view(p, "1000")).toBeDefined();
      await p.createExtension(create("1001", "g-bob", "Bob"));
      await p.deleteExtension("1001");
      await p.deleteExtension("1001");
      expect(p.count()).toBe(1);
    });
  });

  describe("creating and updating", () => {
    it("takes a repeated create for the same user as done, and refuses a taken number or a user who has one", async () => {
      const p = pbx();
      await p.createExtension(create("1000", "g-ann", "Ann"));
      await p.createExtension(create("1000", "g-ann", "Ann"));
      expect(p.count()).toBe(1);
      await expect(p.createExtension(create("1000", "g-bob", "Bob"))).rejects.toMatchObject({ code: "number_taken" });
      await expect(p.createExtension(create("1001", "g-ann", "Ann"))).rejects.toMatchObject({
        code: "guid_taken",
        message: "The AD user already has extension 1000.",
      });
    });

    it("copies a template's settings into a new extension, and refuses a missing template", async () => {
      const p = pbx();
      p.createManual("900", "Template", { forwardTo: "voicemail" });
      await p.createExtension(create("1000", "g-ann", "Ann", { template: "900" }));
      expect(view(p, "1000")?.settings).toEqual({ forwardTo: "voicemail" });
      await expect(p.createExtension(create("1001", "g-bob", "Bob", { template: "901" }))).rejects.toMatchObject({
        code: "template_missing",
      });
      expect(view(p, "1001")).toBeUndefined();
    });

    it("renumbers, moves and renames an extension, and takes a repeated renumber as done", async () => {
      const p = pbx();
      await p.createExtension(create("1000", "g-ann", "Ann"));
      const update = {
        state: { number: "2000", displayName: "Ann Smith", groups: ["Sales", "All"] },
        dn: "CN=Ann Smith,OU=Sales,DC=example,DC=com",
        login: { upn: "asmith@example.com", sam: "asmith" },
        numberSource: "attribute" as const,
      };
      await p.updateExtension("1000", update);
      await p.updateExtension("1000", update);
      expect(view(p, "1000")).toBeUndefined();
      expect(view(p, "2000")).toMatchObject({
        guid: "g-ann",
        displayName: "Ann Smith",
        dn: update.dn,
        upn: "asmith@example.com",
        sam: "asmith",
        numberSource: "attribute",
        groups: ["All", "Sales"],
      });
    });

    it("refuses to update a hand-made extension, a missing one, or onto a taken number", async () => {
      const p = pbx();
      p.createManual("1000", "Reception");
      await p.createExtension(create("1001", "g-ann", "Ann"));
      await expect(p.updateExtension("1000", { state: { displayName: "x" } })).rejects.toMatchObject({ code: "manual_extension" });
      await expect(p.updateExtension("1002", { state: { displayName: "x" } })).rejects.toMatchObject({ code: "not_found" });
      await expect(p.updateExtension("1001", { state: { number: "1000" } })).rejects.toMatchObject({ code: "number_taken" });
      expect(view(p, "1000")?.displayName).toBe("Reception");
      expect(view(p, "1001")?.displayName).toBe("Ann");
    });

    it("keeps a photo with its hash, and drops it with a null hash", async () => {
      const p = pbx();
      await p.createExtension(
        { ...create("1000", "g-ann", "Ann"), state: state("1000", "Ann", { avatarHash: "h1" }) },
        new Uint8Array([1]),
      );
      expect(view(p, "1000")?.avatarHash).toBe("h1");
      await p.updateExtension("1000", { state: { avatarHash: null } });
      expect(view(p, "1000")?.avatarHash).toBeNull();
    });
  });

  describe("disabling and enabling", () => {
    it("disables a synced extension as sync's doing, enables it again, and never touches a hand-made one", async () => {
      const p = pbx();
      p.createManual("1000", "Reception");
      await p.createExtension(create("1001", "g-ann", "Ann"));
      await p.disableExtension("1000");
      await p.disableExtension("1001");
      expect(view(p, "1000")).toMatchObject({ enabled: true, disabledBySync: false });
      expect(view(p, "1001")).toMatchObject({ enabled: false, disabledBySync: true });
      await p.enableExtension("1001");
      expect(view(p, "1001")).toMatchObject({ enabled: true, disabledBySync: false });
    });
  });

  describe("finding and listing", () => {
    it("finds a synced user by UPN or sAMAccountName in any case, never a hand-made extension", async () => {
      const p = pbx();
      p.createManual("1000", "ann");
      await p.createExtension(create("1001", "g-ann", "Ann"));
      expect(p.findByLogin({ upn: "ANN@Example.com" }).map((e) => e.number)).toEqual(["1001"]);
      expect(p.findByLogin({ sam: "ANN" }).map((e) => e.number)).toEqual(["1001"]);
      expect(p.findByLogin({ upn: "bob@example.com" })).toEqual([]);
      expect(p.findByLogin({})).toEqual([]);
    });

    it("searches number, name and email literally, and pages in number order", async () => {
      const p = pbx();
      for (const [n, name] of [
        ["1000", "Ann"],
        ["200", "Bob_1"],
        ["1001", "Bo%b"],
      ] as const)
        p.createManual(n, name);
      expect(p.views({ q: "_" }).map((e) => e.number)).toEqual(["200"]);
      expect(p.views({ q: "%" }).map((e) => e.number)).toEqual(["1001"]);
      expect(p.views({ q: "100" }).map((e) => e.number)).toEqual(["1000", "1001"]);
      expect(p.views().map((e) => e.number)).toEqual(["200", "1000", "1001"]);
      expect(p.views({ offset: 1, limit: 1 }).map((e) => e.number)).toEqual(["1000"]);
    });

    it("refuses a hand-made extension with a malformed or taken number", () => {
      const p = pbx();
      p.createManual("1000", "Reception");
      expect(() => p.createManual("1", "x")).toThrow(expect.objectContaining({ code: "invalid_number" }));
      expect(() => p.createManual("12345678901", "x")).toThrow(expect.objectContaining({ code: "invalid_number" }));
      expect(() => p.createManual("1000", "x")).toThrow(expect.objectContaining({ code: "number_taken" }));
    });
  });

  describe("departments, groups and older tables", () => {
    it("creates departments and extension groups once each, and lists them sorted", async () => {
      const p = pbx();
      for (const d of ["Staff > Sales", "Staff", "Staff > Sales"]) await p.createDepartment(d);
      for (const g of ["Support", "All Staff", "Support"]) await p.createExtensionGroup(g);
      expect(await p.listDepartments()).toEqual(["Staff", "Staff > Sales"]);
      expect(await p.listExtensionGroups()).toEqual(["All Staff", "Support"]);
    });

    it("adds the login-name columns to a directory made before extensions kept them, keeping its extensions", async () => {
      const db = new DatabaseSync(":memory:");
      db.exec(`CREATE TABLE pbx_extensions (
        number TEXT PRIMARY KEY, origin TEXT NOT NULL, guid TEXT UNIQUE, dn TEXT,
        enabled INTEGER NOT NULL DEFAULT 1, disabled_by_sync INTEGER NOT NULL DEFAULT 0, number_source TEXT,
        first_name TEXT, last_name TEXT, display_name TEXT, email TEXT, mobile TEXT, work_phone TEXT,
        department TEXT, job_title TEXT, avatar_hash TEXT, avatar BLOB, department_path TEXT,
        groups TEXT NOT NULL DEFAULT '[]', settings TEXT NOT NULL DEFAULT '{}',
        voicemails INTEGER NOT NULL DEFAULT 0, recordings INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);
        INSERT INTO pbx_extensions (number, origin, guid, display_name, number_source, created_at, updated_at)
        VALUES ('1000', 'ad', 'g-old', 'Old User', 'sequential', 1, 1);`);
      const p = new BuiltinPbx(sqliteStorage(db));
      expect(view(p, "1000")).toMatchObject({ displayName: "Old User", upn: null, sam: null, numberSource: "sequential", origin: "ad" });
      await p.updateExtension("1000", { state: {}, login: { upn: "old@example.com", sam: "old" } });
      expect(p.findByLogin({ sam: "old" }).map((e) => e.number)).toEqual(["1000"]);
      // Opening it again changes nothing more.
      expect(view(new BuiltinPbx(sqliteStorage(db)), "1000")).toMatchObject({ upn: "old@example.com" });
    });

    it("says which number a refused write is about", async () => {
      const p = pbx();
      p.createManual("1000", "Reception");
      await p.createExtension(create("1001", "g-ann", "Ann"));
      expect(() => p.createManual("1000", "x")).toThrow("Extension 1000 exists already.");
      expect(() => p.createManual("1", "x")).toThrow("An extension number is 2 to 10 digits.");
      await expect(p.createExtension(create("1000", "g-bob", "Bob"))).rejects.toThrow("Extension 1000 exists already.");
      await expect(p.updateExtension("1002", { state: {} })).rejects.toThrow("Extension 1002 does not exist.");
      await expect(p.updateExtension("1000", { state: {} })).rejects.toThrow("Extension 1000 was made by hand; sync does not change it.");
      await expect(p.updateExtension("1001", { state: { number: "1000" } })).rejects.toThrow("Extension 1000 exists already.");
      await expect(p.deleteExtension("1000")).rejects.toThrow("Extension 1000 was made by hand; sync does not delete it.");
      await expect(p.deleteExtension("1001")).resolves.toBeUndefined();
    });
  });
});
