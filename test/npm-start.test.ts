// npm start as a person runs it: one command brings up the worker in local workerd, the sample
// configuration and an agent on the sample directory; the printed session works; Ctrl-C
// leaves nothing running.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { freePort } from "./support/agent-process.ts";
import type { Json } from "./support/stack.ts";

const root = new URL("../", import.meta.url).pathname;

describe("npm start", () => {
  let child: ChildProcess | undefined;
  afterAll(() => {
    if (child?.exitCode === null) child.kill("SIGKILL");
  });

  it("runs the product on the sample directory until Ctrl-C", async () => {
    const port = await freePort();
    const state = await mkdtemp(join(tmpdir(), "adsync-start-"));
    child = spawn(process.execPath, [join(root, "scripts/start.ts")], {
      cwd: root,
      env: { ...process.env, PORT: String(port), ADSYNC_STATE_DIR: state },
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
    const exited = new Promise<number | null>((resolve) => child?.on("exit", (code) => resolve(code)));
    const deadline = Date.now() + 90_000;
    while (!/is running on/.test(out)) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`npm start did not come up:\n${out}\n${err}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(out).toContain(`pbx-ad-sync is running on http://127.0.0.1:${port}`);
    const token = /ADSYNC_ADMIN_TOKEN=(\S+)/.exec(out)?.[1];
    const api = `http://127.0.0.1:${port}/api/v1/tenants/demo`;
    const headers = { Authorization: `Bearer ${token}` };
    // The agent connects right after the banner.
    for (let i = 0; i < 50 && !/connected to/.test(err); i++) await new Promise((r) => setTimeout(r, 100));

    const preview = (await (await fetch(`${api}/preview?limit=1`, { method: "POST", headers })).json()) as Json;
    expect(preview.run).toMatchObject({ status: "previewed", complete: true, summary: { create: 291, conflict: 2, excluded: 7 } });
    const extensions = (await (await fetch(`${api}/extensions`, { headers })).json()) as Json;
    expect(extensions.extensions.map((e: { number: string }) => e.number).sort()).toEqual(["0999", "1000"]);

    child.kill("SIGINT");
    expect(await exited).toBe(0);
    await expect(fetch(`http://127.0.0.1:${port}/api/v1/health`)).rejects.toThrow();
  }, 150_000);
});
