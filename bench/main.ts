// npm run bench: the speed and memory figures, each as a ratio against a reference measured
// in the same run on the same machine. Results go to bench-results/latest.json as well.
import { mkdirSync, writeFileSync } from "node:fs";
import { buildAgent } from "../agent/build.ts";
import { startSambaDc } from "../test/support/samba-dc.ts";
import { benchAgentSearch } from "./agent-search.ts";
import { type ShapeName, shapeNames } from "./directory-shapes.ts";
import { benchDomainLogin } from "./domain-login.ts";
import { benchUsersWithPassword, largeDirectoryLdif } from "./large-directory.ts";
import { benchPbxSync } from "./pbx-sync.ts";
import { benchScale, type ScaleResult, scaleRatios } from "./scale.ts";
import { benchShapes } from "./shapes.ts";
import { benchSyncPath } from "./sync-path.ts";

const USERS = Number(process.env.ADSYNC_BENCH_USERS ?? 10000);
// The scale part measures each of these sizes, each on a DC of its own (provisioned once, cached).
const SCALE_SIZES = (process.env.ADSYNC_BENCH_SCALE_USERS ?? "10000,100000").split(",").map(Number);
// The shapes part measures these directory shapes at these sizes, each on a DC of its own.
const SHAPES = (process.env.ADSYNC_BENCH_SHAPES ?? shapeNames.join(",")).split(",") as ShapeName[];
const SHAPE_SIZES = (process.env.ADSYNC_BENCH_SHAPE_USERS ?? "10000").split(",").map(Number);
// A directory to write a CPU profile of the worker over each scale size's first sync to.
const PROFILE_TO = process.env.ADSYNC_BENCH_PROFILE;
const log = (line: string) => process.stdout.write(`${line}\n`);
// `npm run bench -- domain-login` runs only the named parts: agent-search, sync-path, domain-login, pbx, shapes, scale.
const only = process.argv.slice(2);
const runs = (part: string) => only.length === 0 || only.includes(part);

await buildAgent();
log(`bench: Samba DCs of generated users on 127.0.0.81 (each size provisioned once, then cached)`);
const benchDc = (users: number) =>
  startSambaDc({
    ip: "127.0.0.81",
    seedLdif: largeDirectoryLdif(users),
    seedOffline: { passwords: benchUsersWithPassword },
    log: (l) => log(`  samba (${users} users): ${l}`),
  });
const results: Record<string, unknown> = { users: USERS, node: process.version, at: new Date().toISOString() };
if (["agent-search", "sync-path", "domain-login", "pbx"].some(runs)) {
  const dc = await benchDc(USERS);
  try {
    if (runs("agent-search")) results.agentSearch = await benchAgentSearch(dc.info, USERS, log);
    if (runs("sync-path")) results.syncPath = await benchSyncPath(dc.info, log);
    if (runs("domain-login")) results.domainLogin = await benchDomainLogin(dc.info, USERS, log);
    if (runs("pbx")) results.pbxSync = await benchPbxSync(dc.info, log);
  } finally {
    await dc.destroy();
  }
}
if (runs("shapes")) {
  const unknown = SHAPES.filter((name) => !shapeNames.includes(name));
  if (unknown.length > 0) throw new Error(`ADSYNC_BENCH_SHAPES names no shape ${unknown.join(", ")} (there are ${shapeNames.join(", ")})`);
  results.shapes = await benchShapes(SHAPES, SHAPE_SIZES, log);
}
// Last: it changes the directory (each DC is a copy of the cached one, so the next run starts clean).
if (runs("scale")) {
  const sizes: Record<string, ScaleResult> = {};
  for (const users of SCALE_SIZES) {
    log(`bench: scale at ${users} users`);
    const dc = await benchDc(users);
    try {
      sizes[users] = await benchScale(dc, (line) => log(`[${users}] ${line}`), PROFILE_TO);
    } finally {
      await dc.destroy();
    }
  }
  results.scale = { sizes, ...scaleRatios(sizes) };
  log(`bench: scale across sizes ${JSON.stringify(scaleRatios(sizes))}`);
}
mkdirSync("bench-results", { recursive: true });
writeFileSync("bench-results/latest.json", `${JSON.stringify(results, null, 2)}\n`);
log("bench: wrote bench-results/latest.json");
