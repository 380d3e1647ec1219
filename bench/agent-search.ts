// How the agent's paged search compares with ldapsearch fetching the same entries from the
// same DC, and whether its memory stays flat as the directory grows: the heap that survives
// a garbage collection after each page, for a read of a quarter of the users and of all.
import { targetFor } from "../agent/src/ldap/test-support.ts";
import { runOperation } from "../agent/src/operations.ts";
import type { AgentOperation, WireEntry } from "../schema/src/agent-protocol.ts";
import type { SambaDcInfo } from "../test/support/samba-dc.ts";
import { benchOu } from "./large-directory.ts";
import { ldapsearch, median } from "./ldapsearch.ts";

const ATTRIBUTES = [
  "objectGUID",
  "sAMAccountName",
  "userPrincipalName",
  "givenName",
  "sn",
  "displayName",
  "mail",
  "ipPhone",
  "telephoneNumber",
  "mobile",
  "department",
  "title",
  "userAccountControl",
  "memberOf",
];
const FILTER = "(&(objectCategory=person)(objectClass=user))";

export interface SearchBenchResult {
  entries: number;
  ldapsearchMs: number;
  agentMs: number;
  /** agent time / ldapsearch time, medians of the same run. */
  timeRatio: number;
  /** Heap kept after GC, at most, while streaming: a quarter of the users, then all of them. */
  peakHeapQuarterMb: number;
  peakHeapAllMb: number;
  /** all / quarter: 1.0 is flat. */
  heapRatio: number;
  /** The same read keeping every page, to show what growth would look like. */
  peakHeapKeepingAllMb: number;
}

const ldapsearchBench = (dc: SambaDcInfo) => ldapsearch(dc, { base: benchOu, filter: FILTER, attributes: ATTRIBUTES });

async function agentSearch(
  dc: SambaDcInfo,
  options: { sizeLimit?: number; keep?: boolean; sampleHeap?: boolean },
): Promise<{ ms: number; entries: number; peakHeap: number }> {
  const gc = (globalThis as { gc?: () => void }).gc;
  const kept: WireEntry[][] = [];
  let entries = 0;
  let peakHeap = 0;
  const operation: AgentOperation = {
    op: "search",
    target: targetFor(dc, { pageSize: 500 }),
    base: benchOu,
    scope: "sub",
    filter: FILTER,
    attributes: ATTRIBUTES,
    pageSize: 500,
    ...(options.sizeLimit ? { sizeLimit: options.sizeLimit } : {}),
  };
  gc?.();
  const baseline = process.memoryUsage().heapUsed;
  const started = performance.now();
  await runOperation(operation, {
    signal: new AbortController().signal,
    sendPage: async (page) => {
      entries += page.length;
      if (options.keep) kept.push(page);
      if (options.sampleHeap && gc) {
        gc();
        peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed - baseline);
      }
    },
  });
  return { ms: performance.now() - started, entries, peakHeap };
}

export async function benchAgentSearch(dc: SambaDcInfo, users: number, log: (line: string) => void): Promise<SearchBenchResult> {
  if (!(globalThis as { gc?: unknown }).gc) throw new Error("run with node --expose-gc");
  // Warm both up once (TLS session, DC caches), then alternate so drift hits both alike.
  await ldapsearchBench(dc);
  await agentSearch(dc, {});
  const reference: number[] = [];
  const agent: number[] = [];
  let entries = 0;
  for (let i = 0; i < 5; i++) {
    const r = await ldapsearchBench(dc);
    const a = await agentSearch(dc, {});
    if (r.entries !== a.entries) throw new Error(`ldapsearch read ${r.entries} entries, the agent ${a.entries}`);
    entries = a.entries;
    reference.push(r.ms);
    agent.push(a.ms);
  }
  log(`search: ${entries} users; ldapsearch ${median(reference).toFixed(0)} ms, agent ${median(agent).toFixed(0)} ms (medians of 5)`);
  const quarter = await agentSearch(dc, { sizeLimit: Math.floor(users / 4), sampleHeap: true });
  const all = await agentSearch(dc, { sampleHeap: true });
  const keeping = await agentSearch(dc, { sampleHeap: true, keep: true });
  const mb = (bytes: number) => Math.round((bytes / 1048576) * 10) / 10;
  const result: SearchBenchResult = {
    entries,
    ldapsearchMs: Math.round(median(reference)),
    agentMs: Math.round(median(agent)),
    timeRatio: Math.round((median(agent) / median(reference)) * 100) / 100,
    peakHeapQuarterMb: mb(quarter.peakHeap),
    peakHeapAllMb: mb(all.peakHeap),
    heapRatio: Math.round((all.peakHeap / Math.max(quarter.peakHeap, 1)) * 100) / 100,
    peakHeapKeepingAllMb: mb(keeping.peakHeap),
  };
  log(
    `search memory: ${result.peakHeapQuarterMb} MB kept for ${quarter.entries} users, ${result.peakHeapAllMb} MB for ${all.entries} ` +
      `(ratio ${result.heapRatio}); keeping every page instead: ${result.peakHeapKeepingAllMb} MB`,
  );
  return result;
}
