import { describe, expect, it } from "vitest";
import { frameTargetBytes, maxMessageBytes, maxPageEntries, type WireEntry } from "../../schema/src/agent-protocol.ts";
import { EntryTooLargeError, pageFrames } from "./page-frames.ts";

const entry = (i: number, photoBytes = 0): WireEntry => ({
  dn: `CN=User ${i},DC=example,DC=com`,
  attributes: { cn: [`User ${i}`], ...(photoBytes > 0 ? { thumbnailPhoto: ["A".repeat(photoBytes)] } : {}) },
});
const frameBytes = (entries: WireEntry[]) =>
  Buffer.byteLength(JSON.stringify({ type: "page", id: "00000000-0000-4000-8000-000000000000", entries }));

describe("pageFrames", () => {
  it("keeps a small page whole", () => {
    const page = [entry(1), entry(2)];
    expect(pageFrames(page)).toEqual([page]);
    expect(pageFrames([])).toEqual([]);
  });

  it("splits a page of large entries into messages under the byte limit, in order, losing none", () => {
    // 1,000 users with 100 KB photos: about 100 MB, as one DC page of them would be.
    const page = Array.from({ length: 1000 }, (_, i) => entry(i, 100_000));
    const frames = pageFrames(page);
    expect(frames.length).toBeGreaterThan(20);
    for (const f of frames) expect(frameBytes(f)).toBeLessThanOrEqual(maxMessageBytes);
    expect(frames.flat()).toEqual(page);
  });

  it("splits by entry count too", () => {
    const page = Array.from({ length: maxPageEntries * 2 + 1 }, (_, i) => entry(i));
    expect(pageFrames(page, { bytes: maxMessageBytes, entries: maxPageEntries }).map((f) => f.length)).toEqual([
      maxPageEntries,
      maxPageEntries,
      1,
    ]);
  });

  it("aims each message at the target size, so the worker's isolate never holds one as a large object", () => {
    // A DC's page of 1,000 users of some 300 bytes each, and among them two with 200 KB photos.
    const page = Array.from({ length: 1000 }, (_, i) => entry(i, i === 10 || i === 500 ? 200_000 : 250));
    const frames = pageFrames(page);
    expect(frames.flat()).toEqual(page);
    const large = frames.filter((f) => frameBytes(f) > frameTargetBytes);
    // Only the photos' entries go over it, each alone; every other message is at most the target.
    expect(large.map((f) => f.map((e) => e.dn))).toEqual([[page[10]?.dn], [page[500]?.dn]]);
    expect(frames.length).toBeGreaterThan(5);
    // Not split further than the target asks: no two neighbouring small messages would fit in one.
    const small = frames.filter((f) => frameBytes(f) <= frameTargetBytes).map(frameBytes);
    expect(small.length).toBeGreaterThan(3);
    expect(small.filter((bytes) => bytes < frameTargetBytes / 2).length).toBeLessThanOrEqual(3);
  });

  it("counts bytes, not characters, of names in other scripts", () => {
    const wide = Array.from({ length: 10 }, (_, i) => ({ dn: `CN=${"名".repeat(100)}${i}`, attributes: {} }));
    const frames = pageFrames(wide, { bytes: 1200, entries: 100 });
    for (const f of frames) expect(frameBytes(f)).toBeLessThanOrEqual(1200);
    expect(frames.flat()).toEqual(wide);
  });

  it("refuses an entry that no message could carry, naming it", () => {
    expect(() => pageFrames([entry(1), entry(2, 2000)], { bytes: 1000, entries: 10 })).toThrow(EntryTooLargeError);
    expect(() => pageFrames([entry(2, 2000)], { bytes: 1000, entries: 10 })).toThrow(/CN=User 2,DC=example,DC=com is \d+ bytes/);
  });
});
