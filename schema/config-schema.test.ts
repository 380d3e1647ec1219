import { readFile } from "node:fs/promises";
import Ajv2020 from "ajv/dist/2020.js";
import { describe, expect, it } from "vitest";

const schema = JSON.parse(await readFile(new URL("./config.schema.json", import.meta.url), "utf8"));

type Node = Record<string, unknown>;

/** Every property schema in the document, with the JSON path that leads to it. */
function properties(node: unknown, path: string, out: Array<{ path: string; schema: Node }> = []): Array<{ path: string; schema: Node }> {
  if (typeof node !== "object" || node === null) return out;
  const n = node as Node;
  for (const [name, child] of Object.entries((n.properties as Node | undefined) ?? {})) {
    out.push({ path: `${path}/properties/${name}`, schema: child as Node });
    properties(child, `${path}/properties/${name}`, out);
  }
  for (const key of ["items", "additionalProperties"]) if (typeof n[key] === "object") properties(n[key], `${path}/${key}`, out);
  for (const [name, def] of Object.entries((n.$defs as Node | undefined) ?? {})) properties(def, `${path}/$defs/${name}`, out);
  return out;
}

/** The schema a $ref points at, for descriptions inherited from a definition. */
function resolve(node: Node): Node {
  const ref = node.$ref;
  if (typeof ref !== "string") return node;
  const name = ref.replace("#/$defs/", "");
  return { ...(schema.$defs[name] as Node), ...node };
}

const all = properties(schema, "#");
const inConditionals = (p: string) => /\/(allOf|anyOf|if|then|not)\//.test(p);

describe("the configuration schema", () => {
  it("is draft 2020-12 with a stable $id", () => {
    expect(schema.$schema).toBe("https://json-schema.org/draft/2020-12/schema");
    expect(schema.$id).toBe("https://schemas.pbx-ad-sync.dev/sync-config/v1.json");
  });

  it("describes every property, since descriptions are the editor's hover text", () => {
    const undocumented = all
      .filter(({ path }) => !inConditionals(path))
      .filter(({ schema: s }) => {
        const d = resolve(s).description;
        return typeof d !== "string" || d.length < 15;
      })
      .map(({ path }) => path);
    expect(undocumented).toEqual([]);
  });

  it("rejects unknown properties everywhere, so a typo or a pasted password is an error", () => {
    const objects: string[] = [];
    const walk = (node: unknown, path: string) => {
      if (typeof node !== "object" || node === null) return;
      const n = node as Node;
      if (n.type === "object" && n.properties && !inConditionals(path) && n.additionalProperties !== false) objects.push(path);
      for (const [k, v] of Object.entries(n)) walk(v, `${path}/${k}`);
    };
    walk(schema, "#");
    expect(objects).toEqual([]);
  });

  it("has defaults that are valid values of their own property", () => {
    const ajv = new Ajv2020.default({ strict: false });
    ajv.addSchema(schema);
    const bad = all
      .filter(({ schema: s }) => "default" in s)
      .filter(({ path, schema: s }) => !ajv.validate({ $ref: `${schema.$id}${path}` }, s.default))
      .map(({ path }) => path);
    expect(all.filter(({ schema: s }) => "default" in s).length).toBeGreaterThan(20);
    expect(bad).toEqual([]);
  });

  it("offers editor snippets that are themselves valid where they are offered", () => {
    const withSnippets: Array<{ path: string; node: Node }> = [];
    const walk = (node: unknown, path: string) => {
      if (typeof node !== "object" || node === null) return;
      const n = node as Node;
      if (Array.isArray(n.defaultSnippets)) withSnippets.push({ path, node: n });
      for (const [k, v] of Object.entries(n)) if (k !== "defaultSnippets") walk(v, `${path}/${k}`);
    };
    walk(schema, "#");
    expect(withSnippets.length).toBeGreaterThanOrEqual(8);
    const ajv = new Ajv2020.default({ strict: false });
    ajv.addSchema(schema);
    // Placeholders like ${1:1000} become their default text, as the editor inserts them.
    const fill = (body: unknown) => JSON.parse(JSON.stringify(body).replace(/\$\{\d+:([^}]*)\}/g, "$1"));
    const invalid = withSnippets.flatMap(({ path, node }) =>
      (node.defaultSnippets as Array<{ label: string; body: unknown }>)
        .filter((s) => !ajv.validate({ $ref: `${schema.$id}${path === "#" ? "" : path}` }, fill(s.body)))
        .map((s) => `${path}: ${s.label}`),
    );
    expect(invalid).toEqual([]);
  });
});
