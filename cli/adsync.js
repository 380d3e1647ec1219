#!/usr/bin/env node
// Launcher kept to syntax every Node runs, because `npx adsync` starts whatever `node` is on
// PATH: older than 22, it hands over to the project's Node 24 (scripts/ensure-node.sh).
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const major = Number(process.versions.node.split(".")[0]);

if (major >= 22) {
  await import("./main.ts");
} else {
  const result = spawnSync(
    "bash",
    ["-c", 'source "$0/scripts/ensure-node.sh" && exec node "$0/cli/main.ts" "$@"', root, ...process.argv.slice(2)],
    { stdio: "inherit" },
  );
  process.exit(result.status ?? 1);
}
