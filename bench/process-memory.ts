// What a process's resident memory is made of, sampled from /proc/PID/status: anonymous pages
// (heaps: V8's, workerd's, SQLite's page cache), file-backed pages (the binary, and any file
// mapped into memory) and shared memory (SQLite's WAL index is a shared mapping of the -shm
// file). VmHWM alone cannot say which of them grew.
import { readFileSync } from "node:fs";

export interface ResidentKinds {
  anonKb: number;
  fileKb: number;
  shmemKb: number;
}

export function residentKinds(pid: number): ResidentKinds {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const field = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return { anonKb: field("RssAnon"), fileKb: field("RssFile"), shmemKb: field("RssShmem") };
}

/** Samples `pid` every `everyMs` until `stop`, which answers each kind's peak over its first sample. */
export function watchResidentKinds(pid: number, everyMs = 100): { stop(): ResidentKinds } {
  const idle = residentKinds(pid);
  const peak = { ...idle };
  const timer = setInterval(() => {
    const now = residentKinds(pid);
    peak.anonKb = Math.max(peak.anonKb, now.anonKb);
    peak.fileKb = Math.max(peak.fileKb, now.fileKb);
    peak.shmemKb = Math.max(peak.shmemKb, now.shmemKb);
  }, everyMs);
  return {
    stop() {
      clearInterval(timer);
      return { anonKb: peak.anonKb - idle.anonKb, fileKb: peak.fileKb - idle.fileKb, shmemKb: peak.shmemKb - idle.shmemKb };
    },
  };
}
