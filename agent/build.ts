// The agent as it ships: one JavaScript file with its dependencies bundled in, run by plain
// `node`. Run from TypeScript source instead, Node's type stripping alone keeps some 35 MB
// more resident, a quarter of the agent's memory budget.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

/** How the agent's Node is started (the shebang of agent/adsync-agent.js says the same). */
export const agentNodeFlags = ["--max-semi-space-size=1", "--max-old-space-size=256"];

export const agentBundle = fileURLToPath(new URL("./dist/adsync-agent.mjs", import.meta.url));

export async function buildAgent(outfile = agentBundle): Promise<string> {
  const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string };
  await build({
    entryPoints: [fileURLToPath(new URL("./src/main.ts", import.meta.url))],
    outfile,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node22",
    minify: false,
    sourcemap: "linked",
    define: { __ADSYNC_AGENT_VERSION__: JSON.stringify(version) },
    // ldapts and its dependencies are CommonJS in places; give them require() in ESM.
    banner: { js: 'import { createRequire as __createRequire } from "node:module"; const require = __createRequire(import.meta.url);' },
    logLevel: "warning",
  });
  return outfile;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  process.stdout.write(`built ${await buildAgent()}\n`);
}
