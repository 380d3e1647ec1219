// Shared by the package's bins, in syntax every Node runs: `npx adsync` starts whatever `node`
// is on PATH, and when that is older than 22 this hands over to the project's Node 24
// (scripts/ensure-node.sh) instead of failing on TypeScript it cannot strip.
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export async function launch(entry) {
  const major = Number(process.versions.node.split(".")[0]);
  if (major >= 22) {
    await import(entry.href);
    return;
  }
  const root = join(dirname(fileURLToPath(import.meta.url)), "..");
  const result = spawnSync(
    "bash",
    // execArgv: V8 flags from the bin's shebang line apply to the newer Node too.
    [
      "-c",
      'source "$0/scripts/ensure-node.sh" && exec node "$@"',
      root,
      ...process.execArgv,
      fileURLToPath(entry),
      ...process.argv.slice(2),
    ],
    { stdio: "inherit" },
  );
  process.exit(result.status ?? 1);
}
