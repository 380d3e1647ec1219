// The worker isolate's JavaScript heap, read through workerd's inspector (the Chrome DevTools
// Protocol): what a Durable Object's 128 MB is a limit of. The process's RSS says less: it
// also holds workerd itself, SQLite's caches and whatever the allocator has not given back.
import type { InspectorSession } from "./inspector-session.ts";

export interface IsolateHeap {
  /** The most the heap held, garbage not yet collected included. */
  peakUsedMb: number;
  /**
   * The most V8 had taken from the process for the heap (used or not): the part of workerd's
   * growth that is the isolate's; the rest is workerd's own and SQLite's.
   */
  peakCommittedMb: number;
  samples: number;
  longestBlockMs: number;
}

/**
 * Samples the isolate's used heap (garbage not yet collected included) until `stop`. (workerd's
 * inspector answers Runtime.getHeapUsage, but not HeapProfiler.collectGarbage.)
 */
export function watchIsolateHeap(session: InspectorSession, everyMs = 100): { stop(): Promise<IsolateHeap> } {
  // The isolate answers on its own thread, so a long synchronous stretch of work delays the
  // answer: the longest wait is what the run blocked its object for.
  const call = (method: string) => session.call(method);
  let peak = 0;
  let peakCommitted = 0;
  let samples = 0;
  let longestWait = 0;
  let running = true;
  const sampling = (async () => {
    while (running) {
      const asked = performance.now();
      const usage = await call("Runtime.getHeapUsage");
      longestWait = Math.max(longestWait, performance.now() - asked);
      peak = Math.max(peak, Number(usage.usedSize ?? 0));
      peakCommitted = Math.max(peakCommitted, Number(usage.totalSize ?? 0));
      samples++;
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  const mb = (bytes: number) => Math.round(bytes / 104857.6) / 10;
  return {
    async stop() {
      running = false;
      await sampling;
      return { peakUsedMb: mb(peak), peakCommittedMb: mb(peakCommitted), samples, longestBlockMs: Math.round(longestWait) };
    },
  };
}
