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
      ["domain login switched off", "jjones@example.com", { config: withLogin({ enabled: false }) }, "login_disabled"],
      ["domain login left unset", "jjones@example.com", { config: { ...config, domainLogin: {} } as SyncConfig }, "login_disabled"],
      [
        "plain LDAP",
        "jjones@example.com",
        { config: withLogin({ enabled: true }, { security: "insecurePlainLdap" }) },
        "insecure_connection",
      ],
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

  it("holds back answers that did not wait for AD to the time of those that did", async () => {
    const { attempt } = setup(slowAgent(150));
    for (let i = 0; i < 8; i++) await attempt("jjones@example.com");
    const refused = await attempt("nobody@example.com");
    expect(refused.status).toBe(401);
    expect(refused.holdMs).toBeGreaterThan(100);
    const wrong = await attempt("jjones@example.com", "nope");
    expect(wrong).toMatchObject({ status: 401, holdMs: 0 });
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
