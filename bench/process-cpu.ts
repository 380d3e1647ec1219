// What the processes of a run spent, from /proc: CPU in user space and in the kernel
// (/proc/PID/stat), and the bytes passed through read and write calls (/proc/PID/io, rchar and
// wchar). For workerd these bytes are mostly SQLite's: its database and write-ahead log are
// files, and the page cache of 2 MB that a Durable Object's SQLite keeps (PRAGMA cache_size
// is refused to the object) reads a page again, and writes it again at each commit, whenever
// a statement touches more pages than that. For the DC and the agent the CPU alone says how
// busy they were while the read went on.
import { readFileSync } from "node:fs";
import { join } from "node:path";

export interface ProcessUsage {
  userMs: number;
  kernelMs: number;
  readMb: number;
  writtenMb: number;
}

const none: ProcessUsage = { userMs: 0, kernelMs: 0, readMb: 0, writtenMb: 0 };

/** `pid`'s usage so far; zeros for a process that is gone (what it spent cannot be read any more). */
export function processUsage(pid: number | undefined): ProcessUsage {
  if (pid === undefined) return none;
  try {
    // utime and stime are fields 14 and 15 of /proc/PID/stat, in clock ticks (100 a second on
    // Linux); the fields are counted after the command's closing parenthesis.
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
    const io = readFileSync(`/proc/${pid}/io`, "utf8");
    const bytes = (name: string) => Number(new RegExp(`^${name}: (\\d+)$`, "m").exec(io)?.[1] ?? 0) / 1048576;
    return { userMs: Number(fields[11]) * 10, kernelMs: Number(fields[12]) * 10, readMb: bytes("rchar"), writtenMb: bytes("wchar") };
  } catch {
    return none;
  }
}

/** What was spent from `from` to `to`, rounded (ms, MB). */
export function usageBetween(from: ProcessUsage, to: ProcessUsage): ProcessUsage {
  return {
    userMs: Math.round(to.userMs - from.userMs),
    kernelMs: Math.round(to.kernelMs - from.kernelMs),
    readMb: Math.round(to.readMb - from.readMb),
    writtenMb: Math.round(to.writtenMb - from.writtenMb),
  };
}

/** The samba process of a test DC, from its pid file (the DC runs as one process, `-M single`). */
export function sambaPid(dcDir: string): number | undefined {
  try {
    const pid = Number(readFileSync(join(dcDir, "run", "samba.pid"), "utf8").trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}
