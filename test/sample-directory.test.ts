// The product on its bundled sample directory, as `npm start` runs it: the agent answers from
// sample/directory.ldif instead of a DC, through the bundled worker in workerd.
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { type Json, type Stack, startStack } from "./support/stack.ts";

const sampleConfig = JSON.parse(readFileSync(new URL("../sample/config.json", import.meta.url), "utf8"));
const sampleFile = new URL("../sample/directory.ldif", import.meta.url).pathname;

describe("the sample directory", () => {
  let stack: Stack;
  beforeAll(async () => {
    // The DC only lends the stack its bind password; the agent never reaches it.
    stack = await startStack(inject("samba"), { tenant: "sample", config: sampleConfig, agentEnv: { ADSYNC_DIRECTORY_FILE: sampleFile } });
    expect((await stack.api("POST", "/extensions", { number: "1000", displayName: "Reception" })).status).toBe(201);
    expect((await stack.api("POST", "/extensions", { number: "0999", displayName: "Leavers archive" })).status).toBe(201);
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it("passes Test Connection, saying it reads a file, and counts the scope", async () => {
    const res = await stack.api("POST", "/test-connection", {});
    expect(res.status, res.text).toBe(200);
    expect(res.body.ok).toBe(true);
    const byId = Object.fromEntries(res.body.steps.map((s: Json) => [s.id, s]));
    expect(byId.reachable).toMatchObject({
      status: "ok",
      code: "directory_file",
      detail: expect.stringMatching(/directory\.ldif \(\d+ entries\)/),
    });
    expect(byId.tls.status).toBe("skipped");
    expect(byId.bind.status).toBe("skipped");
    expect(byId.baseDn.status).toBe("ok");
    expect(res.body.counts).toEqual({ usersInScope: 293, disabledUsers: 7, ous: 10, groups: 5 });
  });

  it("browses OUs and user attributes as from a DC", async () => {
    const ous = (await stack.api("GET", "/directory/ous")).body;
    const people = ous.children.find((c: Json) => c.name === "People");
    expect(people.children.map((c: Json) => c.name)).toEqual(["London", "Manchester", "Remote"]);
    const attributes = (await stack.api("GET", "/directory/attributes")).body.map((a: Json) => a.name);
    expect(attributes).toEqual(expect.arrayContaining(["ipPhone", "mail", "department", "memberOf", "objectGUID"]));
  });

  it("previews and syncs: numbers, departments, nested groups and the planted conflicts", async () => {
    const preview = (await stack.api("POST", "/preview?limit=1000")).body;
    expect(preview.run.summary).toMatchObject({ create: 291, conflict: 2, excluded: 7 });
    const conflicts = preview.items.filter((i: Json) => i.action === "conflict").map((i: Json) => i.code);
    expect(conflicts.sort()).toEqual(["number_duplicate", "number_taken_manual"]);

    const run = await stack.finished((await stack.api("POST", "/sync")).body.id);
    expect(run).toMatchObject({ status: "succeeded", progress: { done: 291, failed: 0 } });
    const extensions = (await stack.api("GET", "/extensions?limit=1000")).body.extensions as Json[];
    const sales = extensions.find((e) => e.departmentPath === "People > London > Sales" && e.number === "1101");
    expect(sales?.groups).toEqual(["All Phone Users", "London Sales Team"]);
    const warehouse = extensions.find((e) => e.departmentPath === "People > Manchester > Warehouse");
    expect(warehouse?.groups).toEqual(["Warehouse Pickup"]);
  });
});
