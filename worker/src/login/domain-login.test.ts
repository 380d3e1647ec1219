import { describe, expect, it } from "vitest";
import { blankExtension, type Extension } from "../../../engine/pbx/pbx-port.ts";
import type { SyncConfig } from "../../../schema/generated/config.ts";
import type { AuthenticateResult } from "../../../schema/src/agent-protocol.ts";
import { sqliteStorage } from "../../../test/support/sqlite-storage.ts";
import { DomainLogin, type LoginContext } from "./domain-login.ts";
import { LoginAttempts } from "./login-attempts.ts";
import { LoginThrottle } from "./login-throttle.ts";

const judy: Extension = blankExtension("1000", {
  origin: "ad",
  // objectGUID bytes 00..0f in AD's string form.
  guid: "03020100-0504-0706-0809-0a0b0c0d0e0f",
  dn: "CN=Judy Jones,OU=Staff,DC=example,DC=com",
  displayName: "Judy Jones",
  upn: "jjones@example.com",
  sam: "jjones",
});
const judyGuid = Buffer.from(Array.from({ length: 16 }, (_, i) => i)).toString("base64");

const config = {
  connection: {
    domainControllers: [{ host: "dc1" }],
    bindUsername: "svc",
    bindPassword: { source: "stored" },
    baseDn: "DC=example,DC=com",
  },
  domainLogin: { enabled: true },
} as SyncConfig;

function setup(
  agent: (username: string, password: string) => Promise<AuthenticateResult>,
  connected = true,
  options: { config?: SyncConfig; extensions?: Extension[] } = {},
) {
  const sql = sqliteStorage();
  const extensions = options.extensions ?? [judy];
  const login = new DomainLogin(new LoginThrottle(sql), new LoginAttempts(sql));
  const asked: string[] = [];
  const context: LoginContext = {
    config: options.config ?? config,
    agentConnected: () => connected,
    findByLogin: (name) =>
      extensions.filter((e) => (name.upn !== undefined && e.upn === name.upn) || (name.sam !== undefined && e.sam === name.sam)),
    authenticate: (username, password) => {
      asked.push(username);
      return agent(username, password);
    },
    issue: async () => ({ token: "t", expiresAt: 0 }),
  };
  return {
    login,
    context,
    asked,
    attempt: (username: string, password = "pw") => login.login({ tenant: "t", username, password, source: "a" }, context),
  };
}

const slowAgent =
  (ms: number) =>
  async (_: string, password: string): Promise<AuthenticateResult> => {
    await new Promise((r) => setTimeout(r, ms));
    return password === "pw"
      ? { ok: true, dn: judy.dn as string, objectGuid: judyGuid }
      : { ok: false, reason: "invalid_credentials", adCode: "52e" };
  };

describe("DomainLogin", () => {
  it("asks the agent only for a synced user, by any of their login names", async () => {
    const { attempt, asked } = setup(slowAgent(0));
    expect((await attempt("jjones@example.com")).status).toBe(200);
    expect((await attempt("EXAMPLE\\JJones")).status).toBe(200);
    // The implicit UPN: sAMAccountName@ the domain of the base DN.
    expect((await attempt("JJONES@example.com")).status).toBe(200);
    expect((await attempt("someone@example.com")).status).toBe(401);
    expect(asked).toEqual(["jjones@example.com", "EXAMPLE\\JJones", "JJONES@example.com"]);
  });

  describe("refuses before AD is asked", () => {
    const withLogin = (
      domainLogin: NonNullable<SyncConfig["domainLogin"]>,
      connection: Partial<NonNullable<SyncConfig["connection"]>> = {},
    ) => ({ ...config, connection: { ...config.connection, ...connection }, domainLogin }) as SyncConfig;
    const judyTwin: Extension = { ...judy, number: "1001", guid: "11111111-2222-3333-4444-555555555555", upn: "judy.jones@example.com" };
    it.each([
      [
        "a UPN suffix outside the list",
        "jjones@example.com",
        { config: withLogin({ enabled: true, allowedUpnSuffixes: ["corp.example.com"] }) },
        "suffix_not_allowed",
      ],
      [
        "DOMAIN\\user whose UPN suffix is outside the list",
        "EXAMPLE\\jjones",
        { config: withLogin({ enabled: true, allowedUpnSuffixes: ["corp.example.com"] }) },
        "suffix_not_allowed",
      ],
      ["a disabled extension", "jjones@example.com", { extensions: [{ ...judy, enabled: false }] }, "extension_disabled"],
      ["a disabled extension, by DOMAIN\\user", "EXAMPLE\\jjones", { extensions: [{ ...judy, enabled: false }] }, "extension_disabled"],
      ["a name two synced users answer to", "EXAMPLE\\jjones", { extensions: [judy, judyTwin] }, "ambiguous"],
      ["a name nobody synced has", "mallory@example.com", {}, "not_synced"],
      ["an empty password", "jjones@example.com", { password: "" }, "empty_password"],
      ["a name that is neither form", "jjones", {}, "malformed_username"],
    ] as Array<[string, string, { config?: SyncConfig; extensions?: Extension[]; password?: string }, string]>)(
      "%s",
      async (_what, username, options, reason) => {
        const { login, asked, context } = setup(slowAgent(0), true, options);
        const password = "password" in options ? options.password : "pw";
        const answer = await login.login({ tenant: "t", username, password, source: "a" }, context);
        expect(answer).toMatchObject({ status: 401, body: { error: { code: "invalid_credentials" } } });
        expect(asked).toEqual([]);
        expect(login.attempts.list({ limit: 1, offset: 0 }).attempts[0]).toMatchObject({ outcome: "failure", reason, username });
      },
    );

    it.each([
      ["domain login switched off", withLogin({ enabled: false })],
      ["domain login left unset", { ...config, domainLogin: {} } as SyncConfig],
      ["no configuration at all", null],
      ["plain LDAP", withLogin({ enabled: true }, { security: "insecurePlainLdap" })],
      ["a certificate not verified (insecureSkipVerify)", withLogin({ enabled: true }, { security: "ldaps", insecureSkipVerify: true })],
    ] as Array<[string, SyncConfig | null]>)("%s: answered as a wrong password, and nothing is written", async (_what, config) => {
      const sql = sqliteStorage();
      const login = new DomainLogin(new LoginThrottle(sql), new LoginAttempts(sql));
      const asked: string[] = [];
      const context: LoginContext = {
        config,
        agentConnected: () => true,
        findByLogin: () => [judy],
        authenticate: async (username) => {
          asked.push(username);
          return { ok: true, dn: "x" };
        },
        issue: async () => ({ token: "t", expiresAt: 0 }),
      };
      for (let i = 0; i < 20; i++) {
        const answer = await login.login({ tenant: "t", username: "jjones@example.com", password: "pw", source: "a" }, context);
        expect(answer).toMatchObject({ status: 401, body: { error: { code: "invalid_credentials" } } });
      }
      expect(asked).toEqual([]);
      expect(sql.exec<{ n: number }>("SELECT count(*) AS n FROM login_attempts").one().n).toBe(0);
      expect(sql.exec<{ n: number }>("SELECT count(*) AS n FROM login_throttle").one().n).toBe(0);
    });

    it("compares UPN suffixes without regard to case, for both name forms", async () => {
      const config = withLogin({ enabled: true, allowedUpnSuffixes: ["Example.COM"] });
      const { attempt, asked } = setup(slowAgent(0), true, { config });
      expect((await attempt("jjones@EXAMPLE.com")).status).toBe(200);
      expect((await attempt("EXAMPLE\\jjones")).status).toBe(200);
      expect(asked).toEqual(["jjones@EXAMPLE.com", "EXAMPLE\\jjones"]);
    });

    it("lets a name in through when its suffix is listed and the extension is enabled", async () => {
      const config = withLogin({ enabled: true, allowedUpnSuffixes: ["corp.example.com", "example.com"] });
      const { attempt } = setup(slowAgent(0), true, { config });
      expect(await attempt("EXAMPLE\\jjones")).toMatchObject({ status: 200 });
    });
  });

  it("holds back answers that did not wait for AD to the time of those that did, within the name's turn", async () => {
    const { attempt } = setup(slowAgent(150));
    for (let i = 0; i < 8; i++) await attempt("jjones@example.com");
    const timed = async (name: string, password = "pw") => {
      const started = performance.now();
      const answer = await attempt(name, password);
      return { answer, ms: performance.now() - started };
    };
    const refused = await timed("nobody@example.com");
    const wrong = await timed("jjones@example.com", "nope");
    expect(refused.answer).toMatchObject({ status: 401, holdMs: 0 });
    expect(wrong.answer).toMatchObject({ status: 401, holdMs: 0 });
    expect(refused.ms).toBeGreaterThan(120);
    expect(refused.ms / wrong.ms).toBeGreaterThan(0.75);
    expect(refused.ms / wrong.ms).toBeLessThan(1.33);
  });

  it("queues a stranger's parallel tries exactly like a real account's", async () => {
    const { attempt } = setup(slowAgent(100));
    for (let i = 0; i < 8; i++) await attempt("jjones@example.com");
    const burst = async (name: string) => {
      const started = performance.now();
      await Promise.all(Array.from({ length: 4 }, () => attempt(name, "nope")));
      return performance.now() - started;
    };
    const real = await burst("jjones@example.com");
    const stranger = await burst("nobody@example.com");
    // Four tries one after another, about 400 ms, for both.
    expect(real).toBeGreaterThan(300);
    expect(stranger / real).toBeGreaterThan(0.75);
    expect(stranger / real).toBeLessThan(1.33);
  });

  it("binds only the synced account: the agent is told its objectGUID", async () => {
    const guids: Array<string | undefined> = [];
    const { login, context } = setup(slowAgent(0));
    const asking: LoginContext = {
      ...context,
      authenticate: async (username, password, objectGuid) => {
        guids.push(objectGuid);
        return context.authenticate(username, password, objectGuid);
      },
    };
    await login.login({ tenant: "t", username: "jjones@example.com", password: "pw", source: "a" }, asking);
    expect(guids).toEqual([judyGuid]);
  });

  it("answers the agent's refusals before a bind as a wrong password, and lowers the pause below AD's threshold", async () => {
    const { attempt, login } = setup(async () => ({
      ok: false,
      reason: "lockout_risk",
      detail: "AD has counted 3 wrong passwords",
      lockout: { threshold: 4, observationWindowMs: 3_600_000, badPwdCount: 3, source: "domain" },
    }));
    expect(await attempt("jjones@example.com")).toMatchObject({ status: 401, body: { error: { code: "invalid_credentials" } } });
    expect(login.attempts.list({ limit: 1, offset: 0 }).attempts[0]).toMatchObject({
      reason: "lockout_risk",
      detail: "AD has counted 3 wrong passwords",
    });
    // Threshold 4: the name pauses after 4 - 2 = 2 failures, whatever maxFailures says, and
    // its failures are remembered for AD's hour.
    expect(login.limits(config)).toMatchObject({ maxFailures: 2, windowMs: 3_600_000 });
    expect((await attempt("jjones@example.com")).status).toBe(401);
    expect((await attempt("jjones@example.com")).status).toBe(429);
  });

  it("refuses a login whose DN now belongs to another account than the synced one", async () => {
    const other = Buffer.alloc(16, 9).toString("base64");
    const { attempt, login } = setup(async () => ({ ok: true, dn: judy.dn as string, objectGuid: other }));
    expect((await attempt("jjones@example.com")).status).toBe(401);
    expect(login.attempts.list({ limit: 1, offset: 0 }).attempts[0]).toMatchObject({ reason: "account_changed", extension: "1000" });
  });

  it("answers 503 for every name alike when no agent is connected", async () => {
    const { attempt, asked } = setup(slowAgent(0), false);
    const known = await attempt("jjones@example.com");
    const unknown = await attempt("nobody@example.com");
    expect(known).toMatchObject({ status: 503, body: { error: { code: "agent_offline" } } });
    expect(unknown.body).toEqual(known.body);
    expect(asked).toEqual([]);
  });

  it("answers 503 and logs the attempt as unavailable when the agent cannot check passwords", async () => {
    const { attempt, login } = setup(async () => ({ ok: false, reason: "directory_unavailable" }));
    expect(await attempt("jjones@example.com")).toMatchObject({ status: 503, body: { error: { code: "directory_unavailable" } } });
    expect(login.attempts.list({ limit: 1, offset: 0 }).attempts[0]).toMatchObject({
      outcome: "unavailable",
      reason: "directory_unavailable",
    });
  });
});
