// npm start: the product on its embedded default, in one command. The worker runs in local
// workerd (wrangler dev, Durable Object SQLite kept in .wrangler/) and serves the demo host
// portal at / with the plugin it loads through its manifest; the tenant "demo" gets the
// sample configuration the first time, and an agent is enrolled and started that answers from
// the bundled sample directory, so Preview and Sync Now work with no domain controller.
// ADSYNC_DIRECTORY_FILE chooses another directory file; set it empty to have the agent use
// the domain controllers of the saved configuration instead; PORT moves it off 8787.
// Ctrl-C stops everything.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { agentBundle, agentNodeFlags } from "../agent/build.ts";
import { credentialFileName } from "../agent/src/enrollment/credential-store.ts";
import { devToken } from "../cli/dev-token.ts";
import { buildPlugin } from "../plugin/build.ts";

const root = fileURLToPath(new URL("../", import.meta.url));
const port = Number(process.env.PORT ?? 8787);
const origin = `http://127.0.0.1:${port}`;
const tenant = "demo";
const agentId = "demo-agent";
const api = `${origin}/api/v1/tenants/${tenant}`;
const directoryFile = process.env.ADSYNC_DIRECTORY_FILE ?? fileURLToPath(new URL("../sample/directory.ldif", import.meta.url));

const say = (line: string) => process.stderr.write(`pbx-ad-sync: ${line}\n`);
const children: ChildProcess[] = [];
let stopping = false;

function stop(code = 0): void {
  if (stopping) return;
  stopping = true;
  for (const child of children) if (child.exitCode === null) child.kill("SIGTERM");
  setTimeout(() => process.exit(code), 1500).unref();
}
process.on("SIGINT", () => stop(0));
process.on("SIGTERM", () => stop(0));

function start(name: string, command: string, args: string[], env: Record<string, string> = {}): ChildProcess {
  const child = spawn(command, args, { cwd: root, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  const prefix = (stream: NodeJS.ReadableStream | null) => {
    let rest = "";
    stream?.setEncoding("utf8");
    stream?.on("data", (chunk: string) => {
      const lines = (rest + chunk).split("\n");
      rest = lines.pop() ?? "";
      for (const line of lines) if (line.trim() !== "") process.stderr.write(`[${name}] ${line}\n`);
    });
  };
  prefix(child.stdout);
  prefix(child.stderr);
  child.on("exit", (code, signal) => {
    if (stopping) return;
    say(`${name} stopped (${signal ?? `exit ${code}`}); stopping everything`);
    stop(typeof code === "number" && code !== 0 ? code : 1);
  });
  children.push(child);
  return child;
}

async function waitForWorker(timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(`${origin}/api/v1/health`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`the worker did not answer on ${origin} within ${timeoutMs / 1000} s`);
}

async function call(token: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${api}${path}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

async function main(): Promise<void> {
  say("building the portal plugin, the demo portal and the agent");
  await buildPlugin();
  const token = await devToken({ tenant, hours: 12, subject: "developer@localhost" });

  say(`starting the worker in local workerd on ${origin}`);
  start("worker", fileURLToPath(new URL("../node_modules/.bin/wrangler", import.meta.url)), [
    "dev",
    "--ip",
    "127.0.0.1",
    "--port",
    String(port),
    "--config",
    "wrangler.toml",
    // ADSYNC_STATE_DIR keeps the tenants' state elsewhere than .wrangler/state (tests use it).
    ...(process.env.ADSYNC_STATE_DIR ? ["--persist-to", process.env.ADSYNC_STATE_DIR] : []),
  ]);
  await waitForWorker();

  // The first start of a fresh state: the demo PBX's hand-made extensions (a reception the
  // sample collides with, an archive for leavers), and, when the agent reads the sample
  // directory, the sample configuration. Against a real DC the administrator starts from a
  // blank page. A configuration saved since is left as it is.
  const config = await call(token, "GET", "/config");
  if (config.status === 404 || (config.body as { config?: unknown } | null)?.config == null) {
    if (directoryFile !== "") {
      const saved = await call(
        token,
        "PUT",
        "/config",
        JSON.parse(readFileSync(new URL("../sample/config.json", import.meta.url), "utf8")),
      );
      if (saved.status !== 200)
        throw new Error(`saving the sample configuration failed: HTTP ${saved.status} ${JSON.stringify(saved.body)}`);
      say("saved the sample configuration for tenant demo");
    }
    for (const [number, displayName] of [
      ["1000", "Reception"],
      ["0999", "Leavers archive"],
    ])
      await call(token, "POST", "/extensions", { number, displayName });
  }

  // The demo agent enrolls once, like an installed one: its credential is kept beside the
  // worker's state (and goes with it), and later starts use it with no token. A credential the
  // worker no longer knows, or a worker that knows the agent but whose credential is gone, is
  // started over: the old agent is revoked and a new token, good for an hour, is spent.
  const agentState = join(process.env.ADSYNC_STATE_DIR ?? join(root, ".wrangler", "state"), "demo-agent");
  const credentialFile = join(agentState, credentialFileName);
  const agents = (await call(token, "GET", "/agents")).body as Array<{ id: string; revokedAt: number | null }>;
  const known = agents.some((a) => a.id === agentId && a.revokedAt === null);
  if (existsSync(credentialFile) && !known) rmSync(credentialFile);
  const env: Record<string, string> = {};
  if (!existsSync(credentialFile)) {
    if (known) await call(token, "DELETE", `/agents/${agentId}`);
    const tokens = (await call(token, "GET", "/agents/enrollment-tokens")).body as Array<{ id: string; label: string; status: string }>;
    for (const old of tokens.filter((t) => t.label === "npm start" && t.status === "pending"))
      await call(token, "DELETE", `/agents/enrollment-tokens/${old.id}`);
    const enrolled = await call(token, "POST", "/agents/enrollment-tokens", { label: "npm start", expiresInHours: 1 });
    const agentToken = (enrolled.body as { token?: string }).token;
    if (enrolled.status !== 201 || !agentToken) throw new Error(`making the agent's enrollment token failed: HTTP ${enrolled.status}`);
    env.ADSYNC_TOKEN = agentToken;
  }
  if (directoryFile !== "") env.ADSYNC_DIRECTORY_FILE = directoryFile;
  start("agent", process.execPath, [...agentNodeFlags, agentBundle, "--url", origin, "--id", agentId, "--state-dir", agentState], env);

  process.stdout.write(
    [
      "",
      `pbx-ad-sync is running on ${origin} (Ctrl-C stops it)`,
      "",
      "  Open the demo portal (Integrations > Active Directory), signed in as the demo tenant's administrator:",
      `    ${origin}/#session=${token}`,
      "",
      `  agent: ${directoryFile === "" ? "the domain controllers of the saved configuration" : `the directory file ${directoryFile}`}`,
      `  the API, with the same session (12 hours):`,
      `    export ADSYNC_ADMIN_TOKEN=${token}`,
      `    curl -sX POST -H "Authorization: Bearer $ADSYNC_ADMIN_TOKEN" ${api}/preview?limit=20`,
      "",
    ].join("\n"),
  );
}

main().catch((error: unknown) => {
  say(error instanceof Error ? error.message : String(error));
  stop(1);
});
