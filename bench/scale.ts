// The directory at scale, and runs whose cost follows the changes: ldapsearch paging through
// the scope (the reference), Preview's first page before anything is synced, the first full
// sync into the built-in PBX, a no-change incremental run, and an incremental run after ten
// users changed and one was deleted, each through the bundled worker in workerd and a real
// agent; with workerd's RSS growth over its idle RSS and the agent's peak RSS. The DC is the
// benchmark's (ADSYNC_BENCH_USERS users); this part changes it, so it runs last.
import { readFileSync } from "node:fs";
import { Attribute, Change } from "ldapts";
import { adminClient } from "../agent/src/ldap/test-support.ts";
import type { SambaDcInfo } from "../test/support/samba-dc.ts";
import { type Json, startStack } from "../test/support/stack.ts";
import { benchDepartments } from "./large-directory.ts";
import { median } from "./ldapsearch.ts";
import { configFor, freshAgent, ldapsearchScope, peakRssKb, timed, workerdPids } from "./sync-path.ts";

export interface ScaleResult {
  usersInScope: number;
  ldapsearchMs: number;
  /** A full Preview's answer with its summary and first page of 50, before the first sync. */
  previewFirstPageMs: number;
  firstSyncMs: number;
  /** first sync / ldapsearch; target <= 3. */
  firstSyncRatio: number;
  /** workerd's peak RSS over its RSS before the first run, in MB. */
  workerdGrowthMb: number;
  noChangeIncrementalMs: number;
  /** / first sync; target < 0.02, with no writes. */
  noChangeIncrementalRatio: number;
  noChangeIncrementalWrites: number;
  changedIncrementalMs: number;
  /** / first sync, after 10 users changed and 1 was deleted; target < 0.05. */
  changedIncrementalRatio: number;
  /** What that run decided about: the changed users it read again, and the synced users it found gone. */
  changedReadAgain: number;
  changedLeft: number;
  changedOperations: Record<string, number>;
  agentPeakRssMb: number;
  /** Where each run's time went, in ms: the read (with the sweep), the plan, applying and finishing. */
  splits: Record<"firstSync" | "noChangeIncremental" | "changedIncremental", { readMs: number; planMs: number; restMs: number }>;
}

const ratio = (a: number, b: number, digits = 2) => Math.round((a / b) * 10 ** digits) / 10 ** digits;
const mb = (kb: number) => Math.round(kb / 102.4) / 10;

function rssKb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
}

export async function benchScale(dc: SambaDcInfo, log: (line: string) => void): Promise<ScaleResult> {
  const config = configFor(dc, benchDepartments);
  const stack = await startStack(dc, { tenant: "scale", config: config as Record<string, unknown> });
  await stack.agent.kill();
  const agent = await freshAgent(stack, dc, "scale-measured");
  const admin = await adminClient(dc);
  try {
    const sync = async () => {
      const started = await stack.api("POST", "/sync");
      if (started.status !== 202) throw new Error(`sync: HTTP ${started.status} ${started.text}`);
      const run = await stack.finished(started.body.id, 60 * 60_000);
      if (run.status !== "succeeded") throw new Error(`sync ended ${run.status}: ${run.error}`);
      return run as Json;
    };
    const events = async (id: string) => ((await stack.api("GET", `/runs/${id}/events`)).body as Json[]).map((e) => String(e.event));
    /** Where a run's time went, from its events: until the read was done, the plan, the rest. */
    const split = async (run: Json) => {
      const list = (await stack.api("GET", `/runs/${run.id}/events`)).body as Array<{ at: number; event: string }>;
      const readAt = list.find((e) => e.event.startsWith("Directory read"))?.at ?? Number.NaN;
      const planAt = list.find((e) => e.event.startsWith("Plan:"))?.at ?? Number.NaN;
      return { readMs: readAt - run.startedAt, planMs: planAt - readAt, restMs: (run.finishedAt ?? planAt) - planAt };
    };

    // The reference, warmed once.
    await ldapsearchScope(dc, config);
    const references: number[] = [];
    let usersInScope = 0;
    for (let i = 0; i < 3; i++) {
      const r = await ldapsearchScope(dc, config);
      references.push(r.ms);
      usersInScope = r.entries;
    }
    const reference = median(references);
    const [workerd] = workerdPids();
    if (workerd === undefined) throw new Error("no workerd process of this benchmark was found");
    const idle = rssKb(workerd);

    const preview = await timed(() => stack.api("POST", "/preview?limit=50"));
    if (preview.value.status !== 200) throw new Error(`preview: HTTP ${preview.value.status} ${preview.value.text}`);
    log(`scale: ${usersInScope} users in scope; ldapsearch ${reference.toFixed(0)} ms; preview's first page ${preview.ms.toFixed(0)} ms`);

    const first = await timed(sync);
    if (first.value.read?.mode !== "full") throw new Error(`the first sync was not a full read: ${JSON.stringify(first.value.read)}`);
    const growth = peakRssKb(workerd) - idle;
    const firstSplit = await split(first.value);
    log(
      `scale: first sync ${first.ms.toFixed(0)} ms (${ratio(first.ms, reference)}x ldapsearch; ${JSON.stringify(firstSplit)}); workerd grew ${mb(growth)} MB`,
    );

    const quiet = await timed(sync);
    if (quiet.value.read?.mode !== "incremental")
      throw new Error(`the no-change run was not incremental: ${JSON.stringify(quiet.value.read)}`);
    const quietWrites = quiet.value.progress?.total ?? 0;
    const quietSplit = await split(quiet.value);
    log(`scale: no-change incremental run ${quiet.ms.toFixed(0)} ms (${JSON.stringify(quietSplit)}), ${quietWrites} writes`);

    // Ten users change, one is deleted: the first eleven users the first sync created.
    const items = (await stack.api("GET", `/runs/${first.value.id}/items?action=create&limit=11`)).body.items as Json[];
    for (const item of items.slice(0, 10))
      await admin.modify(
        item.dn,
        new Change({ operation: "replace", modification: new Attribute({ type: "title", values: ["Changed for the benchmark"] }) }),
      );
    await admin.del((items[10] as Json).dn);
    const changed = await timed(sync);
    if (changed.value.read?.mode !== "incremental")
      throw new Error(`the run after changes was not incremental: ${JSON.stringify(changed.value.read)}`);
    const line = (await events(changed.value.id)).find((e) => e.startsWith("Directory read (incremental)")) ?? "";
    const readAgain = Number(/: (\d+) users in scope to decide about again/.exec(line)?.[1] ?? Number.NaN);
    const left = Number(/; (\d+) synced users no longer in it/.exec(line)?.[1] ?? Number.NaN);
    const s = changed.value.summary as Record<string, number>;
    const operations = Object.fromEntries(
      Object.entries(s).filter(([k, v]) => v > 0 && !["unchanged", "excluded", "conflict"].includes(k)),
    );
    const changedSplit = await split(changed.value);
    log(
      `scale: incremental run after 10 changes and 1 delete ${changed.ms.toFixed(0)} ms (${JSON.stringify(changedSplit)}): read ${readAgain} again, ${left} gone; ${JSON.stringify(operations)}`,
    );

    const result: ScaleResult = {
      usersInScope,
      ldapsearchMs: Math.round(reference),
      previewFirstPageMs: Math.round(preview.ms),
      firstSyncMs: Math.round(first.ms),
      firstSyncRatio: ratio(first.ms, reference),
      workerdGrowthMb: mb(growth),
      noChangeIncrementalMs: Math.round(quiet.ms),
      noChangeIncrementalRatio: ratio(quiet.ms, first.ms, 4),
      noChangeIncrementalWrites: quietWrites,
      changedIncrementalMs: Math.round(changed.ms),
      changedIncrementalRatio: ratio(changed.ms, first.ms, 4),
      changedReadAgain: readAgain,
      changedLeft: left,
      changedOperations: operations,
      agentPeakRssMb: mb(peakRssKb(agent.child.pid)),
      splits: { firstSync: firstSplit, noChangeIncremental: quietSplit, changedIncremental: changedSplit },
    };
    log(
      `scale ratios: first sync ${result.firstSyncRatio}x ldapsearch; no-change incremental ${result.noChangeIncrementalRatio} of it; ` +
        `after changes ${result.changedIncrementalRatio} of it; agent peak RSS ${result.agentPeakRssMb} MB`,
    );
    return result;
  } finally {
    await admin.unbind().catch(() => {});
    await agent.kill();
    await stack.stop();
  }
}
