// The plugin as a host portal loads it, plus the demo host portal `npm start` serves:
//
//   plugin/dist/site/index.html, host.js            the demo host portal (Integrations > Active Directory)
//   plugin/dist/site/plugin/manifest.json           where the element mounts and which module to load
//   plugin/dist/site/plugin/<version>/…             the element, Monaco's lazy chunk and its workers
//   plugin/dist/site/downloads/adsync-agent.mjs     the connector agent, for Agents > Add agent
//
// The versioned folder lets a host cache the bundle for good and switch versions by manifest.
import { copyFile, mkdir, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { build, type Plugin } from "esbuild";
import { agentBundle, buildAgent } from "../agent/build.ts";
import { editorLoaders, editorPlugins, editorWorkerEntryPoints } from "../editor/bundle-entries.ts";

const root = fileURLToPath(new URL("../", import.meta.url));
export const siteDir = join(root, "plugin/dist/site");

export interface BuiltFile {
  path: string;
  bytes: number;
  gzipBytes: number;
}

export interface PluginManifest {
  name: string;
  version: string;
  element: string;
  module: string;
  [key: string]: unknown;
}

export async function readManifest(): Promise<PluginManifest> {
  return JSON.parse(await readFile(join(root, "plugin/manifest.json"), "utf8")) as PluginManifest;
}

/** Puts the partner templates into the bundle, read from schema/templates/ when it is built. */
const templatesModule: Plugin = {
  name: "adsync-templates",
  setup(b) {
    b.onResolve({ filter: /^adsync:templates$/ }, () => ({ path: "templates", namespace: "adsync" }));
    b.onLoad({ filter: /.*/, namespace: "adsync" }, async () => {
      const dir = join(root, "schema/templates");
      const files = (await readdir(dir)).filter((f) => f.endsWith(".json")).sort();
      const templates = await Promise.all(
        files.map(async (file) => ({ file, document: JSON.parse(await readFile(join(dir, file), "utf8")) as unknown })),
      );
      return {
        contents: `export const templates = ${JSON.stringify(templates)};`,
        loader: "js",
        watchFiles: files.map((f) => join(dir, f)),
      };
    });
  },
};

export async function buildPlugin(outDir = siteDir): Promise<BuiltFile[]> {
  const manifest = await readManifest();
  const pkg = JSON.parse(await readFile(join(root, "package.json"), "utf8")) as { version: string };
  if (manifest.version !== pkg.version)
    throw new Error(`plugin/manifest.json says version ${manifest.version}, package.json ${pkg.version}: make them agree`);
  await rm(outDir, { recursive: true, force: true });
  const versionDir = join(outDir, "plugin", manifest.version);
  const common = {
    bundle: true,
    format: "esm" as const,
    target: "es2022",
    minify: true,
    sourcemap: "linked" as const,
    legalComments: "linked" as const,
    logLevel: "warning" as const,
    metafile: true,
  };
  await build({
    ...common,
    entryPoints: { "ad-sync-integration": join(root, "plugin/src/ad-sync-integration.ts"), ...editorWorkerEntryPoints },
    outdir: versionDir,
    splitting: true,
    chunkNames: "chunks/[name]-[hash]",
    assetNames: "assets/[name]-[hash]",
    loader: editorLoaders,
    plugins: [templatesModule, ...editorPlugins],
  });
  await build({ ...common, entryPoints: [join(root, "plugin/host/host.ts")], outfile: join(outDir, "host.js") });
  await copyFile(join(root, "plugin/host/index.html"), join(outDir, "index.html"));
  const served: PluginManifest = { ...manifest, module: `${manifest.version}/${manifest.module}` };
  await writeFile(join(outDir, "plugin/manifest.json"), `${JSON.stringify(served, null, 2)}\n`);
  await mkdir(join(outDir, "downloads"), { recursive: true });
  await buildAgent();
  await copyFile(agentBundle, join(outDir, "downloads/adsync-agent.mjs"));
  return sizes(outDir);
}

async function sizes(dir: string): Promise<BuiltFile[]> {
  const out: BuiltFile[] = [];
  const walk = async (at: string): Promise<void> => {
    for (const entry of await readdir(at, { withFileTypes: true })) {
      const path = join(at, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (!entry.name.endsWith(".map")) {
        const bytes = (await stat(path)).size;
        out.push({ path: relative(dir, path), bytes, gzipBytes: gzipSync(await readFile(path)).length });
      }
    }
  };
  await walk(dir);
  return out.sort((a, b) => a.path.localeCompare(b.path));
}

export function sizeTable(files: BuiltFile[]): string {
  const kb = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
  const width = Math.max(...files.map((f) => f.path.length));
  return files.map((f) => `${f.path.padEnd(width)}  ${kb(f.bytes).padStart(10)}  ${kb(f.gzipBytes).padStart(10)} gzip`).join("\n");
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const files = await buildPlugin();
  process.stdout.write(`built ${relative(root, siteDir)}/\n${sizeTable(files)}\n`);
}
