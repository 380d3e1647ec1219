// Which top-level folder may import which. The layout is the design: the schema is the
// contract and depends on nothing of ours; the engine is pure and depends on the schema
// alone, so the worker, the CLI's offline preview and the portal's types all run the same
// code; the worker, the agent, the editor, the plugin and the CLI are separate programs
// that meet only through the schema and the engine. Checked over the real import graph.
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";

/** Folders whose imports are checked; the others (test/, bench/, scripts/) are harnesses. */
const checked = ["schema", "engine", "worker", "agent", "editor", "plugin", "cli"] as const;
type Checked = (typeof checked)[number];

/** What production code in each folder may import, besides the folder itself. */
const allowed: Record<Checked, readonly string[]> = {
  schema: [],
  engine: ["schema"],
  worker: ["schema", "engine"],
  agent: ["schema"],
  editor: ["schema"],
  plugin: ["schema", "engine"],
  cli: ["schema", "engine"],
};

/** Narrow exceptions, each with its reason; `from` and `to` are path prefixes. */
const exceptions: ReadonlyArray<{ from: string; to: string; typeOnly?: boolean; why: string }> = [
  { from: "plugin/", to: "worker/src/", typeOnly: true, why: "the portal's client is typed with the API's own shapes" },
  { from: "plugin/src/", to: "editor/src/", why: "the Synchronization section embeds the configuration editor" },
  { from: "plugin/build.ts", to: "editor/bundle-entries.ts", why: "the portal's build bundles the editor and its workers" },
  { from: "plugin/build.ts", to: "agent/build.ts", why: "the portal's site offers the agent as a download" },
  { from: "cli/adsync.js", to: "scripts/node-launcher.js", why: "the npm bin entry starts on Node >= 22 through the launcher" },
  { from: "agent/adsync-agent.js", to: "scripts/node-launcher.js", why: "the npm bin entry starts on Node >= 22 through the launcher" },
  { from: "cli/", to: "agent/src/ldif/", why: "offline preview reads an LDIF export the way the agent does" },
  { from: "cli/", to: "agent/src/ldap/search.ts", why: "offline preview pages through that export as the agent does" },
];

/** Test code may also use the shared fixtures and the sample directory. */
const testAllowed = ["test", "sample"];

export interface Violation {
  file: string;
  specifier: string;
  target: string;
  rule: string;
}

export interface ImportEdge {
  specifier: string;
  typeOnly: boolean;
}

/** The module specifiers a TypeScript file imports or re-exports, static and dynamic. */
export function importsOf(source: string): ImportEdge[] {
  // Comments may quote import lines (and URLs hold "//"), so drop them before matching.
  const code = source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:"'`\\])\/\/.*$/gm, "$1");
  const edges: ImportEdge[] = [];
  const statement = /(?:^|[;}\s])(import|export)\s+(type\s+)?(?:[\w*\s{},$]*?\s*from\s*)?["']([^"']+)["']/g;
  for (const m of code.matchAll(statement)) edges.push({ specifier: m[3] as string, typeOnly: m[2] !== undefined });
  for (const m of code.matchAll(/\bimport\(\s*["']([^"']+)["']\s*\)/g)) edges.push({ specifier: m[1] as string, typeOnly: false });
  return edges;
}

function isTestCode(file: string): boolean {
  return /\.test\.ts$/.test(file) || /(^|\/)test-support\.ts$/.test(file);
}

/** Every boundary the files under `root` cross without leave. */
export function boundaryViolations(root: string): Violation[] {
  const violations: Violation[] = [];
  for (const folder of checked) {
    for (const file of sourceFiles(join(root, folder))) {
      const from = relative(root, file).split(sep).join("/");
      const test = isTestCode(from);
      for (const edge of importsOf(readFileSync(file, "utf8"))) {
        const violation = check(root, folder, from, test, edge);
        if (violation) violations.push(violation);
      }
    }
  }
  return violations;
}

function check(root: string, folder: Checked, from: string, test: boolean, edge: ImportEdge): Violation | undefined {
  const { specifier } = edge;
  if (!specifier.startsWith(".")) {
    // The engine runs in workerd, Node and the browser alike: no platform module, no package.
    if (folder === "engine" && !test)
      return { file: from, specifier, target: specifier, rule: "engine/ imports no package or platform module" };
    return undefined;
  }
  const target = relative(root, resolve(root, dirname(from), specifier))
    .split(sep)
    .join("/");
  const top = target.split("/")[0] as string;
  if (target.startsWith("..")) return { file: from, specifier, target, rule: "imports stay inside the repository" };
  if (top === folder || allowed[folder].includes(top)) return undefined;
  if (test && testAllowed.includes(top)) return undefined;
  for (const e of exceptions) {
    if (from.startsWith(e.from) && target.startsWith(e.to) && (!e.typeOnly || edge.typeOnly)) return undefined;
  }
  const may = [folder, ...allowed[folder]].map((f) => `${f}/`).join(", ");
  return { file: from, specifier, target, rule: `${folder}/ may import ${may} only` };
}

function* sourceFiles(dir: string): Generator<string> {
  let entries: import("node:fs").Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const entry of entries) {
    if (entry.name === "node_modules" || entry.name === "dist" || entry.name.startsWith(".")) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* sourceFiles(path);
    else if (/\.(ts|js|mjs)$/.test(entry.name) && !entry.name.endsWith(".d.ts")) yield path;
  }
}
