import { describe, expect, it } from "vitest";
import type { SyncConfig } from "../schema/generated/config.ts";
import type { SearchCompleteness, WireEntry } from "../schema/src/agent-protocol.ts";
import { guidFromBytes } from "./directory-user.ts";
import { readDirectory, type SearchStream, type StagedRead } from "./read-directory.ts";

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

type Kind = "scope" | "lookup" | "nested";
type Answer = { entries: readonly WireEntry[]; complete?: boolean; reason?: string };

/** A DC that answers each kind of search as told, and records what it was asked. */
function dc(answers: Partial<Record<Kind, Answer>>) {
  const asked: Array<{ kind: Kind; filter: string; attributes: string[]; binaryAttributes: string[] }> = [];
  const search: SearchStream = async (spec, page): Promise<SearchCompleteness> => {
    const kind: Kind = spec.filter.includes("objectGUID=")
      ? "lookup"
      : spec.filter.includes("1.2.840.113556.1.4.1941")
        ? "nested"
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
  const photos: Array<number[] | undefined> = [];
  const present: string[] = [];
  const warnings: string[] = [];
  const result: StagedRead = await readDirectory(config, target, known.map(guidOf), search, {
    user: (guid, data, photo) => {
      staged.push(guid);
      photos.push(photo === undefined ? undefined : [...photo]);
      expect(JSON.parse(data)).toMatchObject({ guid });
    },
    present: (guid, _dn, name, disabled) => present.push(`${name}${disabled ? " (disabled)" : ""}:${guid}`),
    progress: () => {},
    warn: (m) => warnings.push(m),
  });
  return { result, asked, staged, photos, present, warnings };
}

const base: SyncConfig = { connection };
const nested: SyncConfig = { ...base, organisation: { extensionGroups: { from: "memberOf", groups: [{ dn: GROUP, nested: true }] } } };

describe("readDirectory", () => {
  it("is complete when every search is, and looks up only synced users the scope did not return", async () => {
    const { result, asked, staged, present } = await read(base, [1, 2, 3], {
      scope: { entries: [entry(1), entry(2)] },
      lookup: { entries: [entry(3, { userAccountControl: ["514"] })] },
    });
    expect(result).toEqual({ complete: true, inScope: 2, present: 1, skipped: 0 });
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
    ["the nested-group search", nested, { nested: { entries: [], complete: false, reason: "the size limit of 5 entries was reached" } }],
    ["the scope's search", base, { scope: { entries: [entry(1)], complete: false, reason: "the size limit of 5 entries was reached" } }],
  ] as const)("is incomplete, with the reason, when %s is", async (_what, config, answers) => {
    const { result } = await read(config, [1, 2], { scope: { entries: [entry(1)] }, ...answers });
    expect(result).toMatchObject({ complete: false, reason: "the size limit of 5 entries was reached" });
  });

  it("keeps the first reason when several searches are incomplete", async () => {
    const { result } = await read(nested, [1, 2], {
      nested: { entries: [], complete: false, reason: "first" },
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
});
