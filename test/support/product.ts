// `npm start` as a person runs it (scripts/start.ts), on a free loopback port with its own
// state directory, for tests that use the whole product: the worker in local workerd serving
// the demo portal, the enrolled agent, the printed session.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./agent-process.ts";

const root = new URL("../../", import.meta.url).pathname;

export interface Product {
  origin: string;
  port: number;
  /** The administrator session npm start printed. */
  token: string;
  /** The portal URL npm start printed, session included. */
  portalUrl: string;
  child: ChildProcess;
  /** What npm start printed so far: stdout (the banner) and stderr (its children's logs). */
  out(): string;
  err(): string;
  exited: Promise<number | null>;
  api(method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }>;
  stop(): Promise<void>;
}

export async function startProduct(env: Record<string, string> = {}): Promise<Product> {
  const port = await freePort();
  const state = await mkdtemp(join(tmpdir(), "adsync-start-"));
  const child = spawn(process.execPath, [join(root, "scripts/start.ts")], {
    cwd: root,
    env: { ...process.env, PORT: String(port), ADSYNC_STATE_DIR: state, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout?.on("data", (d) => {
    out += d;
  });
  child.stderr?.on("data", (d) => {
    err += d;
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const deadline = Date.now() + 120_000;
  while (!/is running on/.test(out)) {
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill("SIGKILL");
      throw new Error(`npm start did not come up:\n${out}\n${err}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  // The agent connects right after the banner.
  for (let i = 0; i < 100 && !/connected to/.test(err); i++) await new Promise((r) => setTimeout(r, 100));
  const token = /ADSYNC_ADMIN_TOKEN=(\S+)/.exec(out)?.[1] ?? "";
  const portalUrl = /(http:\/\/127\.0\.0\.1:\d+\/#session=\S+)/.exec(out)?.[1] ?? "";
  const origin = `http://127.0.0.1:${port}`;
  return {
    origin,
    port,
    token,
    portalUrl,
    child,
    out: () => out,
    err: () => err,
    exited,
    async api(method, path, body) {
      const res = await fetch(`${origin}/api/v1/tenants/demo${path}`, {
        method,
        headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await res.text();
      return { status: res.status, body: text ? (JSON.parse(text) as unknown) : null };
    },
    async stop() {
      if (child.exitCode !== null) return;
      child.kill("SIGINT");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
