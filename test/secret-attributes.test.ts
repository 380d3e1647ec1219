// A configuration that names a secret attribute, end to end: the bundled worker in workerd
// and a real agent process answering from a directory that holds a LAPS password. The agent
// refuses the read, says why and how to fix it, and the secret reaches no response and no
// log line of the worker or the agent.
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Miniflare } from "miniflare";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AgentProcess, freePort, startAgent } from "./support/agent-process.ts";
import { adminToken } from "./support/stack.ts";
import { bundleWorker, startWorker } from "./support/worker-bundle.ts";

const CANARY = "LAPS-Canary-7f3a-Q9";
const BASE = "DC=example,DC=com";
const directory = `version: 1

dn: OU=Staff,${BASE}
objectClass: top
objectClass: organizationalUnit

dn: CN=Ann Archer,OU=Staff,${BASE}
objectClass: top
objectClass: person
objectClass: organizationalPerson
objectClass: user
sAMAccountName: aarcher
displayName: Ann Archer
ipPhone: 1001
userAccountControl: 512
ms-Mcs-AdmPwd: ${CANARY}
msLAPS-Password: {"n":"Administrator","p":"${CANARY}"}
`;

describe("a configuration that names a secret attribute", () => {
  let mf: Miniflare;
  let agent: AgentProcess;
  let base: string;
  const workerLog: string[] = [];
  const responses: string[] = [];
  let admin: string;
  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${base}/api/v1/tenants/secrets${path}`, {
      method,
      headers: { Authorization: `Bearer ${admin}`, "Content-Type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    responses.push(text);
    return { status: res.status, body: text ? JSON.parse(text) : null };
  };
  const config = (patch: Record<string, unknown>) => ({
    connection: {
      domainControllers: [{ host: "dc1.example.com" }],
      bindUsername: "svc@example.com",
      bindPassword: { source: "agent" },
      baseDn: BASE,
    },
    scope: { users: "all" },
    extensionNumbers: { source: "attribute", attribute: "ipPhone" },
    schedule: { mode: "manual" },
    ...patch,
  });

  beforeAll(async () => {
    const dir = await mkdtemp(join(tmpdir(), "adsync-secrets-"));
    const file = join(dir, "directory.ldif");
    await writeFile(file, directory);
    const { script } = await bundleWorker();
    mf = await startWorker(script, { port: await freePort(), onLog: (l) => workerLog.push(l) });
    base = (await mf.ready).origin;
    admin = await adminToken("secrets");
    expect((await api("PUT", "/config", config({}))).status).toBe(200);
    const token = (await api("POST", "/agents/enrollment-tokens", { label: "secrets" })).body.token;
    agent = startAgent({ url: base, token, id: "secrets-agent", env: { ADSYNC_DIRECTORY_FILE: file } });
    await agent.waitFor(/connected to/);
  });
  afterAll(async () => {
    await agent?.kill("SIGKILL");
    await mf?.dispose();
  });

  it("previews as usual without it", async () => {
    const res = await api("POST", "/preview");
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.items).toEqual([expect.objectContaining({ name: "Ann Archer", action: "create", number: "1001" })]);
  });

  it.each([
    [
      "a field mapped to ms-Mcs-AdmPwd",
      { fields: { mobile: { attribute: "ms-Mcs-AdmPwd" } } },
      "/fields/mobile/attribute",
      /ms-Mcs-AdmPwd holds a secret/,
    ],
    [
      "numbers read from msLAPS-Password",
      { extensionNumbers: { source: "attribute", attribute: "msLAPS-Password" } },
      "/extensionNumbers/attribute",
      /msLAPS-Password holds a secret/,
    ],
    [
      "a scope filter on ms-Mcs-AdmPwd",
      { scope: { users: "all", filter: "(ms-Mcs-AdmPwd=L*)" } },
      "/scope/filter",
      /a filter on ms-Mcs-AdmPwd would reveal it/,
    ],
  ])("warns on save of %s, and the agent refuses the read it asks for", async (_what, patch, path, refusal) => {
    const saved = await api("PUT", "/config", config(patch));
    expect(saved.status).toBe(200);
    const validated = await fetch(`${base}/api/v1/config/validate`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(config(patch)),
    });
    expect(((await validated.json()) as { problems: Array<{ path: string; severity: string }> }).problems).toContainEqual(
      expect.objectContaining({ path, severity: "warning" }),
    );
    const preview = await api("POST", "/preview");
    expect(preview.status).toBe(502);
    expect(preview.body.error).toMatchObject({ code: "preview_failed", message: expect.stringMatching(refusal) });
  });

  it("offers no secret attribute to the editor", async () => {
    expect((await api("PUT", "/config", config({}))).status).toBe(200);
    const res = await api("GET", "/directory/attributes");
    expect(res.status).toBe(200);
    const names = (res.body as Array<{ name: string }>).map((a) => a.name.toLowerCase());
    expect(names).toContain("ipphone");
    expect(names).not.toContain("ms-mcs-admpwd");
    expect(names).not.toContain("mslaps-password");
  });

  it("lets the secret into no response and no log line", () => {
    const everything = [...responses, ...workerLog, ...agent.lines].join("\n");
    expect(responses.length).toBeGreaterThan(8);
    expect(agent.lines.some((l) => /search failed/.test(l))).toBe(true);
    expect(everything).not.toContain(CANARY);
  });
});
