import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { SyncConfig } from "../schema/generated/config.ts";
import { applyItem, applyStructure } from "./apply-item.ts";
import type { DirectoryUser } from "./directory-user.ts";
import { type DesiredUser, mapUser } from "./map-user.ts";
import { MemoryPbx } from "./pbx/memory-pbx.ts";
import { noCapabilities, type PbxCapabilities } from "./pbx/pbx-capabilities.ts";
import { blankExtension, type Extension } from "./pbx/pbx-port.ts";
import { type Plan, type PlanInput, planSync } from "./plan.ts";
import { isOperation } from "./plan-actions.ts";

const BASE = "DC=example,DC=com";
const base: SyncConfig = {
  connection: { domainControllers: [{ host: "dc1" }], bindUsername: "svc", bindPassword: { source: "stored" }, baseDn: BASE },
  extensionNumbers: { source: "sequential", ranges: [{ start: "1000", end: "1999" }] },
};
const withConfig = (patch: Partial<SyncConfig>): SyncConfig => ({ ...base, ...patch });

let guidCounter = 0;
function adUser(
  name: string,
  attrs: Record<string, string> = {},
  options: { ou?: string; disabled?: boolean; guid?: string } = {},
): DirectoryUser {
  const ou = options.ou ?? "OU=Sales,OU=Staff";
  const attributes: Record<string, string[]> = {
    displayname: [name],
    givenname: [name.split(" ")[0] ?? name],
    samaccountname: [name.toLowerCase().replace(/\W/g, ".")],
  };
  for (const [k, v] of Object.entries(attrs)) attributes[k.toLowerCase()] = [v];
  return {
    guid: options.guid ?? `00000000-0000-0000-0000-${String(++guidCounter).padStart(12, "0")}`,
    dn: `CN=${name},${ou},${BASE}`,
    disabled: options.disabled ?? false,
    attributes,
  };
}

const desired = (config: SyncConfig, users: DirectoryUser[], inScope: (u: DirectoryUser) => boolean = () => true): DesiredUser[] =>
  users.map((u) => mapUser(config, u, inScope(u)));

function plan(config: SyncConfig, users: DirectoryUser[], extensions: Extension[] = [], extra: Partial<PlanInput> = {}): Plan {
  return planSync({ config, users: desired(config, users), extensions, complete: true, ...extra });
}

/** Applies a plan to a PBX holding `extensions`, and returns what it holds afterwards. */
async function applied(p: Plan, extensions: Extension[], groups: string[] = []): Promise<MemoryPbx> {
  const pbx = new MemoryPbx(extensions, groups);
  await applyStructure(p, pbx);
  for (const item of p.items) if (isOperation(item)) await applyItem(item, pbx);
  return pbx;
}

/** The extensions a first run over `users` creates. */
async function synced(config: SyncConfig, users: DirectoryUser[], manual: Extension[] = []): Promise<Extension[]> {
  return (await applied(plan(config, users, manual), manual)).listExtensions();
}

function manualExtension(number: string, name = "Reception"): Extension {
  return blankExtension(number, { firstName: name, displayName: name });
}

const byAction = (p: Plan, action: string) => p.items.filter((i) => i.action === action);
const numbersOf = (p: Plan) => Object.fromEntries(p.items.filter((i) => i.number).map((i) => [i.name, i.number]));

describe("extension numbers", () => {
  it("gives new users the lowest free numbers in DN order, around hand-made extensions and the archive", () => {
    const config = withConfig({ deprovisioning: { archive: { extension: "1002" } } });
    const p = plan(config, [adUser("Bob"), adUser("Alice"), adUser("Carol")], [manualExtension("1000")]);
    expect(numbersOf(p)).toEqual({ Alice: "1001", Bob: "1003", Carol: "1004" });
    expect(p.summary.create).toBe(3);
  });

  it("keeps a user's number across runs, whoever else joins", async () => {
    const bob = adUser("Bob");
    const first = await synced(base, [bob]);
    const p = plan(base, [adUser("Aaron"), bob], first);
    expect(numbersOf(p)).toEqual({ Aaron: "1001", Bob: "1000" });
    expect(p.items.find((i) => i.name === "Bob")?.action).toBe("unchanged");
  });

  it.each([
    ["ipPhone as it is", { ipPhone: "1234" }, {}, "1234"],
    ["digits of a formatted number, last four", { telephoneNumber: "+44 20 7946 0123" }, { lastDigits: 4 }, "0123"],
    ["an extension after x", { telephoneNumber: "+1 555 0100 x214" }, { pattern: "x(\\d+)$" }, "214"],
    ["a stripped prefix", { telephoneNumber: "+44207946 1234" }, { stripPrefix: "+44207946" }, "1234"],
  ])("takes the number from %s", (_, attrs, normalize, expected) => {
    const attribute = Object.keys(attrs)[0] as string;
    const config = withConfig({ extensionNumbers: { source: "attribute", attribute, normalize } });
    expect(plan(config, [adUser("Ann", attrs)]).items[0]).toMatchObject({ action: "create", number: expected, numberSource: "attribute" });
  });

  it("reports users without a usable number instead of syncing them", () => {
    const config = withConfig({ extensionNumbers: { source: "attribute", attribute: "ipPhone" } });
    const p = plan(config, [adUser("Dave"), adUser("Ed", { ipPhone: "x" })]);
    expect(p.items.map((i) => [i.name, i.action, i.code])).toEqual([
      ["Dave", "conflict", "no_number"],
      ["Ed", "conflict", "no_number"],
    ]);
    expect(p.items[0]?.reason).toMatch(/ipPhone is empty/);
    expect(p.items[1]?.reason).toMatch(/ipPhone "x" does not give an extension number/);
  });

  it("falls back to the ranges with attributeThenSequential", () => {
    const config = withConfig({
      extensionNumbers: { source: "attributeThenSequential", attribute: "ipPhone", ranges: [{ start: "2000", end: "2099" }] },
    });
    expect(numbersOf(plan(config, [adUser("Ann", { ipPhone: "2000" }), adUser("Bea")]))).toEqual({ Ann: "2000", Bea: "2001" });
  });

  it("settles two users with the same number the same way every run: the holder, else the first by DN", async () => {
    const config = withConfig({ extensionNumbers: { source: "attribute", attribute: "ipPhone" } });
    const zed = adUser("Zed", { ipPhone: "1500" });
    const amy = adUser("Amy", { ipPhone: "1500" });
    const first = plan(config, [zed, amy]);
    expect(first.items.map((i) => [i.name, i.action])).toEqual([
      ["Amy", "create"],
      ["Zed", "conflict"],
    ]);
    expect(first.items[1]?.reason).toMatch(/also wanted by Amy/);
    // Zed held it first: Zed keeps it when Amy arrives later.
    const held = await synced(config, [zed]);
    const later = plan(config, [zed, amy], held);
    expect(later.items.map((i) => [i.name, i.action, i.code])).toEqual([
      ["Amy", "conflict", "number_taken"],
      ["Zed", "unchanged", undefined],
    ]);
  });

  it("never takes a hand-made extension's number", () => {
    const config = withConfig({ extensionNumbers: { source: "attribute", attribute: "ipPhone" } });
    const p = plan(config, [adUser("Ann", { ipPhone: "1000" })], [manualExtension("1000")]);
    expect(p.items[0]).toMatchObject({ action: "conflict", code: "number_taken_manual" });
  });

  it("reports an exhausted range per user", () => {
    const config = withConfig({ extensionNumbers: { source: "sequential", ranges: [{ start: "10", end: "11" }] } });
    const p = plan(config, [adUser("A"), adUser("B"), adUser("C")]);
    expect(p.items.map((i) => [i.name, i.action, i.number])).toEqual([
      ["A", "create", "10"],
      ["B", "create", "11"],
      ["C", "conflict", null],
    ]);
    expect(p.items[2]).toMatchObject({ code: "range_exhausted", reason: "no free number left in 10-11" });
  });

  it("takes the deepest OU's ranges", () => {
    const config = withConfig({
      extensionNumbers: {
        source: "sequential",
        ranges: [{ start: "1000", end: "1999" }],
        ouRanges: [
          { ou: `OU=Staff,${BASE}`, ranges: [{ start: "3000", end: "3999" }] },
          { ou: `OU=Sales,OU=Staff,${BASE}`, ranges: [{ start: "4000", end: "4999" }] },
        ],
      },
    });
    const p = plan(config, [
      adUser("S", {}, { ou: "OU=Sales,OU=Staff" }),
      adUser("T", {}, { ou: "OU=Staff" }),
      adUser("U", {}, { ou: "CN=Users" }),
    ]);
    expect(numbersOf(p)).toEqual({ S: "4000", T: "3000", U: "1000" });
  });

  it("renumbers when the source attribute changes, freeing the old number for someone else in the same run", async () => {
    const config = withConfig({ extensionNumbers: { source: "attribute", attribute: "ipPhone" } });
    const ann = adUser("Ann", { ipPhone: "1001" });
    const held = await synced(config, [ann]);
    const moved = { ...ann, attributes: { ...ann.attributes, ipphone: ["1002"] } };
    const p = plan(config, [moved, adUser("Bob", { ipPhone: "1001" })], held);
    expect(p.items.map((i) => [i.name, i.action, i.number])).toEqual([
      ["Ann", "update", "1001"],
      ["Bob", "create", "1001"],
    ]);
    expect(p.items[0]?.changes).toEqual([{ field: "number", from: "1001", to: "1002" }]);
    expect([...(await applied(p, held)).extensions.keys()].sort()).toEqual(["1001", "1002"]);
  });

  it("gives a number a renumbering frees only in a later wave than the update that frees it", async () => {
    const config = withConfig({
      extensionNumbers: { source: "attributeThenSequential", attribute: "ipPhone", ranges: [{ start: "2000", end: "2099" }] },
      deprovisioning: { whenDeleted: "delete" },
      safety: { maxDeletesPerRun: 100, maxDeletePercent: 100 },
    });
    const [dee, cat, xan] = [adUser("Dee", { ipPhone: "1001" }), adUser("Cat"), adUser("Xan", { ipPhone: "1007" })];
    const held = await synced(config, [dee, cat, xan]);
    // Dee leaves; Xan takes her 1001 and frees 1007, which Cat (first by DN) now wants.
    const to = (u: DirectoryUser, n: string) => ({ ...u, attributes: { ...u.attributes, ipphone: [n] } });
    const p = plan(config, [to(cat, "1007"), to(xan, "1001")], held, { present: new Set([cat.guid, xan.guid]) });
    const wave = (name: string) => p.items.find((i) => i.name === name)?.wave as number;
    expect(p.items.filter(isOperation).map((i) => [i.name, i.action, i.number, i.state?.number ?? null])).toEqual([
      ["Dee", "delete", "1001", null],
      ["Xan", "update", "1007", "1001"],
      ["Cat", "update", "2000", "1007"],
    ]);
    expect(wave("Dee")).toBeLessThan(wave("Xan"));
    expect(wave("Xan")).toBeLessThan(wave("Cat"));
  });

  it("leaves a swap of two numbers as two conflicts", async () => {
    const config = withConfig({ extensionNumbers: { source: "attribute", attribute: "ipPhone" } });
    const [a, b] = [adUser("A", { ipPhone: "1001" }), adUser("B", { ipPhone: "1002" })];
    const held = await synced(config, [a, b]);
    const swap = (u: DirectoryUser, n: string) => ({ ...u, attributes: { ...u.attributes, ipphone: [n] } });
    const p = plan(config, [swap(a, "1002"), swap(b, "1001")], held);
    expect(p.items.map((i) => [i.name, i.action, i.code])).toEqual([
      ["A", "conflict", "number_taken"],
      ["B", "conflict", "number_taken"],
    ]);
  });
});

describe("fields, departments, groups and templates", () => {
  it("updates changed fields with their diff, and leaves fields whose sync is off alone", async () => {
    const config = withConfig({ fields: { jobTitle: { attribute: "title", sync: false } } });
    const ann = adUser("Ann Lee", { title: "Clerk", mail: "ann@example.com" });
    const held = await synced(config, [ann]);
    expect(held[0]?.jobTitle).toBe("Clerk");
    const changed = { ...ann, attributes: { ...ann.attributes, title: ["Director"], mail: ["ann.lee@example.com"] } };
    const p = plan(config, [changed], held);
    expect(p.items[0]).toMatchObject({
      action: "update",
      changes: [{ field: "email", from: "ann@example.com", to: "ann.lee@example.com" }],
    });
  });

  it("treats a move as an update: new DN and department, same extension", async () => {
    const ann = adUser("Ann", {}, { ou: "OU=Sales,OU=Staff" });
    const held = await synced(base, [ann]);
    expect(held[0]?.departmentPath).toBe("Staff > Sales");
    const p = plan(base, [{ ...ann, dn: `CN=Ann,OU=Support,OU=Staff,${BASE}` }], held);
    expect(p.items[0]).toMatchObject({ action: "update", number: "1000" });
    expect(p.items[0]?.changes?.map((c) => c.field)).toEqual(["departmentPath", "dn"]);
    expect(p.departmentsToCreate).toEqual(["Staff > Support"]);
  });

  it("mirrors the configured groups as extension groups, creating missing ones unless told not to", () => {
    const sales = `CN=Sales Team,OU=Groups,${BASE}`;
    const user = adUser("Ann");
    user.attributes.memberof = [sales, `CN=Other,OU=Groups,${BASE}`];
    const config = (createMissing: boolean) =>
      withConfig({
        organisation: { extensionGroups: { from: "memberOf", groups: [{ dn: sales, extensionGroup: "Sales Ring" }], createMissing } },
      });
    const created = plan(config(true), [user]);
    expect(created.groupsToCreate).toEqual(["Sales Ring"]);
    expect(created.items[0]?.state?.groups).toEqual(["Sales Ring"]);
    const skipped = plan(config(false), [user]);
    expect(skipped.groupsToCreate).toEqual([]);
    expect(skipped.items[0]?.state?.groups).toEqual([]);
    expect(skipped.items[0]?.reason).toMatch(/Sales Ring missing on the PBX: membership skipped/);
  });

  it("counts nested group membership from the group context", () => {
    const phone = `CN=Phone Users,OU=Groups,${BASE}`;
    const config = withConfig({ organisation: { extensionGroups: { from: "memberOf", groups: [{ dn: phone, nested: true }] } } });
    const ann = adUser("Ann");
    const tier2 = `CN=Tier 2,OU=Groups,${BASE}`;
    const inTier2 = { ...ann, attributes: { ...ann.attributes, memberof: [tier2] } };
    const mapped = mapUser(config, inTier2, true, { nestedGroups: new Map([[phone.toLowerCase(), new Set([tier2.toLowerCase()])]]) });
    expect(mapped.groups).toEqual(["Phone Users"]);
  });

  it("has new extensions copy their OU's template, the deepest OU winning", () => {
    const config = withConfig({
      organisation: {
        templateExtensions: [
          { ou: `OU=Staff,${BASE}`, extension: "900" },
          { ou: `OU=Sales,OU=Staff,${BASE}`, extension: "901" },
        ],
      },
    });
    const p = plan(config, [adUser("A", {}, { ou: "OU=Sales,OU=Staff" }), adUser("B", {}, { ou: "OU=Support,OU=Staff" })]);
    expect(p.items.map((i) => i.template)).toEqual(["901", "900"]);
    expect(p.items[0]?.reason).toMatch(/copies extension 901's settings/);
  });

  it("updates the avatar only when the photo's hash changes", async () => {
    const ann = { ...adUser("Ann"), photoHash: "aa" };
    const held = await synced(base, [ann]);
    expect(plan(base, [ann], held).items[0]?.action).toBe("unchanged");
    expect(plan(base, [{ ...ann, photoHash: "bb" }], held).items[0]?.changes).toEqual([{ field: "avatar", from: "aa", to: "bb" }]);
  });

  it("leaves the avatar alone with fields.avatar.sync false, whatever AD's photo is", async () => {
    const ann = { ...adUser("Ann"), photoHash: "aa" };
    const held = await synced(base, [ann]);
    const off = withConfig({ fields: { avatar: { sync: false } } });
    expect(plan(off, [{ ...ann, photoHash: "bb" }], held).items[0]?.action).toBe("unchanged");
    // Another field's change still updates the extension, and the avatar stays as it is.
    const renamed = plan(off, [{ ...ann, photoHash: "bb", attributes: { ...ann.attributes, title: ["Boss"] } }], held).items[0];
    expect(renamed?.changes).toEqual([{ field: "jobTitle", from: null, to: "Boss" }]);
    expect(renamed?.state?.avatarHash).toBe("aa");
  });
});

describe("login names", () => {
  it("keeps the names a user logs in with, lower-case, and follows a rename in AD", async () => {
    const ann = adUser("Ann Lee", { userPrincipalName: "Ann.Lee@Example.com", sAMAccountName: "ALee" });
    const first = await synced(base, [ann]);
    expect(first[0]).toMatchObject({ upn: "ann.lee@example.com", sam: "alee" });

    const renamed = { ...ann, attributes: { ...ann.attributes, userprincipalname: ["ann.smith@example.com"], samaccountname: ["asmith"] } };
    const p = plan(base, [renamed], first);
    const item = p.items[0];
    expect(item?.action).toBe("update");
    expect(item?.changes).toEqual([
      { field: "userPrincipalName", from: "ann.lee@example.com", to: "ann.smith@example.com" },
      { field: "sAMAccountName", from: "alee", to: "asmith" },
    ]);
    expect((await (await applied(p, first)).listExtensions())[0]).toMatchObject({ upn: "ann.smith@example.com", sam: "asmith" });
  });

  it("leaves a user without a UPN with a null one, and unchanged on the next run", async () => {
    const bob = adUser("Bob");
    const first = await synced(base, [bob]);
    expect(first[0]).toMatchObject({ upn: null, sam: "bob" });
    expect(plan(base, [bob], first).items[0]?.action).toBe("unchanged");
  });
});

describe("exclusions and deprovisioning", () => {
  it.each([
    ["test*", "sAMAccountName", ["test1", "TEST-ops"], ["atest", "contest1", "tes"]],
    ["*-svc", "sAMAccountName", ["print-svc", "-svc"], ["print-svc2", "svc"]],
    ["adm?n", "sAMAccountName", ["admin", "ADMYN"], ["admn", "admins", "xadmin"]],
    ["a.b", "sAMAccountName", ["a.b"], ["axb"]],
  ])("matches the exclusion glob %s against the whole %s, in any case", (pattern, attribute, excluded, kept) => {
    const config = withConfig({ scope: { exclude: [{ pattern, attribute }] } });
    const names = [...excluded, ...kept];
    const users = names.map((n) => adUser(n, { sAMAccountName: n }));
    const p = planSync({ config, users: desired(config, users), extensions: [], complete: true });
    const excludedNames = p.items.filter((i) => i.action === "excluded").map((i) => i.name);
    expect(excludedNames.sort()).toEqual([...excluded].sort());
    expect(p.items.find((i) => i.action === "excluded")?.reason).toBe(`${attribute} matches the exclusion ${JSON.stringify(pattern)}`);
  });

  it("matches a regex exclusion anywhere in the value, without regard to case, unless anchored", () => {
    const config = withConfig({
      scope: {
        exclude: [
          { pattern: "^svc-", match: "regex", reason: "service accounts" },
          { pattern: "temp", match: "regex" },
        ],
      },
    });
    const users = ["svc-print", "my-svc-x", "Contemporary", "plain"].map((n) => adUser(n, { sAMAccountName: n }));
    const p = planSync({ config, users: desired(config, users), extensions: [], complete: true });
    expect(p.items.filter((i) => i.action === "excluded").map((i) => [i.name, i.reason])).toEqual([
      ["Contemporary", 'sAMAccountName matches the exclusion "temp"'],
      ["svc-print", "service accounts"],
    ]);
  });

  it("lists excluded users with their reason, and not the rest of the directory", () => {
    const config = withConfig({ scope: { exclude: [{ pattern: "test*", reason: "test accounts" }] } });
    const users = [adUser("Test User"), adUser("Off", {}, { disabled: true }), adUser("Elsewhere")];
    const p = planSync({ config, users: desired(config, users, (u) => !u.dn.startsWith("CN=Elsewhere")), extensions: [], complete: true });
    expect(p.items.map((i) => [i.name, i.action, i.code, i.reason])).toEqual([
      ["Off", "excluded", "disabled", "the AD account is disabled"],
      ["Test User", "excluded", "excluded_by_pattern", "test accounts"],
    ]);
  });

  it.each([
    ["deleted in AD", "whenDeleted", "deleted_in_ad"],
    ["disabled in AD", "whenDisabled", "disabled_in_ad"],
    ["out of scope", "whenOutOfScope", "out_of_scope"],
  ] as const)("deprovisions a user %s as %s says", async (_, setting, code) => {
    const ann = adUser("Ann");
    const held = await synced(base, [
      ann,
      adUser("B1"),
      adUser("B2"),
      adUser("B3"),
      adUser("B4"),
      adUser("B5"),
      adUser("B6"),
      adUser("B7"),
      adUser("B8"),
      adUser("B9"),
      adUser("B10"),
    ]);
    const rest = held.filter((e) => e.guid !== ann.guid).map((e) => ({ guid: e.guid as string, dn: e.dn as string }));
    const others = rest.map((r) => ({ ...adUser("x", {}, { guid: r.guid }), dn: r.dn }));
    const after = setting === "whenDeleted" ? [] : setting === "whenDisabled" ? [{ ...ann, disabled: true }] : [ann];
    const scope = (u: DirectoryUser) => !(setting === "whenOutOfScope" && u.guid === ann.guid);
    for (const action of ["disable", "delete", "keep"] as const) {
      const config = withConfig({ deprovisioning: { [setting]: action } });
      const p = planSync({ config, users: desired(config, [...after, ...others], scope), extensions: held, complete: true });
      const item = p.items.find((i) => i.guid === ann.guid);
      expect(item, action).toMatchObject({ action: action === "keep" ? "unchanged" : action, code });
    }
  });

  it("disables or deletes nothing after an incomplete read, whatever the configuration says", async () => {
    const users = [adUser("Ann"), adUser("Bob")];
    const held = await synced(base, users);
    const config = withConfig({ deprovisioning: { whenDeleted: "delete", whenOutOfScope: "delete" } });
    const p = planSync({
      config,
      users: desired(config, [users[0] as DirectoryUser]),
      extensions: held,
      complete: false,
      incompleteReason: "the size limit was reached",
    });
    expect(p.summary.delete + p.summary.disable).toBe(0);
    expect(p.items.find((i) => i.name === "Bob")?.reason).toMatch(/incomplete \(the size limit was reached\)/);
  });

  it("archives voicemail and recordings before a delete", async () => {
    const ann = adUser("Ann");
    const held = await synced(base, [ann, ...Array.from({ length: 20 }, (_, i) => adUser(`P${i}`))]);
    const config = withConfig({ deprovisioning: { whenDeleted: "delete", archive: { extension: "999", recordings: false } } });
    const others = held
      .filter((e) => e.guid !== ann.guid)
      .map((e) => ({ ...adUser(e.displayName ?? "", {}, { guid: e.guid as string }), dn: e.dn as string }));
    const p = planSync({ config, users: desired(config, others), extensions: held, complete: true });
    const item = byAction(p, "delete")[0];
    expect(item).toMatchObject({ name: "Ann", archive: { extension: "999", voicemail: true, recordings: false } });
    expect(item?.reason).toMatch(/voicemail moved to extension 999/);
    expect((await applied(p, held)).archived).toEqual([{ from: item?.number, to: "999", voicemail: true, recordings: false }]);
  });

  it("enables again an extension sync disabled, but not one an administrator disabled", async () => {
    const ann = adUser("Ann");
    const [e] = await synced(base, [ann]);
    const bySync = { ...(e as Extension), enabled: false, disabledBySync: true };
    expect(plan(base, [ann], [bySync]).items[0]?.action).toBe("enable");
    expect(plan(base, [ann], [{ ...bySync, disabledBySync: false }]).items[0]?.action).toBe("unchanged");
  });

  it("holds the run for approval when deletes pass either safety limit", async () => {
    const users = Array.from({ length: 30 }, (_, i) => adUser(`U${String(i).padStart(2, "0")}`));
    const held = await synced(base, users);
    const remaining = (n: number) => users.slice(n);
    const config = (safety: NonNullable<SyncConfig["safety"]>) => withConfig({ deprovisioning: { whenDeleted: "delete" }, safety });
    expect(plan(config({ maxDeletesPerRun: 10, maxDeletePercent: 50 }), remaining(3), held).held).toBeUndefined();
    expect(plan(config({ maxDeletesPerRun: 2, maxDeletePercent: 50 }), remaining(3), held).held?.reason).toMatch(
      /3 deletes are more than the 2/,
    );
    expect(plan(config({ maxDeletesPerRun: 10, maxDeletePercent: 5 }), remaining(3), held).held?.reason).toMatch(/3 of 30 .*10%.*5%/);
    expect(plan(config({ maxDeletesPerRun: 0 }), remaining(29), held).held).toEqual({
      reason: "29 deletes are more than the 0 allowed without approval (safety.maxDeletesPerRun)",
      deletes: 29,
      limit: "0",
    });
  });

  it("holds nothing exactly at either safety limit, and holds one delete over it", async () => {
    const users = Array.from({ length: 30 }, (_, i) => adUser(`U${String(i).padStart(2, "0")}`));
    const held = await synced(base, users);
    const config = (safety: NonNullable<SyncConfig["safety"]>) => withConfig({ deprovisioning: { whenDeleted: "delete" }, safety });
    const deleting = (n: number, safety: NonNullable<SyncConfig["safety"]>) => {
      const p = plan(config(safety), users.slice(n), held);
      expect(p.summary.delete).toBe(n);
      return p.held;
    };
    // The count: 3 allowed, 3 deleted passes; 4 waits.
    expect(deleting(3, { maxDeletesPerRun: 3, maxDeletePercent: 100 })).toBeUndefined();
    expect(deleting(4, { maxDeletesPerRun: 3, maxDeletePercent: 100 })).toEqual({
      reason: "4 deletes are more than the 3 allowed without approval (safety.maxDeletesPerRun)",
      deletes: 4,
      limit: "3",
    });
    // The share: 3 of 30 is 10%, the limit, and passes; 4 of 30 (13%) waits.
    expect(deleting(3, { maxDeletesPerRun: 100, maxDeletePercent: 10 })).toBeUndefined();
    expect(deleting(4, { maxDeletesPerRun: 100, maxDeletePercent: 10 })).toEqual({
      reason: "4 of 30 synced extensions (13%) would be deleted, more than the 10% allowed without approval (safety.maxDeletePercent)",
      deletes: 4,
      limit: "10%",
    });
    // With the defaults (10 and 10%), 3 deletes of 30 go ahead.
    expect(plan(withConfig({ deprovisioning: { whenDeleted: "delete" } }), users.slice(3), held).held).toBeUndefined();
  });
});

type Arb<A> = A extends fc.Arbitrary<infer T> ? T : never;

describe("properties", () => {
  const OUS = ["OU=Sales,OU=Staff", "OU=Support,OU=Staff", "OU=Staff", "CN=Users"];
  const directory = fc.uniqueArray(
    fc.record({
      id: fc.integer({ min: 1, max: 60 }),
      ou: fc.constantFrom(...OUS),
      disabled: fc.boolean(),
      inScope: fc.boolean(),
      phone: fc.option(fc.constantFrom("1000", "1001", "1002", "1003", "x", "1050"), { nil: undefined }),
      title: fc.constantFrom("A", "B"),
      photo: fc.option(fc.constantFrom("p1", "p2"), { nil: undefined }),
    }),
    { selector: (u) => u.id, maxLength: 25 },
  );
  const configs = fc.record({
    source: fc.constantFrom("sequential", "attribute", "attributeThenSequential") as fc.Arbitrary<
      "sequential" | "attribute" | "attributeThenSequential"
    >,
    end: fc.constantFrom("1005", "1015", "1099"),
    whenDeleted: fc.constantFrom("delete", "disable", "keep") as fc.Arbitrary<"delete" | "disable" | "keep">,
    whenDisabled: fc.constantFrom("delete", "disable", "keep") as fc.Arbitrary<"delete" | "disable" | "keep">,
    whenOutOfScope: fc.constantFrom("delete", "disable", "keep") as fc.Arbitrary<"delete" | "disable" | "keep">,
    includeDisabled: fc.boolean(),
    titleSync: fc.boolean(),
  });
  const toConfig = (c: Arb<typeof configs>): SyncConfig =>
    withConfig({
      extensionNumbers: { source: c.source, attribute: "ipPhone", ranges: [{ start: "1000", end: c.end }] },
      deprovisioning: { whenDeleted: c.whenDeleted, whenDisabled: c.whenDisabled, whenOutOfScope: c.whenOutOfScope },
      scope: { includeDisabled: c.includeDisabled },
      fields: { jobTitle: { sync: c.titleSync } },
      safety: { maxDeletesPerRun: 1000, maxDeletePercent: 100 },
    });
  const toUsers = (d: Arb<typeof directory>) =>
    d.map((u) => ({
      user: {
        ...adUser(
          `User ${u.id}`,
          { ...(u.phone ? { ipPhone: u.phone } : {}), title: u.title },
          { ou: u.ou, disabled: u.disabled, guid: `guid-${u.id}` },
        ),
        ...(u.photo ? { photoHash: u.photo } : {}),
      },
      inScope: u.inScope,
    }));
  const inputFor = (config: SyncConfig, d: ReturnType<typeof toUsers>, extensions: Extension[], complete = true): PlanInput => ({
    config,
    users: d.map((x) => mapUser(config, x.user, x.inScope)),
    extensions,
    complete,
  });
  const manual = [manualExtension("1002", "Front desk")];
  const changes = (p: Plan) => p.items.filter(isOperation);

  it("applying a plan and planning again yields no changes", async () => {
    await fc.assert(
      fc.asyncProperty(configs, directory, directory, async (c, before, after) => {
        const config = toConfig(c);
        // The PBX as an earlier run over another state of the directory left it.
        const earlier = planSync(inputFor(config, toUsers(before), manual));
        const state = await (await applied(earlier, manual)).listExtensions();
        const first = planSync(inputFor(config, toUsers(after), state));
        const next = await (await applied(first, state)).listExtensions();
        const second = planSync(inputFor(config, toUsers(after), next));
        expect(changes(second)).toEqual([]);
        expect(second.groupsToCreate).toEqual([]);
        // Hand-made extensions come through untouched.
        expect(next.filter((e) => e.origin === "manual")).toEqual(manual);
      }),
      { numRuns: 300 },
    );
  });

  it("an incomplete read never yields a delete or a disable", async () => {
    await fc.assert(
      fc.asyncProperty(configs, directory, directory, async (c, before, after) => {
        const config = toConfig(c);
        const state = await (await applied(planSync(inputFor(config, toUsers(before), manual)), manual)).listExtensions();
        const p = planSync(inputFor(config, toUsers(after), state, false));
        expect(p.items.filter((i) => i.action === "delete" || i.action === "disable")).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });

  it("never gives one number to two extensions", async () => {
    await fc.assert(
      fc.asyncProperty(configs, directory, async (c, d) => {
        const p = planSync(inputFor(toConfig(c), toUsers(d), manual));
        const numbers = p.items.filter((i) => i.action === "create").map((i) => i.number);
        expect(new Set(numbers).size).toBe(numbers.length);
        expect(numbers).not.toContain("1002");
      }),
      { numRuns: 300 },
    );
  });
});

describe("a PBX target's capabilities", () => {
  const lacking: PbxCapabilities = { ...noCapabilities, fields: ["firstName", "lastName", "email"] };

  it("plans nothing the target cannot hold: no photo, department or group, created or compared", async () => {
    const ann = { ...adUser("Ann", {}, { ou: "OU=Support,OU=Staff" }), photoHash: "aa" };
    const config = base;
    const first = plan(config, [ann], [], { capabilities: lacking });
    expect(first.departmentsToCreate).toEqual([]);
    expect(first.groupsToCreate).toEqual([]);
    expect(first.items[0]?.state).toMatchObject({ avatarHash: null, departmentPath: null, groups: [] });
    // What the target holds after that run: a new photo in AD changes nothing there.
    const held = (await applied(first, [])).listExtensions();
    const again = plan(config, [{ ...ann, photoHash: "bb" }], await held, { capabilities: lacking });
    expect(again.items.map((i) => i.action)).toEqual(["unchanged"]);
  });

  it("neither writes nor compares a field the target does not store, and keeps a number it cannot change", async () => {
    const ann = adUser("Ann", { title: "Engineer", telephoneNumber: "4711" });
    const config = withConfig({ extensionNumbers: { source: "attribute", attribute: "telephoneNumber" } });
    const first = plan(config, [ann], [], { capabilities: lacking });
    expect(first.items[0]?.state).toMatchObject({ firstName: "Ann", jobTitle: null, displayName: null });
    const held = await (await applied(first, [])).listExtensions();
    // AD renumbers Ann and retitles her: the target keeps 4711, and the title is not its business.
    const moved = { ...ann, attributes: { ...ann.attributes, telephonenumber: ["4712"], title: ["Boss"] } };
    const again = plan(config, [moved], held, { capabilities: lacking });
    expect(again.items).toMatchObject([
      {
        action: "unchanged",
        number: "4711",
        reason: expect.stringMatching(/cannot change an extension's number: it stays 4711 \(AD gives 4712\)/),
      },
    ]);
  });

  it("reports a number change as a conflict, or deletes and creates the extension again, as the target's policy says", async () => {
    const ann = adUser("Ann", { telephoneNumber: "4711" });
    const config = withConfig({
      extensionNumbers: { source: "attribute", attribute: "telephoneNumber" },
      deprovisioning: { archive: { extension: "0999" } },
    });
    const held = await synced(config, [ann]);
    const renumbered = { ...ann, attributes: { ...ann.attributes, telephonenumber: ["4712"], sn: ["Archer"] } };

    const conflict = plan(config, [renumbered], held, { capabilities: { ...lacking, numberChange: "conflict" } });
    expect(conflict.items).toMatchObject([{ action: "conflict", number: "4711", code: "number_change_unsupported" }]);
    expect(conflict.items[0]?.reason).toMatch(/AD gives number 4712, and this PBX cannot change extension 4711's number/);

    const recreating: PbxCapabilities = { ...lacking, numberChange: "recreate", archiveOnDelete: true };
    const recreate = plan(config, [renumbered], held, { capabilities: recreating });
    expect(recreate.items).toMatchObject([
      { action: "recreate", number: "4711", state: { number: "4712", lastName: "Archer" }, archive: { extension: "0999" } },
    ]);
    expect(recreate.items[0]?.reason).toMatch(
      /extension 4711 is deleted, its voicemail and recordings moved to extension 0999, and created again as 4712/,
    );
    const pbx = await applied(recreate, held);
    expect((await pbx.listExtensions()).map((e) => [e.number, e.guid, e.lastName])).toEqual([["4712", ann.guid, "Archer"]]);
    // A recreate deletes, and counts against the delete limits.
    const tight = withConfig({ ...config, safety: { maxDeletesPerRun: 0 } });
    expect(plan(tight, [renumbered], held, { capabilities: recreating }).held).toMatchObject({ deletes: 1 });
  });

  it("says a leaver's extension is kept where the target cannot disable it, and deletes without an archive", async () => {
    const ann = adUser("Ann");
    const held = await synced(base, [ann]);
    const kept = plan(base, [], held, { capabilities: lacking, present: new Set() });
    expect(kept.items).toMatchObject([
      { action: "unchanged", reason: expect.stringMatching(/cannot disable an extension, so it is kept/) },
    ]);
    const deleting = withConfig({ deprovisioning: { whenDeleted: "delete", archive: { extension: "0999" } } });
    const deleted = plan(deleting, [], held, { capabilities: lacking, present: new Set() });
    expect(deleted.items).toMatchObject([{ action: "delete" }]);
    expect(deleted.items[0]?.archive).toBeUndefined();
    expect(deleted.items[0]?.reason).not.toMatch(/moved/);
  });
});

describe("adopting hand-made extensions (pbx.adopt)", () => {
  const adopting = (adopt: "email" | "number"): SyncConfig =>
    withConfig({
      extensionNumbers: { source: "attributeThenSequential", attribute: "ipPhone", ranges: [{ start: "1000", end: "1999" }] },
      pbx: { kind: "yeastar", baseUrl: "https://pbx.example.com", clientId: "c", secret: { source: "stored" }, adopt },
    });
  const handMade = (number: string, email: string | null) => blankExtension(number, { firstName: "Old", email });

  it("takes over the hand-made extension with the user's e-mail address, keeping its number", async () => {
    const ann = adUser("Ann Archer", { mail: "Ann@Example.com" });
    const p = plan(adopting("email"), [ann], [handMade("1500", "ann@example.com")]);
    expect(p.items).toMatchObject([
      { action: "adopt", number: "1500", reason: expect.stringMatching(/takes over the hand-made extension 1500 \(same e-mail address/) },
    ]);
    expect(p.items[0]?.state).toMatchObject({ number: "1500", firstName: "Ann" });
    const pbx = await applied(p, [handMade("1500", "ann@example.com")]);
    expect(await pbx.listExtensions()).toMatchObject([{ number: "1500", origin: "ad", guid: ann.guid, firstName: "Ann" }]);
    // Synced from then on: the next run has nothing to do.
    expect(plan(adopting("email"), [ann], await pbx.listExtensions()).items.map((i) => i.action)).toEqual(["unchanged"]);
  });

  it("takes over by number, and neither when two users claim one extension or adoption is off", () => {
    const bob = adUser("Bob", { ipPhone: "1600" });
    expect(plan(adopting("number"), [bob], [handMade("1600", null)]).items[0]).toMatchObject({ action: "adopt", number: "1600" });
    const twins = [adUser("Cy", { mail: "x@example.com" }), adUser("Cyd", { mail: "x@example.com" })];
    expect(plan(adopting("email"), twins, [handMade("1700", "x@example.com")]).items.map((i) => i.action)).toEqual(["create", "create"]);
    const { pbx: _pbx, ...off } = adopting("number");
    expect(plan(off, [bob], [handMade("1600", null)]).items[0]).toMatchObject({
      action: "conflict",
    });
  });
});
