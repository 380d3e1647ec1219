// A CPU profile of the worker isolate over a stretch of the benchmark, through workerd's
// inspector: where a run's time goes inside the worker (the read's staging, mapping,
// planning's statements, apply). Only when asked: the sampling costs time of its own, so a
// profiled run's figures are not the ones to compare.
import { writeFile } from "node:fs/promises";
import type { InspectorSession } from "./inspector-session.ts";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface HotFunction {
  /** function (file:line) */
  at: string;
  selfMs: number;
  /** Self time and the time of what it called. */
  totalMs: number;
}

/** The functions with the most time of their own, and with their callees', heaviest first. */
export function hotFunctions(profile: CpuProfile, top = 25): { self: HotFunction[]; total: HotFunction[] } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const name = (n: ProfileNode) => {
    const file = n.callFrame.url.split("/").pop() || "(native)";
    return `${n.callFrame.functionName || "(anonymous)"} (${file}:${n.callFrame.lineNumber + 1})`;
  };
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    const us = profile.timeDeltas[i] ?? 0;
    const leaf = byId.get(id);
    if (leaf === undefined) return;
    self.set(name(leaf), (self.get(name(leaf)) ?? 0) + us);
    // Each function on the stack once, however deep it recursed.
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const n = byId.get(at) as ProfileNode;
      const key = name(n);
      if (seen.has(key)) continue;
      seen.add(key);
      total.set(key, (total.get(key) ?? 0) + us);
    }
  });
  const row = (at: string): HotFunction => ({
    at,
    selfMs: Math.round((self.get(at) ?? 0) / 1000),
    totalMs: Math.round((total.get(at) ?? 0) / 1000),
  });
  const idle = new Set(["(idle) ((native):0)", "(program) ((native):0)", "(root) ((native):0)"]);
  const heaviest = (m: Map<string, number>) =>
    [...m.entries()]
      .filter(([k]) => !idle.has(k))
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k]) => row(k));
  return { self: heaviest(self), total: heaviest(total) };
}

/** Starts sampling the isolate; `stop` writes the .cpuprofile (DevTools opens it) to `file`. */
export async function profileIsolate(
  session: InspectorSession,
  file: string,
): Promise<{ stop(): Promise<ReturnType<typeof hotFunctions>> }> {
  for (const [method, params] of [
    ["Profiler.enable", undefined],
    ["Profiler.setSamplingInterval", { interval: 1000 }],
    ["Profiler.start", undefined],
  ] as const) {
    const answer = await session.call(method, params);
    if ("error" in answer) throw new Error(`workerd's inspector refused ${method}: ${JSON.stringify(answer.error)}`);
  }
  return {
    async stop() {
      const answer = await session.call("Profiler.stop");
      if ("error" in answer) throw new Error(`workerd's inspector refused Profiler.stop: ${JSON.stringify(answer.error)}`);
      const profile = answer.profile as CpuProfile;
      await writeFile(file, JSON.stringify(profile));
      return hotFunctions(profile);
    },
  };
}
