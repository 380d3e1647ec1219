// Preview, Sync Now, the built-in PBX, the safety gate and the log, end to end: the bundled
// worker in workerd, a real agent, the Samba DC of the test run (which sync only reads).
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { isDisabled, sam, targetFor, usersUnder } from "../agent/src/ldap/test-support.ts";
import { LdifDirectory } from "../agent/src/ldif/ldif-directory.ts";
import { previewOffline } from "../cli/preview.ts";
import { blankExtension } from "../engine/pbx/pbx-port.ts";
import type { SyncConfig } from "../schema/generated/config.ts";
import { readCsv } from "./support/read-csv.ts";
import { seedLdifPath } from "./support/samba-dc.ts";
import { type Json, type Stack, startStack } from "./support/stack.ts";

const dc = inject("samba");
const STAFF = `OU=Staff,${dc.baseDn}`;
const SALES = `OU=Sales,OU=Staff,${dc.baseDn}`;

const config = {
  connection: targetFor(dc).connection,
  scope: { users: "ous", ous: [{ dn: STAFF }] },
  extensionNumbers: { source: "attributeThenSequential", attribute: "ipPhone", ranges: [{ start: "2000", end: "2099" }] },
  organisation: { departments: { from: "ouTree" } },
  deprovisioning: { whenOutOfScope: "delete", archive: { extension: "0999" } },
  schedule: { mode: "manual" },
};

const staff = usersUnder(STAFF);
const enabledStaff = staff.filter((u) => !isDisabled(u));
const nameOf = (sAMAccountName: string) => String(staff.find((u) => sam(u) === sAMAccountName)?.attributes.displayName?.[0]);

describe("sync end to end", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack(dc, { tenant: "syncco", config });
    // Hand-made extensions: the archive, and one whose number an AD user also has in ipPhone.
    expect((await stack.api("POST", "/extensions", { number: "0999", displayName: "Leavers archive" })).status).toBe(201);
    expect((await stack.api("POST", "/extensions", { number: "1001", displayName: "Reception" })).status).toBe(201);
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it("previews the plan without changing the PBX", async () => {
    const res = await stack.api("POST", "/preview?limit=1000");
    expect(res.status, res.text).toBe(200);
    const { run, items, total } = res.body;
    expect(run).toMatchObject({ kind: "preview", status: "previewed", complete: true });
    expect(total).toBe(items.length);
    const byName = Object.fromEntries(items.map((i: Json) => [i.name, i]));
    // Everyone enabled under OU=Staff, but Alice, whose ipPhone 1001 is the hand-made Reception's.
    expect(run.summary.create).toBe(enabledStaff.length - 1);
    expect(byName[nameOf("aanderson")]).toMatchObject({ action: "conflict", code: "number_taken_manual" });
    expect(byName[nameOf("jjones")]).toMatchObject({ action: "create", number: "1000", state: { departmentPath: "Staff" } });
    expect(byName[nameOf("bbaker")]).toMatchObject({ action: "create", number: "1004", state: { departmentPath: "Staff > Sales" } });
    // Dave has no ipPhone: the first number of the range.
    expect(byName[nameOf("ddavis")]).toMatchObject({ action: "create", number: "2000" });
    expect(byName[nameOf("eevans")]).toMatchObject({ action: "excluded", code: "disabled" });
    const extensions = await stack.api("GET", "/extensions");
    expect(extensions.body.total).toBe(2);

    const filtered = await stack.api("GET", `/runs/${run.id}/items?action=conflict`);
    expect(filtered.body.items.map((i: Json) => i.name)).toEqual([nameOf("aanderson")]);
    const searched = await stack.api("GET", `/runs/${run.id}/items?q=${encodeURIComponent("Baker")}`);
    expect(searched.body.items.map((i: Json) => i.number)).toEqual(["1004"]);

    // adsync preview gives the same plan from the LDIF the DC was seeded with.
    const { connection: _, ...template } = config;
    const offline = await previewOffline(template as SyncConfig, await LdifDirectory.fromFile(seedLdifPath), [
      blankExtension("0999"),
      blankExtension("1001"),
    ]);
    const shape = (i: Json) => ({ action: i.action, name: i.name, number: i.number, code: i.code, reason: i.reason, state: i.state });
    expect(offline.plan.items.map(shape)).toEqual(items.map(shape));
  });

  it("syncs: Sync Now answers at once, one run at a time, and the extensions appear", async () => {
    const started = await stack.api("POST", "/sync");
    expect(started.status).toBe(202);
    const again = await stack.api("POST", "/sync");
    expect(again).toMatchObject({ status: 409, body: { error: { code: "run_in_progress", details: { runId: started.body.id } } } });
    const run = await stack.finished(started.body.id);
    expect(run).toMatchObject({ status: "succeeded", progress: { done: enabledStaff.length - 1, failed: 0 } });
    const listed = (await stack.api("GET", "/extensions?limit=1000")).body;
    expect(listed.total).toBe(enabledStaff.length - 1 + 2);
    const judy = listed.extensions.find((e: Json) => e.number === "1000");
    expect(judy).toMatchObject({
      origin: "ad",
      displayName: "Judy Jones",
      email: "judy.jones@example.com",
      jobTitle: "Managing Director",
      enabled: true,
    });
    expect(listed.extensions.find((e: Json) => e.number === "1001")).toMatchObject({ origin: "manual", displayName: "Reception" });
  });

  it("changes nothing on a second run, which reads only what changed; a full read finds every extension up to date", async () => {
    const started = await stack.api("POST", "/sync");
    const run = await stack.finished(started.body.id);
    expect(run).toMatchObject({ status: "succeeded", read: { mode: "incremental" } });
    expect(run.summary).toMatchObject({ create: 0, update: 0, delete: 0, disable: 0, unchanged: 0 });
    const full = await stack.finished((await stack.api("POST", "/sync?full=true")).body.id);
    expect(full).toMatchObject({ status: "succeeded", read: { mode: "full", reason: "a full read was asked for" } });
    expect(full.summary).toMatchObject({ create: 0, update: 0, delete: 0, disable: 0 });
    expect(full.summary.unchanged).toBe(enabledStaff.length - 1);
  });

  it("exports the log as CSV and JSON", async () => {
    const runs = (await stack.api("GET", "/runs")).body;
    const first = runs.find((r: Json) => r.kind === "sync" && r.summary?.create > 0);
    const csv = await stack.api("GET", `/runs/${first.id}/events?format=csv`);
    expect(csv.headers.get("content-type")).toMatch(/text\/csv/);
    const [header, ...rows] = readCsv(csv.text);
    expect(header).toEqual(["Date", "Type", "Event", "User", "Operation"]);
    expect(rows).toContainEqual([
      expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      "info",
      "Created extension 1000 (Judy Jones)",
      "Judy Jones",
      "create",
    ]);
    // The CSV is the JSON log, row for row, cell for cell.
    const json = (await stack.api("GET", `/runs/${first.id}/events`)).body;
    expect(json.filter((e: Json) => e.operation === "create")).toHaveLength(enabledStaff.length - 1);
    expect(rows).toEqual(json.map((e: Json) => [new Date(e.at).toISOString(), e.type, e.event, e.user ?? "", e.operation ?? ""]));
  });

  it("holds mass deletion for approval, deletes nothing meanwhile, and archives on approve", async () => {
    // Narrowing the scope to Sales puts most extensions out of scope: delete, per the configuration.
    expect((await stack.api("PUT", "/config", { ...config, scope: { users: "ous", ous: [{ dn: SALES }] } })).status).toBe(200);
    const before = (await stack.api("GET", "/extensions?limit=1000")).body.total;
    const held = await stack.finished((await stack.api("POST", "/sync")).body.id);
    expect(held.status).toBe("awaiting-approval");
    expect(held.held.reason).toMatch(/safety\.maxDeletesPerRun|safety\.maxDeletePercent/);
    expect((await stack.api("GET", "/extensions?limit=1000")).body.total).toBe(before);
    expect((await stack.api("POST", "/sync")).body.error.code).toBe("run_in_progress");

    const rejected = await stack.api("POST", `/runs/${held.id}/reject`);
    expect(rejected.body.status).toBe("rejected");
    expect((await stack.api("GET", "/extensions?limit=1000")).body.total).toBe(before);

    const second = await stack.finished((await stack.api("POST", "/sync")).body.id);
    expect(second.status).toBe("awaiting-approval");
    expect((await stack.api("POST", `/runs/${second.id}/approve`)).body.status).toBe("applying");
    const done = await stack.finished(second.id);
    expect(done).toMatchObject({ status: "succeeded", decidedBy: "admin@syncco" });
    const after = (await stack.api("GET", "/extensions?limit=1000")).body.extensions;
    // Kept: the enabled Sales users (but Alice, who still conflicts with Reception), and the
    // hand-made extensions. Deleted: everyone else sync had made, by name.
    const name = (u: (typeof staff)[number]) => String(u.attributes.displayName?.[0]);
    const inSales = usersUnder(SALES).filter((u) => !isDisabled(u) && sam(u) !== "aanderson");
    expect(
      after
        .filter((e: Json) => e.origin === "ad")
        .map((e: Json) => e.displayName)
        .sort(),
    ).toEqual(inSales.map(name).sort());
    expect(
      after
        .filter((e: Json) => e.origin === "manual")
        .map((e: Json) => e.number)
        .sort(),
    ).toEqual(["0999", "1001"]);
    const deleted = (await stack.api("GET", `/runs/${second.id}/items?action=delete&limit=1000`)).body.items.map((i: Json) => i.name);
    const outside = enabledStaff.filter((u) => !inSales.includes(u) && sam(u) !== "aanderson").map(name);
    expect(deleted.sort()).toEqual(outside.sort());
  });

  it("answers 503 when no agent is connected, and clears the log", async () => {
    await stack.agent.kill("SIGKILL");
    // The worker notices the closed socket on its own time: wait for it, not for a guess.
    await expect
      .poll(async () => (await stack.api("GET", "/agents")).body.map((a: Json) => a.connected), { timeout: 10_000, interval: 50 })
      .toEqual([false]);
    expect(await stack.api("POST", "/preview")).toMatchObject({ status: 503, body: { error: { code: "agent_offline" } } });
    expect(await stack.api("POST", "/sync")).toMatchObject({ status: 503, body: { error: { code: "agent_offline" } } });
    const cleared = await stack.api("DELETE", "/runs");
    expect(cleared.body.removed).toBeGreaterThan(3);
    expect((await stack.api("GET", "/runs")).body).toEqual([]);
  });
});
