// npm run bench: the speed and memory figures, each as a ratio against a reference measured
// in the same run on the same machine. Results go to bench-results/latest.json as well.
import { mkdirSync, writeFileSync } from "node:fs";
import { buildAgent } from "../agent/build.ts";
import { startSambaDc } from "../test/support/samba-dc.ts";
import { benchAgentSearch } from "./agent-search.ts";
import { largeDirectoryLdif } from "./large-directory.ts";
import { benchSyncPath } from "./sync-path.ts";

const USERS = Number(process.env.ADSYNC_BENCH_USERS ?? 10000);
const log = (line: string) => process.stdout.write(`${line}\n`);

await buildAgent();
log(`bench: a Samba DC with ${USERS} generated users on 127.0.0.81 (provisioned once, then cached)`);
const dc = await startSambaDc({ ip: "127.0.0.81", seedLdif: largeDirectoryLdif(USERS), log: (l) => log(`  samba: ${l}`) });
const results: Record<string, unknown> = { users: USERS, node: process.version, at: new Date().toISOString() };
try {
  results.agentSearch = await benchAgentSearch(dc.info, USERS, log);
  results.syncPath = await benchSyncPath(dc.info, log);
} finally {
  await dc.destroy();
}
mkdirSync("bench-results", { recursive: true });
writeFileSync("bench-results/latest.json", `${JSON.stringify(results, null, 2)}\n`);
log("bench: wrote bench-results/latest.json");
