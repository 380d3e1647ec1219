// The protocol's operations on the agent, against the Samba DC of the test run.
import { describe, expect, inject, it } from "vitest";
import type { AgentOperation, WireEntry } from "../../schema/src/agent-protocol.ts";
import { BUILT_IN_USERS, sam, seededUsers, targetFor } from "./ldap/test-support.ts";
import { OperationCancelled, runOperation } from "./operations.ts";

const dc = inject("samba");
const USERS = "(&(objectCategory=person)(objectClass=user))";

function collector(onPage?: (count: number) => void) {
  const pages: WireEntry[][] = [];
  const controller = new AbortController();
  const context = {
    signal: controller.signal,
    sendPage: async (entries: WireEntry[]) => {
      pages.push(entries);
      onPage?.(pages.length);
    },
  };
  return { pages, controller, context };
}

describe("runOperation", () => {
  it("streams a search page by page and reports it complete", async () => {
    const { pages, context } = collector();
    const operation: AgentOperation = {
      op: "search",
      target: targetFor(dc),
      base: dc.baseDn,
      scope: "sub",
      filter: USERS,
      attributes: ["sAMAccountName", "objectGUID"],
      pageSize: 7,
    };
    const output = await runOperation(operation, context);
    const names = pages.flat().map((e) => e.attributes.sAMAccountName?.[0]);
    expect(names.sort()).toEqual([...seededUsers.map(sam), ...BUILT_IN_USERS].sort());
    expect(pages.every((p) => p.length <= 7)).toBe(true);
    expect(output.complete).toEqual({ complete: true, pages: pages.length, entries: names.length });
    // objectGUID crosses the tunnel as base64 of its 16 bytes.
    const first = pages[0]?.[0] as WireEntry;
    expect(first.binary).toContain("objectGUID");
    expect(Buffer.from(first.attributes.objectGUID?.[0] ?? "", "base64")).toHaveLength(16);
  });

  it("stops reading when the request is cancelled between pages", async () => {
    const { pages, controller, context } = collector((n) => n === 2 && controller.abort());
    const operation: AgentOperation = {
      op: "search",
      target: targetFor(dc),
      base: dc.baseDn,
      scope: "sub",
      filter: USERS,
      attributes: ["cn"],
      pageSize: 3,
    };
    await expect(runOperation(operation, context)).rejects.toBeInstanceOf(OperationCancelled);
    expect(pages).toHaveLength(2);
  });

  it("reads entries by DN in pages, skipping those that do not exist", async () => {
    const { pages, context } = collector();
    const dns = [...seededUsers.slice(0, 3).map((u) => u.dn), `CN=Gone,${dc.baseDn}`];
    const output = await runOperation({ op: "readEntries", target: targetFor(dc), dns, attributes: ["cn"] }, context);
    expect(pages.flat().map((e) => e.dn.toLowerCase())).toEqual(seededUsers.slice(0, 3).map((u) => u.dn.toLowerCase()));
    expect(output.complete).toMatchObject({ complete: true, entries: 3 });
  });

  it("answers Test Connection, OUs, attributes and authenticate with one result each", async () => {
    const { pages, context } = collector();
    const target = targetFor(dc);
    expect(((await runOperation({ op: "testConnection", target }, context)).result as { ok: boolean }).ok).toBe(true);
    expect(((await runOperation({ op: "listOus", target }, context)).result as { dn: string }).dn).toBe(dc.baseDn);
    expect((await runOperation({ op: "listUserAttributes", target }, context)).result).toEqual(
      expect.arrayContaining([expect.objectContaining({ name: "sAMAccountName" })]),
    );
    const user = seededUsers.find((u) => !(Number(u.attributes.userAccountControl?.[0] ?? 0) & 2)) as (typeof seededUsers)[number];
    const upn = String(user.attributes.userPrincipalName?.[0]);
    expect((await runOperation({ op: "authenticate", target, username: upn, password: dc.userPassword }, context)).result).toMatchObject({
      ok: true,
    });
    expect(pages).toHaveLength(0);
  });

  it("refuses an operation it does not know, naming it", async () => {
    const { context } = collector();
    await expect(runOperation({ op: "modify" } as never, context)).rejects.toMatchObject({
      code: "unknown_operation",
      message: expect.stringContaining('"modify"'),
    });
  });
});
