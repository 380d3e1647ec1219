// The directory at scale, and runs whose cost follows the changes: ldapsearch paging through
// the scope (the reference), Preview's first page before anything is synced, the first full
// sync into the built-in PBX, then, twice, a no-change incremental run and an incremental run
// after ten users changed and one was deleted: first as AD's default service account, which
// may not list deleted objects (the read sweeps the scope's objectGUIDs to find who left),
// then once it may (the tombstones say who was deleted). Each through the bundled worker in
// workerd and a real agent, with workerd's RSS growth over its idle RSS and the agent's peak
// RSS. The DC is the benchmark's (ADSYNC_BENCH_USERS users); this part changes it, so it runs
// last.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Attribute, Change, type Client } from "ldapts";
import { addUser, adminClient } from "../agent/src/ldap/test-support.ts";
import { freePort } from "../test/support/agent-process.ts";
import { grantDeletedObjectsListing, type SambaDc } from "../test/support/samba-dc.ts";
import { type Json, type Stack, startStack } from "../test/support/stack.ts";
import { openInspector } from "./inspector-session.ts";
import { type IsolateHeap, watchIsolateHeap } from "./isolate-heap.ts";
import { type HotFunction, profileIsolate } from "./isolate-profile.ts";
import { benchDepartments } from "./large-directory.ts";
import { type ProcessUsage, processUsage, sambaPid, usageBetween } from "./process-cpu.ts";
import { watchResidentKinds } from "./process-memory.ts";
import { configFor, freshAgent, peakRssKb, referenceScope, runToEnd, timed, workerdPids } from "./sync-path.ts";

/** Where a run's time went, in ms: the read, the plan, applying and finishing. */
interface Split {
  readMs: number;
  planMs: number;
  restMs: number;
}

export interface IncrementalFigures {
  noChangeMs: number;
  /** / first sync; target < 0.02, with no writes. */
  noChangeRatio: number;
  noChangeWrites: number;
  changedMs: number;
  /** / first sync, after 10 users changed and 1 was deleted; target < 0.05. */
  changedRatio: number;
  /** What that run decided about: the users it read again, and the synced users it found gone. */
  changedReadAgain: number;
  changedLeft: number;
  changedOperations: Record<string, number>;
  splits: { noChange: Split; changed: Split };
}

export interface ScaleResult {
  usersInScope: number;
  ldapsearchMs: number;
  /** A full Preview's answer with its summary and first page of 50, before the first sync. */
  previewFirstPageMs: number;
  firstSyncMs: number;
  /** first sync / ldapsearch; target <= 3. */
  firstSyncRatio: number;
  firstSyncSplit: Split;
  /** workerd's CPU time during the first sync, and during its read step, in ms (an upper bound of the tenant object's). */
  firstSyncCpu: { readStepMs: number; runMs: number };
  /** What workerd, the agent and the DC spent over the first sync's phases. */
  firstSyncUsage: FirstSyncUsage;
  /** workerd's peak RSS over its RSS before the first run, in MB. */
  workerdGrowthMb: number;
  /** That growth by kind of page: each kind's peak over its idle figure, in MB. */
  workerdGrowthByKind: { anonMb: number; fileMb: number; shmemMb: number };
  /**
   * The worker isolate's JavaScript heap over Preview and the first sync (the 128 MB a Durable
   * Object may use): the most it held, garbage not yet collected included, sampled every 100 ms.
   */
  isolateHeap: IsolateHeap;
  /** Who left found by a sweep of the scope (the service account may not list deleted objects). */
  sweep: IncrementalFigures;
  /** Who was deleted told by the tombstones (the account may list CN=Deleted Objects). */
  tombstones: IncrementalFigures;
  agentPeakRssMb: number;
}

/**
 * How the figures of the largest size compare with the smallest's: workerd's growth (target:
 * no more than 1.5x) and the agent's peak RSS (flat), and each size's first sync against its
 * ldapsearch.
 */
export function scaleRatios(sizes: Record<string, ScaleResult>): {
  workerdGrowthRatio?: number;
  isolateHeapPeakRatio?: number;
  agentPeakRssRatio?: number;
  firstSyncRatios: Record<string, number>;
} {
  const ordered = Object.entries(sizes).sort(([a], [b]) => Number(a) - Number(b));
  const small = ordered[0]?.[1];
  const large = ordered.at(-1)?.[1];
  const firstSyncRatios = Object.fromEntries(ordered.map(([n, r]) => [n, r.firstSyncRatio]));
  if (small === undefined || large === undefined || ordered.length < 2) return { firstSyncRatios };
  return {
    workerdGrowthRatio: ratio(large.workerdGrowthMb, small.workerdGrowthMb),
    isolateHeapPeakRatio: ratio(large.isolateHeap.peakUsedMb, small.isolateHeap.peakUsedMb),
    agentPeakRssRatio: ratio(large.agentPeakRssMb, small.agentPeakRssMb),
    firstSyncRatios,
  };
}

const ratio = (a: number, b: number, digits = 2) => Math.round((a / b) * 10 ** digits) / 10 ** digits;
const mb = (kb: number) => Math.round(kb / 102.4) / 10;

function rssKb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
}

/** The processes whose use a first sync reports: workerd, the agent and the DC. */
interface RunPids {
  workerd: number;
  agent: number | undefined;
  samba: number | undefined;
}

/**
 * What each process spent over a first sync's phases, as the portal's polls see them (every
 * 600 ms, so a boundary is that late at most): the read (until a poll sees it planning), the
 * plan (until one sees it applying) and applying with the run's end.
 */
export interface FirstSyncUsage {
  workerd: { read: ProcessUsage; plan: ProcessUsage; apply: ProcessUsage };
  /** The agent's and the DC's CPU (user and kernel) during the read, in ms. */
  agentReadMs: number;
  sambaReadMs: number;
}

/**
 * A sync to its end, with what the processes spent over its phases (workerd's read step is
 * the one step a run cannot split; workerd's figures are an upper bound of the tenant
 * object's, since the process does everything else too).
 */
async function sync(stack: Stack, pids?: RunPids): Promise<{ ms: number; value: Json; usage?: FirstSyncUsage }> {
  const all = () => ({ workerd: processUsage(pids?.workerd), agent: processUsage(pids?.agent), samba: processUsage(pids?.samba) });
  const start = all();
  let readEnd: ReturnType<typeof all> | undefined;
  let planEnd: ReturnType<typeof all> | undefined;
  const run = await runToEnd(
    stack,
    () => stack.api("POST", "/sync"),
    (poll) => {
      if (pids === undefined) return;
      const status = String(poll.status);
      if (readEnd === undefined && !["queued", "reading"].includes(status)) readEnd = all();
      if (planEnd === undefined && !["queued", "reading", "planning"].includes(status)) planEnd = all();
    },
  );
  if (run.value.status !== "succeeded") throw new Error(`sync ended ${run.value.status}: ${run.value.error}`);
  if (pids === undefined) return run;
  const end = all();
  const read = readEnd ?? end;
  const plan = planEnd ?? end;
  const cpu = (u: ProcessUsage) => u.userMs + u.kernelMs;
  return {
    ...run,
    usage: {
      workerd: {
        read: usageBetween(start.workerd, read.workerd),
        plan: usageBetween(read.workerd, plan.workerd),
        apply: usageBetween(plan.workerd, end.workerd),
      },
      agentReadMs: cpu(usageBetween(start.agent, read.agent)),
      sambaReadMs: cpu(usageBetween(start.samba, read.samba)),
    },
  };
}

/** Where a run's time went, from its events: until the read was done, the plan, the rest. */
async function split(stack: Stack, run: Json): Promise<Split> {
  const list = (await stack.api("GET", `/runs/${run.id}/events`)).body as Array<{ at: number; event: string }>;
  const readAt = list.find((e) => e.event.startsWith("Directory read"))?.at ?? Number.NaN;
  const planAt = list.find((e) => e.event.startsWith("Plan:"))?.at ?? Number.NaN;
  return { readMs: readAt - run.startedAt, planMs: planAt - readAt, restMs: (run.finishedAt ?? planAt) - planAt };
}

/** A no-change incremental run, then one after `changed` users were retitled and `gone` deleted. */
async function incremental(
  stack: Stack,
  admin: Client,
  users: { changed: string[]; gone: string },
  firstMs: number,
  evidence: "sweep" | "tombstones",
  log: (line: string) => void,
): Promise<IncrementalFigures> {
  const incrementalRun = async () => {
    const run = await sync(stack);
    if (run.value.read?.mode !== "incremental") throw new Error(`the run was not incremental: ${JSON.stringify(run.value.read)}`);
    const events = ((await stack.api("GET", `/runs/${run.value.id}/events`)).body as Json[]).map((e) => String(e.event));
    const line = events.find((e) => e.startsWith("Directory read (incremental)")) ?? "";
    const told = /who left was told by the deleted users' tombstones/.test(line);
    if (told !== (evidence === "tombstones")) throw new Error(`expected the ${evidence} to tell who left: ${line}`);
    return { ...run, line, split: await split(stack, run.value) };
  };
  const quiet = await incrementalRun();
  const writes = quiet.value.progress?.total ?? 0;
  for (const dn of users.changed)
    await admin.modify(
      dn,
      new Change({ operation: "replace", modification: new Attribute({ type: "title", values: [`Changed (${evidence})`] }) }),
    );
  await admin.del(users.gone);
  const changed = await incrementalRun();
  const operations = Object.fromEntries(
    Object.entries(changed.value.summary as Record<string, number>).filter(
      ([k, v]) => v > 0 && !["unchanged", "excluded", "conflict"].includes(k),
    ),
  );
  const figures: IncrementalFigures = {
    noChangeMs: Math.round(quiet.ms),
    noChangeRatio: ratio(quiet.ms, firstMs, 4),
    noChangeWrites: writes,
    changedMs: Math.round(changed.ms),
    changedRatio: ratio(changed.ms, firstMs, 4),
    changedReadAgain: Number(/: (\d+) users in scope to decide about again/.exec(changed.line)?.[1] ?? Number.NaN),
    changedLeft: Number(/; (\d+) synced users no longer in it/.exec(changed.line)?.[1] ?? Number.NaN),
    changedOperations: operations,
    splits: { noChange: quiet.split, changed: changed.split },
  };
  log(
    `scale (${evidence}): no-change incremental run ${figures.noChangeMs} ms (${figures.noChangeRatio} of the first sync, ${writes} writes, ${JSON.stringify(quiet.split)}); ` +
      `after 10 changes and 1 delete ${figures.changedMs} ms (${figures.changedRatio}; read ${figures.changedReadAgain} again, ${figures.changedLeft} gone, ${JSON.stringify(operations)}, ${JSON.stringify(changed.split)})`,
  );
  return figures;
}

/**
 * `profileTo`: a directory to write a CPU profile of the worker over the first sync to (a
 * profiled run's times are slower than an unprofiled one's: they are not the ones to compare).
 */
export async function benchScale(dc: SambaDc, log: (line: string) => void, profileTo?: string): Promise<ScaleResult> {
  const config = configFor(dc.info, benchDepartments);
  const inspectorPort = await freePort();
  const stack = await startStack(dc.info, { tenant: "scale", config: config as Record<string, unknown>, inspectorPort });
  await stack.agent.kill();
  const agent = await freshAgent(stack, dc.info, "scale-measured");
  let admin = await adminClient(dc.info);
  const inspector = await openInspector(inspectorPort);
  try {
    const { ms: reference, entries: usersInScope } = await referenceScope(dc.info, config);
    const [workerd] = workerdPids();
    if (workerd === undefined) throw new Error("no workerd process of this benchmark was found");
    const idle = rssKb(workerd);
    const heap = watchIsolateHeap(inspector);
    const kinds = watchResidentKinds(workerd);

    const preview = await timed(() => stack.api("POST", "/preview?limit=50"));
    if (preview.value.status !== 200) throw new Error(`preview: HTTP ${preview.value.status} ${preview.value.text}`);
    log(`scale: ${usersInScope} users in scope; ldapsearch ${reference.toFixed(0)} ms; preview's first page ${preview.ms.toFixed(0)} ms`);

    const profileFile = profileTo === undefined ? undefined : join(profileTo, `first-sync-${Date.now()}.cpuprofile`);
    const profile = profileFile === undefined ? undefined : await profileIsolate(inspector, profileFile);
    const first = await sync(stack, { workerd, agent: agent.child.pid, samba: sambaPid(dc.info.dir) });
    if (profile !== undefined) {
      const hot = await profile.stop();
      const list = (rows: HotFunction[], key: "selfMs" | "totalMs") => rows.map((r) => `${r[key]} ms ${r.at}`).join("; ");
      log(`scale: the worker's CPU profile of the first sync is in ${profileFile}`);
      log(`scale: most time of their own: ${list(hot.self, "selfMs")}`);
      log(`scale: most time with what they called: ${list(hot.total, "totalMs")}`);
    }
    if (first.value.read?.mode !== "full") throw new Error(`the first sync was not a full read: ${JSON.stringify(first.value.read)}`);
    const growth = peakRssKb(workerd) - idle;
    const isolateHeap = await heap.stop();
    const byKind = kinds.stop();
    const workerdGrowthByKind = { anonMb: mb(byKind.anonKb), fileMb: mb(byKind.fileKb), shmemMb: mb(byKind.shmemKb) };
    const firstSplit = await split(stack, first.value);
    const usage = first.usage as FirstSyncUsage;
    const total = (u: ProcessUsage) => u.userMs + u.kernelMs;
    const { read: wRead, plan: wPlan, apply: wApply } = usage.workerd;
    const cpu = { readStepMs: total(wRead), runMs: total(wRead) + total(wPlan) + total(wApply) };
    log(
      `scale: first sync ${first.ms.toFixed(0)} ms (${ratio(first.ms, reference)}x ldapsearch; ${JSON.stringify(firstSplit)}); workerd grew ${mb(growth)} MB (${JSON.stringify(workerdGrowthByKind)}); the isolate's heap peaked at ${isolateHeap.peakUsedMb} MB used, ${isolateHeap.peakCommittedMb} MB taken (${isolateHeap.samples} samples; it was busy for ${isolateHeap.longestBlockMs} ms at most without a break); workerd CPU ${cpu.runMs} ms, ${cpu.readStepMs} ms of it in the read step`,
    );
    const phase = (u: ProcessUsage) => `${u.userMs} ms user, ${u.kernelMs} ms kernel, ${u.readMb} MB read, ${u.writtenMb} MB written`;
    log(
      `scale: first sync's use: during the read the DC ${usage.sambaReadMs} ms CPU, the agent ${usage.agentReadMs} ms, workerd ${phase(wRead)}; planning, workerd ${phase(wPlan)}; applying, workerd ${phase(wApply)}`,
    );

    // The users changed and deleted: the first 22 the first sync created, 11 for each kind of evidence.
    const created = ((await stack.api("GET", `/runs/${first.value.id}/items?action=create&limit=22`)).body.items as Json[]).map((i) =>
      String(i.dn),
    );
    const sweep = await incremental(stack, admin, { changed: created.slice(0, 10), gone: created[10] as string }, first.ms, "sweep", log);

    // The grant an administrator makes for the service account, and a tombstone to see it by.
    await admin.unbind().catch(() => {});
    await dc.stop();
    await grantDeletedObjectsListing(dc.info, dc.serviceDn);
    await dc.start();
    admin = await adminClient(dc.info);
    await admin.del(await addUser(admin, dc.info, `OU=Service Accounts,${dc.baseDn}`, "bench-tombstone"));
    const tombstones = await incremental(
      stack,
      admin,
      { changed: created.slice(11, 21), gone: created[21] as string },
      first.ms,
      "tombstones",
      log,
    );
    const agentPeakRssMb = mb(peakRssKb(agent.child.pid));
    log(`scale: the agent's peak RSS ${agentPeakRssMb} MB`);

    return {
      usersInScope,
      ldapsearchMs: Math.round(reference),
      previewFirstPageMs: Math.round(preview.ms),
      firstSyncMs: Math.round(first.ms),
      firstSyncRatio: ratio(first.ms, reference),
      firstSyncSplit: firstSplit,
      firstSyncCpu: cpu,
      firstSyncUsage: usage,
      workerdGrowthMb: mb(growth),
      workerdGrowthByKind,
      isolateHeap,
      sweep,
      tombstones,
      agentPeakRssMb,
    };
  } finally {
    inspector.close();
    await admin.unbind().catch(() => {});
    await agent.kill();
    await stack.stop();
  }
}
