// A first sync into each vendor target (Yeastar, 3CX, a SCIM service) and a no-change re-sync,
// through the bundled worker in workerd and a real agent, with the target's stand-in answering
// every call after a fixed latency. Two lower bounds for the calls the sync needs at the
// configured concurrency:
// - measured (the ratio's reference): a bare client in a process of its own making exactly those
//   calls, one after another in each of `concurrency` lanes, against a second stand-in with the
//   same latency, in the same run: what the calls cost on this machine with nothing between them;
// - by arithmetic: one latency per call that must wait for another (the token, the listing, a
//   level of departments) and ceil(creates / concurrency) latencies for the creates, which no
//   HTTP exchange can reach (reported beside it).
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { targetFor } from "../agent/src/ldap/test-support.ts";
import type { SambaDcInfo } from "../test/support/samba-dc.ts";
import { startScimServer } from "../test/support/scim-server.ts";
import { startStack } from "../test/support/stack.ts";
import { startThreeCxSimulator } from "../test/support/threecx-simulator.ts";
import { startYeastarSimulator } from "../test/support/yeastar-simulator.ts";
import { benchDepartments, benchOu } from "./large-directory.ts";

export interface PbxSyncResult {
  target: string;
  latencyMs: number;
  concurrency: number;
  created: number;
  firstSyncMs: number;
  /** A bare client making only the needed calls at the concurrency, measured in this run. */
  referenceMs: number;
  /** firstSyncMs / referenceMs. Target: <= 1.3. */
  firstSyncRatio: number;
  /** The latency alone: calls that wait on each other, then the creates at the concurrency. */
  firstSyncLowerBoundMs: number;
  /** firstSyncMs / firstSyncLowerBoundMs, and the reference's own. */
  firstSyncLatencyRatio: number;
  referenceLatencyRatio: number;
  /** Calls the stand-in answered during the first sync, and how many of them the sync needed. */
  firstSyncCalls: number;
  firstSyncCallsNeeded: number;
  /** Where the first sync's time went: reading AD and planning (with the PBX's listing), then applying. */
  readAndPlanMs: number;
  applyMs: number;
  resyncMs: number;
  /** Calls of the no-change re-sync (the listing), and its writes: the target is 0. */
  resyncCalls: number;
  resyncWrites: number;
}

const LATENCY_MS = 20;
const CONCURRENCY = 4;

/** A vendor's stand-in as the benchmark drives it. */
interface StandIn {
  url: string;
  clientId: string;
  secret: string;
  pbx: Record<string, unknown>;
  latency(ms: number): void;
  calls(): number;
  writes(): number;
  /** Departments the first sync made there. */
  departments(): number;
  close(): Promise<void>;
}

interface BenchTarget {
  name: "yeastar" | "3cx" | "scim";
  start(): Promise<StandIn>;
  /** Calls that wait on each other before the creates, with `departments` made. */
  serialCalls(departments: number): number;
  /** Calls a first sync needs besides one create per user. */
  otherCalls(departments: number): number;
}

const targets: BenchTarget[] = [
  {
    name: "yeastar",
    async start() {
      const secret = "Bench-Yeastar-Secret-2026";
      const sim = await startYeastarSimulator({ organizationManagement: true, clientSecret: secret });
      return {
        url: sim.url,
        clientId: sim.clientId,
        secret,
        pbx: { kind: "yeastar", baseUrl: sim.url, clientId: sim.clientId, secret: { source: "stored" }, concurrency: CONCURRENCY },
        latency: (ms) => {
          sim.latencyMs = ms;
        },
        calls: () => sim.calls.length,
        writes: () => sim.writes().length,
        departments: () => sim.organizations().length - 1,
        close: () => sim.close(),
      };
    },
    // The token; the listing (extensions and organizations at once); Bench, then its departments.
    serialCalls: (d) => 2 + (d > 0 ? 2 : 0),
    otherCalls: (d) => 3 + d,
  },
  {
    name: "3cx",
    async start() {
      const sim = await startThreeCxSimulator();
      return {
        url: sim.url,
        clientId: sim.clientId,
        secret: sim.clientSecret,
        pbx: { kind: "3cx", baseUrl: sim.url, clientId: sim.clientId, secret: { source: "stored" }, concurrency: CONCURRENCY },
        latency: (ms) => {
          sim.latencyMs = ms;
        },
        calls: () => sim.calls.length,
        writes: () => sim.writes().length,
        departments: () => sim.groups().filter((g) => !g.IsDefault).length,
        close: () => sim.close(),
      };
    },
    // The token; the listing (users and groups at once); the department groups, all at once.
    serialCalls: (d) => 2 + (d > 0 ? 1 : 0),
    otherCalls: (d) => 3 + d,
  },
  {
    name: "scim",
    async start() {
      const scim = await startScimServer({ maxResults: 100 });
      return {
        url: scim.url,
        clientId: "",
        secret: scim.token,
        pbx: { kind: "scim", baseUrl: scim.url, secret: { source: "stored" }, concurrency: CONCURRENCY },
        latency: (ms) => {
          scim.latencyMs = ms;
        },
        calls: () => scim.calls.length,
        writes: () => scim.writes().length,
        // Departments are the enterprise extension's field: nothing to make.
        departments: () => 0,
        close: () => scim.close(),
      };
    },
    // The listing; no token to fetch, no departments to make.
    serialCalls: () => 1,
    otherCalls: () => 1,
  },
];

const ratio = (a: number, b: number) => Math.round((a / b) * 100) / 100;

export async function benchPbxSync(dc: SambaDcInfo, log: (line: string) => void): Promise<PbxSyncResult[]> {
  const results: PbxSyncResult[] = [];
  for (const target of targets) results.push(await benchTarget(dc, target, log));
  return results;
}

async function benchTarget(dc: SambaDcInfo, target: BenchTarget, log: (line: string) => void): Promise<PbxSyncResult> {
  const standIn = await target.start();
  const config = {
    connection: { ...targetFor(dc).connection, pageSize: 500, searchTimeoutSeconds: 120 },
    scope: { users: "ous", ous: benchDepartments.map((d) => ({ dn: `OU=${d},${benchOu}` })) },
    extensionNumbers: { source: "attribute", attribute: "ipPhone" },
    organisation: { departments: { from: target.name === "scim" ? "none" : "ouTree" } },
    deprovisioning: { whenOutOfScope: "delete", whenDisabled: "delete", whenDeleted: "delete" },
    schedule: { mode: "manual" },
    pbx: standIn.pbx,
  };
  const stack = await startStack(dc, { tenant: `bench-${target.name}`, config });
  try {
    if ((await stack.api("PUT", "/config/pbx-secret", { secret: standIn.secret })).status !== 200)
      throw new Error("storing the PBX secret failed");
    const sync = async () => {
      const started = await stack.api("POST", "/sync");
      if (started.status !== 202) throw new Error(`sync: HTTP ${started.status} ${started.text}`);
      return stack.finished(started.body.id, 30 * 60_000);
    };
    // The DC's caches warm, and nothing on the PBX yet.
    const preview = await stack.api("POST", "/preview?limit=1");
    if (preview.status !== 200) throw new Error(`preview: HTTP ${preview.status} ${preview.text}`);
    standIn.latency(LATENCY_MS);
    const referenceMs = await reference(target, preview.body.run.summary.create as number, log);

    const callsBefore = standIn.calls();
    const started = performance.now();
    const first = await sync();
    const firstSyncMs = performance.now() - started;
    if (first.status !== "succeeded") {
      const events = (await stack.api("GET", `/runs/${first.id}/events`)).body as Array<{ type: string; event: string }>;
      const errors = events.filter((e) => e.type === "error");
      throw new Error(
        `${target.name}: the first sync ended ${first.status} with ${errors.length} errors: ${
          first.error ??
          errors
            .slice(0, 5)
            .map((e) => e.event)
            .join("; ")
        }`,
      );
    }
    const firstCalls = standIn.calls() - callsBefore;
    const events = (await stack.api("GET", `/runs/${first.id}/events`)).body as Array<{ at: number; event: string }>;
    const planAt = events.find((e) => e.event.startsWith("Plan:"))?.at ?? Number.NaN;
    const readAndPlanMs = planAt - first.startedAt;
    const applyMs = (first.finishedAt as number) - planAt;
    // Gaps between one operation's event and the next longer than two calls take: the pauses
    // between apply steps (one alarm each), not calls.
    const times = events.filter((e) => e.at >= planAt).map((e) => e.at);
    let pausesMs = 0;
    let pauses = 0;
    for (let i = 1; i < times.length; i++) {
      const gap = (times[i] as number) - (times[i - 1] as number);
      if (gap > 2 * LATENCY_MS) {
        pausesMs += gap;
        pauses++;
      }
    }
    const created = first.summary.create as number;
    const departments = standIn.departments();
    const firstSyncCallsNeeded = target.otherCalls(departments) + created;
    const firstSyncLowerBoundMs = (target.serialCalls(departments) + Math.ceil(created / CONCURRENCY)) * LATENCY_MS;
    log(
      `pbx ${target.name}: first sync of ${created} extensions (${LATENCY_MS} ms a call, concurrency ${CONCURRENCY}): ` +
        `${firstSyncMs.toFixed(0)} ms; ${firstCalls} calls, ${firstSyncCallsNeeded} needed; read and plan ${readAndPlanMs} ms, ` +
        `apply ${applyMs} ms (${pauses} pauses of ${pausesMs} ms in all)`,
    );

    const writesBefore = standIn.writes();
    const resyncCallsBefore = standIn.calls();
    const resyncStarted = performance.now();
    const again = await sync();
    const resyncMs = performance.now() - resyncStarted;
    if (again.status !== "succeeded") throw new Error(`${target.name}: the re-sync ended ${again.status}: ${again.error}`);
    const resyncWrites = standIn.writes() - writesBefore;
    const resyncCalls = standIn.calls() - resyncCallsBefore;
    log(`pbx ${target.name}: no-change re-sync ${resyncMs.toFixed(0)} ms, ${resyncCalls} calls (the listing), ${resyncWrites} writes`);
    const result: PbxSyncResult = {
      target: target.name,
      latencyMs: LATENCY_MS,
      concurrency: CONCURRENCY,
      created,
      firstSyncMs: Math.round(firstSyncMs),
      referenceMs: Math.round(referenceMs),
      firstSyncRatio: ratio(firstSyncMs, referenceMs),
      firstSyncLowerBoundMs,
      firstSyncLatencyRatio: ratio(firstSyncMs, firstSyncLowerBoundMs),
      referenceLatencyRatio: ratio(referenceMs, firstSyncLowerBoundMs),
      firstSyncCalls: firstCalls,
      firstSyncCallsNeeded,
      readAndPlanMs,
      applyMs,
      resyncMs: Math.round(resyncMs),
      resyncCalls,
      resyncWrites,
    };
    log(
      `pbx ${target.name} ratios: first sync ${result.firstSyncRatio} of the bare client's ${result.referenceMs} ms (target <= 1.3); ` +
        `against the latency alone ${result.firstSyncLatencyRatio} (the bare client ${result.referenceLatencyRatio}); re-sync writes ${resyncWrites} (target 0)`,
    );
    return result;
  } finally {
    await stack.stop();
    await standIn.close();
  }
}

/** The bare client's time for the calls a first sync of the benchmark directory needs (see the header). */
async function reference(target: BenchTarget, count: number, log: (line: string) => void): Promise<number> {
  const standIn = await target.start();
  standIn.latency(LATENCY_MS);
  try {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        "bench/pbx-reference-client.ts",
        target.name,
        standIn.url,
        standIn.clientId,
        standIn.secret,
        String(CONCURRENCY),
        String(count),
        benchDepartments.join(","),
      ],
      { maxBuffer: 1024 * 1024 },
    );
    const { ms, calls } = JSON.parse(stdout) as { ms: number; calls: number };
    log(`pbx ${target.name}: a bare client made the ${calls} calls of a first sync at concurrency ${CONCURRENCY} in ${ms.toFixed(0)} ms`);
    return ms;
  } finally {
    await standIn.close();
  }
}
