// A first sync into a Yeastar P-Series and a no-change re-sync, through the bundled worker in
// workerd and a real agent, with the Yeastar simulator answering every call after a fixed
// latency. The reference is the least time the calls the sync needs can take at the configured
// concurrency: one latency per call that must wait for another (the token, the listing, each
// level of the department tree), and ceil(creates / concurrency) latencies for the creates.
import { targetFor } from "../agent/src/ldap/test-support.ts";
import type { SambaDcInfo } from "../test/support/samba-dc.ts";
import { startStack } from "../test/support/stack.ts";
import { startYeastarSimulator } from "../test/support/yeastar-simulator.ts";
import { benchDepartments, benchOu } from "./large-directory.ts";

export interface PbxSyncResult {
  latencyMs: number;
  concurrency: number;
  created: number;
  firstSyncMs: number;
  /** The least time the first sync's calls can take: calls that wait on each other, then the creates at the concurrency. */
  firstSyncLowerBoundMs: number;
  /** firstSyncMs / firstSyncLowerBoundMs. Target: <= 1.3. */
  firstSyncRatio: number;
  /** Calls the simulator answered during the first sync, and how many of them the sync needed. */
  firstSyncCalls: number;
  firstSyncCallsNeeded: number;
  resyncMs: number;
  /** Calls of the no-change re-sync (the listing), and its writes: the target is 0. */
  resyncCalls: number;
  resyncWrites: number;
}

const LATENCY_MS = 20;
const CONCURRENCY = 4;
const secret = "Bench-Yeastar-Secret-2026";

const ratio = (a: number, b: number) => Math.round((a / b) * 100) / 100;

export async function benchPbxSync(dc: SambaDcInfo, log: (line: string) => void): Promise<PbxSyncResult> {
  const sim = await startYeastarSimulator({ organizationManagement: true, clientSecret: secret });
  const config = {
    connection: { ...targetFor(dc).connection, pageSize: 500, searchTimeoutSeconds: 120 },
    scope: { users: "ous", ous: benchDepartments.map((d) => ({ dn: `OU=${d},${benchOu}` })) },
    extensionNumbers: { source: "attribute", attribute: "ipPhone" },
    organisation: { departments: { from: "ouTree" } },
    deprovisioning: { whenOutOfScope: "delete", whenDisabled: "delete", whenDeleted: "delete" },
    schedule: { mode: "manual" },
    pbx: { kind: "yeastar", baseUrl: sim.url, clientId: sim.clientId, secret: { source: "stored" }, concurrency: CONCURRENCY },
  };
  const stack = await startStack(dc, { tenant: "bench-yeastar", config });
  try {
    if ((await stack.api("PUT", "/config/pbx-secret", { secret })).status !== 200) throw new Error("storing the PBX secret failed");
    const sync = async () => {
      const started = await stack.api("POST", "/sync");
      if (started.status !== 202) throw new Error(`sync: HTTP ${started.status} ${started.text}`);
      return stack.finished(started.body.id, 30 * 60_000);
    };
    // The DC's caches warm, and nothing on the PBX yet.
    const preview = await stack.api("POST", "/preview?limit=1");
    if (preview.status !== 200) throw new Error(`preview: HTTP ${preview.status} ${preview.text}`);
    sim.latencyMs = LATENCY_MS;

    const callsBefore = sim.calls.length;
    const started = performance.now();
    const first = await sync();
    const firstSyncMs = performance.now() - started;
    if (first.status !== "succeeded")
      throw new Error(`the first sync ended ${first.status}: ${first.error ?? JSON.stringify(first.summary)}`);
    const firstCalls = sim.calls.slice(callsBefore);
    const created = first.summary.create as number;
    const organizations = sim.organizations().length - 1;
    // Waiting on each other: the token, the listing (extensions and organizations at once),
    // each level of the department tree (Bench, then its departments).
    const treeDepth = organizations > 0 ? 2 : 0;
    const serial = 1 + 1 + treeDepth;
    const firstSyncCallsNeeded = 1 + 2 + organizations + created;
    const firstSyncLowerBoundMs = (serial + Math.ceil(created / CONCURRENCY)) * LATENCY_MS;
    log(
      `pbx: first sync of ${created} extensions into Yeastar (${LATENCY_MS} ms a call, concurrency ${CONCURRENCY}): ` +
        `${firstSyncMs.toFixed(0)} ms against a lower bound of ${firstSyncLowerBoundMs} ms; ` +
        `${firstCalls.length} calls, ${firstSyncCallsNeeded} needed`,
    );

    const writesBefore = sim.writes().length;
    const resyncCallsBefore = sim.calls.length;
    const resyncStarted = performance.now();
    const again = await sync();
    const resyncMs = performance.now() - resyncStarted;
    if (again.status !== "succeeded") throw new Error(`the re-sync ended ${again.status}: ${again.error}`);
    const resyncWrites = sim.writes().length - writesBefore;
    const resyncCalls = sim.calls.length - resyncCallsBefore;
    log(`pbx: no-change re-sync ${resyncMs.toFixed(0)} ms, ${resyncCalls} calls (the listing), ${resyncWrites} writes`);
    const result: PbxSyncResult = {
      latencyMs: LATENCY_MS,
      concurrency: CONCURRENCY,
      created,
      firstSyncMs: Math.round(firstSyncMs),
      firstSyncLowerBoundMs,
      firstSyncRatio: ratio(firstSyncMs, firstSyncLowerBoundMs),
      firstSyncCalls: firstCalls.length,
      firstSyncCallsNeeded,
      resyncMs: Math.round(resyncMs),
      resyncCalls,
      resyncWrites,
    };
    log(`pbx ratio to the lower bound: first sync ${result.firstSyncRatio} (target <= 1.3); re-sync writes ${resyncWrites} (target 0)`);
    return result;
  } finally {
    await stack.stop();
    await sim.close();
  }
}
