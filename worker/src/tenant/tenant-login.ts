// Domain login as the tenant object serves it: the UC client's login (DomainLogin decides what
// is checked where), through an agent to AD, and the administrator's log of attempts.
import type { AuthenticateResult } from "../../../schema/src/agent-protocol.ts";
import type { Env } from "../env.ts";
import { DomainLogin, type LoginAnswer } from "../login/domain-login.ts";
import { type AttemptOutcome, attemptsCsv, type LoginAttempt, LoginAttempts } from "../login/login-attempts.ts";
import { LoginThrottle } from "../login/login-throttle.ts";
import { issueSession, sessionKey } from "../login/session-token.ts";
import type { LoginDirectory } from "../pbx/pbx-targets.ts";
import type { Sql } from "../sql.ts";
import type { AgentLink } from "./agent-link.ts";
import type { TenantConfig } from "./tenant-config.ts";

// A login is a search and a bind; a user at the login screen should not wait a minute to hear the DC is gone.
const loginTimeoutMs = 15_000;

export interface LoginDeps {
  config: Pick<TenantConfig, "config" | "savedTarget">;
  link: Pick<AgentLink, "call">;
  pbx: LoginDirectory;
  agentConnected(): boolean;
  env: Env;
}

export class TenantLogin {
  readonly #deps: LoginDeps;
  readonly #login: DomainLogin;

  constructor(sql: Sql, deps: LoginDeps) {
    this.#deps = deps;
    this.#login = new DomainLogin(new LoginThrottle(sql), new LoginAttempts(sql));
  }

  /** A UC client's login with AD credentials. */
  login(tenant: string, username: unknown, password: unknown, source: string): Promise<LoginAnswer> {
    const { config, link, pbx, env } = this.#deps;
    return this.#login.login(
      { tenant, username, password, source },
      {
        config: config.config(),
        agentConnected: () => this.#deps.agentConnected(),
        findByLogin: (name) => pbx.findByLogin(name),
        authenticate: async (name, secret, objectGuid) =>
          link.call<AuthenticateResult>(
            {
              op: "authenticate",
              target: await config.savedTarget(tenant),
              username: name,
              password: secret,
              ...(objectGuid === undefined ? {} : { objectGuid }),
            },
            loginTimeoutMs,
          ),
        issue: async (user, minutes) => issueSession(await sessionKey(env), user, minutes),
      },
    );
  }

  attempts(options: { limit: number; offset: number; outcome?: AttemptOutcome; q?: string }): { total: number; attempts: LoginAttempt[] } {
    return this.#login.attempts.list(options);
  }

  attemptsCsv(options: { outcome?: AttemptOutcome; q?: string }): string {
    return attemptsCsv(this.#login.attempts.list({ ...options, limit: 100_000, offset: 0 }).attempts);
  }
}
