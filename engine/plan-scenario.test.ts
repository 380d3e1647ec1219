// One plan an administrator would see in Preview, item by item: every action, its reason
// and its details as the page shows them, and the order they are applied in.
import { describe, expect, it } from "vitest";
import type { SyncConfig } from "../schema/generated/config.ts";
import { applyItem, applyStructure } from "./apply-item.ts";
import type { DirectoryUser } from "./directory-user.ts";
import { mapUser } from "./map-user.ts";
import { MemoryPbx } from "./pbx/memory-pbx.ts";
import { blankExtension, type Extension } from "./pbx/pbx-port.ts";
import { planSync, summaryText } from "./plan.ts";
import { isOperation } from "./plan-actions.ts";

const BASE = "DC=example,DC=com";
const SALES = `OU=Sales,OU=Staff,${BASE}`;
const SUPPORT = `OU=Support,OU=Staff,${BASE}`;
const TEAM = `CN=Sales Team,OU=Groups,${BASE}`;
const ALL = `CN=All Staff,OU=Groups,${BASE}`;

const config: SyncConfig = {
  connection: { domainControllers: [{ host: "dc1" }], bindUsername: "svc", bindPassword: { source: "stored" }, baseDn: BASE },
  scope: { exclude: [{ pattern: "svc-*", reason: "service accounts" }] },
  extensionNumbers: { source: "attributeThenSequential", attribute: "ipPhone", ranges: [{ start: "1000", end: "1099" }] },
  organisation: {
    departments: { from: "ouTree" },
    extensionGroups: { from: "memberOf", groups: [{ dn: TEAM }, { dn: ALL }], createMissing: false },
    templateExtensions: [{ ou: SUPPORT, extension: "900" }],
  },
  deprovisioning: {
    whenDeleted: "delete",
    whenDisabled: "disable",
    whenOutOfScope: "keep",
    archive: { extension: "0999", recordings: false },
  },
  safety: { maxDeletesPerRun: 100, maxDeletePercent: 100 },
};

const guid = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, "0")}`;
function user(n: number, name: string, ou: string, attrs: Record<string, string | string[]> = {}, disabled = false): DirectoryUser {
  const attributes: Record<string, string[]> = { displayname: [name], samaccountname: [name.split(" ")[0]?.toLowerCase() ?? name] };
  for (const [k, v] of Object.entries(attrs)) attributes[k.toLowerCase()] = Array.isArray(v) ? v : [v];
  return { guid: guid(n), dn: `CN=${name},${ou}`, disabled, attributes };
}
function synced(n: number, number: string, name: string, ou: string, more: Partial<Extension> = {}): Extension {
  return blankExtension(number, {
    origin: "ad",
    guid: guid(n),
    dn: `CN=${name},${ou}`,
    displayName: name,
    departmentPath: ou === SALES ? "Staff > Sales" : "Staff > Support",
    numberSource: "attribute",
    sam: name.split(" ")[0]?.toLowerCase() ?? null,
    ...more,
  });
}

const users = [
  user(1, "Ann Newcomer", SUPPORT, { ipPhone: "1005", memberOf: [TEAM, ALL] }),
  user(2, "Bob Mover", SUPPORT, { ipPhone: "1001", title: "Team Lead" }),
  user(3, "Cy Returner", SALES, { ipPhone: "1002" }),
  user(4, "Dee Leaver", SALES, { ipPhone: "1003" }, true),
  user(6, "Fay Gone", SALES, { ipPhone: "1006" }, true),
  user(7, "Gus Clash", SALES, { ipPhone: "1000" }),
  user(8, "Hal Archive", SALES, { ipPhone: "0999" }),
  user(9, "Ida Twin", SALES, { ipPhone: "1007" }),
  user(10, "Jon Twin", SALES, { ipPhone: "1007" }),
  user(11, "Kim Steady", SALES, { ipPhone: "1008", memberOf: [ALL] }),
  user(12, "svc-backup", SALES, { sAMAccountName: "svc-backup" }),
  user(13, "Lou Nonumber", SALES),
];
const extensions: Extension[] = [
  blankExtension("1000", { displayName: "Reception" }),
  blankExtension("0999", { displayName: "Leavers archive" }),
  blankExtension("900", { displayName: "Support template" }),
  synced(2, "1001", "Bob Mover", SALES),
  synced(3, "1002", "Cy Returner", SALES, { enabled: false, disabledBySync: true }),
  synced(4, "1003", "Dee Leaver", SALES),
  synced(5, "1004", "Eve Deleted", SALES),
  synced(6, "1006", "Fay Gone", SALES, { enabled: false, disabledBySync: true }),
  synced(11, "1008", "Kim Steady", SALES, { groups: ["All Staff"] }),
];

function thePlan() {
  return planSync({
    config,
    users: users.map((u) => mapUser(config, u, true)),
    extensions,
    departments: ["Staff > Sales"],
    extensionGroups: ["All Staff"],
    complete: true,
  });
}

const shown = (p: ReturnType<typeof thePlan>) =>
  p.items.map((i) => ({
    name: i.name,
    action: i.action,
    number: i.number,
    reason: i.reason,
    ...(i.code ? { code: i.code } : {}),
    ...(i.changes && i.changes.length > 0 ? { changes: i.changes.map((c) => `${c.field}: ${c.from} -> ${c.to}`) } : {}),
    ...(i.archive ? { archive: i.archive } : {}),
    ...(i.template ? { template: i.template } : {}),
    ...(i.state && i.action !== "disable" ? { groups: i.state.groups, department: i.state.departmentPath } : {}),
  }));

describe("a plan as Preview shows it", () => {
  it("has every item with its action, number, reason and details, in the order they are applied", () => {
    const p = thePlan();
    expect(shown(p)).toEqual([
      {
        name: "Eve Deleted",
        action: "delete",
        number: "1004",
        code: "deleted_in_ad",
        reason: "the AD user no longer exists: the extension is deleted, its voicemail moved to extension 0999",
        archive: { extension: "0999", voicemail: true, recordings: false },
      },
      {
        name: "Dee Leaver",
        action: "disable",
        number: "1003",
        code: "disabled_in_ad",
        reason: "the AD account is disabled: the extension is disabled",
      },
      {
        name: "Bob Mover",
        action: "update",
        number: "1001",
        reason: "changed in AD: jobTitle, departmentPath, dn; moved or renamed in AD",
        changes: [
          "jobTitle: null -> Team Lead",
          "departmentPath: Staff > Sales -> Staff > Support",
          `dn: CN=Bob Mover,${SALES} -> CN=Bob Mover,${SUPPORT}`,
        ],
        groups: [],
        department: "Staff > Support",
      },
      {
        name: "Cy Returner",
        action: "enable",
        number: "1002",
        reason: "the AD account is back in scope and enabled",
        groups: [],
        department: "Staff > Sales",
      },
      {
        name: "Ann Newcomer",
        action: "create",
        number: "1005",
        reason: "new in scope; copies extension 900's settings; extension group Sales Team missing on the PBX: membership skipped",
        template: "900",
        groups: ["All Staff"],
        department: "Staff > Support",
      },
      { name: "Ida Twin", action: "create", number: "1007", reason: "new in scope", groups: [], department: "Staff > Sales" },
      // No ipPhone: the lowest free number of the range, which Eve's delete frees first.
      { name: "Lou Nonumber", action: "create", number: "1004", reason: "new in scope", groups: [], department: "Staff > Sales" },
      {
        name: "Gus Clash",
        action: "conflict",
        number: null,
        code: "number_taken_manual",
        reason: "number 1000 belongs to a hand-made extension, which sync never overwrites",
      },
      {
        name: "Hal Archive",
        action: "conflict",
        number: null,
        code: "number_taken_manual",
        reason: "number 0999 belongs to a hand-made extension, which sync never overwrites",
      },
      {
        name: "Jon Twin",
        action: "conflict",
        number: null,
        code: "number_duplicate",
        reason: "number 1007 is also wanted by Ida Twin, who gets it",
      },
      { name: "Kim Steady", action: "unchanged", number: "1008", reason: "up to date" },
      { name: "svc-backup", action: "excluded", number: null, code: "excluded_by_pattern", reason: "service accounts" },
      {
        name: "Fay Gone",
        action: "unchanged",
        number: "1006",
        code: "disabled_in_ad",
        reason: "the AD account is disabled; already disabled",
      },
    ]);
    expect(p.departmentsToCreate).toEqual(["Staff > Support"]);
    expect(p.groupsToCreate).toEqual([]);
    expect(summaryText(p.summary)).toBe("3 create, 1 update, 1 enable, 1 disable, 1 delete, 2 unchanged, 3 conflict, 1 excluded");
    expect(p).toMatchObject({ complete: true });
    expect(p.held).toBeUndefined();
    expect(p.incompleteReason).toBeUndefined();
  });

  it("applied in that order, leaves the PBX as the plan says", async () => {
    const p = thePlan();
    const pbx = new MemoryPbx(extensions, ["All Staff"], ["Staff > Sales"]);
    await applyStructure(p, pbx);
    for (const item of p.items) if (isOperation(item)) await applyItem(item, pbx);
    const after = [...pbx.extensions.values()]
      .map((e) => `${e.number} ${e.displayName} ${e.enabled ? "enabled" : "disabled"} ${e.departmentPath ?? "-"} [${e.groups.join(", ")}]`)
      .sort();
    expect(after).toEqual([
      "0999 Leavers archive enabled - []",
      "1000 Reception enabled - []",
      "1001 Bob Mover enabled Staff > Support []",
      "1002 Cy Returner enabled Staff > Sales []",
      "1003 Dee Leaver disabled Staff > Sales []",
      "1004 Lou Nonumber enabled Staff > Sales []",
      "1005 Ann Newcomer enabled Staff > Support [All Staff]",
      "1006 Fay Gone disabled Staff > Sales []",
      "1007 Ida Twin enabled Staff > Sales []",
      "1008 Kim Steady enabled Staff > Sales [All Staff]",
      "900 Support template enabled - []",
    ]);
    expect(pbx.archived).toEqual([{ from: "1004", to: "0999", voicemail: true, recordings: false }]);
    expect([...pbx.departments].sort()).toEqual(["Staff > Sales", "Staff > Support"]);
    // Planned again over what it made, nothing is left to do.
    const again = planSync({
      config,
      users: users.map((u) => mapUser(config, u, true)),
      extensions: await pbx.listExtensions(),
      departments: [...pbx.departments],
      extensionGroups: [...pbx.groups],
      complete: true,
    });
    expect(again.summary).toMatchObject({ create: 0, update: 0, enable: 0, disable: 0, delete: 0 });
  });

  it("keeps everything after an incomplete read, saying why for each user it would have touched", () => {
    const p = planSync({
      config,
      users: users.map((u) => mapUser(config, u, true)),
      extensions,
      departments: ["Staff > Sales"],
      extensionGroups: ["All Staff"],
      complete: false,
      incompleteReason: "the size limit of 500 entries was reached",
    });
    expect(p).toMatchObject({ complete: false, incompleteReason: "the size limit of 500 entries was reached" });
    expect(p.summary).toMatchObject({ delete: 0, disable: 0 });
    const kept = p.items.filter((i) => i.name === "Eve Deleted" || i.name === "Dee Leaver").map((i) => [i.name, i.action, i.reason]);
    expect(kept).toEqual([
      [
        "Dee Leaver",
        "unchanged",
        "the AD account is disabled, but the directory read was incomplete (the size limit of 500 entries was reached): nothing is disabled or deleted",
      ],
      [
        "Eve Deleted",
        "unchanged",
        "the AD user no longer exists, but the directory read was incomplete (the size limit of 500 entries was reached): nothing is disabled or deleted",
      ],
    ]);
  });

  it.each([
    [{ extension: "0999" }, "its voicemail and recordings moved to extension 0999", { voicemail: true, recordings: true }],
    [{ extension: "0999", voicemail: false }, "its recordings moved to extension 0999", { voicemail: false, recordings: true }],
    [
      { extension: "0999", voicemail: false, recordings: false },
      "its data moved to extension 0999",
      { voicemail: false, recordings: false },
    ],
  ])("says what the archive takes: %j", (archive, says, moved) => {
    const p = planSync({
      config: { ...config, deprovisioning: { whenDeleted: "delete", archive } },
      users: [],
      extensions: [synced(5, "1004", "Eve Deleted", SALES), blankExtension("0999")],
      complete: true,
    });
    expect(p.items).toEqual([
      expect.objectContaining({
        action: "delete",
        reason: `the AD user no longer exists: the extension is deleted, ${says}`,
        archive: { extension: "0999", ...moved },
      }),
    ]);
  });

  it("deletes without an archive when none is configured, and keeps a user out of scope when told to", () => {
    const out = user(2, "Bob Mover", SALES, { ipPhone: "1001" });
    const p = planSync({
      config: { ...config, deprovisioning: { whenDeleted: "delete", whenOutOfScope: "keep" } },
      users: [mapUser(config, out, false)],
      extensions: [synced(5, "1004", "Eve Deleted", SALES), synced(2, "1001", "Bob Mover", SALES)],
      complete: true,
    });
    expect(p.items.map((i) => [i.name, i.action, i.code, i.reason, i.archive])).toEqual([
      ["Eve Deleted", "delete", "deleted_in_ad", "the AD user no longer exists: the extension is deleted", undefined],
      ["Bob Mover", "unchanged", "out_of_scope", "the AD user left the sync scope; kept, as the configuration says", undefined],
    ]);
  });

  it("reports each kind of number conflict in its own words, and leaves a synced user's extension as it is", () => {
    const numbers: SyncConfig = {
      ...config,
      extensionNumbers: { source: "attribute", attribute: "ipPhone" },
      deprovisioning: { archive: { extension: "0999" } },
      organisation: { departments: { from: "none" } },
    };
    const people = [
      user(21, "Amy Archive", SALES, { ipPhone: "0999" }),
      user(22, "Ben Holder", SALES, { ipPhone: "1010" }),
      user(23, "Cal Wants", SALES, { ipPhone: "1010" }),
      user(24, "Dan Blank", SALES),
      user(25, "Eli Bad", SALES, { ipPhone: "n/a" }),
      user(26, "Fox Moves", SALES, { ipPhone: "1010" }),
    ];
    const held = [synced(22, "1010", "Ben Holder", SALES), synced(26, "1011", "Fox Moves", SALES)];
    const p = planSync({ config: numbers, users: people.map((u) => mapUser(numbers, u, true)), extensions: held, complete: true });
    const conflicts = p.items.filter((i) => i.action === "conflict").map((i) => [i.name, i.code, i.number, i.reason]);
    expect(conflicts).toEqual([
      ["Amy Archive", "number_is_archive", null, "number 0999 is the archive extension (deprovisioning.archive)"],
      ["Cal Wants", "number_taken", null, "number 1010 is held by extension 1010 (Ben Holder), which keeps it"],
      ["Dan Blank", "no_number", null, "ipPhone is empty, so there is no extension number"],
      ["Eli Bad", "no_number", null, 'ipPhone "n/a" does not give an extension number'],
      [
        "Fox Moves",
        "number_taken",
        "1011",
        "number 1010 is held by extension 1010 (Ben Holder), which keeps it; extension 1011 is left as it is",
      ],
    ]);
    expect(p.items.find((i) => i.name === "Ben Holder")).toMatchObject({ action: "unchanged", number: "1010" });
  });

  it("gives a number once to the first user by DN, whoever asks for it again in a later round", () => {
    const numbers: SyncConfig = {
      ...config,
      extensionNumbers: { source: "attribute", attribute: "ipPhone" },
      organisation: { departments: { from: "none" } },
    };
    // Gil leaves 1020 for 1021; Hana and Ivo both want the 1020 Gil frees.
    const people = [
      user(31, "Gil Shift", SALES, { ipPhone: "1021" }),
      user(32, "Hana Next", SALES, { ipPhone: "1020" }),
      user(33, "Ivo Next", SALES, { ipPhone: "1020" }),
    ];
    const p = planSync({
      config: numbers,
      users: people.map((u) => mapUser(numbers, u, true)),
      extensions: [synced(31, "1020", "Gil Shift", SALES)],
      complete: true,
    });
    expect(p.items.map((i) => [i.name, i.action, i.number, i.code ?? null])).toEqual([
      ["Gil Shift", "update", "1020", null],
      ["Hana Next", "create", "1020", null],
      ["Ivo Next", "conflict", null, "number_duplicate"],
    ]);
    expect(p.items[0]?.state?.number).toBe("1021");
    expect(p.items[0]?.changes).toEqual([{ field: "number", from: "1020", to: "1021" }]);
  });

  it("diffs extension groups as sorted lists, creating missing groups when told to, and leaves groups alone when not managed", () => {
    const groups: SyncConfig = {
      ...config,
      organisation: { departments: { from: "none" }, extensionGroups: { from: "memberOf", createMissing: true } },
    };
    const kim = user(11, "Kim Steady", SALES, { ipPhone: "1008", memberOf: [ALL, TEAM] });
    const current = synced(11, "1008", "Kim Steady", SALES, { departmentPath: null, groups: ["All Staff"] });
    const p = planSync({
      config: groups,
      users: [mapUser(groups, kim, true)],
      extensions: [current],
      extensionGroups: ["All Staff"],
      complete: true,
    });
    expect(p.groupsToCreate).toEqual(["Sales Team"]);
    expect(p.items[0]).toMatchObject({ action: "update", changes: [{ field: "groups", from: "All Staff", to: "All Staff, Sales Team" }] });
    const left = planSync({
      config: groups,
      users: [mapUser(groups, { ...kim, attributes: { ...kim.attributes, memberof: [] } }, true)],
      extensions: [current],
      complete: true,
    });
    expect(left.items[0]?.changes).toEqual([{ field: "groups", from: "All Staff", to: null }]);
    const unmanaged: SyncConfig = { ...config, organisation: { departments: { from: "none" } } };
    const alone = planSync({ config: unmanaged, users: [mapUser(unmanaged, kim, true)], extensions: [current], complete: true });
    expect(alone.items[0]).toMatchObject({ action: "unchanged" });
    expect(alone.groupsToCreate).toEqual([]);
    const fresh = planSync({
      config: unmanaged,
      users: [mapUser(unmanaged, user(12, "New Person", SALES, { ipPhone: "1009", memberOf: [ALL] }), true)],
      extensions: [],
      complete: true,
    });
    expect(fresh.items[0]?.state).toMatchObject({ groups: [], departmentPath: null });
    expect(fresh.departmentsToCreate).toEqual([]);
  });

  it("creates every missing department of the run once, sorted", () => {
    const p = planSync({
      config,
      users: [user(41, "Zed", `OU=Zeta,OU=Staff,${BASE}`), user(42, "Amy", SUPPORT), user(43, "Bo", SUPPORT)].map((u) =>
        mapUser(config, u, true),
      ),
      extensions: [],
      departments: ["Staff"],
      complete: true,
    });
    expect(p.departmentsToCreate).toEqual(["Staff > Support", "Staff > Zeta"]);
  });

  it("never takes a hand-made extension for a user, even one that names the user's objectGUID", () => {
    const oddManual = blankExtension("1008", { displayName: "Kim's old phone", guid: guid(11) });
    const p = planSync({ config, users: [mapUser(config, users[9] as DirectoryUser, true)], extensions: [oddManual], complete: true });
    expect(p.items).toEqual([expect.objectContaining({ name: "Kim Steady", action: "conflict", code: "number_taken_manual" })]);
  });

  it("words a user excluded by a pattern after being synced as out of scope, with the pattern's reason", () => {
    const c: SyncConfig = {
      ...config,
      scope: { exclude: [{ pattern: "kim*", reason: "contractors" }] },
      deprovisioning: { whenOutOfScope: "disable" },
    };
    const p = planSync({
      config: c,
      users: [mapUser(c, users[9] as DirectoryUser, true)],
      extensions: [synced(11, "1008", "Kim Steady", SALES)],
      complete: true,
    });
    // One item for the user: the extension's, not a second "excluded" row.
    expect(p.items.map((i) => [i.action, i.code, i.reason])).toEqual([
      ["disable", "out_of_scope", "excluded: contractors: the extension is disabled"],
    ]);
  });
});
