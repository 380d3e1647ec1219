// Where the Samba DC of the test run stands, and what an incremental read on it would find.
// Nothing here writes to it.
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { type DirectoryConnection, openConnection } from "./connection.ts";
import { readDirectoryPosition } from "./directory-position.ts";
import { search, searchPages } from "./search.ts";
import { collect, targetFor } from "./test-support.ts";

const dc = inject("samba");
const USERS = "(&(objectCategory=person)(objectClass=user))";

describe("readDirectoryPosition", () => {
  let connection: DirectoryConnection;
  beforeAll(async () => {
    connection = await openConnection(targetFor(dc));
  });
  afterAll(async () => {
    await connection.close();
  });

  it("names the DC, its database's identity and its highest committed USN", async () => {
    const position = await readDirectoryPosition(connection);
    expect(position.dsServiceName).toMatch(/^CN=NTDS Settings,CN=[^,]+,CN=Servers,.*CN=Configuration,DC=example,DC=com$/i);
    expect(position.invocationId).toMatch(/^[0-9a-f]{32}$/);
    expect(BigInt(position.highestCommittedUsn)).toBeGreaterThan(0n);
    // Asked again with nothing changed: the same position.
    expect(await readDirectoryPosition(connection)).toEqual(position);
  });

  it("is where (uSNChanged>=N) starts: every user changed at or before it, none after", async () => {
    const { highestCommittedUsn } = await readDirectoryPosition(connection);
    const count = async (f: string) =>
      (await collect(searchPages(connection, { base: dc.baseDn, scope: "sub", filter: f, attributes: ["uSNChanged"] }))).pages.flat();
    const all = await count(USERS);
    const since = await count(`(&${USERS}(uSNChanged>=${BigInt(highestCommittedUsn) + 1n}))`);
    expect(all.length).toBeGreaterThan(10);
    expect(since).toEqual([]);
    for (const user of all) expect(BigInt(user.attributes.uSNChanged?.[0] ?? "0")).toBeLessThanOrEqual(BigInt(highestCommittedUsn));
    expect(await count(`(&${USERS}(uSNChanged>=1))`)).toHaveLength(all.length);
  });
});

describe("a search asked for the position", () => {
  it("answers the position of the DC that served its pages, read before the first", async () => {
    const target = targetFor(dc);
    const { pages, result } = await collect(
      search(target, { base: dc.baseDn, scope: "sub", filter: USERS, attributes: ["sAMAccountName"], position: true }),
    );
    expect(pages.flat().length).toBeGreaterThan(10);
    const connection = await openConnection(target);
    try {
      const now = await readDirectoryPosition(connection);
      expect(result.position).toEqual(now);
    } finally {
      await connection.close();
    }
  });

  it("says nothing of it when not asked", async () => {
    const { result } = await collect(
      search(targetFor(dc), { base: dc.baseDn, scope: "base", filter: "(objectClass=*)", attributes: ["1.1"] }),
    );
    expect(result.position).toBeUndefined();
    expect(result.positionUnavailable).toBeUndefined();
  });
});
