// DomainLogin's limits and answers: pauses per account and per address, what counts as a
// failure, how agent failures and AD's refusals are answered, the session it issues.
import { describe, expect, it } from "vitest";
import { blankExtension, type Extension } from "../../../engine/pbx/pbx-port.ts";
import type { SyncConfig } from "../../../schema/generated/config.ts";
import type { AuthenticateResult } from "../../../schema/src/agent-protocol.ts";
import { sqliteStorage } from "../../../test/support/sqlite-storage.ts";
import { ApiError } from "../api-error.ts";
import { DomainLogin, type LoginContext } from "./domain-login.ts";
import { LoginAttempts } from "./login-attempts.ts";
import { LoginThrottle } from "./login-throttle.ts";
import type { SessionUser } from "./session-token.ts";

const judyGuid = "03020100-0504-0706-0809-0a0b0c0d0e0f";
const judyGuidBase64 = Buffer.from(Array.from({ length: 16 }, (_, i) => i)).toString("base64");
const judy: Extension = blankExtension("1000", {
  origin: "ad",
  guid: judyGuid,
  dn: "CN=Judy Jones,OU=Staff,DC=example,DC=com",
  displayName: "Judy Jones",
  upn: "jjones@example.com",
  sam: "jjones",
});

type Agent = (username: string, password: string) => Promise<AuthenticateResult>;
const ad: Agent = async (_u, password) =>
  password === "right"
    ? { ok: true, dn: judy.dn as string, objectGuid: judyGuidBase64, upn: "JJones@Example.com" }
    : { ok: false, reason: "invalid_credentials", adCode: "52e" };

function setup(
  options: {
    agent?: Agent;
    domainLogin?: NonNullable<SyncConfig["domainLogin"]>;
    config?: SyncConfig | null;
    extensions?: Extension[];
  } = {},
) {
  const sql = sqliteStorage();
  const login = new DomainLogin(new LoginThrottle(sql), new LoginAttempts(sql));
  const asked: string[] = [];
  const issued: Array<{ user: SessionUser; minutes: number }> = [];
  const config =
    options.config !== undefined
      ? options.config
      : ({
          connection: {
            domainControllers: [{ host: "dc1" }],
            bindUsername: "svc",
            bindPassword: { source: "stored" },
            baseDn: "DC=example,DC=com",
          },
          domainLogin: { enabled: true, ...options.domainLogin },
        } as SyncConfig);
  const extensions = options.extensions ?? [judy];
  const context: LoginContext = {
    config,
    agentConnected: () => true,
    findByLogin: (name) =>
      extensions.filter((e) => (name.upn !== undefined && e.upn === name.upn) || (name.sam !== undefined && e.sam === name.sam)),
    authenticate: (username, password) => {
      asked.push(username);
      return (options.agent ?? ad)(username, password);
    },
    issue: async (user, minutes) => {
      issued.push({ user, minutes });
      return { token: `token-${issued.length}`, expiresAt: Date.UTC(2030, 0, 1) };
    },
  };
  const attempt = (username: string, password = "right", source = "192.0.2.1") =>
    login.login({ tenant: "acme", username, password, source }, context);
  const last = () => login.attempts.list({ limit: 1, offset: 0 }).attempts[0];
  return { login, asked, issued, attempt, last };
}

describe("DomainLogin limits", () => {
  it("pauses a name after maxFailures wrong passwords, for blockMinutes, without asking AD again", async () => {
    const { attempt, asked, last } = setup({ domainLogin: { maxFailures: 3, blockMinutes: 2 } });
    for (let i = 0; i < 3; i++) expect((await attempt("jjones@example.com", "wrong")).status).toBe(401);
    expect(asked).toHaveLength(3);
    const paused = await attempt("jjones@example.com", "right");
    expect(paused).toMatchObject({
      status: 429,
      body: { error: { code: "too_many_attempts", message: "Too many failed logins. Try again in 2 minutes." } },
    });
    expect(paused.retryAfterSeconds).toBeGreaterThan(60);
    expect(paused.retryAfterSeconds).toBeLessThanOrEqual(120);
    expect(last()).toMatchObject({
      outcome: "blocked",
      reason: "blocked_name",
      detail: expect.stringMatching(
        /^Paused until .+ after 3 failed logins with this name \(domainLogin\.maxFailures, below AD's lockout threshold\); AD was not asked\.$/,
      ),
    });
    // The same name in its other form is the same pause, as it would be for a name nobody has; AD is still not asked.
    expect((await attempt("EXAMPLE\\jjones", "right")).status).toBe(429);
    expect(asked).toHaveLength(3);
  });

  it("says one minute, in the singular, for a pause of a minute or less", async () => {
    const { attempt } = setup({ domainLogin: { maxFailures: 1, blockMinutes: 1 } });
    await attempt("jjones@example.com", "wrong");
    const paused = await attempt("jjones@example.com", "right");
    expect(paused.body).toEqual({ error: { code: "too_many_attempts", message: "Too many failed logins. Try again in 1 minute." } });
    expect(paused.retryAfterSeconds).toBeLessThanOrEqual(60);
  });

  it("starts the count again after a successful login", async () => {
    const { attempt } = setup({ domainLogin: { maxFailures: 3 } });
    for (const password of ["wrong", "wrong", "right", "wrong", "wrong"]) await attempt("jjones@example.com", password);
    expect((await attempt("jjones@example.com", "right")).status).toBe(200);
  });

  it("pauses an address after maxFailuresPerAddress failures, whatever names it tries, and only that address", async () => {
    const { attempt, last, asked } = setup({ domainLogin: { maxFailures: 10, maxFailuresPerAddress: 3, blockMinutes: 1 } });
    for (const name of ["a@example.com", "b@example.com", "c@example.com"])
      expect((await attempt(name, "x", "198.51.100.9")).status).toBe(401);
    const paused = await attempt("jjones@example.com", "right", "198.51.100.9");
    expect(paused).toMatchObject({ status: 429, body: { error: { message: "Too many failed logins. Try again in 1 minute." } } });
    expect(last()).toMatchObject({
      reason: "blocked_address",
      detail: expect.stringContaining("after 3 failed logins from this address or its network (domainLogin.maxFailuresPerAddress)"),
    });
    expect(asked).toEqual([]);
    expect((await attempt("jjones@example.com", "right", "203.0.113.5")).status).toBe(200);
  });

  it("counts a malformed name against the address, but not an empty or over-long one, which belongs to no account", async () => {
    const { attempt } = setup({ domainLogin: { maxFailuresPerAddress: 2 } });
    for (const name of ["", "   ", "x".repeat(2000), "", "   "]) expect((await attempt(name, "x")).status).toBe(401);
    expect((await attempt("jjones@example.com", "right")).status).toBe(200);
    for (const name of ["no-at-sign", "also none"]) expect((await attempt(name, "x")).status).toBe(401);
    expect((await attempt("jjones@example.com", "right")).status).toBe(429);
  });

  it("does not count a check AD could not make", async () => {
    const { attempt } = setup({ agent: async () => ({ ok: false, reason: "directory_unavailable" }), domainLogin: { maxFailures: 1 } });
    for (let i = 0; i < 3; i++) expect((await attempt("jjones@example.com", "x")).status).toBe(503);
  });

  it("refuses more than 20 waiting logins of one account at once", async () => {
    const { attempt } = setup({
      agent: async (u, p) => {
        await new Promise((r) => setTimeout(r, 20));
        return ad(u, p);
      },
    });
    const answers = await Promise.all(Array.from({ length: 23 }, () => attempt("jjones@example.com", "right")));
    const refused = answers.filter((a) => a.status === 429);
    expect(refused).toHaveLength(3);
    expect(refused[0]).toMatchObject({
      retryAfterSeconds: 5,
      body: { error: { code: "too_many_attempts", message: "Too many logins at once. Try again in a few seconds." } },
    });
    expect(answers.filter((a) => a.status === 200)).toHaveLength(20);
  });
});

describe("DomainLogin answers", () => {
  it.each([
    [
      "the agent went away",
      new ApiError(503, "agent_disconnected", "The agent dropped."),
      "agent_offline",
      "agent_offline",
      "agent_disconnected: The agent dropped.",
    ],
    ["no agent is left", new ApiError(503, "agent_offline", "No agent."), "agent_offline", "agent_offline", "agent_offline: No agent."],
    [
      "the agent timed out",
      new ApiError(504, "agent_timeout", "Too slow."),
      "directory_unavailable",
      "directory_unavailable",
      "agent_timeout: Too slow.",
    ],
    ["anything else", new Error("boom"), "directory_unavailable", "directory_unavailable", "Error: boom"],
  ])("answers 503 when %s", async (_what, error, code, reason, detail) => {
    const { attempt, last } = setup({
      agent: async () => {
        throw error;
      },
    });
    expect(await attempt("jjones@example.com")).toMatchObject({ status: 503, body: { error: { code } } });
    expect(last()).toMatchObject({ outcome: "unavailable", reason, detail, extension: "1000" });
  });

  it.each([
    ["password_expired", "532"],
    ["password_must_change", "773"],
  ] as const)("tells a user whose password is %s to change it in Windows, and counts it", async (reason, adCode) => {
    const { attempt, last } = setup({ agent: async () => ({ ok: false, reason, adCode }), domainLogin: { maxFailures: 1 } });
    expect(await attempt("jjones@example.com")).toMatchObject({ status: 401, body: { error: { code: "password_change_required" } } });
    expect(last()).toMatchObject({ outcome: "failure", reason, adCode, detail: expect.stringContaining(`(AD data ${adCode})`) });
    expect((await attempt("jjones@example.com")).status).toBe(429);
  });

  it("answers any other refusal of AD as invalid credentials, with AD's reason in the log only", async () => {
    const { attempt, last } = setup({ agent: async () => ({ ok: false, reason: "account_locked", adCode: "775" }) });
    expect(await attempt("jjones@example.com")).toMatchObject({ status: 401, body: { error: { code: "invalid_credentials" } } });
    expect(last()).toMatchObject({
      reason: "account_locked",
      adCode: "775",
      detail: expect.stringMatching(/^The AD account is locked out\..* \(AD data 775\)$/),
    });
  });

  it("issues a session for domainLogin.sessionMinutes, with AD's UPN and the extension's name", async () => {
    const { attempt, issued, last } = setup({ domainLogin: { sessionMinutes: 30 } });
    const answer = await attempt("jjones@example.com");
    expect(answer).toMatchObject({
      status: 200,
      holdMs: 0,
      body: { token: "token-1", expiresAt: "2030-01-01T00:00:00.000Z", extension: { number: "1000", displayName: "Judy Jones" } },
    });
    expect(issued).toEqual([
      { user: { tenant: "acme", extension: "1000", displayName: "Judy Jones", upn: "JJones@Example.com" }, minutes: 30 },
    ]);
    expect(last()).toMatchObject({ outcome: "success", reason: "success", detail: `Logged in as ${judy.dn}.` });
  });

  it("falls back to AD's display name, then the number, and to the synced UPN; ten minutes by default", async () => {
    const nameless = { ...judy, displayName: null };
    const fromAd = setup({
      extensions: [nameless],
      agent: async () => ({ ok: true, dn: judy.dn as string, objectGuid: judyGuidBase64, displayName: "J. Jones" }),
    });
    await fromAd.attempt("jjones@example.com");
    expect(fromAd.issued).toEqual([
      { user: { tenant: "acme", extension: "1000", displayName: "J. Jones", upn: "jjones@example.com" }, minutes: 10 },
    ]);
    const bare = setup({ extensions: [nameless], agent: async () => ({ ok: true, dn: judy.dn as string }) });
    expect((await bare.attempt("jjones@example.com")).body).toMatchObject({ extension: { displayName: "1000" } });
  });

  it("takes the implicit UPN only in the domain of the base DN", async () => {
    const noUpn = { ...judy, upn: null };
    const { attempt, asked, last } = setup({ extensions: [noUpn] });
    expect((await attempt("JJones@example.com")).status).toBe(200);
    expect((await attempt("jjones@other.example.com")).status).toBe(401);
    expect(last()).toMatchObject({ reason: "not_synced" });
    expect(asked).toEqual(["JJones@example.com"]);
  });

  it("refuses everyone before the first configuration is saved, and writes nothing", async () => {
    const { attempt, last } = setup({ config: null });
    expect((await attempt("jjones@example.com")).status).toBe(401);
    expect(last()).toBeUndefined();
  });

  it("pauses every address of one IPv6 /64 together, and a /48 at four times the limit", async () => {
    const { attempt } = setup({ domainLogin: { maxFailures: 50, maxFailuresPerAddress: 3, blockMinutes: 1 } });
    // A host rotating its address inside its /64, written every way IPv6 allows.
    for (const address of ["2001:db8:1:2::1", "2001:0db8:0001:0002:0000:0000:0000:0002", "2001:db8:1:2:ffff::3"])
      expect((await attempt(`n${address.length}@example.com`, "x", address)).status).toBe(401);
    expect((await attempt("jjones@example.com", "right", "2001:db8:1:2:abcd::9")).status).toBe(429);
    // Another /64 of the same /48 is not paused yet; the /48 is, after 12.
    expect((await attempt("jjones@example.com", "right", "2001:db8:1:3::1")).status).toBe(200);
    for (let net = 4; net < 13; net++) await attempt(`x${net}@example.com`, "x", `2001:db8:1:${net}::1`);
    expect((await attempt("jjones@example.com", "right", "2001:db8:1:99::1")).status).toBe(429);
    // Another /48, and IPv4, are apart.
    expect((await attempt("jjones@example.com", "right", "2001:db8:2::1")).status).toBe(200);
    expect((await attempt("jjones@example.com", "right", "::ffff:198.51.100.7")).status).toBe(200);
  });
});
