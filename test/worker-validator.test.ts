import { readFile } from "node:fs/promises";
import type { Miniflare } from "miniflare";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundleWorker, startWorker } from "./support/worker-bundle.ts";

const template = async (name: string) => readFile(new URL(`../schema/templates/${name}`, import.meta.url), "utf8");

describe("the bundled worker's validator in workerd", () => {
  let mf: Miniflare;
  let source: string;

  beforeAll(async () => {
    const bundle = await bundleWorker();
    source = bundle.source;
    mf = await startWorker(bundle.script);
  });
  afterAll(async () => {
    await mf?.dispose();
  });

  const post = async (body: string) => {
    const res = await mf.dispatchFetch("http://localhost/api/v1/config/validate", { method: "POST", body });
    return {
      status: res.status,
      json: (await res.json()) as { valid: boolean; problems: Array<{ path: string; message: string; severity: string }> },
    };
  };

  it("carries no run-time code generation in the bundle", () => {
    expect(source).not.toMatch(/new Function\(|\beval\(/);
  });

  it("accepts a valid template", async () => {
    const { status, json } = await post(await template("phone-users-group-archive.json"));
    expect(status).toBe(200);
    expect(json).toEqual({ valid: true, problems: [] });
  });

  it("reports schema and semantic errors with their JSON paths, without an EvalError", async () => {
    const doc = JSON.parse(await template("whole-domain-sequential.json"));
    doc.schedule = { mode: "daily", time: "25:00", timeZone: "Mars/Olympus" };
    doc.extensionNumbers.ranges.push({ start: "1500", end: "2500" });
    doc.scope.password = "hunter2";
    const { status, json } = await post(JSON.stringify(doc));
    expect(status).toBe(200);
    expect(json.valid).toBe(false);
    const paths = json.problems.map((p) => p.path);
    expect(paths).toEqual(
      expect.arrayContaining(["/schedule/time", "/schedule/timeZone", "/extensionNumbers/ranges/1", "/scope/password"]),
    );
    expect(json.problems.find((p) => p.path === "/scope/password")?.message).toMatch(/never holds a password/);
  });

  it("answers bad JSON with a stable error code", async () => {
    const res = await mf.dispatchFetch("http://localhost/api/v1/config/validate", { method: "POST", body: "{nope" });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { code: "invalid_json" } });
  });
});
