// The whole sync path against what the DC can serve: ldapsearch fetching the users in scope
// with the attributes a sync reads (the reference), then Preview, the first full sync into the
// built-in PBX and a re-sync with nothing changed, each through the bundled worker in workerd
// and a real agent process. Also the agent's peak RSS for a quarter of the directory and for
// all of it, each in a fresh agent process, to show whether it grows with the directory.
import { readdirSync, readFileSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { targetFor } from "../agent/src/ldap/test-support.ts";
import { neededAttributes } from "../engine/read-directory.ts";
import type { SyncConfig } from "../schema/generated/config.ts";
import { scopeBases, scopeUserFilter } from "../schema/src/scope-filter.ts";
import { type AgentProcess, startAgent } from "../test/support/agent-process.ts";
import type { SambaDcInfo } from "../test/support/samba-dc.ts";
import { type Json, type Stack, startStack } from "../test/support/stack.ts";
import { benchDepartments, benchOu } from "./large-directory.ts";
import { ldapsearch, median } from "./ldapsearch.ts";

export interface SyncPathResult {
  usersInScope: number;
  ldapsearchMs: number;
  previewMs: number;
  firstSyncMs: number;
  resyncMs: number;
  /** Each time / the ldapsearch time. Targets: preview <= 1.5, first sync <= 3, re-sync <= 1.5. */
  previewRatio: number;
  firstSyncRatio: number;
  resyncRatio: number;
  /** Operations the no-change re-sync applied; the target is 0. */
  resyncWrites: number;
  /** Peak RSS (VmHWM) of a fresh agent process after one Preview of a quarter of the users, and of all of them. */
  agentPeakRssQuarterMb: number;
  agentPeakRssAllMb: number;
  /** all / quarter: 1.0 is flat. */
  agentRssRatio: number;
  /** The same agent's peak after every run of this benchmark (eight full reads). */
  agentPeakRssAfterAllRunsMb: number;
  /** Peak RSS of the workerd process (the Worker and the tenant's Durable Object), after everything. */
  workerdPeakRssMb: number;
}

const ratio = (a: number, b: number) => Math.round((a / b) * 100) / 100;
const mb = (kb: number) => Math.round(kb / 102.4) / 10;

export function configFor(dc: SambaDcInfo, departments: readonly string[]): SyncConfig {
  return {
    connection: { ...targetFor(dc).connection, pageSize: 500, searchTimeoutSeconds: 120 },
    scope: { users: "ous", ous: departments.map((d) => ({ dn: `OU=${d},${benchOu}` })) },
    extensionNumbers: { source: "attribute", attribute: "ipPhone" },
    organisation: {
      departments: { from: "ouTree" },
      extensionGroups: { from: "memberOf", groups: departments.map((d) => ({ dn: `CN=${d} Team,${benchOu}` })), createMissing: true },
    },
    deprovisioning: { whenOutOfScope: "delete", whenDisabled: "disable", whenDeleted: "delete" },
    schedule: { mode: "manual" },
  } as SyncConfig;
}

/** ldapsearch paging through every OU of the scope with the filter and attributes the sync uses. */
export async function ldapsearchScope(dc: SambaDcInfo, config: SyncConfig): Promise<{ ms: number; entries: number }> {
  let ms = 0;
  let entries = 0;
  for (const base of scopeBases(config.scope, dc.baseDn)) {
    const r = await ldapsearch(dc, { ...base, filter: scopeUserFilter(config.scope, "include"), attributes: neededAttributes(config) });
    ms += r.ms;
    entries += r.entries;
  }
  return { ms, entries };
}

/** The reference a run is measured against: ldapsearchScope warmed once, then the median of three. */
export async function referenceScope(dc: SambaDcInfo, config: SyncConfig): Promise<{ ms: number; entries: number }> {
  await ldapsearchScope(dc, config);
  const runs: Array<{ ms: number; entries: number }> = [];
  for (let i = 0; i < 3; i++) runs.push(await ldapsearchScope(dc, config));
  return { ms: median(runs.map((r) => r.ms)), entries: runs.at(-1)?.entries ?? 0 };
}

export function peakRssKb(pid: number | undefined): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
}

/** The workerd processes this benchmark started (miniflare spawns one per worker). */
export function workerdPids(): number[] {
  return readdirSync("/proc")
    .filter((d) => /^\d+$/.test(d))
    .map(Number)
    .filter((pid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
        return /\(workerd\)/.test(stat) && Number(stat.split(") ")[1]?.split(" ")[1]) === process.pid;
      } catch {
        return false;
      }
    });
}

export async function freshAgent(stack: Stack, dc: SambaDcInfo, id: string): Promise<AgentProcess> {
  const enrolled = await stack.api("POST", "/agents/enrollment-tokens", { label: id });
  const stateDir = await mkdtemp(join(tmpdir(), "adsync-bench-agent-"));
  const agent = startAgent({ url: stack.base, token: enrolled.body.token, id, dcs: [dc.ip, dc.hostname], stateDir });
  await agent.waitFor(/connected to/);
  return agent;
}

/**
 * How often the portal asks how a run is going (plugin/src/sections/preview.ts): the benchmark
 * asks no more often, since each answer is work for the object the run is in (polling every
 * 50 ms took about 6% of workerd's CPU over a first sync).
 */
export const PORTAL_POLL_MS = 600;

/**
 * Starts a run and follows it as the portal does, to its end; its time is from the request
 * to the run's own finishedAt (the same machine's clock), not to the poll that saw it end.
 */
export async function runToEnd(
  stack: Stack,
  start: () => Promise<{ status: number; body: Json; text: string }>,
  onPoll?: (run: Json) => void,
): Promise<{ ms: number; value: Json }> {
  const requested = Date.now();
  const started = await start();
  if (started.status !== 202) throw new Error(`run: HTTP ${started.status} ${started.text}`);
  for (const deadline = Date.now() + 60 * 60_000; Date.now() < deadline; ) {
    const run = (await stack.api("GET", `/runs/${started.body.id}`)).body as Json;
    onPoll?.(run);
    if (!["queued", "reading", "planning", "applying"].includes(String(run.status)))
      return { ms: Number(run.finishedAt) - requested, value: run };
    await new Promise((r) => setTimeout(r, PORTAL_POLL_MS));
  }
  throw new Error(`run ${started.body.id} still going after an hour`);
}

export async function timed<T>(what: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const started = performance.now();
  const value = await what();
  return { ms: performance.now() - started, value };
}

export async function benchSyncPath(dc: SambaDcInfo, log: (line: string) => void): Promise<SyncPathResult> {
  const all = configFor(dc, benchDepartments);
  const quarter = configFor(dc, benchDepartments.slice(0, benchDepartments.length / 4));
  const stack = await startStack(dc, { tenant: "bench", config: quarter as Record<string, unknown> });
  const agents: AgentProcess[] = [];
  try {
    // Only fresh agents take part in what is measured.
    await stack.agent.kill();
    const preview = async (limit = 1) => {
      const res = await stack.api("POST", `/preview?limit=${limit}&full=true`);
      if (res.status !== 200) throw new Error(`preview: HTTP ${res.status} ${res.text}`);
      return res.body as Json;
    };
    // Every run here reads the whole scope: incremental runs are the scale benchmark's.
    const sync = async () => {
      const started = await stack.api("POST", "/sync?full=true");
      if (started.status !== 202) throw new Error(`sync: HTTP ${started.status} ${started.text}`);
      return stack.finished(started.body.id, 30 * 60_000);
    };

    const small = await freshAgent(stack, dc, "bench-quarter");
    agents.push(small);
    const quarterUsers = (await preview()).run.progress.read as number;
    const rssQuarter = peakRssKb(small.child.pid);
    await small.kill();

    if ((await stack.api("PUT", "/config", all)).status !== 200) throw new Error("saving the benchmark configuration failed");
    const agent = await freshAgent(stack, dc, "bench-all");
    agents.push(agent);
    // Warm up the DC's caches and the TLS paths once, then alternate reference and preview.
    await ldapsearchScope(dc, all);
    await preview();
    const rssAll = peakRssKb(agent.child.pid);
    const reference: number[] = [];
    const previews: number[] = [];
    let usersInScope = 0;
    for (let i = 0; i < 3; i++) {
      const r = await ldapsearchScope(dc, all);
      const p = await timed(() => preview());
      reference.push(r.ms);
      previews.push(p.ms);
      usersInScope = p.value.run.progress.read;
      if (usersInScope !== r.entries) throw new Error(`ldapsearch read ${r.entries} users, the preview ${usersInScope}`);
    }
    const last = (await stack.api("GET", "/runs?limit=1")).body[0];
    const events = (await stack.api("GET", `/runs/${last.id}/events`)).body as Array<{ at: number; event: string }>;
    const readAt = events.find((e) => e.event.startsWith("Directory read"))?.at ?? Number.NaN;
    const planAt = events.find((e) => e.event.startsWith("Plan:"))?.at ?? Number.NaN;
    log(`sync path: the last preview spent ${readAt - last.startedAt} ms reading and staging, ${planAt - readAt} ms planning`);
    log(
      `sync path: ${usersInScope} users in scope; ldapsearch ${median(reference).toFixed(0)} ms, preview ${median(previews).toFixed(0)} ms`,
    );

    const first = await timed(sync);
    if (first.value.status !== "succeeded") throw new Error(`first sync ended ${first.value.status}: ${first.value.error}`);
    log(`sync path: first sync ${first.ms.toFixed(0)} ms (${JSON.stringify(first.value.summary)})`);

    const resyncs: number[] = [];
    let writes = 0;
    for (let i = 0; i < 3; i++) {
      const again = await timed(sync);
      const s = again.value.summary;
      writes += s.create + s.update + s.enable + s.disable + s.delete + (again.value.progress.total ?? 0);
      resyncs.push(again.ms);
    }
    log(`sync path: no-change re-sync ${median(resyncs).toFixed(0)} ms, ${writes} writes`);
    const rssEnd = peakRssKb(agent.child.pid);
    const workerd = Math.max(0, ...workerdPids().map(peakRssKb));
    const result: SyncPathResult = {
      usersInScope,
      ldapsearchMs: Math.round(median(reference)),
      previewMs: Math.round(median(previews)),
      firstSyncMs: Math.round(first.ms),
      resyncMs: Math.round(median(resyncs)),
      previewRatio: ratio(median(previews), median(reference)),
      firstSyncRatio: ratio(first.ms, median(reference)),
      resyncRatio: ratio(median(resyncs), median(reference)),
      resyncWrites: writes,
      agentPeakRssQuarterMb: mb(rssQuarter),
      agentPeakRssAllMb: mb(rssAll),
      agentRssRatio: ratio(rssAll, rssQuarter),
      agentPeakRssAfterAllRunsMb: mb(rssEnd),
      workerdPeakRssMb: mb(workerd),
    };
    log(
      `sync path ratios to ldapsearch: preview ${result.previewRatio}, first sync ${result.firstSyncRatio}, re-sync ${result.resyncRatio}; ` +
        `agent peak RSS ${result.agentPeakRssQuarterMb} MB for ${quarterUsers} users, ${result.agentPeakRssAllMb} MB for ${usersInScope} ` +
        `(ratio ${result.agentRssRatio}), ${result.agentPeakRssAfterAllRunsMb} MB after every run; workerd peak RSS ${result.workerdPeakRssMb} MB`,
    );
    return result;
  } finally {
    for (const a of agents) await a.kill();
    await stack.stop();
  }
}
