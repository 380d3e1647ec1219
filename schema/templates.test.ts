import { readdir, readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { validateConfig } from "./src/validate-config.ts";

const dir = new URL("./templates/", import.meta.url);
const names = (await readdir(dir)).filter((f) => f.endsWith(".json")).sort();
const templates = await Promise.all(names.map(async (name) => ({ name, doc: JSON.parse(await readFile(new URL(name, dir), "utf8")) })));

/** Every string in a document, with its key, for the secret scan. */
function entries(node: unknown, key = ""): Array<[string, unknown]> {
  if (Array.isArray(node)) return node.flatMap((v) => entries(v, key));
  if (typeof node === "object" && node !== null)
    return Object.entries(node).flatMap(([k, v]) => [[k, v] as [string, unknown], ...entries(v, k)]);
  return [[key, node]];
}

describe("partner templates", () => {
  it("ship at least five distinct setups", () => {
    expect(names.length).toBeGreaterThanOrEqual(5);
    expect(new Set(templates.map((t) => t.doc.metadata?.title)).size).toBe(names.length);
    const shapes = new Set(
      templates.map(({ doc }) => `${doc.scope?.users}/${doc.extensionNumbers?.source}/${doc.deprovisioning?.whenDeleted}`),
    );
    expect(shapes.size).toBe(names.length);
  });

  it.each(names)("%s passes validation with no problem at all", (name) => {
    const { doc } = templates.find((t) => t.name === name) as { doc: unknown };
    expect(validateConfig(doc)).toEqual([]);
  });

  it.each(names)("%s carries title, description, author and version, and points editors at the schema", (name) => {
    const { doc } = templates.find((t) => t.name === name) as { doc: Record<string, Record<string, unknown>> };
    expect(doc.$schema).toBe("../config.schema.json");
    expect(doc.metadata).toMatchObject({
      title: expect.stringMatching(/\S{3}/),
      description: expect.stringMatching(/.{40}/),
      author: expect.stringMatching(/\S/),
      version: expect.stringMatching(/^\d+\.\d+/),
    });
  });

  it.each(names)("%s contains no secret and no customer connection", (name) => {
    const { doc } = templates.find((t) => t.name === name) as { doc: Record<string, unknown> };
    expect(doc.connection).toBeUndefined();
    const suspicious = entries(doc).filter(
      ([key, value]) =>
        /pass(word)?|secret|token|credential|pwd|key$/i.test(key) ||
        (typeof value === "string" && /-----BEGIN [A-Z ]*PRIVATE KEY-----|^eyJ[\w-]+\.[\w-]+\.|password\s*[:=]/i.test(value)),
    );
    expect(suspicious).toEqual([]);
  });
});
