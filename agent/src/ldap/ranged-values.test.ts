import { describe, expect, it } from "vitest";
import { type FetchRange, parseRangedType, pickChunk, type RangeChunk, readRemainingRanges } from "./ranged-values.ts";

const values = (from: number, to: number): Buffer[] => Array.from({ length: to - from + 1 }, (_, i) => Buffer.from(`CN=u${from + i}`));

// A directory that holds `total` values of member and returns at most `max` per request, as
// AD does with MaxValRange.
function server(total: number, max: number): { fetch: FetchRange; requests: string[] } {
  const requests: string[] = [];
  const fetch: FetchRange = async (request) => {
    requests.push(request);
    const range = parseRangedType(request);
    if (range === undefined || range.attribute !== "member") return [];
    const low = range.low;
    if (low >= total) return [{ attribute: "member", low, high: undefined, values: [] }];
    const last = Math.min(total - 1, low + max - 1);
    return [{ attribute: "member", low, high: last === total - 1 ? undefined : last, values: values(low, last) }];
  };
  return { fetch, requests };
}

describe("parseRangedType", () => {
  it.each([
    ["member;range=0-1499", { attribute: "member", low: 0, high: 1499 }],
    ["member;range=1500-*", { attribute: "member", low: 1500, high: undefined }],
    ["Member;Range=3000-4499", { attribute: "Member", low: 3000, high: 4499 }],
    ["msDS-MembersForAzRole;range=0-*", { attribute: "msDS-MembersForAzRole", low: 0, high: undefined }],
  ])("%s", (type, expected) => {
    expect(parseRangedType(type)).toEqual(expected);
  });

  it.each(["member", "member;binary", "member;range=", "member;range=a-b", ";range=0-1"])("%s is not ranged", (type) => {
    expect(parseRangedType(type)).toBeUndefined();
  });
});

describe("pickChunk", () => {
  it("prefers Samba's open-ended chunk over the empty one it sends beside it", () => {
    const real: RangeChunk = { attribute: "member", low: 6, high: undefined, values: values(6, 6) };
    const empty: RangeChunk = { attribute: "member", low: 6, high: 10, values: [] };
    expect(pickChunk([empty, real])).toBe(real);
    expect(pickChunk([real, empty])).toBe(real);
  });

  it("takes the chunk that reaches furthest", () => {
    const a: RangeChunk = { attribute: "member", low: 0, high: 1, values: values(0, 1) };
    const b: RangeChunk = { attribute: "member", low: 0, high: 4, values: values(0, 4) };
    expect(pickChunk([a, b])).toBe(b);
    expect(pickChunk([])).toBeUndefined();
  });
});

describe("readRemainingRanges", () => {
  it("reads a 3700-member group in AD's 1500-value windows", async () => {
    const { fetch, requests } = server(3700, 1500);
    const first: RangeChunk = { attribute: "member", low: 0, high: 1499, values: values(0, 1499) };
    const all = await readRemainingRanges(first, fetch);
    expect(all.complete).toBe(true);
    expect(requests).toEqual(["member;range=1500-*", "member;range=3000-*"]);
    expect(all.values.map(String)).toEqual(values(0, 3699).map(String));
  });

  it("stops at once when the first chunk is already the last", async () => {
    const { fetch, requests } = server(10, 1500);
    const all = await readRemainingRanges({ attribute: "member", low: 0, high: undefined, values: values(0, 9) }, fetch);
    expect(all).toEqual({ values: values(0, 9), complete: true });
    expect(requests).toEqual([]);
  });

  it("ends on a final empty open-ended range (the values ran out exactly at a window's end)", async () => {
    const { fetch } = server(3000, 1500);
    const all = await readRemainingRanges({ attribute: "member", low: 0, high: 1499, values: values(0, 1499) }, fetch);
    expect(all.complete).toBe(true);
    expect(all.values).toHaveLength(3000);
  });

  it("is incomplete, not guessed, when the server stops answering with the next range", async () => {
    const all = await readRemainingRanges({ attribute: "member", low: 0, high: 1499, values: values(0, 1499) }, async () => []);
    expect(all.complete).toBe(false);
    expect(all.reason).toMatch(/no values of member from 1500 on/);
    expect(all.values).toHaveLength(1500);
  });

  it("ignores chunks for another start and is incomplete on an empty closed range", async () => {
    const wrongStart = await readRemainingRanges({ attribute: "member", low: 0, high: 1, values: values(0, 1) }, async () => [
      { attribute: "member", low: 0, high: undefined, values: values(0, 5) },
    ]);
    expect(wrongStart.complete).toBe(false);
    const empty = await readRemainingRanges({ attribute: "member", low: 0, high: 1, values: values(0, 1) }, async () => [
      { attribute: "member", low: 2, high: 1, values: [] },
    ]);
    expect(empty.complete).toBe(false);
  });
});
