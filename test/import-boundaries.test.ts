import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { boundaryViolations, importsOf } from "./support/import-boundaries.ts";

const repository = join(import.meta.dirname, "..");

describe("import boundaries", () => {
  it("holds in this repository", () => {
    expect(boundaryViolations(repository)).toEqual([]);
  });

  describe("on a tree with a forbidden import", () => {
    let root: string | undefined;
    afterEach(() => {
      if (root) rmSync(root, { recursive: true, force: true });
      root = undefined;
    });
    const tree = (files: Record<string, string>) => {
      root = mkdtempSync(join(tmpdir(), "boundaries-"));
      for (const [path, text] of Object.entries(files)) {
        mkdirSync(dirname(join(root, path)), { recursive: true });
        writeFileSync(join(root, path), text);
      }
      return root;
    };

    it.each([
      [
        "schema/ importing the engine",
        "schema/src/a.ts",
        'import { planSync } from "../../engine/plan.ts";',
        "schema/ may import schema/ only",
      ],
      [
        "the engine importing the worker",
        "engine/plan.ts",
        'import { Sql } from "../worker/src/sql.ts";',
        "engine/ may import engine/, schema/ only",
      ],
      [
        "the engine importing a Node module",
        "engine/plan.ts",
        'import { readFile } from "node:fs";',
        "engine/ imports no package or platform module",
      ],
      [
        "the engine importing Workers' runtime",
        "engine/plan.ts",
        'import { DurableObject } from "cloudflare:workers";',
        "engine/ imports no package or platform module",
      ],
      [
        "the worker importing the agent",
        "worker/src/x.ts",
        'import { runOperation } from "../../agent/src/operations.ts";',
        "worker/ may import worker/, schema/, engine/ only",
      ],
      [
        "the agent importing the worker",
        "agent/src/x.ts",
        'export { ApiError } from "../../worker/src/api-error.ts";',
        "agent/ may import agent/, schema/ only",
      ],
      [
        "the editor importing the plugin, dynamically",
        "editor/src/x.ts",
        'const m = await import("../../plugin/src/dom.ts");',
        "editor/ may import editor/, schema/ only",
      ],
      [
        "the plugin importing worker code as a value",
        "plugin/src/x.ts",
        'import { app } from "../../worker/src/index.ts";',
        "plugin/ may import plugin/, schema/, engine/ only",
      ],
      [
        "the CLI importing the agent's LDAP connection",
        "cli/x.ts",
        'import { connect } from "../agent/src/ldap/connection.ts";',
        "cli/ may import cli/, schema/, engine/ only",
      ],
      [
        "production code importing a test fixture",
        "worker/src/x.ts",
        'import { startStack } from "../../test/support/stack.ts";',
        "worker/ may import worker/, schema/, engine/ only",
      ],
    ])("fails on %s", (_name, file, line, rule) => {
      const violations = boundaryViolations(tree({ [file]: `// one import too many\n${line}\n` }));
      expect(violations).toEqual([expect.objectContaining({ file, rule })]);
    });

    it("lets through what the layout allows", () => {
      const root = tree({
        "engine/plan.ts": 'import type { SyncConfig } from "../schema/generated/config.ts";\n',
        "engine/plan.test.ts": 'import { it } from "vitest";\nimport { x } from "../test/support/stack.ts";\n',
        "worker/src/a.ts": 'import { planSync } from "../../engine/plan.ts";\n',
        "plugin/src/api-types.ts": 'export type { RunInfo } from "../../worker/src/sync/sync-runs.ts";\n',
        "plugin/src/sections/s.ts": 'const { createConfigEditor } = await import("../../../editor/src/config-editor.ts");\n',
        "cli/preview.ts": 'import { LdifDirectory } from "../agent/src/ldif/ldif-directory.ts";\n',
        "editor/src/a.test.ts": 'import sample from "../../sample/config.json" with { type: "json" };\n',
      });
      expect(boundaryViolations(root)).toEqual([]);
    });
  });

  it("reads static, re-exported, type-only and dynamic imports, not those quoted in comments", () => {
    const source = [
      'import { a } from "./a.ts";',
      'import type { B } from "./b.ts";',
      "import {",
      "  c,",
      "  type D,",
      '} from "./c.ts";',
      'export { e } from "./e.ts";',
      'export type { F } from "./f.ts";',
      'import "./side-effect.ts";',
      'const g = await import("./g.ts");',
      '// import { h } from "./commented.ts";',
      '/* const i = await import("./commented-block.ts"); */',
      'const url = "https://example.com/x"; // import("./after-url.ts")',
    ].join("\n");
    expect(importsOf(source)).toEqual([
      { specifier: "./a.ts", typeOnly: false },
      { specifier: "./b.ts", typeOnly: true },
      { specifier: "./c.ts", typeOnly: false },
      { specifier: "./e.ts", typeOnly: false },
      { specifier: "./f.ts", typeOnly: true },
      { specifier: "./side-effect.ts", typeOnly: false },
      { specifier: "./g.ts", typeOnly: false },
    ]);
  });
});
