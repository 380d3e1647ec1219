// The sync path on directories of several shapes (directory-shapes.ts), each on a DC of its own
// (provisioned once, cached): ldapsearch paging through the shape's scope with its filter and
// attributes (the reference, median of three), then a full Preview, the first full sync into
// the built-in PBX and a full re-sync with nothing changed, each through the bundled worker in
// workerd and a real agent, each against the reference, with where its time went. The
// reference is measured again after the runs: this host's speed drifts by a fifth and more
// within minutes, and a ratio near its target means little when the two references differ.
import { startSambaDc } from "../test/support/samba-dc.ts";
import { type Json, type Stack, startStack } from "../test/support/stack.ts";
import { type DirectoryShape, directoryShapes, type ShapeName } from "./directory-shapes.ts";
import { freshAgent, referenceScope, runToEnd, timed } from "./sync-path.ts";

/** Where a run's time went, in ms: until the read was done, the plan, applying and finishing. */
export interface ShapeSplit {
  readMs: number;
  planMs: number;
  restMs: number;
}

export interface ShapeResult {
  about: string;
  users: number;
  usersInScope: number;
  ldapsearchMs: number;
  /** The same reference measured again once the runs are done (the ratios use the first). */
  ldapsearchAfterMs: number;
  previewMs: number;
  previewRatio: number;
  firstSyncMs: number;
  /** first sync / ldapsearch; target <= 2. */
  firstSyncRatio: number;
  firstSyncSplit: ShapeSplit;
  resyncMs: number;
  resyncRatio: number;
  resyncSplit: ShapeSplit;
  operations: Record<string, number>;
}

const ratio = (a: number, b: number) => Math.round((a / b) * 100) / 100;

async function split(stack: Stack, run: Json): Promise<ShapeSplit> {
  const events = (await stack.api("GET", `/runs/${run.id}/events`)).body as Array<{ at: number; event: string }>;
  const readAt = events.find((e) => e.event.startsWith("Directory read"))?.at ?? Number.NaN;
  const planAt = events.find((e) => e.event.startsWith("Plan:"))?.at ?? Number.NaN;
  return { readMs: readAt - run.startedAt, planMs: planAt - readAt, restMs: (run.finishedAt ?? planAt) - planAt };
}

/** A full sync (`?full=true`: a re-sync reads everything, as the first one must) to its end. */
async function fullSync(stack: Stack): Promise<{ ms: number; value: Json }> {
  const run = await runToEnd(stack, () => stack.api("POST", "/sync?full=true"));
  if (run.value.status !== "succeeded") throw new Error(`run ${run.value.id} ended ${run.value.status}: ${run.value.error}`);
  return run;
}

export async function benchShape(shape: DirectoryShape, users: number, log: (line: string) => void): Promise<ShapeResult> {
  const dc = await startSambaDc({
    ip: "127.0.0.83",
    seedLdif: shape.ldif(users),
    seedOffline: { passwords: 0 },
    log: (l) => log(`  samba (${shape.name}, ${users} users): ${l}`),
  });
  try {
    const config = shape.config(dc.info);
    const stack = await startStack(dc.info, { tenant: `shape-${shape.name}`, config: config as Record<string, unknown> });
    await stack.agent.kill();
    const agent = await freshAgent(stack, dc.info, `shape-${shape.name}`);
    try {
      const { ms: reference, entries: usersInScope } = await referenceScope(dc.info, config);
      const preview = await timed(() => stack.api("POST", "/preview?limit=50&full=true"));
      if (preview.value.status !== 200) throw new Error(`preview: HTTP ${preview.value.status} ${preview.value.text}`);
      const first = await fullSync(stack);
      const resync = await fullSync(stack);
      const after = await referenceScope(dc.info, config);
      const operations = Object.fromEntries(
        Object.entries(first.value.summary as Record<string, number>).filter(([k, v]) => v > 0 && k !== "unchanged"),
      );
      const result: ShapeResult = {
        about: shape.about,
        users,
        usersInScope,
        ldapsearchMs: Math.round(reference),
        ldapsearchAfterMs: Math.round(after.ms),
        previewMs: Math.round(preview.ms),
        previewRatio: ratio(preview.ms, reference),
        firstSyncMs: Math.round(first.ms),
        firstSyncRatio: ratio(first.ms, reference),
        firstSyncSplit: await split(stack, first.value),
        resyncMs: Math.round(resync.ms),
        resyncRatio: ratio(resync.ms, reference),
        resyncSplit: await split(stack, resync.value),
        operations,
      };
      log(
        `shape ${shape.name} at ${users}: ${usersInScope} in scope; ldapsearch ${result.ldapsearchMs} ms (${result.ldapsearchAfterMs} ms after the runs); preview ${result.previewMs} ms (${result.previewRatio}x); ` +
          `first sync ${result.firstSyncMs} ms (${result.firstSyncRatio}x; ${JSON.stringify(result.firstSyncSplit)}; ${JSON.stringify(operations)}); ` +
          `no-change full re-sync ${result.resyncMs} ms (${result.resyncRatio}x; ${JSON.stringify(result.resyncSplit)})`,
      );
      return result;
    } finally {
      await agent.kill();
      await stack.stop();
    }
  } finally {
    await dc.destroy();
  }
}

/** Every shape named (all by default) at every size. */
export async function benchShapes(
  names: ShapeName[],
  sizes: number[],
  log: (line: string) => void,
): Promise<Record<string, Record<string, ShapeResult>>> {
  const results: Record<string, Record<string, ShapeResult>> = {};
  for (const name of names)
    for (const users of sizes) {
      results[name] ??= {};
      (results[name] as Record<string, ShapeResult>)[users] = await benchShape(directoryShapes[name], users, log);
    }
  return results;
}
