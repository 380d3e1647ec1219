// The extensions an incremental run decides from, found in a listing the target's API returns
// whole. A target that can look them up itself (the built-in PBX, by index) answers the same
// query without listing; both give the same answer, in the listing's order.
import type { Extension, ExtensionMatches, ExtensionQuery } from "./pbx-port.ts";

export function matchesOf(listing: Extension[], query: ExtensionQuery): ExtensionMatches {
  const guids = new Set(query.guids);
  const numbers = new Set(query.numbers);
  const synced = new Set<string>();
  const extensions: Extension[] = [];
  for (const e of listing) {
    if (e.origin === "ad" && e.guid !== null) synced.add(e.guid);
    if ((e.guid !== null && guids.has(e.guid)) || numbers.has(e.number) || (query.manual && e.origin === "manual")) extensions.push(e);
  }
  return { extensions, synced: synced.size };
}
