// The agent's host decides what the agent connects to, end to end: the bundled worker in
// workerd, a real agent process allowed the test run's Samba DC only, and a listener on
// another loopback port standing for any internal host an editor of the configuration might
// name. Whatever route takes the configuration or a draft, the listener sees no connection.
import { mkdtemp } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { targetFor } from "../agent/src/ldap/test-support.ts";
import { type AgentProcess, startAgent } from "./support/agent-process.ts";
import { type Json, type Stack, startStack } from "./support/stack.ts";

const dc = inject("samba");
const STAFF = `OU=Staff,${dc.baseDn}`;

describe("the agent's local policy", () => {
  let stack: Stack;
  let probe: Server;
  let probePort: number;
  let connections = 0;
  const legit = {
    connection: targetFor(dc).connection,
    scope: { users: "ous", ous: [{ dn: STAFF }] },
    extensionNumbers: { source: "attributeThenSequential", attribute: "ipPhone", ranges: [{ start: "2000", end: "2099" }] },
    domainLogin: { enabled: true },
    schedule: { mode: "manual" },
  };
  const aimedAtProbe = (patch: Record<string, unknown> = {}) => ({
    ...legit,
    connection: { ...legit.connection, domainControllers: [{ host: "127.0.0.1", port: probePort }], ...patch },
  });

  beforeAll(async () => {
    probe = createServer((socket) => {
      connections++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
    probePort = (probe.address() as { port: number }).port;
    stack = await startStack(dc, { tenant: "policy", config: legit });
    // Judy is synced, so that a domain login gets as far as asking the agent.
    const synced = await stack.finished((await stack.api("POST", "/sync")).body.id);
    expect(synced.status).toBe("succeeded");
  });
  afterAll(async () => {
    await stack?.stop();
    await new Promise((resolve) => probe?.close(resolve));
  });

  it("refuses a draft Test Connection aimed elsewhere, as a step of its own with the fix", async () => {
    const res = await stack.api("POST", "/test-connection", { config: aimedAtProbe(), bindPassword: "x" });
    expect(res.status).toBe(200);
    expect(res.body.ok).toBe(false);
    expect(res.body.steps.map((s: Json) => `${s.id}:${s.status}`)).toEqual(["agent:ok", "policy:failed"]);
    expect(res.body.steps[1]).toMatchObject({
      code: "dc_not_allowed",
      detail: `This agent does not connect to 127.0.0.1:${probePort}: its host allows ${dc.ip}, ${dc.hostname}.`,
      fix: expect.stringContaining("--dc"),
    });
  });

  it("refuses plain LDAP and an unverified certificate the agent's host did not allow", async () => {
    for (const patch of [{ security: "insecurePlainLdap", bindPassword: { source: "agent" } }, { insecureSkipVerify: true }]) {
      // (Domain login needs a secure connection: a draft with plain LDAP leaves it off.)
      const res = await stack.api("POST", "/test-connection", { config: { ...aimedAtProbe(patch), domainLogin: { enabled: false } } });
      expect(res.body.steps[1], JSON.stringify(patch)).toMatchObject({
        id: "policy",
        code: "insecure_not_allowed",
        fix: expect.stringContaining("--allow-insecure-ldap"),
      });
    }
  });

  it.each([
    ["the agent process's environment", { source: "agentFile", path: "/proc/self/environ" }],
    ["a system file", { source: "agentFile", path: "/etc/shadow" }],
    ["the agent's own token", { source: "agentEnv", variable: "ADSYNC_TOKEN" }],
  ])("cannot even express a bind password read from %s", async (_what, bindPassword) => {
    const draft = { ...legit, connection: { ...legit.connection, bindPassword } };
    for (const res of [await stack.api("POST", "/test-connection", { config: draft }), await stack.api("PUT", "/config", draft)]) {
      expect(res.status).toBe(400);
      expect(res.body.error.details.problems).toContainEqual(
        expect.objectContaining({
          path: "/connection/bindPassword/source",
          severity: "error",
          message: expect.stringMatching(/is retired: write \{ "source": "agent" \}/),
        }),
      );
    }
  });

  it("refuses a saved configuration aimed elsewhere on every route that uses it", async () => {
    expect((await stack.api("PUT", "/config", aimedAtProbe())).status).toBe(200);
    try {
      const preview = await stack.api("POST", "/preview");
      expect(preview.status).toBe(502);
      expect(preview.body.error.message).toMatch(new RegExp(`does not connect to 127\\.0\\.0\\.1:${probePort}`));
      for (const path of ["/directory/ous", "/directory/attributes", "/directory/groups?q=x"]) {
        const res = await stack.api("GET", path);
        expect({ path, status: res.status, code: res.body.error?.code }).toEqual({ path, status: 502, code: "dc_not_allowed" });
      }
      const sync = await stack.finished((await stack.api("POST", "/sync")).body.id);
      expect(sync).toMatchObject({ status: "failed", error: expect.stringMatching(/does not connect to 127\.0\.0\.1/) });
      // A user's password would go to that host: the agent sends it nowhere.
      const login = await fetch(`${stack.base}/api/v1/tenants/policy/auth/domain-login`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ username: "jjones@example.com", password: dc.userPassword }),
      });
      expect(login.status).toBe(503);
      const attempt = (await stack.api("GET", "/auth/attempts?limit=1")).body.attempts[0];
      expect(attempt).toMatchObject({
        outcome: "unavailable",
        reason: "directory_unavailable",
        detail: expect.stringContaining("dc_not_allowed"),
      });
    } finally {
      expect((await stack.api("PUT", "/config", legit)).status).toBe(200);
    }
    expect(connections).toBe(0);
    // The DC it is allowed still works.
    expect((await stack.api("POST", "/test-connection", {})).body.ok).toBe(true);
  });

  it("connects to nothing when its host named no domain controller, and says how to name one", async () => {
    const token = (await stack.api("POST", "/agents/enrollment-tokens", { label: "bare" })).body.token;
    await stack.agent.kill("SIGKILL");
    let bare: AgentProcess | undefined;
    try {
      bare = startAgent({ url: stack.base, token, id: "bare-agent" });
      await bare.waitFor(/no domain controllers are allowed/);
      await bare.waitFor(/connected to/);
      await expect
        .poll(async () => (await stack.api("GET", "/agents")).body.filter((a: Json) => a.connected).map((a: Json) => a.id), {
          timeout: 10_000,
        })
        .toEqual(["bare-agent"]);
      const res = await stack.api("POST", "/test-connection", {});
      expect(res.body.steps[1]).toMatchObject({
        id: "policy",
        code: "dc_not_allowed",
        detail: "This agent has no list of domain controllers it may connect to, so it connects to none.",
        fix: expect.stringMatching(/--dc HOST\[:PORT\].*ADSYNC_DCS/),
      });
    } finally {
      await bare?.kill("SIGKILL");
    }
    expect(connections).toBe(0);
  });

  it("stops an agent an administrator revokes, and one that tries to enroll an enrolled agent's id", async () => {
    const enroll = async (label: string) => (await stack.api("POST", "/agents/enrollment-tokens", { label })).body.token as string;
    const dcs = [dc.ip, dc.hostname];
    const owner = startAgent({ url: stack.base, token: await enroll("owner"), id: "owned-id", dcs });
    let intruder: AgentProcess | undefined;
    try {
      await owner.waitFor(/connected to/);
      // Another host, with a token of its own, asks for the same id: it gets none, and the owner stays.
      const elsewhere = await mkdtemp(join(tmpdir(), "adsync-intruder-"));
      intruder = startAgent({ url: stack.base, token: await enroll("intruder"), id: "owned-id", dcs, stateDir: elsewhere });
      expect(await intruder.exited).toBe(3);
      expect(intruder.lines.join("\n")).toMatch(/enrollment refused \(agent_id_taken\): The agent id owned-id is already enrolled/);
      expect(owner.child.exitCode).toBeNull();
      expect((await stack.api("DELETE", "/agents/owned-id")).status).toBe(200);
      expect(await owner.exited).toBe(3);
      expect(owner.lines.join("\n")).toMatch(/an administrator revoked this agent/);
    } finally {
      await Promise.all([owner.kill("SIGKILL"), intruder?.kill("SIGKILL")]);
    }
  });
});
