// adsync preview: the plan of a sync from an LDIF export, with no DC, agent or worker. The
// end-to-end test in test/sync-engine.test.ts checks it gives the plan the DC gives.
import { execFile } from "node:child_process";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { LdifDirectory } from "../agent/src/ldif/ldif-directory.ts";
import { blankExtension, type Extension } from "../engine/pbx/pbx-port.ts";
import type { SyncConfig } from "../schema/generated/config.ts";
import { previewOffline } from "./preview.ts";

const root = new URL("../", import.meta.url).pathname;
const fixture = join(root, "test/fixtures/directory.ldif");
const STAFF = "OU=Staff,DC=example,DC=com";

async function adsync(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [join(root, "cli/adsync.js"), ...args], { cwd: root });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

const config = {
  scope: { users: "ous", ous: [{ dn: STAFF }] },
  extensionNumbers: { source: "attributeThenSequential", attribute: "ipPhone", ranges: [{ start: "2000", end: "2099" }] },
  organisation: { departments: { from: "ouTree" } },
  deprovisioning: { whenOutOfScope: "delete", whenDeleted: "delete", archive: { extension: "0999" } },
  schedule: { mode: "manual" },
} satisfies SyncConfig;

const manual = (number: string, displayName: string) => blankExtension(number, { displayName });

let work: string;
let directory: LdifDirectory;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "adsync-preview-"));
  directory = await LdifDirectory.fromFile(fixture);
});

describe("previewOffline", () => {
  it("plans the fixture's users with their numbers, departments, conflicts and exclusions", async () => {
    const { read, plan } = await previewOffline(config, directory, [manual("0999", "Leavers archive"), manual("1001", "Reception")]);
    expect(read).toMatchObject({ complete: true, inScope: 13, outside: 0 });
    const byName = Object.fromEntries(plan.items.map((i) => [i.name, i]));
    expect(byName["Judy Jones"]).toMatchObject({ action: "create", number: "1000", state: { departmentPath: "Staff" } });
    expect(byName["Smith, John"]).toMatchObject({ action: "create", number: "1002", state: { departmentPath: "Staff > Sales" } });
    expect(byName["Zoë Müller"]).toMatchObject({ action: "create", number: "1003" });
    expect(byName["Dave Davis"]).toMatchObject({ action: "create", number: "2000" });
    expect(byName["Alice Anderson"]).toMatchObject({ action: "conflict", code: "number_taken_manual" });
    expect(byName["Erin Evans"]).toMatchObject({ action: "excluded", code: "disabled" });
    expect(plan.departmentsToCreate).toEqual([
      "Staff",
      "Staff > Engineering",
      "Staff > Engineering > Platform",
      "Staff > Sales",
      "Staff > Support",
    ]);
  });

  it("deletes the extension of a user missing from a complete export, and nothing when the export says it stopped early", async () => {
    const first = await previewOffline(config, directory);
    const judy = first.plan.items.find((i) => i.name === "Judy Jones");
    const synced: Extension = { ...manual("1000", "Judy Jones"), origin: "ad", guid: judy?.guid ?? null, dn: judy?.dn ?? null };
    const text = await readFile(fixture, "utf8");
    // Deleting a user in AD also takes them out of their groups.
    const withoutJudy = text.replace(/dn: CN=Judy Jones,[\s\S]*?\n\n/, "").replace(/^member: CN=Judy Jones,.*\n/gm, "");
    expect(withoutJudy).not.toContain("CN=Judy Jones");

    const gone = await previewOffline(config, LdifDirectory.fromText(withoutJudy), [synced]);
    expect(gone.plan.items.find((i) => i.number === "1000")).toMatchObject({ action: "delete", code: "deleted_in_ad" });

    // ldapsearch's own trailer when the server stopped at its size limit.
    const truncated = `${withoutJudy}\n# search result\nsearch: 2\nresult: 4 Size limit exceeded\n`;
    const held = await previewOffline(config, LdifDirectory.fromText(truncated), [synced]);
    expect(held.read).toMatchObject({ complete: false, reason: expect.stringMatching(/result: 4 Size limit exceeded/) });
    expect(held.plan.summary.delete).toBe(0);
    expect(held.plan.items.find((i) => i.number === "1000")?.action).not.toBe("delete");
  });
});

describe("adsync preview", () => {
  it("prints the plan of a shipped template over an export", async () => {
    const { code, stdout, stderr } = await adsync([
      "preview",
      "--config",
      "schema/templates/sales-support-ipphone.json",
      "--ldif",
      "test/fixtures/directory.ldif",
    ]);
    expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
    const lines = stdout.split("\n");
    expect(lines[0]).toBe("Read test/fixtures/directory.ldif: 8 users in scope");
    expect(lines).toContain("Plan: 6 create, 1 conflict, 1 excluded");
    expect(lines).toContainEqual(expect.stringMatching(/^create +1003 +Zoë Müller +Staff > Sales$/));
    expect(lines).toContainEqual(expect.stringMatching(/^conflict +- +Dave Davis +ipPhone is empty, so there is no extension number$/));
  });

  it("takes the PBX's extensions as GET …/extensions returns them, and prints JSON on request", async () => {
    const file = join(work, "config.json");
    const extensions = join(work, "extensions.json");
    await writeFile(file, JSON.stringify(config));
    await writeFile(extensions, JSON.stringify({ total: 1, extensions: [manual("1001", "Reception")] }));
    const { code, stdout } = await adsync(["preview", "--config", file, "--ldif", fixture, "--extensions", extensions, "--json"]);
    expect(code).toBe(0);
    const result = JSON.parse(stdout);
    expect(result.plan.items.find((i: { name: string }) => i.name === "Alice Anderson")).toMatchObject({
      action: "conflict",
      code: "number_taken_manual",
    });
  });

  it("refuses an invalid configuration (exit 1) and unreadable input (exit 2), saying why", async () => {
    const file = join(work, "bad.json");
    await writeFile(
      file,
      JSON.stringify({ ...config, extensionNumbers: { source: "sequential", ranges: [{ start: "2000", end: "1000" }] } }),
    );
    const invalid = await adsync(["preview", "--config", file, "--ldif", fixture]);
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toMatch(/error: .*\(\/extensionNumbers\/ranges\/0/);

    await writeFile(file, JSON.stringify(config));
    const missing = await adsync(["preview", "--config", file, "--ldif", join(work, "nope.ldif")]);
    expect(missing).toMatchObject({ code: 2, stderr: expect.stringMatching(/nope\.ldif: no such file/) });

    const broken = join(work, "broken.ldif");
    await writeFile(broken, "dn: CN=x,DC=example,DC=com\nthis is not ldif\n");
    const unreadable = await adsync(["preview", "--config", file, "--ldif", broken]);
    expect(unreadable).toMatchObject({ code: 2, stderr: expect.stringMatching(/LDIF line 2/) });

    const usage = await adsync(["preview", "--config", file]);
    expect(usage).toMatchObject({ code: 2, stderr: expect.stringMatching(/preview needs --ldif/) });
  });
});
