// Domain login for UC clients, from request to answer. Everything that can be refused
// without the directory is refused here first, with the same answer as a wrong password;
// only a synced user with an enabled extension, under their account's and address's failure
// limits, reaches the agent, which finds the user and binds as them over TLS. The caller
// learns "invalid credentials", "change your password in Windows", "too many attempts" or
// "unavailable"; the admin log learns why.

import { bytesFromBase64, guidFromBytes } from "../../../engine/directory-user.ts";
import type { Extension } from "../../../engine/pbx/pbx-port.ts";
import type { SyncConfig } from "../../../schema/generated/config.ts";
import type { AuthenticateResult, AuthFailureReason } from "../../../schema/src/agent-protocol.ts";
import { domainOfDn } from "../../../schema/src/dn.ts";
import { endUserReason, type LoginName, loginInputProblem, parseLoginName } from "../../../schema/src/domain-login.ts";
import { ApiError } from "../api-error.ts";
import { type AttemptOutcome, type LoginAttempt, type LoginAttempts, loggableName } from "./login-attempts.ts";
import { accountKey, addressKey, type LoginThrottle, type ThrottleLimits } from "./login-throttle.ts";
import type { SessionUser } from "./session-token.ts";

export interface LoginRequest {
  tenant: string;
  username: unknown;
  password: unknown;
  /** The client's address. */
  source: string;
}

/** The HTTP answer, and how long to hold it back so that it takes as long as a real check. */
export type LoginBody =
  | { token: string; expiresAt: string; extension: { number: string; displayName: string } }
  | { error: { code: string; message: string } };

export interface LoginAnswer {
  status: 200 | 401 | 429 | 503;
  body: LoginBody;
  retryAfterSeconds?: number;
  holdMs: number;
}

/** What the login needs from the tenant: its configuration, PBX directory, agents and signing key. */
export interface LoginContext {
  config: SyncConfig | null;
  agentConnected(): boolean;
  /** Synced extensions by userPrincipalName or sAMAccountName, both given lower-case. */
  findByLogin(name: { upn?: string; sam?: string }): Extension[];
  /** The agent's check; throws ApiError when no agent answers. */
  authenticate(username: string, password: string): Promise<AuthenticateResult>;
  issue(user: SessionUser, minutes: number): Promise<{ token: string; expiresAt: number }>;
}

const refusal = {
  invalid: { error: { code: "invalid_credentials", message: "The user name or password is incorrect." } },
  passwordChange: {
    error: {
      code: "password_change_required",
      message:
        "Your Windows password has expired or must be changed. Change it in Windows (Ctrl+Alt+Del, Change a password), then log in again.",
    },
  },
  offline: {
    error: {
      code: "agent_offline",
      message:
        "Domain login is unavailable: the connection to your company's directory is down. Try again later; if it persists, tell your administrator.",
    },
  },
  unavailable: {
    error: {
      code: "directory_unavailable",
      message: "Domain login is unavailable: your company's directory did not answer. Try again shortly.",
    },
  },
} as const;

/** Refusals decided before the directory is asked, and what each means to an administrator. */
const localReasons = {
  empty_password: "No password was given. An empty password would bind anonymously (RFC 4513 section 5.1.2), so it never reaches AD.",
  empty_username: "No user name was given.",
  username_too_long: "The user name is longer than any AD name can be.",
  username_control_characters: "The user name holds control characters, which no AD name has.",
  malformed_username: "The user name is neither a UPN (user@example.com) nor DOMAIN\\user.",
  login_disabled: "Domain login is switched off (domainLogin.enabled).",
  insecure_connection: "Domain login needs connection.security ldaps or starttls; the password would cross the network in clear text.",
  suffix_not_allowed: "The UPN suffix is not one of domainLogin.allowedUpnSuffixes.",
  not_synced: "No synced user with an extension logs in with this name. A user added to AD recently needs a sync first.",
  ambiguous: "Several synced users answer to this name; none is guessed.",
  extension_disabled: "The user's extension is disabled.",
  account_changed: "AD gave this name to another account than the synced one; the next sync brings the extension up to date.",
} as const;

type LocalReason = keyof typeof localReasons;

const adReasons: Record<AuthFailureReason, string> = {
  invalid_credentials: "AD refused the password.",
  no_such_user:
    "AD has no account with this name under the base DN (the synced user may have been deleted or renamed since the last sync).",
  account_disabled: "The AD account is disabled.",
  account_locked: "The AD account is locked out. Unlock it in Active Directory Users and Computers (Account tab).",
  account_expired: "The AD account has expired (accountExpires).",
  password_expired: "The user's password has expired; they must change it in Windows.",
  password_must_change: "The user must change their password at next logon (pwdLastSet is 0); they must change it in Windows.",
  not_permitted: "AD does not let this account log on now or from here (logon hours, workstations), or several accounts share the name.",
  directory_unavailable:
    "The agent could not check the password: no domain controller answered, or the agent reads a directory file, which holds no passwords.",
};

/** Waiting logins of one account at most; more are refused as too many attempts. */
const maxQueuedPerAccount = 20;

export class DomainLogin {
  readonly #throttle: LoginThrottle;
  readonly #attempts: LoginAttempts;
  /** Logins of one account run one after another, so its failure count is exact. */
  readonly #queues = new Map<string, { tail: Promise<unknown>; length: number }>();
  /** Typical duration of a check that reached AD, the pace every other answer keeps. */
  #typicalMs = 100;

  constructor(throttle: LoginThrottle, attempts: LoginAttempts) {
    this.#throttle = throttle;
    this.#attempts = attempts;
  }

  get attempts(): LoginAttempts {
    return this.#attempts;
  }

  async login(request: LoginRequest, context: LoginContext): Promise<LoginAnswer> {
    const started = Date.now();
    const settings = context.config?.domainLogin;
    const limits: ThrottleLimits = {
      maxFailures: settings?.maxFailures ?? 5,
      maxFailuresPerAddress: settings?.maxFailuresPerAddress ?? 50,
      windowMs: (settings?.failureWindowMinutes ?? 15) * 60_000,
      blockMs: (settings?.blockMinutes ?? 15) * 60_000,
    };
    const attempt = (outcome: AttemptOutcome, reason: string, detail: string, extra: Partial<LoginAttempt> = {}): LoginAttempt => ({
      at: started,
      username: loggableName(request.username),
      source: request.source,
      outcome,
      reason,
      adCode: null,
      extension: null,
      detail,
      durationMs: 0,
      ...extra,
    });
    const finish = (record: LoginAttempt, answer: Omit<LoginAnswer, "holdMs">, reachedAd = false): LoginAnswer => {
      const elapsed = Date.now() - started;
      if (reachedAd) this.#typicalMs = Math.round(this.#typicalMs * 0.8 + elapsed * 0.2);
      // Answers that did not wait for AD wait here instead, with a little jitter, so the
      // time taken tells nothing about why a login failed.
      const holdMs = reachedAd ? 0 : Math.max(0, this.#typicalMs * (0.9 + Math.random() * 0.2) - elapsed);
      this.#attempts.record({ ...record, durationMs: elapsed + holdMs }, context.config?.log?.retentionDays ?? 90);
      return { ...answer, holdMs };
    };
    const typed = typeof request.username === "string" ? request.username : "";
    const refuse = (reason: LocalReason, key: string | undefined, extra: Partial<LoginAttempt> = {}) => {
      if (key !== undefined) this.#countFailure(key, limits, request.source, started);
      return finish(attempt("failure", reason, localReasons[reason], extra), { status: 401, body: refusal.invalid });
    };

    const problem = loginInputProblem(request.username, request.password);
    if (problem !== undefined)
      return refuse(problem, typed.trim() === "" || problem === "username_too_long" ? undefined : accountKey(null, typed));
    if (settings?.enabled !== true) return refuse("login_disabled", undefined);
    if (context.config?.connection?.security === "insecurePlainLdap") return refuse("insecure_connection", undefined);
    // Before any name is looked at: offline is the same answer for every name, so it cannot
    // tell a synced user from a stranger.
    if (!context.agentConnected()) {
      return finish(attempt("unavailable", "agent_offline", "No connector agent is connected, so AD cannot be asked."), {
        status: 503,
        body: refusal.offline,
      });
    }
    const addressBlock = this.#throttle.blockedUntil(addressKey(request.source), started);
    if (addressBlock !== undefined) return this.#blocked(finish, attempt, "blocked_address", addressBlock, limits, "address");

    const name = parseLoginName(typed) as LoginName;
    const allowed = (settings.allowedUpnSuffixes ?? []).map((s) => s.toLowerCase());
    if (name.kind === "upn" && allowed.length > 0 && !allowed.includes(name.suffix.toLowerCase())) {
      const key = accountKey(null, typed);
      const block = this.#throttle.blockedUntil(key, started);
      if (block !== undefined) return this.#blocked(finish, attempt, "blocked_account", block, limits, "account");
      return refuse("suffix_not_allowed", key);
    }

    const found = synced(name, context);
    const extension = new Set(found.map((e) => e.guid)).size === 1 ? (found[0] as Extension) : undefined;
    const key = accountKey(extension?.guid ?? null, typed);
    const known = extension === undefined ? {} : { extension: extension.number };
    // Names that belong to nobody are paused like real accounts, so a pause tells nothing.
    const accountBlock = this.#throttle.blockedUntil(key, started);
    if (accountBlock !== undefined) return this.#blocked(finish, attempt, "blocked_account", accountBlock, limits, "account", known);
    if (extension === undefined) return refuse(found.length === 0 ? "not_synced" : "ambiguous", key);
    if (name.kind === "downLevel" && allowed.length > 0 && !allowed.includes(extension.upn?.split("@").pop() ?? ""))
      return refuse("suffix_not_allowed", key, known);
    if (!extension.enabled) return refuse("extension_disabled", key, known);

    return this.#exclusive(
      key,
      async () => {
        const accountBlock = this.#throttle.blockedUntil(key, Date.now());
        if (accountBlock !== undefined) return this.#blocked(finish, attempt, "blocked_account", accountBlock, limits, "account", known);

        let result: AuthenticateResult;
        try {
          result = await context.authenticate(typed, request.password as string);
        } catch (error) {
          const offline = error instanceof ApiError && (error.code === "agent_offline" || error.code === "agent_disconnected");
          const detail = error instanceof ApiError ? `${error.code}: ${error.message}` : String(error);
          return finish(attempt("unavailable", offline ? "agent_offline" : "directory_unavailable", detail, known), {
            status: 503,
            body: offline ? refusal.offline : refusal.unavailable,
          });
        }
        if (result.ok) {
          if (result.objectGuid !== undefined && guidFromBytes(bytesFromBase64(result.objectGuid)) !== extension.guid?.toLowerCase())
            return refuse("account_changed", key, known);
          this.#throttle.succeed(key);
          const displayName = extension.displayName ?? result.displayName ?? extension.number;
          const session = await context.issue(
            { tenant: request.tenant, extension: extension.number, displayName, upn: result.upn ?? extension.upn },
            settings.sessionMinutes ?? 10,
          );
          return finish(
            attempt("success", "success", `Logged in as ${result.dn}.`, known),
            {
              status: 200,
              body: {
                token: session.token,
                expiresAt: new Date(session.expiresAt).toISOString(),
                extension: { number: extension.number, displayName },
              },
            },
            true,
          );
        }
        const shown = endUserReason(result.reason);
        if (result.reason !== "directory_unavailable") this.#countFailure(key, limits, request.source, started);
        const code = result.adCode === undefined ? "" : ` (AD data ${result.adCode})`;
        return finish(
          attempt(shown === "directory_unavailable" ? "unavailable" : "failure", result.reason, `${adReasons[result.reason]}${code}`, {
            ...known,
            adCode: result.adCode ?? null,
          }),
          shown === "directory_unavailable"
            ? { status: 503, body: refusal.unavailable }
            : { status: 401, body: shown === "invalid_credentials" ? refusal.invalid : refusal.passwordChange },
          true,
        );
      },
      () =>
        finish(
          attempt(
            "blocked",
            "too_many_concurrent",
            `More than ${maxQueuedPerAccount} logins of this account were waiting at once; AD was not asked.`,
            known,
          ),
          {
            status: 429,
            retryAfterSeconds: 5,
            body: { error: { code: "too_many_attempts", message: "Too many logins at once. Try again in a few seconds." } },
          },
        ),
    );
  }

  #countFailure(key: string, limits: ThrottleLimits, source: string, now: number): void {
    this.#throttle.fail(key, limits.maxFailures, limits, now);
    this.#throttle.fail(addressKey(source), limits.maxFailuresPerAddress, limits, now);
  }

  #blocked(
    finish: (record: LoginAttempt, answer: Omit<LoginAnswer, "holdMs">) => LoginAnswer,
    attempt: (outcome: AttemptOutcome, reason: string, detail: string, extra?: Partial<LoginAttempt>) => LoginAttempt,
    reason: string,
    until: number,
    limits: ThrottleLimits,
    what: "account" | "address",
    extra: Partial<LoginAttempt> = {},
  ): LoginAnswer {
    const seconds = Math.max(1, Math.ceil((until - Date.now()) / 1000));
    const minutes = Math.ceil(seconds / 60);
    const limit =
      what === "account"
        ? `${limits.maxFailures} failed logins for this account (domainLogin.maxFailures)`
        : `${limits.maxFailuresPerAddress} failed logins from this address (domainLogin.maxFailuresPerAddress)`;
    return finish(attempt("blocked", reason, `Paused until ${new Date(until).toISOString()} after ${limit}; AD was not asked.`, extra), {
      status: 429,
      retryAfterSeconds: seconds,
      body: {
        error: {
          code: "too_many_attempts",
          message: `Too many failed logins. Try again in ${minutes} minute${minutes === 1 ? "" : "s"}.`,
        },
      },
    });
  }

  async #exclusive(key: string, body: () => Promise<LoginAnswer>, overflow: () => LoginAnswer): Promise<LoginAnswer> {
    const queue = this.#queues.get(key) ?? { tail: Promise.resolve(), length: 0 };
    if (queue.length >= maxQueuedPerAccount) return overflow();
    queue.length++;
    const run = queue.tail.then(body, body);
    queue.tail = run.catch(() => {});
    this.#queues.set(key, queue);
    try {
      return await run;
    } finally {
      if (--queue.length === 0 && this.#queues.get(key) === queue) this.#queues.delete(key);
    }
  }
}

/**
 * The synced extensions of the name, resolved as AD resolves it: a UPN first by
 * userPrincipalName, then as the implicit UPN sAMAccountName@dns-domain; DOMAIN\user by
 * sAMAccountName (whether DOMAIN is this domain, the agent checks against AD).
 */
function synced(name: LoginName, context: LoginContext): Extension[] {
  if (name.kind === "downLevel") return context.findByLogin({ sam: name.sam.toLowerCase() });
  const byUpn = context.findByLogin({ upn: name.upn.toLowerCase() });
  if (byUpn.length > 0) return byUpn;
  const dns = domainOfDn(context.config?.connection?.baseDn ?? "")?.dns.toLowerCase();
  return dns !== undefined && name.suffix.toLowerCase() === dns ? context.findByLogin({ sam: name.local.toLowerCase() }) : [];
}
