// Paged search (RFC 2696) as an async generator of pages, with ranged retrieval of large
// attributes and an account of whether the read was complete: deletions downstream depend
// on it, so "complete" means every page came back, no size, time or admin limit was hit and
// no referral into the scope was left unread. One page is in memory at a time.
//
// ldapts' own searchPaginated cannot be used for this: it stops at the first page that
// holds neither entries nor references even when the server sent a cookie for more (AD may
// answer a page that way), it swallows sizeLimitExceeded, and it drops the status of the
// final response. So the paging loop is here, on ldapts' message layer.
import { type Client, Control, PagedResultsControl, type SearchEntry, SearchRequest, type SearchResponse } from "ldapts";
import type { LdapTarget, SearchCompleteness, SearchSpec, WireEntry } from "../../../schema/src/agent-protocol.ts";
import { checkFilter } from "../../../schema/src/ldap-filter.ts";
import type { DirectoryConnection } from "./connection.ts";
import { readDirectoryPosition } from "./directory-position.ts";
import { ConnectError, DirectoryError, SearchError, toDirectoryError } from "./errors.ts";
import { parseRangedType, pickChunk, type RangeChunk, readRemainingRanges } from "./ranged-values.ts";
import { isHarmlessReference } from "./references.ts";
import { SearchPool } from "./search-pool.ts";
import { wireFilter } from "./wire-filter.ts";

export type { SearchSpec };

/** LDAP_SERVER_SHOW_DELETED_OID: tombstones are returned too (MS-ADTS 3.1.1.3.4.1.14). */
const SHOW_DELETED = "1.2.840.113556.1.4.417";

/** Read as bytes whatever the caller asks: these are binary in every AD schema. */
export const ALWAYS_BINARY: readonly string[] = [
  "objectGUID",
  "objectSid",
  "sIDHistory",
  "thumbnailPhoto",
  "jpegPhoto",
  "mS-DS-ConsistencyGuid",
  "msExchMailboxGuid",
  "tokenGroups",
];

/** The connections searches share; a test may give search() a pool of its own. */
export const searchPool = new SearchPool();

/**
 * A search on a target, on a bound connection of the pool (a new one unless an idle one is
 * still connected). Asked for the position, it reads it on the same connection first, so that
 * it is the position of the DC that serves the pages and anything that changes during the
 * search is after it. A kept connection the DC has closed since fails at once; the search
 * then starts again once on a new one, as nothing has been handed on yet.
 */
export async function* search(
  target: LdapTarget,
  spec: SearchSpec,
  pool: SearchPool = searchPool,
): AsyncGenerator<WireEntry[], SearchCompleteness, undefined> {
  for (let attempt = 0; ; attempt++) {
    const { connection, reused } = await pool.take(target);
    let healthy = false;
    let yielded = false;
    try {
      let position: Pick<SearchCompleteness, "position" | "positionUnavailable"> = {};
      if (spec.position === true) {
        try {
          position = { position: await readDirectoryPosition(connection) };
        } catch (error) {
          // Not a reason to fail the read: without a position the next run reads everything again.
          if (!(error instanceof DirectoryError) || error instanceof ConnectError) throw error;
          position = { positionUnavailable: error.message };
        }
      }
      const pages = searchPages(connection, spec);
      let result: SearchCompleteness;
      for (let step = await pages.next(); ; step = await pages.next()) {
        if (step.done) {
          result = step.value;
          break;
        }
        yielded = true;
        yield step.value;
      }
      healthy = true;
      return { ...result, ...position };
    } catch (error) {
      if (reused && !yielded && attempt === 0 && (error instanceof ConnectError || !connection.client.isConnected)) continue;
      throw error;
    } finally {
      await pool.give(target, connection, healthy);
    }
  }
}

/** A directory's paged search: a DC's through a connection, or a directory file's. */
export type PagedSearch = (spec: SearchSpec) => AsyncGenerator<WireEntry[], SearchCompleteness, undefined>;

/**
 * Pages of `spec` on a bound connection. Returns how complete the read was; throws a
 * DirectoryError when the search fails outright (bad base DN or filter, lost connection).
 * Entries of a page that hit a limit are still yielded before the generator returns.
 */
export async function* searchPages(
  connection: DirectoryConnection,
  spec: SearchSpec,
): AsyncGenerator<WireEntry[], SearchCompleteness, undefined> {
  const check = checkFilter(spec.filter);
  if (!check.ok) {
    throw new SearchError("invalid_filter", `the LDAP filter ${JSON.stringify(spec.filter)} is not valid: ${check.message}`, {
      fix: "Correct the filter (RFC 4515), e.g. (department=Sales); literal * ( ) \\ in values are written \\2a \\28 \\29 \\5c.",
    });
  }
  const shape = entryShape(spec);
  const pageSize = Math.max(1, Math.min(spec.pageSize ?? connection.settings.pageSize, 1000));
  const result: SearchCompleteness = { complete: true, pages: 0, entries: 0 };
  const incomplete = (reason: string) => {
    if (result.complete) {
      result.complete = false;
      result.reason = reason;
    }
  };
  let cookie: Buffer = Buffer.alloc(0);
  // A base search returns one entry at most; paging it would only cost a control.
  const request = (c: Buffer) => {
    const pending = send(connection, spec, spec.scope === "base" ? undefined : { size: pageSize, cookie: c }, spec.base);
    // Read when its turn comes; until then a failure must not count as unhandled.
    pending.catch(() => {});
    return pending;
  };
  let next: Promise<SearchResponse> | undefined = request(cookie);
  try {
    while (next !== undefined) {
      const response = await next;
      next = undefined;
      result.pages++;
      cookie = pagedCookie(response);
      const limit = limitReason(response, spec);
      if (limit !== undefined) {
        // The server has ended the search itself.
        incomplete(limit);
        cookie = Buffer.alloc(0);
      }
      // Samba ignores the size limit of a paged search, so it is enforced here as well.
      const room = spec.sizeLimit !== undefined && spec.sizeLimit > 0 ? spec.sizeLimit - result.entries : Number.POSITIVE_INFINITY;
      const truncated = response.searchEntries.length > room;
      // The DC works on the next page while this one is converted and handed on, rather
      // than idling until the consumer asks: one page in flight, at most.
      if (cookie.length > 0 && !truncated) {
        next = request(cookie);
        cookie = Buffer.alloc(0);
      }
      const page: WireEntry[] = [];
      for (const entry of response.searchEntries.slice(0, room)) page.push(await toWireEntry(connection, entry, shape, incomplete));
      for (const reference of response.searchReferences) {
        for (const uri of reference.uris) {
          if (!isHarmlessReference(uri)) incomplete(`a referral into the scope was not followed: ${uri}`);
        }
      }
      if (truncated) incomplete(`the size limit of ${spec.sizeLimit} entries was reached`);
      result.entries += page.length;
      if (page.length > 0) yield page;
      if (truncated) break;
    }
  } finally {
    // Stopped before the end (the consumer stopped, a limit, an error): a size-0 request
    // with the cookie lets the server drop the rest of the result set (RFC 2696 section 3).
    if (next !== undefined) {
      const response = await next.catch(() => undefined);
      cookie = response === undefined ? Buffer.alloc(0) : pagedCookie(response);
    }
    if (cookie.length > 0 && connection.client.isConnected) {
      await send(connection, spec, { size: 0, cookie }, spec.base).catch(() => {});
    }
  }
  return result;
}

/**
 * Hands every page of a paged read to `take`, in order, and answers how complete the read
 * was (which `for await` would drop). Leaving early, because `take` threw, closes the read,
 * so the server can drop the rest of the result set.
 */
export async function forEachPage(
  pages: AsyncGenerator<WireEntry[], SearchCompleteness, undefined>,
  take: (page: WireEntry[]) => void | Promise<void>,
): Promise<SearchCompleteness> {
  let finished = false;
  try {
    for (let step = await pages.next(); ; step = await pages.next()) {
      if (step.done) {
        finished = true;
        return step.value;
      }
      await take(step.value);
    }
  } finally {
    if (!finished) await pages.return(undefined as never).catch(() => {});
  }
}

/**
 * Entries by DN, in pages; DNs that do not exist (any more) are skipped. Always complete
 * unless an entry's ranged attribute could not be read to the end.
 */
export async function* readEntries(
  connection: DirectoryConnection,
  dns: string[],
  attributes: string[],
  binaryAttributes: string[] = [],
): AsyncGenerator<WireEntry[], SearchCompleteness, undefined> {
  const result: SearchCompleteness = { complete: true, pages: 0, entries: 0 };
  let page: WireEntry[] = [];
  for (const dn of dns) {
    const entries = searchPages(connection, { base: dn, scope: "base", filter: "(objectClass=*)", attributes, binaryAttributes });
    try {
      const read = await forEachPage(entries, (entries) => {
        page.push(...entries);
      });
      if (!read.complete && result.complete) {
        result.complete = false;
        if (read.reason !== undefined) result.reason = read.reason;
      }
    } catch (error) {
      if (!(error instanceof SearchError && error.code === "no_such_object")) throw error;
    }
    if (page.length >= connection.settings.pageSize) {
      result.pages++;
      result.entries += page.length;
      yield page;
      page = [];
    }
  }
  if (page.length > 0) {
    result.pages++;
    result.entries += page.length;
    yield page;
  }
  return result;
}

// ---------------------------------------------------------------------------------------
// One request

// ldapts keeps these private; they are what its own search() uses. Checked at run time, so
// an ldapts upgrade that renames them fails loudly here rather than misbehaving.
interface MessageLayer {
  _nextMessageId(): number;
  _send(message: SearchRequest): Promise<SearchResponse | undefined>;
}

function messageLayer(client: Client): MessageLayer {
  const layer = client as unknown as Partial<MessageLayer>;
  if (typeof layer._send !== "function" || typeof layer._nextMessageId !== "function") {
    throw new Error("ldapts no longer has the _send/_nextMessageId methods agent/src/ldap/search.ts pages with; adapt search.ts");
  }
  return layer as MessageLayer;
}

// Result codes that end a search early without making what came back wrong.
const LIMITS: Record<number, string> = {
  3: "the server's time limit was reached",
  4: "the size limit was reached",
  11: "an administrative limit of the server was reached",
};

async function send(
  connection: DirectoryConnection,
  spec: SearchSpec,
  paging: { size: number; cookie: Buffer } | undefined,
  base: string,
): Promise<SearchResponse> {
  const layer = messageLayer(connection.client);
  let response: SearchResponse | undefined;
  try {
    const request = new SearchRequest({
      messageId: layer._nextMessageId.call(connection.client),
      baseDN: base,
      scope: spec.scope,
      filter: wireFilter(spec.filter),
      attributes: spec.attributes,
      sizeLimit: spec.sizeLimit ?? 0,
      timeLimit: connection.settings.timeLimitSeconds,
      derefAliases: "never",
      controls: [
        // Not critical: a server without paging returns everything in one response and no cookie.
        ...(paging === undefined ? [] : [new PagedResultsControl({ value: { size: paging.size, cookie: paging.cookie } })]),
        // Critical: a server that would ignore it would answer as if nothing had been deleted.
        ...(spec.showDeleted === true ? [new Control(SHOW_DELETED, { critical: true })] : []),
      ],
    });
    response = await layer._send.call(connection.client, request);
  } catch (error) {
    throw toDirectoryError(error, { phase: "search", server: connection.server, base });
  }
  if (response === undefined) {
    throw new SearchError("search_failed", `no response to the search of ${base}`, { server: connection.server });
  }
  if (response.status !== 0 && LIMITS[response.status] === undefined) {
    throw toDirectoryError(resultError(response), { phase: "search", server: connection.server, base });
  }
  return response;
}

// Shaped like ldapts' ResultCodeError, so toDirectoryError maps it like any other result.
function resultError(response: SearchResponse): Error & { code: number } {
  return Object.assign(new Error(response.errorMessage), { code: response.status });
}

function pagedCookie(response: SearchResponse): Buffer {
  for (const control of response.controls ?? []) {
    if (control instanceof PagedResultsControl) return control.value?.cookie ?? Buffer.alloc(0);
  }
  return Buffer.alloc(0);
}

function limitReason(response: SearchResponse, spec: SearchSpec): string | undefined {
  const reason = LIMITS[response.status];
  if (reason === undefined) return undefined;
  if (response.status === 4 && spec.sizeLimit !== undefined && spec.sizeLimit > 0) {
    return `the size limit of ${spec.sizeLimit} entries was reached`;
  }
  return response.errorMessage === "" ? reason : `${reason}: ${response.errorMessage}`;
}

// ---------------------------------------------------------------------------------------
// Entries on the wire

interface EntryShape {
  /** Lower-case name to the caller's spelling, so consumers look attributes up as they asked. */
  spelling: Map<string, string>;
  binary: Set<string>;
}

function entryShape(spec: SearchSpec): EntryShape {
  const spelling = new Map<string, string>();
  for (const name of spec.attributes) spelling.set(name.toLowerCase(), name);
  const binary = new Set([...ALWAYS_BINARY, ...(spec.binaryAttributes ?? [])].map((n) => n.toLowerCase()));
  return { spelling, binary };
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

async function toWireEntry(
  connection: DirectoryConnection,
  entry: SearchEntry,
  shape: EntryShape,
  incomplete: (reason: string) => void,
): Promise<WireEntry> {
  const attributes: Record<string, string[]> = {};
  const binary: string[] = [];
  const ranged = new Map<string, RangeChunk[]>();
  const put = (type: string, values: Buffer[]) => {
    const name = shape.spelling.get(type.toLowerCase()) ?? type;
    let text = shape.binary.has(name.toLowerCase()) ? undefined : decodeAll(values);
    if (text === undefined) {
      text = values.map((v) => v.toString("base64"));
      binary.push(name);
    }
    attributes[name] = text;
  };
  for (const attribute of entry.attributes) {
    const range = parseRangedType(attribute.type);
    if (range === undefined) {
      put(attribute.type, attribute.parsedBuffers);
      continue;
    }
    const key = range.attribute.toLowerCase();
    const chunks = ranged.get(key) ?? [];
    chunks.push({ ...range, values: attribute.parsedBuffers });
    ranged.set(key, chunks);
  }
  for (const chunks of ranged.values()) {
    const first = pickChunk(chunks);
    if (first === undefined) continue;
    const all = await readRemainingRanges(first, (request) => fetchRange(connection, entry.name, request, first.attribute));
    if (!all.complete) incomplete(`${entry.name}: ${all.reason ?? "ranged values incomplete"}`);
    put(first.attribute, all.values);
  }
  const wire: WireEntry = { dn: entry.name, attributes };
  if (binary.length > 0) wire.binary = binary;
  return wire;
}

function decodeAll(values: Buffer[]): string[] | undefined {
  const out: string[] = [];
  for (const value of values) {
    try {
      out.push(utf8.decode(value));
    } catch {
      // Not text after all (e.g. an attribute of binary syntax nobody listed): keep the bytes.
      return undefined;
    }
  }
  return out;
}

async function fetchRange(connection: DirectoryConnection, dn: string, request: string, attribute: string): Promise<RangeChunk[]> {
  const spec: SearchSpec = { base: dn, scope: "base", filter: "(objectClass=*)", attributes: [request] };
  const response = await send(connection, spec, undefined, dn);
  const chunks: RangeChunk[] = [];
  for (const entry of response.searchEntries) {
    for (const a of entry.attributes) {
      const range = parseRangedType(a.type);
      if (range !== undefined && range.attribute.toLowerCase() === attribute.toLowerCase()) {
        chunks.push({ ...range, values: a.parsedBuffers });
      }
    }
  }
  return chunks;
}
