// npm run bench: the speed and memory figures, each as a ratio against a reference measured
// in the same run on the same machine. Results go to bench-results/latest.json as well.
import { mkdirSync, writeFileSync } from "node:fs";
import { buildAgent } from "../agent/build.ts";
import { startSambaDc } from "../test/support/samba-dc.ts";
import { benchAgentSearch } from "./agent-search.ts";
import { benchDomainLogin } from "./domain-login.ts";
import { benchUsersWithPassword, largeDirectoryLdif } from "./large-directory.ts";
import { benchPbxSync } from "./pbx-sync.ts";
import { benchScale } from "./scale.ts";
import { benchSyncPath } from "./sync-path.ts";

const USERS = Number(process.env.ADSYNC_BENCH_USERS ?? 10000);
const log = (line: string) => process.stdout.write(`${line}\n`);
// `npm run bench -- domain-login` runs only the named parts: agent-search, sync-path, domain-login, pbx, scale.
const only = process.argv.slice(2);
const runs = (part: string) => only.length === 0 || only.includes(part);

await buildAgent();
log(`bench: a Samba DC with ${USERS} generated users on 127.0.0.81 (provisioned once, then cached)`);
const dc = await startSambaDc({
  ip: "127.0.0.81",
  seedLdif: largeDirectoryLdif(USERS),
  seedOffline: { passwords: benchUsersWithPassword },
  log: (l) => log(`  samba: ${l}`),
});
const results: Record<string, unknown> = { users: USERS, node: process.version, at: new Date().toISOString() };
try {
  if (runs("agent-search")) results.agentSearch = await benchAgentSearch(dc.info, USERS, log);
  if (runs("sync-path")) results.syncPath = await benchSyncPath(dc.info, log);
  if (runs("domain-login")) results.domainLogin = await benchDomainLogin(dc.info, USERS, log);
  if (runs("pbx")) results.pbxSync = await benchPbxSync(dc.info, log);
  // Last: it changes the directory.
  if (runs("scale")) results.scale = await benchScale(dc, log);
} finally {
  await dc.destroy();
}
mkdirSync("bench-results", { recursive: true });
writeFileSync("bench-results/latest.json", `${JSON.stringify(results, null, 2)}\n`);
log("bench: wrote bench-results/latest.json");
