// The paging loop against a scripted server, for what Samba cannot be made to do: empty
// pages with a cookie, limits hit halfway, referrals into the scope, AD's MaxValRange.
import { Client, PagedResultsControl, type SearchEntry, type SearchRequest, type SearchResponse } from "ldapts";
import { describe, expect, it } from "vitest";
import { connectionSettings, type DirectoryConnection } from "./connection.ts";
import { type SearchSpec, searchPages } from "./search.ts";
import { collect } from "./test-support.ts";

interface ScriptedPage {
  entries?: Array<{ dn: string; attributes: Record<string, string[]> }>;
  references?: string[];
  status?: number;
  errorMessage?: string;
  /** Cookie for the next page; none: the last page. */
  next?: string;
}

interface Scripted {
  connection: DirectoryConnection;
  /** Every request: base, scope, attributes, paged size and cookie. */
  requests: Array<{ base: string; scope: string; attributes: string[]; size?: number; cookie?: string }>;
}

// A client whose message layer answers paged searches from `pages` (by cookie) and base
// searches from `onBase`.
function scripted(pages: Record<string, ScriptedPage>, onBase: (request: SearchRequest) => ScriptedPage = () => ({})): Scripted {
  const requests: Scripted["requests"] = [];
  let id = 0;
  const client = Object.create(Client.prototype) as Client;
  Object.assign(client, {
    _nextMessageId: () => ++id,
    _send: async (request: SearchRequest): Promise<SearchResponse> => {
      const paging = request.controls?.find((c): c is PagedResultsControl => c instanceof PagedResultsControl);
      const cookie = paging?.value?.cookie?.toString() ?? "";
      const record: Scripted["requests"][number] = { base: request.baseDN, scope: request.scope, attributes: request.attributes };
      if (paging?.value !== undefined) {
        record.size = paging.value.size;
        record.cookie = cookie;
      }
      requests.push(record);
      const page =
        paging === undefined
          ? onBase(request)
          : paging.value?.size === 0
            ? {}
            : (pages[cookie] ?? { status: 53, errorMessage: "bad cookie" });
      return response(page);
    },
  });
  Object.defineProperty(client, "isConnected", { value: true });
  const settings = connectionSettings({
    domainControllers: [{ host: "dc1.example.com" }],
    bindUsername: "svc",
    bindPassword: { source: "stored" },
    baseDn: "DC=example,DC=com",
  });
  const endpoint = settings.endpoints[0] as DirectoryConnection["endpoint"];
  const connection: DirectoryConnection = {
    client,
    endpoint,
    server: endpoint.server,
    settings,
    reach: { address: "192.0.2.1", lookupMs: 0, connectMs: 0 },
    tls: undefined,
    close: async () => {},
  };
  return { connection, requests };
}

function response(page: ScriptedPage): SearchResponse {
  const entries = (page.entries ?? []).map(
    (e) =>
      ({
        name: e.dn,
        attributes: Object.entries(e.attributes).map(([type, values]) => ({ type, parsedBuffers: values.map((v) => Buffer.from(v)) })),
      }) as unknown as SearchEntry,
  );
  return {
    status: page.status ?? 0,
    errorMessage: page.errorMessage ?? "",
    searchEntries: entries,
    searchReferences: (page.references ?? []).map((uri) => ({ uris: [uri] })),
    controls: [new PagedResultsControl({ value: { size: 0, cookie: Buffer.from(page.next ?? "") } })],
  } as unknown as SearchResponse;
}

const SPEC: SearchSpec = { base: "DC=example,DC=com", scope: "sub", filter: "(objectClass=user)", attributes: ["cn"], pageSize: 2 };
const user = (n: number) => ({ dn: `CN=u${n},DC=example,DC=com`, attributes: { cn: [`u${n}`] } });

describe("searchPages paging", () => {
  it("goes on past a page with no entries when the server sent a cookie (ldapts' searchPaginated would stop there)", async () => {
    const { connection, requests } = scripted({
      "": { entries: [user(1), user(2)], next: "a" },
      a: { entries: [], next: "b" },
      b: { entries: [user(3)] },
    });
    const { pages, result } = await collect(searchPages(connection, SPEC));
    expect(pages.map((p) => p.map((e) => e.dn))).toEqual([
      ["CN=u1,DC=example,DC=com", "CN=u2,DC=example,DC=com"],
      ["CN=u3,DC=example,DC=com"],
    ]);
    expect(result).toEqual({ complete: true, pages: 3, entries: 3 });
    expect(requests.map((r) => r.cookie)).toEqual(["", "a", "b"]);
    expect(requests.every((r) => r.size === 2)).toBe(true);
  });

  it("yields what came with a time limit halfway, then calls the read incomplete", async () => {
    const { connection } = scripted({
      "": { entries: [user(1), user(2)], next: "a" },
      a: { entries: [user(3)], status: 3, errorMessage: "Time limit exceeded" },
    });
    const { pages, result } = await collect(searchPages(connection, SPEC));
    expect(pages.flat()).toHaveLength(3);
    expect(result).toEqual({ complete: false, pages: 2, entries: 3, reason: "the server's time limit was reached: Time limit exceeded" });
  });

  it.each([
    [4, "the size limit was reached"],
    [11, "an administrative limit of the server was reached"],
  ])("calls a read that ended with result %i incomplete", async (status, reason) => {
    const { connection } = scripted({ "": { entries: [user(1)], status } });
    const { result } = await collect(searchPages(connection, SPEC));
    expect(result.complete).toBe(false);
    expect(result.reason).toBe(reason);
  });

  it("stays complete with AD's references to the Configuration and DNS partitions", async () => {
    const { connection } = scripted({
      "": {
        entries: [user(1)],
        references: [
          "ldap://ForestDnsZones.example.com/DC=ForestDnsZones,DC=example,DC=com",
          "ldap://DomainDnsZones.example.com/DC=DomainDnsZones,DC=example,DC=com",
          "ldap://example.com/CN=Configuration,DC=example,DC=com",
        ],
      },
    });
    expect((await collect(searchPages(connection, SPEC))).result).toEqual({ complete: true, pages: 1, entries: 1 });
  });

  it("is incomplete with a referral into the scope, but reads on", async () => {
    const { connection } = scripted({
      "": { entries: [user(1)], references: ["ldap://emea.example.com/DC=emea,DC=example,DC=com"], next: "a" },
      a: { entries: [user(2)] },
    });
    const { pages, result } = await collect(searchPages(connection, SPEC));
    expect(pages.flat()).toHaveLength(2);
    expect(result).toMatchObject({
      complete: false,
      reason: "a referral into the scope was not followed: ldap://emea.example.com/DC=emea,DC=example,DC=com",
    });
  });

  it("throws on an error result", async () => {
    const { connection } = scripted({ "": { status: 32, errorMessage: "no such object" } });
    await expect(collect(searchPages(connection, SPEC))).rejects.toMatchObject({ code: "no_such_object" });
  });

  it("tells the server to drop the result set when the consumer stops early", async () => {
    const { connection, requests } = scripted({
      "": { entries: [user(1), user(2)], next: "a" },
      a: { entries: [user(3), user(4)], next: "b" },
      b: { entries: [user(5)] },
    });
    for await (const _ of searchPages(connection, SPEC)) break;
    // The second page was already asked for while the first was handed on; its cookie is
    // the one the server is told to drop.
    expect(requests.map((r) => [r.size, r.cookie])).toEqual([
      [2, ""],
      [2, "a"],
      [0, "b"],
    ]);
  });
});

describe("searchPages ranged retrieval", () => {
  // AD with MaxValRange 1500: a group of 3200 members comes back as member;range=0-1499.
  const TOTAL = 3200;
  const member = (i: number) => `CN=m${i},DC=example,DC=com`;
  const window = (low: number) => {
    const high = Math.min(TOTAL - 1, low + 1499);
    const type = `member;range=${low}-${high === TOTAL - 1 ? "*" : high}`;
    return { [type]: Array.from({ length: high - low + 1 }, (_, i) => member(low + i)) };
  };

  it("fetches every remaining range of every entry before yielding its page", async () => {
    const big = { dn: "CN=Big,DC=example,DC=com", attributes: { cn: ["Big"], ...window(0) } };
    const { connection, requests } = scripted({ "": { entries: [big, user(1)] } }, (request) => {
      const range = /^member;range=(\d+)-\*$/.exec(request.attributes[0] ?? "");
      return { entries: [{ dn: request.baseDN, attributes: window(Number(range?.[1])) }] };
    });
    const { pages, result } = await collect(searchPages(connection, { ...SPEC, attributes: ["cn", "member"] }));
    const [entry] = pages.flat();
    expect(entry?.attributes.member).toHaveLength(TOTAL);
    expect(entry?.attributes.member?.[TOTAL - 1]).toBe(member(TOTAL - 1));
    expect(new Set(entry?.attributes.member).size).toBe(TOTAL);
    expect(requests.slice(1).map((r) => [r.base, r.scope, r.attributes])).toEqual([
      ["CN=Big,DC=example,DC=com", "base", ["member;range=1500-*"]],
      ["CN=Big,DC=example,DC=com", "base", ["member;range=3000-*"]],
    ]);
    expect(result).toEqual({ complete: true, pages: 1, entries: 2 });
  });

  it("calls the read incomplete when a range cannot be fetched", async () => {
    const big = { dn: "CN=Big,DC=example,DC=com", attributes: window(0) };
    const { connection } = scripted({ "": { entries: [big] } }, () => ({ entries: [{ dn: "CN=Big,DC=example,DC=com", attributes: {} }] }));
    const { pages, result } = await collect(searchPages(connection, { ...SPEC, attributes: ["member"] }));
    expect(pages.flat()[0]?.attributes.member).toHaveLength(1500);
    expect(result.complete).toBe(false);
    expect(result.reason).toMatch(/^CN=Big,DC=example,DC=com: the server returned no values of member from 1500 on/);
  });
});
