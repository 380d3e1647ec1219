import { describe, expect, it } from "vitest";
import type { SyncConfig } from "../schema/generated/config.ts";
import type { SearchCompleteness, WireEntry } from "../schema/src/agent-protocol.ts";
import { guidFromBytes } from "./directory-user.ts";
import { mapUser } from "./map-user.ts";
import { neededAttributes, readDirectory, type SearchStream, type StagedRead, usersForPlan } from "./read-directory.ts";

const BASE = "DC=example,DC=com";
const GROUP = `CN=Phone Users,OU=Groups,${BASE}`;
const connection: NonNullable<SyncConfig["connection"]> = {
  domainControllers: [{ host: "dc1" }],
  bindUsername: "svc",
  bindPassword: { source: "stored" },
  baseDn: BASE,
};
const target = { connection };

const guidBytes = (i: number) => {
  const bytes = new Uint8Array(16);
  bytes[15] = i;
  return bytes;
};
const guidOf = (i: number) => guidFromBytes(guidBytes(i));
const entry = (i: number, extra: Record<string, string[]> = {}): WireEntry => ({
  dn: `CN=User ${i},OU=Staff,${BASE}`,
  attributes: { objectGUID: [Buffer.from(guidBytes(i)).toString("base64")], cn: [`User ${i}`], userAccountControl: ["512"], ...extra },
  binary: ["objectGUID"],
});

type Kind = "scope" | "lookup" | "groups";
type Answer = { entries: readonly WireEntry[]; complete?: boolean; reason?: string };

/** A DC that answers each kind of search as told, and records what it was asked. */
function dc(answers: Partial<Record<Kind, Answer>>) {
  const asked: Array<{ kind: Kind; filter: string; attributes: string[]; binaryAttributes: string[] }> = [];
  const search: SearchStream = async (spec, page): Promise<SearchCompleteness> => {
    // "groups": the groups inside a nested extension group.
    const kind: Kind = spec.filter.includes("objectGUID=")
      ? "lookup"
      : spec.filter.startsWith("(&(objectClass=group)")
        ? "groups"
        : "scope";
    asked.push({ kind, filter: spec.filter, attributes: spec.attributes, binaryAttributes: spec.binaryAttributes ?? [] });
    const answer = answers[kind] ?? { entries: [] };
    if (answer.entries.length > 0) await page([...answer.entries]);
    const complete = answer.complete ?? true;
    return { complete, pages: 1, entries: answer.entries.length, ...(complete ? {} : { reason: answer.reason ?? "cut short" }) };
  };
  return { search, asked };
}

async function read(config: SyncConfig, known: number[], answers: Partial<Record<Kind, Answer>>) {
  const { search, asked } = dc(answers);
  const staged: string[] = [];
  const data: Array<Record<string, unknown>> = [];
  const progress: Array<{ inScope: number; present: number }> = [];
  const photos: Array<number[] | undefined> = [];
  const present: string[] = [];
  const warnings: string[] = [];
  const result: StagedRead = await readDirectory(config, target, known.map(guidOf), search, {
    user: (user, json, photo) => {
      staged.push(user.guid);
      photos.push(photo === undefined ? undefined : [...photo]);
      data.push(JSON.parse(json));
    },
    present: (guid, _dn, name, disabled) => present.push(`${name}${disabled ? " (disabled)" : ""}:${guid}`),
    progress: (p) => progress.push(p),
    warn: (m) => warnings.push(m),
    notStaged: (guids) => guids.filter((g) => !staged.includes(g)),
  });
  return { result, asked, staged, data, photos, present, progress, warnings };
}

const base: SyncConfig = { connection };
const nested: SyncConfig = { ...base, organisation: { extensionGroups: { from: "memberOf", groups: [{ dn: GROUP, nested: true }] } } };

describe("readDirectory", () => {
  it("is complete when every search is, and looks up only synced users the scope did not return", async () => {
    const { result, asked, staged, present } = await read(base, [1, 2, 3], {
      scope: { entries: [entry(1), entry(2)] },
      lookup: { entries: [entry(3, { userAccountControl: ["514"] })] },
    });
    // These searches say nothing of the DC that answered, as an agent before positions did.
    expect(result).toEqual({
      complete: true,
      inScope: 2,
      present: 1,
      skipped: 0,
      positionProblem: "the agent does not say which domain controller answered (an agent older than this server)",
    });
    expect(staged).toEqual([guidOf(1), guidOf(2)]);
    expect(present).toEqual([`User 3 (disabled):${guidOf(3)}`]);
    expect(asked.map((a) => a.kind)).toEqual(["scope", "lookup"]);
    // The GUID is a value in the filter, escaped byte by byte.
    expect(asked[1]?.filter).toContain("(objectGUID=\\00\\00\\00\\00\\00\\00\\00\\00\\00\\00\\00\\00\\00\\00\\00\\03)");
  });

  it("asks nothing more when the scope returned every synced user", async () => {
    const { asked } = await read(base, [1], { scope: { entries: [entry(1)] } });
    expect(asked.map((a) => a.kind)).toEqual(["scope"]);
  });

  it.each([
    [
      "the lookup of synced users outside the scope",
      base,
      { lookup: { entries: [], complete: false, reason: "the size limit of 5 entries was reached" } },
    ],
    ["the nested-group search", nested, { groups: { entries: [], complete: false, reason: "the size limit of 5 entries was reached" } }],
    ["the scope's search", base, { scope: { entries: [entry(1)], complete: false, reason: "the size limit of 5 entries was reached" } }],
  ] as const)("is incomplete, with the reason, when %s is", async (_what, config, answers) => {
    const { result } = await read(config, [1, 2], { scope: { entries: [entry(1)] }, ...answers });
    expect(result).toMatchObject({ complete: false, reason: "the size limit of 5 entries was reached" });
  });

  it("keeps the first reason when several searches are incomplete", async () => {
    const { result } = await read(nested, [1, 2], {
      groups: { entries: [], complete: false, reason: "first" },
      scope: { entries: [entry(1)], complete: false, reason: "second" },
      lookup: { entries: [], complete: false, reason: "third" },
    });
    expect(result).toMatchObject({ complete: false, reason: "first" });
  });

  it("looks synced users up in batches of 100 GUIDs", async () => {
    const known = Array.from({ length: 250 }, (_, i) => i + 1);
    const { asked } = await read(base, known, { scope: { entries: [] } });
    const lookups = asked.filter((a) => a.kind === "lookup");
    expect(lookups.map((a) => a.filter.match(/objectGUID=/g)?.length)).toEqual([100, 100, 50]);
  });

  it("reads the photo only while the avatar is synced", async () => {
    const withPhoto = entry(1, { thumbnailPhoto: [Buffer.from([1, 2, 3]).toString("base64")] });
    withPhoto.binary = ["objectGUID", "thumbnailPhoto"];
    const on = await read(base, [], { scope: { entries: [withPhoto] } });
    expect(on.asked[0]?.attributes).toContain("thumbnailPhoto");
    expect(on.asked[0]?.binaryAttributes).toEqual(["thumbnailPhoto"]);
    expect(on.photos).toEqual([[1, 2, 3]]);

    // Switched off, it is not asked for, and a photo the DC sends all the same is dropped.
    const off = await read({ ...base, fields: { avatar: { sync: false } } }, [], { scope: { entries: [withPhoto] } });
    expect(off.asked[0]?.attributes).not.toContain("thumbnailPhoto");
    expect(off.asked[0]?.binaryAttributes).toEqual([]);
    expect(off.photos).toEqual([undefined]);
  });

  it("skips an entry without an objectGUID, and says so", async () => {
    const broken: WireEntry = { dn: `CN=Ghost,${BASE}`, attributes: { cn: ["Ghost"] } };
    const { result, warnings } = await read(base, [], { scope: { entries: [broken, entry(1)] } });
    expect(result).toMatchObject({ complete: true, inScope: 1, skipped: 1 });
    expect(warnings).toEqual([`CN=Ghost,${BASE} has no objectGUID and was skipped`]);
  });

  it("asks for the scope's users with the scope's filter, and for synced users outside it by objectGUID, with the attributes each needs", async () => {
    const { asked, present, progress } = await read(base, [1, 2], {
      scope: { entries: [entry(1)] },
      lookup: {
        entries: [
          {
            dn: `CN=Two,${BASE}`,
            attributes: { objectGUID: [Buffer.from(guidBytes(2)).toString("base64")], cn: ["Two"] },
            binary: ["objectGUID"],
          },
        ],
      },
    });
    expect(asked[0]).toMatchObject({ kind: "scope", filter: "(&(&(objectCategory=person)(objectClass=user)))" });
    expect(asked[1]?.filter).toMatch(/^\(&\(&\(objectCategory=person\)\(objectClass=user\)\)\(\|\(objectGUID=[^)]+\)\)\)$/);
    expect(asked[1]?.attributes).toEqual(["objectGUID", "userAccountControl", "displayName", "cn"]);
    expect(asked[1]?.binaryAttributes).toEqual([]);
    // Named by displayName, else cn, else the DN.
    expect(present).toEqual([`Two:${guidOf(2)}`]);
    expect(progress).toEqual([
      { inScope: 1, present: 0 },
      { inScope: 1, present: 1 },
    ]);
  });

  it("names a user found outside the scope by the DN when AD gives no name, and skips one without an objectGUID", async () => {
    const { present } = await read(base, [2, 3], {
      scope: { entries: [] },
      lookup: {
        entries: [
          { dn: `CN=Nameless,${BASE}`, attributes: { objectGUID: [Buffer.from(guidBytes(2)).toString("base64")] }, binary: ["objectGUID"] },
          { dn: "CN=No GUID", attributes: { cn: ["x"] } },
        ],
      },
    });
    expect(present).toEqual([`CN=Nameless,${BASE}:${guidOf(2)}`]);
  });

  it("searches nested membership only for groups marked nested, and counts it in the users' groups", async () => {
    const other = `CN=Sales Team,OU=Groups,${BASE}`;
    const config: SyncConfig = {
      ...base,
      organisation: { extensionGroups: { from: "memberOf", groups: [{ dn: GROUP, nested: true }, { dn: other }] } },
    };
    // Tier 2 is inside Phone Users; User 2 is directly in Tier 2, User 1 in no group.
    const tier2 = `CN=Tier 2,OU=Groups,${BASE}`;
    const { asked, data } = await read(config, [], {
      scope: { entries: [entry(1), entry(2, { memberOf: [tier2] })] },
      groups: { entries: [{ dn: tier2, attributes: {} }] },
    });
    expect(asked.map((a) => a.kind)).toEqual(["groups", "groups", "scope"]);
    expect(asked[0]).toMatchObject({ filter: `(&(objectClass=group)(|(memberOf=${GROUP})))`, attributes: ["objectGUID"] });
    expect(asked[1]).toMatchObject({ filter: `(&(objectClass=group)(|(memberOf=${tier2})))` });
    expect(data.map((d) => [d.name, d.groups])).toEqual([
      ["User 1", []],
      ["User 2", ["Phone Users"]],
    ]);
  });

  it("follows nested groups level by level from the domain's root, through a cycle, and counts users directly in any", async () => {
    // Phone Users holds Sales (outside the base DN's OU, as groups often are), Sales holds EMEA
    // and, back, Phone Users.
    const sales = `CN=Sales,OU=Other Groups,${BASE}`;
    const emea = `CN=EMEA,OU=Other Groups,${BASE}`;
    const inside: Record<string, string[]> = { [GROUP]: [sales], [sales]: [emea, GROUP], [emea]: [] };
    const asked: Array<{ base: string; filter: string }> = [];
    const search: SearchStream = async (spec, page): Promise<SearchCompleteness> => {
      asked.push({ base: spec.base, filter: spec.filter });
      const named = [...spec.filter.matchAll(/\(memberOf=([^)]*)\)/g)].map((m) => m[1] as string);
      const entries = spec.filter.startsWith("(&(objectClass=group)")
        ? named.flatMap((g) => inside[g] ?? []).map((dn) => ({ dn, attributes: {} }))
        : [entry(1), entry(3, { memberOf: [emea] })];
      if (entries.length > 0) await page(entries);
      return { complete: true, pages: 1, entries: entries.length };
    };
    const staged: Array<Record<string, unknown>> = [];
    const config: SyncConfig = { ...base, organisation: { extensionGroups: { from: "memberOf", groups: [{ dn: GROUP, nested: true }] } } };
    await readDirectory(config, { connection: { ...connection, baseDn: `OU=Staff,${BASE}` } }, [], search, {
      user: (_user, json) => staged.push(JSON.parse(json) as Record<string, unknown>),
      present: () => {},
      progress: () => {},
      warn: () => {},
      notStaged: (guids) => guids,
    });
    expect(asked.slice(0, 3)).toEqual([
      { base: BASE, filter: `(&(objectClass=group)(|(memberOf=${GROUP})))` },
      { base: BASE, filter: `(&(objectClass=group)(|(memberOf=${sales})))` },
      { base: BASE, filter: `(&(objectClass=group)(|(memberOf=${emea})))` },
    ]);
    // Then only the scope: each user's own memberOf says the rest.
    expect(asked.slice(3).map((a) => a.filter)).toEqual([expect.stringContaining("(objectCategory=person)")]);
    expect(staged.map((u) => [u.name, u.groups])).toEqual([
      ["User 1", []],
      ["User 3", ["Phone Users"]],
    ]);
  });

  it("walks several nested groups at once, each to its own groups", async () => {
    // Ring A holds Team A; Ring B holds Team B, which holds Team B2. Each search waits until
    // both walks have one in flight, so walking them one after the other never ends.
    const ringA = `CN=Ring A,OU=Groups,${BASE}`;
    const ringB = `CN=Ring B,OU=Groups,${BASE}`;
    const teamA = `CN=Team A,OU=Groups,${BASE}`;
    const teamB = `CN=Team B,OU=Groups,${BASE}`;
    const teamB2 = `CN=Team B2,OU=Groups,${BASE}`;
    const inside: Record<string, string[]> = { [ringA]: [teamA], [ringB]: [teamB], [teamB]: [teamB2] };
    let inFlight = 0;
    let bothAsked = () => {};
    const both = new Promise<void>((resolve) => {
      bothAsked = resolve;
    });
    const search: SearchStream = async (spec, page): Promise<SearchCompleteness> => {
      if (spec.filter.startsWith("(&(objectClass=group)")) {
        if (++inFlight === 2) bothAsked();
        await Promise.race([both, new Promise((_, reject) => setTimeout(() => reject(new Error("the walks went one at a time")), 2000))]);
        const named = [...spec.filter.matchAll(/\(memberOf=([^)]*)\)/g)].map((m) => m[1] as string);
        const entries = named.flatMap((g) => inside[g] ?? []).map((dn) => ({ dn, attributes: {} }));
        if (entries.length > 0) await page(entries);
        return { complete: true, pages: 1, entries: entries.length };
      }
      const users = [entry(1, { memberOf: [teamA] }), entry(2, { memberOf: [teamB2] }), entry(3)];
      await page(users);
      return { complete: true, pages: 1, entries: users.length };
    };
    const staged: Array<Record<string, unknown>> = [];
    const groups = [
      { dn: ringA, nested: true },
      { dn: ringB, nested: true },
    ];
    await readDirectory({ ...base, organisation: { extensionGroups: { from: "memberOf", groups } } }, target, [], search, {
      user: (_user, json) => staged.push(JSON.parse(json) as Record<string, unknown>),
      present: () => {},
      progress: () => {},
      warn: () => {},
      notStaged: (guids) => guids,
    });
    expect(staged.map((u) => [u.name, u.groups])).toEqual([
      ["User 1", ["Ring A"]],
      ["User 2", ["Ring B"]],
      ["User 3", []],
    ]);
  });

  it("escapes a nested group's DN where the filter is assembled", async () => {
    const odd = `CN=R&D (EMEA)*,OU=Groups,${BASE}`;
    const { asked } = await read(
      { ...base, organisation: { extensionGroups: { from: "memberOf", groups: [{ dn: odd, nested: true }] } } },
      [],
      {},
    );
    expect(asked[0]?.filter).toBe(`(&(objectClass=group)(|(memberOf=CN=R&D \\28EMEA\\29\\2a,OU=Groups,${BASE})))`);
  });
});

describe("neededAttributes", () => {
  it("asks for identity, login names and every mapped field by default", () => {
    expect(neededAttributes(base).sort()).toEqual(
      [
        "objectGUID",
        "userAccountControl",
        "cn",
        "sAMAccountName",
        "userPrincipalName",
        "displayName",
        "givenName",
        "sn",
        "mail",
        "mobile",
        "telephoneNumber",
        "department",
        "title",
        "thumbnailPhoto",
      ].sort(),
    );
  });

  it("adds what numbers, exclusions, departments and groups read, and drops the photo when the avatar is off", () => {
    const config: SyncConfig = {
      ...base,
      fields: { avatar: { sync: false }, email: { attribute: "proxyAddresses" } },
      extensionNumbers: { source: "attribute", attribute: "ipPhone" },
      scope: { exclude: [{ pattern: "x*", attribute: "employeeType" }, { pattern: "svc*" }] },
      organisation: {
        departments: { from: "attribute", attribute: "division" },
        extensionGroups: { from: "attribute", attribute: "extensionAttribute5" },
      },
    };
    const names = neededAttributes(config);
    expect(names).toEqual(
      expect.arrayContaining(["ipPhone", "employeeType", "sAMAccountName", "division", "extensionAttribute5", "proxyAddresses"]),
    );
    expect(names).not.toContain("thumbnailPhoto");
    expect(names).not.toContain("mail");
    expect(names).not.toContain("memberOf");
    expect(new Set(names).size).toBe(names.length);
    expect(
      neededAttributes({ ...base, organisation: { departments: { from: "attribute" }, extensionGroups: { from: "memberOf" } } }),
    ).toEqual(expect.arrayContaining(["department", "memberOf"]));
  });
});

describe("usersForPlan", () => {
  it("adds synced users found outside the scope as out of scope, once, and lists everyone AD still has", () => {
    const inScope = [mapUser(base, { guid: guidOf(1), dn: `CN=User 1,${BASE}`, disabled: false, attributes: {} }, true)];
    const outside = [
      { guid: guidOf(2), dn: `CN=User 2,OU=Elsewhere,${BASE}`, name: "User 2", disabled: true },
      { guid: guidOf(1), dn: `CN=User 1,${BASE}`, name: "User 1", disabled: false },
    ];
    const { users, present } = usersForPlan(base, inScope, outside);
    expect(users.map((u) => [u.guid, u.name, u.disabled, u.excluded?.code])).toEqual([
      [guidOf(1), `CN=User 1,${BASE}`, false, undefined],
      [guidOf(2), "User 2", true, "out_of_scope"],
    ]);
    expect([...present].sort()).toEqual([guidOf(1), guidOf(2)].sort());
  });
});
