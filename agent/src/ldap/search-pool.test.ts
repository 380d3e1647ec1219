// The searches of a run share bound connections to the Samba DC of the test run. Nothing
// here writes to it.
import { afterEach, describe, expect, inject, it } from "vitest";
import { type DirectoryConnection, openConnection } from "./connection.ts";
import { search } from "./search.ts";
import { SearchPool } from "./search-pool.ts";
import { collect, targetFor } from "./test-support.ts";

const dc = inject("samba");
const USERS = "(&(objectCategory=person)(objectClass=user))";

describe("SearchPool", () => {
  const opened: DirectoryConnection[] = [];
  const pool = new SearchPool({
    open: async (target) => {
      const connection = await openConnection(target);
      opened.push(connection);
      return connection;
    },
  });
  afterEach(async () => {
    await pool.close();
    opened.length = 0;
  });
  const spec = { base: dc.baseDn, scope: "sub" as const, filter: USERS, attributes: ["sAMAccountName"] };

  it("gives the next search the connection the last one bound, and opens one more only for searches at once", async () => {
    const first = await collect(search(targetFor(dc), spec, pool));
    const second = await collect(search(targetFor(dc), { ...spec, position: true }, pool));
    expect(second.pages.flat()).toEqual(first.pages.flat());
    expect(second.result.position?.highestCommittedUsn).toMatch(/^\d+$/);
    expect(opened).toHaveLength(1);
    await Promise.all([collect(search(targetFor(dc), spec, pool)), collect(search(targetFor(dc), spec, pool))]);
    expect(opened).toHaveLength(2);
  });

  it("does not keep the connection of a search that failed, and starts again on a new one when the kept one was closed", async () => {
    await expect(collect(search(targetFor(dc), { ...spec, base: `OU=Nowhere,${dc.baseDn}` }, pool))).rejects.toThrow();
    expect(opened).toHaveLength(1);
    await collect(search(targetFor(dc), spec, pool));
    expect(opened).toHaveLength(2);
    // The DC drops the kept connection (its idle limit, a restart): the next search opens another and goes on.
    await opened[1]?.close();
    const again = await collect(search(targetFor(dc), spec, pool));
    expect(again.pages.flat().length).toBeGreaterThan(10);
    expect(opened).toHaveLength(3);
  });

  it("keeps no connection of another bind: a changed password is a connection of its own", async () => {
    await collect(search(targetFor(dc), spec, pool));
    await expect(collect(search(targetFor(dc, {}, "wrong-password"), spec, pool))).rejects.toThrow();
    await collect(search(targetFor(dc), spec, pool));
    expect(opened).toHaveLength(1);
  });
});
