// Pages of a listing that a target's API returns whole: the run still takes it a page at a
// time, so what it stages is the same whatever the target.
import type { Extension } from "./pbx-port.ts";

export async function* pagesOf(list: Promise<Extension[]>, size: number): AsyncIterable<Extension[]> {
  const all = await list;
  for (let i = 0; i < all.length; i += size) yield all.slice(i, i + size);
}
