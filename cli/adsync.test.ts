import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";

const root = new URL("../", import.meta.url).pathname;
const launcher = join(root, "cli/adsync.js");

async function adsync(args: string[], node = process.execPath): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(node, [launcher, ...args], { cwd: root, maxBuffer: 16 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "adsync-cli-"));
});

describe("adsync validate", () => {
  it("accepts every shipped template", async () => {
    const templates = (await readdir(join(root, "schema/templates"))).map((f) => join(root, "schema/templates", f));
    const { code, stdout, stderr } = await adsync(["validate", ...templates]);
    expect({ code, stdout, stderr }).toEqual({ code: 0, stdout: "", stderr: "" });
  });

  it("points at the broken spot of a broken copy, file:line:col, and exits 1", async () => {
    const file = join(work, "broken.json");
    const text = (await readFile(join(root, "schema/templates/whole-domain-sequential.json"), "utf8"))
      .replace('"end": "1999"', '"end": "0999"')
      .replace('"everyMinutes": 60', '"everyMinutes": 60, "weekday": "monday"');
    await writeFile(file, text);
    const lines = text.split("\n");
    const lineOf = (needle: string) => lines.findIndex((l) => l.includes(needle)) + 1;
    const colOf = (needle: string) => (lines[lineOf(needle) - 1] as string).indexOf(needle) + 1;

    const { code, stdout } = await adsync(["validate", file]);
    expect(code).toBe(1);
    expect(stdout).toContain(
      `${file}:${lineOf('"end": "0999"')}:${colOf('"end"')}: error: the range is empty: end 0999 is below start 1000 (/extensionNumbers/ranges/0/end)`,
    );
    expect(stdout).toContain(`${file}:${lineOf('"weekday"')}:${colOf('"weekday"')}: error: unknown property "weekday" (/schedule/weekday)`);
  });

  it("prints warnings without failing", async () => {
    const file = join(work, "warn.json");
    const doc = JSON.parse(await readFile(join(root, "schema/templates/whole-domain-sequential.json"), "utf8"));
    doc.schedule.time = "03:00";
    await writeFile(file, JSON.stringify(doc, null, 2));
    const { code, stdout } = await adsync(["validate", file]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/warn\.json:\d+:\d+: warning: is only used with mode "daily"/);
  });

  it.each<[string, () => Promise<string>, RegExp]>([
    ["a missing file", async () => join(work, "does-not-exist.json"), /does-not-exist\.json: no such file$/],
    ["an empty file", async () => write("empty.json", "  \n"), /empty\.json: is empty; a configuration is a JSON object$/],
    [
      "text that is not JSON",
      async () => write("syntax.json", '{\n  "scope": { "users": "all" },\n  oops\n}\n'),
      /syntax\.json:3:3: error: not valid JSON: unexpected character "oops"$/,
    ],
    [
      "JSON with a comment",
      async () => write("comment.json", "{ // note\n}"),
      /comment\.json:1:3: error: not valid JSON: comments are not allowed in JSON$/,
    ],
    [
      "a 20 MB file",
      async () => write("huge.json", `{"a":"${"x".repeat(20 * 1024 * 1024)}"}`),
      /huge\.json: is 20\.0 MB; a configuration is at most 2 MB$/,
    ],
    [
      "10,000-deep nesting",
      async () => write("deep.json", `${"[".repeat(10_000)}${"]".repeat(10_000)}`),
      /deep\.json:1:65: error: nested deeper than 64 levels/,
    ],
    ["a directory", async () => work, /is a directory/],
  ])("refuses %s with one line and exit 2", async (_name, make, message) => {
    const { code, stdout, stderr } = await adsync(["validate", await make()]);
    expect(code).toBe(2);
    expect(stdout).toBe("");
    expect(stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(stderr.trimEnd()).toMatch(message);
  });

  it("goes on to the other files after an unreadable one, and exits with the worst outcome", async () => {
    const good = join(root, "schema/templates/sales-support-ipphone.json");
    const { code, stderr } = await adsync(["validate", join(work, "missing.json"), good]);
    expect(code).toBe(2);
    expect(stderr).toMatch(/missing\.json: no such file/);
  });
});

describe("adsync", () => {
  it("prints the schema", async () => {
    const { code, stdout } = await adsync(["schema"]);
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual(JSON.parse(await readFile(join(root, "schema/config.schema.json"), "utf8")));
  });

  it("reports the generated types as current", async () => {
    const { code, stderr } = await adsync(["types", "--check"]);
    expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
  });

  it("answers an unknown command with usage and exit 2", async () => {
    const { code, stderr } = await adsync(["frobnicate"]);
    expect(code).toBe(2);
    expect(stderr).toMatch(/unknown command "frobnicate"[\s\S]*usage: adsync/);
  });

  // The machine's own Node may be older than the project needs; the launcher must hand over.
  it.runIf(existsSync("/usr/bin/node"))("runs when started by the machine's own node", async () => {
    const good = join(root, "schema/templates/sales-support-ipphone.json");
    const { code, stdout } = await adsync(["validate", good], "/usr/bin/node");
    expect(code).toBe(0);
    expect(stdout).toBe("");
  });
});

async function write(name: string, text: string): Promise<string> {
  const file = join(work, name);
  await writeFile(file, text);
  return file;
}
