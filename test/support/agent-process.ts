// The connector agent as an administrator runs it: its own Node process running the shipped
// bundle (built once per test run by the global setup), with its output captured line by line.
import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { agentBundle, agentNodeFlags } from "../../agent/build.ts";

const main = agentBundle;

export interface AgentProcess {
  readonly id: string;
  readonly child: ChildProcess;
  /** Every line the agent wrote, stdout and stderr. */
  readonly lines: string[];
  /** Resolves with the first line (already written or still to come) that matches. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Resolves with the exit code (or signal) once the process has ended. */
  readonly exited: Promise<number | string>;
  kill(signal?: NodeJS.Signals): Promise<number | string>;
}

let stateRoot: string | undefined;

/**
 * Where an agent of this test process keeps its credential unless the test names a place:
 * one directory per worker and agent id, so that an agent started again with the same id
 * comes back enrolled, as a restarted service does.
 */
export function agentStateDir(url: string, id: string): string {
  stateRoot ??= mkdtempSync(join(tmpdir(), "adsync-agent-state-"));
  return join(stateRoot, `${id}-${createHash("sha256").update(new URL(url).origin).digest("hex").slice(0, 8)}`);
}

/**
 * `token` is the enrollment token the agent spends at its first start; a later start with the
 * same state directory needs none. `dcs` are the domain controllers the agent may connect to (--dc HOST[:PORT]); an agent
 * started without any refuses every directory request, as one installed without them does.
 */
export function startAgent(options: {
  url: string;
  token?: string;
  id: string;
  dcs?: string[];
  stateDir?: string;
  env?: Record<string, string>;
}): AgentProcess {
  const dcFlags = (options.dcs ?? []).flatMap((dc) => ["--dc", dc]);
  const stateDir = options.stateDir ?? agentStateDir(options.url, options.id);
  const child = spawn(
    process.execPath,
    [...agentNodeFlags, main, "--url", options.url, "--id", options.id, "--state-dir", stateDir, ...dcFlags],
    {
      // The token travels in the environment, as a service manager would pass it.
      env: { ...process.env, ...(options.token === undefined ? {} : { ADSYNC_TOKEN: options.token }), ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  const lines: string[] = [];
  const waiters = new Set<{ pattern: RegExp; resolve(line: string): void }>();
  const take = (stream: NodeJS.ReadableStream) => {
    let rest = "";
    stream.setEncoding("utf8");
    stream.on("data", (chunk: string) => {
      const parts = (rest + chunk).split("\n");
      rest = parts.pop() ?? "";
      for (const line of parts) {
        lines.push(line);
        for (const w of waiters) {
          if (w.pattern.test(line)) {
            waiters.delete(w);
            w.resolve(line);
          }
        }
      }
    });
  };
  take(child.stdout as NodeJS.ReadableStream);
  take(child.stderr as NodeJS.ReadableStream);
  const exited = new Promise<number | string>((resolve) => child.on("exit", (code, signal) => resolve(code ?? signal ?? "")));
  return {
    id: options.id,
    child,
    lines,
    exited,
    waitFor(pattern, timeoutMs = 15_000) {
      const seen = lines.find((l) => pattern.test(l));
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const waiter = { pattern, resolve };
        waiters.add(waiter);
        setTimeout(() => {
          if (!waiters.delete(waiter)) return;
          reject(new Error(`agent ${options.id}: no line matching ${pattern} within ${timeoutMs} ms; it wrote:\n${lines.join("\n")}`));
        }, timeoutMs);
      });
    },
    async kill(signal = "SIGTERM") {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** A TCP port free on 127.0.0.1 right now, for a server that must come back on the same port. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}
