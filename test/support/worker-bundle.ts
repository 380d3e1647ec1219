import { execFile } from "node:child_process";
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { convertV4MiniflareOptions, Miniflare } from "miniflare";

const root = new URL("../../", import.meta.url).pathname;

/**
 * Bundles the worker exactly as a deploy would (wrangler's own esbuild step), because only the
 * bundle shows what Workers refuse: code generation at run time, Node built-ins, size.
 */
export async function bundleWorker(): Promise<{ dir: string; script: string; source: string }> {
  const dir = await mkdtemp(join(tmpdir(), "adsync-worker-"));
  await promisify(execFile)(
    join(root, "node_modules/.bin/wrangler"),
    ["deploy", "--dry-run", "--outdir", dir, "--config", join(root, "wrangler.toml")],
    {
      cwd: root,
      env: { ...process.env, WRANGLER_SEND_METRICS: "false", NO_COLOR: "1" },
    },
  );
  const script = join(dir, "index.js");
  return { dir, script, source: await readFile(script, "utf8") };
}

export const testSecrets = {
  ADMIN_JWT_SECRET: "test-admin-secret-that-is-long-enough-1234",
  CONFIG_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString("base64"),
};

export interface WorkerOptions {
  /** Durable Object SQLite lives here, so a restarted worker finds its tenants again. */
  persistDir?: string;
  /** Serve on a real loopback port, for agents that dial in over WebSocket. */
  port?: number;
  bindings?: Record<string, string>;
  /** Receives the worker's console output, to check what it logs. */
  onLog?: (line: string) => void;
  /** Opens workerd's inspector (Chrome DevTools Protocol) on this loopback port: the bench reads the isolate's heap through it. */
  inspectorPort?: number;
}

/** Runs a bundled worker in workerd through Miniflare, with the wrangler.toml bindings. */
export async function startWorker(script: string, options: WorkerOptions = {}): Promise<Miniflare> {
  // Miniflare 5 (wrangler's) nests options per worker; the v4 shape it converts is the documented one.
  const mf = new Miniflare(
    convertV4MiniflareOptions({
      modules: true,
      scriptPath: script,
      modulesRoot: dirname(script),
      compatibilityDate: "2026-11-01",
      compatibilityFlags: ["nodejs_compat"],
      durableObjects: {
        TENANT: { className: "TenantObject", useSQLite: true },
        REGISTRY: { className: "TenantRegistry", useSQLite: true },
      },
      bindings: { ...testSecrets, ...options.bindings },
      ...(options.persistDir ? { resourcePersistencePath: options.persistDir } : {}),
      ...(options.port !== undefined ? { host: "127.0.0.1", port: options.port } : {}),
      ...(options.inspectorPort !== undefined ? { inspectorPort: options.inspectorPort } : {}),
      ...(options.onLog ? { handleStructuredLogs: (log: { message: string }) => options.onLog?.(log.message) } : {}),
    }),
  );
  await mf.ready;
  return mf;
}
