// Domain login for UC clients, from request to answer. Everything that can be refused
// without the directory is refused here first, with the same answer as a wrong password;
// only a synced user with an enabled extension, under their account's and address's failure
// limits, reaches the agent, which finds the user and binds as them over TLS. The caller
// learns "invalid credentials", "change your password in Windows", "too many attempts" or
// "unavailable"; the admin log learns why.

import { bytesFromBase64, bytesFromGuid, guidFromBytes } from "../../../engine/directory-user.ts";
import type { Extension } from "../../../engine/pbx/pbx-port.ts";
import type { SyncConfig } from "../../../schema/generated/config.ts";
import type { AuthenticateResult, AuthFailureReason } from "../../../schema/src/agent-protocol.ts";
import { domainOfDn } from "../../../schema/src/dn.ts";
import { endUserReason, type LoginName, loginInputProblem, parseLoginName } from "../../../schema/src/domain-login.ts";
import { ApiError } from "../api-error.ts";
import { toBase64 } from "../secret-box.ts";
import { type AttemptOutcome, type LoginAttempt, type LoginAttempts, loggableName } from "./login-attempts.ts";
import { addressKeys, type LoginThrottle, nameKey, type ThrottleLimits, tenantKey } from "./login-throttle.ts";
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

/** The answer to a wrong password, and to everything an outsider must not tell apart from one. */
export const invalidCredentials = { error: { code: "invalid_credentials", message: "The user name or password is incorrect." } } as const;

/** What the login needs from the tenant: its configuration, PBX directory, agents and signing key. */
export interface LoginContext {
  config: SyncConfig | null;
  agentConnected(): boolean;
  /** Synced extensions by userPrincipalName or sAMAccountName, both given lower-case. */
  findByLogin(name: { upn?: string; sam?: string }): Extension[];
  /**
   * The agent's check, binding only the account with this objectGUID (base64 of its bytes);
   * throws ApiError when no agent answers.
   */
  authenticate(username: string, password: string, objectGuid: string | undefined): Promise<AuthenticateResult>;
  issue(user: SessionUser, minutes: number): Promise<{ token: string; expiresAt: number }>;
}

const refusal = {
  invalid: invalidCredentials,
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
  insecure_connection:
    "Domain login needs connection.security ldaps or starttls with the certificate verified; the password would cross the network readable.",
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
  lockout_risk: "One more wrong password could lock the Windows account at AD, so the agent did not bind.",
  lockout_policy_unreadable: "The lockout policy that applies to this user could not be read, so the agent did not bind.",
  account_changed: "AD resolves this name to another account than the synced one; the next sync brings the extension up to date.",
  directory_unavailable:
    "The agent could not check the password: no domain controller answered, or the agent reads a directory file, which holds no passwords.",
};

/** Waiting logins of one name at most; more are refused as too many attempts. */
const maxQueuedPerName = 20;

/**
 * The tenant-wide breaker: above this many failed logins a minute the tenant is being
 * sprayed, and every login (whatever the name: slowing only some would tell them apart)
 * waits breakerHoldMs more.
 */
export const breakerFailuresPerMinute = 120;
export const breakerHoldMs = 2_000;

/** Failures left unspent below AD's threshold by the worker's own pause, as the agent keeps them. */
const lockoutMargin = 1;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class DomainLogin {
  readonly #throttle: LoginThrottle;
  readonly #attempts: LoginAttempts;
  readonly #now: () => number;
  /**
   * Logins of one name run one after another, whether or not the name is anyone's: a real
   * account's tries queue exactly like a stranger's, so parallel timings tell nothing.
   */
  readonly #queues = new Map<string, { tail: Promise<unknown>; length: number }>();
  /** Typical duration of a check AD refused, the pace every other refusal keeps; 100 ms until one is seen. */
  #typicalMs: number | undefined;
  /** The domain's lockout policy as the agent last reported it: the pause stays below it. */
  #adPolicy: { threshold: number; observationWindowMs: number } | undefined;

  constructor(throttle: LoginThrottle, attempts: LoginAttempts, now: () => number = Date.now) {
    this.#throttle = throttle;
    this.#attempts = attempts;
    this.#now = now;
  }

  get attempts(): LoginAttempts {
    return this.#attempts;
  }

  /** The limits in force: the configured ones, never above what AD's lockout policy leaves. */
  limits(config: SyncConfig | null): ThrottleLimits {
    const settings = config?.domainLogin;
    const configured = settings?.maxFailures ?? 5;
    const ad = this.#adPolicy;
    const ceiling = ad !== undefined && ad.threshold > 0 ? Math.max(1, ad.threshold - 1 - lockoutMargin) : configured;
    return {
      maxFailures: Math.min(configured, ceiling),
      maxFailuresPerAddress: settings?.maxFailuresPerAddress ?? 50,
      // A name's failures are remembered at least as long as AD remembers them.
      windowMs: Math.max((settings?.failureWindowMinutes ?? 15) * 60_000, ad?.observationWindowMs ?? 0),
      blockMs: (settings?.blockMinutes ?? 15) * 60_000,
    };
  }

  async login(request: LoginRequest, context: LoginContext): Promise<LoginAnswer> {
    const started = this.#now();
    const settings = context.config?.domainLogin;
    const security = context.config?.connection?.security;
    const typed = typeof request.username === "string" ? request.username : "";
    // Nothing is written for a tenant where domain login is off, has no configuration, or
    // would send passwords without verified TLS: the endpoint is public, and such a tenant
    // must cost nothing however often it is called. The answer is the one a wrong password gets.
    if (settings?.enabled !== true || security === "insecurePlainLdap" || context.config?.connection?.insecureSkipVerify === true) {
      const holdMs = Math.max(0, (this.#typicalMs ?? 100) * (0.9 + Math.random() * 0.2));
      return { status: 401, body: refusal.invalid, holdMs };
    }
    const limits = this.limits(context.config);
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
    // When this try's turn began: a try that waited behind others of its name is held to the
    // typical time of a check from then, not from its arrival.
    let turn = started;
    const finish = (record: LoginAttempt, answer: Omit<LoginAnswer, "holdMs">, reachedAd = false): LoginAnswer => {
      const elapsed = this.#now() - turn;
      // The refusals below stand in for a wrong password, so they keep the pace of AD's refusals
      // (a success also issues a session, and takes longer); the first check of any kind sets it.
      if (reachedAd && this.#typicalMs === undefined) this.#typicalMs = elapsed;
      else if (reachedAd && answer.status !== 200) this.#typicalMs = Math.round((this.#typicalMs ?? elapsed) * 0.8 + elapsed * 0.2);
      // Answers that did not wait for AD wait as long anyway, with a little jitter, so the
      // time taken tells nothing about why a login failed.
      const holdMs = reachedAd ? 0 : Math.max(0, (this.#typicalMs ?? 100) * (0.9 + Math.random() * 0.2) - elapsed);
      this.#attempts.record({ ...record, durationMs: this.#now() - started + holdMs }, context.config?.log?.retentionDays ?? 90);
      return { ...answer, holdMs };
    };
    const key = nameKey(typed);
    const refuse = (reason: LocalReason | AuthFailureReason, counted: boolean, detail?: string, extra: Partial<LoginAttempt> = {}) => {
      if (counted) this.#countFailure(key, limits, request.source, started);
      const why = detail ?? (reason in localReasons ? localReasons[reason as LocalReason] : adReasons[reason as AuthFailureReason]);
      return finish(attempt("failure", reason, why, extra), { status: 401, body: refusal.invalid });
    };

    const problem = loginInputProblem(request.username, request.password);
    if (problem !== undefined) return refuse(problem, !(typed.trim() === "" || problem === "username_too_long"));
    // Before any name is looked at: offline is the same answer for every name, so it cannot
    // tell a synced user from a stranger.
    if (!context.agentConnected()) {
      return finish(attempt("unavailable", "agent_offline", "No connector agent is connected, so AD cannot be asked."), {
        status: 503,
        body: refusal.offline,
      });
    }
    // Only what the caller already knows answers 429: its own address, and a name it (or
    // someone) has tried too often, paused whether or not anyone has that name.
    for (const { key: address, factor } of addressKeys(request.source)) {
      const until = this.#throttle.blockedUntil(address, started);
      if (until !== undefined) return this.#blocked(finish, attempt, "blocked_address", until, limits, "address", {}, factor);
    }
    const breaker = this.#throttle.failures(tenantKey) >= breakerFailuresPerMinute ? breakerHoldMs : 0;

    return this.#exclusive(
      key,
      async () => {
        turn = this.#now();
        const answer = await this.#decide(request, context, typed, key, limits, finish, attempt, refuse);
        // The hold happens inside the name's turn, so a name's tries take their time one
        // after another, the same for every name.
        const hold = answer.holdMs + breaker;
        if (hold > 0) await sleep(hold);
        return { ...answer, holdMs: 0 };
      },
      () =>
        finish(
          attempt(
            "blocked",
            "too_many_concurrent",
            `More than ${maxQueuedPerName} logins of this name were waiting at once; AD was not asked.`,
          ),
          {
            status: 429,
            retryAfterSeconds: 5,
            body: { error: { code: "too_many_attempts", message: "Too many logins at once. Try again in a few seconds." } },
          },
        ),
    );
  }

  async #decide(
    request: LoginRequest,
    context: LoginContext,
    typed: string,
    key: string,
    limits: ThrottleLimits,
    finish: (record: LoginAttempt, answer: Omit<LoginAnswer, "holdMs">, reachedAd?: boolean) => LoginAnswer,
    attempt: (outcome: AttemptOutcome, reason: string, detail: string, extra?: Partial<LoginAttempt>) => LoginAttempt,
    refuse: (reason: LocalReason | AuthFailureReason, counted: boolean, detail?: string, extra?: Partial<LoginAttempt>) => LoginAnswer,
  ): Promise<LoginAnswer> {
    const settings = context.config?.domainLogin;
    const nameBlock = this.#throttle.blockedUntil(key, this.#now());
    if (nameBlock !== undefined) return this.#blocked(finish, attempt, "blocked_name", nameBlock, limits, "name");

    const name = parseLoginName(typed) as LoginName;
    const allowed = (settings?.allowedUpnSuffixes ?? []).map((s) => s.toLowerCase());
    if (name.kind === "upn" && allowed.length > 0 && !allowed.includes(name.suffix.toLowerCase()))
      return refuse("suffix_not_allowed", true);

    const found = synced(name, context);
    const extension = new Set(found.map((e) => e.guid)).size === 1 ? (found[0] as Extension) : undefined;
    const known = extension === undefined ? {} : { extension: extension.number };
    if (extension === undefined) return refuse(found.length === 0 ? "not_synced" : "ambiguous", true);
    if (name.kind === "downLevel" && allowed.length > 0 && !allowed.includes(extension.upn?.split("@").pop() ?? ""))
      return refuse("suffix_not_allowed", true, undefined, known);
    if (!extension.enabled) return refuse("extension_disabled", true, undefined, known);

    let result: AuthenticateResult;
    try {
      const guid = extension.guid == null ? undefined : toBase64(bytesFromGuid(extension.guid));
      result = await context.authenticate(typed, request.password as string, guid);
    } catch (error) {
      const offline = error instanceof ApiError && (error.code === "agent_offline" || error.code === "agent_disconnected");
      const detail = error instanceof ApiError ? `${error.code}: ${error.message}` : String(error);
      return finish(attempt("unavailable", offline ? "agent_offline" : "directory_unavailable", detail, known), {
        status: 503,
        body: offline ? refusal.offline : refusal.unavailable,
      });
    }
    if (!result.ok && result.lockout !== undefined) this.#learn(result.lockout);
    if (result.ok && result.lockout !== undefined) this.#learn(result.lockout);
    if (result.ok) {
      if (result.objectGuid !== undefined && guidFromBytes(bytesFromBase64(result.objectGuid)) !== extension.guid?.toLowerCase())
        return refuse("account_changed", true, undefined, known);
      this.#throttle.succeed(key);
      const displayName = extension.displayName ?? result.displayName ?? extension.number;
      const session = await context.issue(
        { tenant: request.tenant, extension: extension.number, displayName, upn: result.upn ?? extension.upn },
        settings?.sessionMinutes ?? 10,
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
    const code = result.adCode === undefined ? "" : ` (AD data ${result.adCode})`;
    const detail = `${result.detail ?? adReasons[result.reason]}${code}`;
    // Refused by the agent before any bind: answered as a wrong password, in the same time.
    if (result.reason === "lockout_risk" || result.reason === "lockout_policy_unreadable" || result.reason === "account_changed")
      return refuse(result.reason, true, detail, known);
    const shown = endUserReason(result.reason);
    if (result.reason !== "directory_unavailable") this.#countFailure(key, limits, request.source, this.#now());
    return finish(
      attempt(shown === "directory_unavailable" ? "unavailable" : "failure", result.reason, detail, {
        ...known,
        adCode: result.adCode ?? null,
      }),
      shown === "directory_unavailable"
        ? { status: 503, body: refusal.unavailable }
        : { status: 401, body: shown === "invalid_credentials" ? refusal.invalid : refusal.passwordChange },
      true,
    );
  }

  /**
   * Keeps the domain's lockout policy as the agent last read it, so the pause stays below it.
   * A fine-grained policy applies to its members only: the agent guards those per account,
   * and it does not lower the pause of every name.
   */
  #learn(lockout: { threshold: number; observationWindowMs: number; source: "domain" | "fine-grained" }): void {
    if (lockout.source !== "domain") return;
    this.#adPolicy = lockout.threshold > 0 ? { threshold: lockout.threshold, observationWindowMs: lockout.observationWindowMs } : undefined;
  }

  #countFailure(key: string, limits: ThrottleLimits, source: string, now: number): void {
    this.#throttle.fail(key, limits.maxFailures, limits, now);
    for (const address of addressKeys(source)) this.#throttle.fail(address.key, limits.maxFailuresPerAddress * address.factor, limits, now);
    this.#throttle.fail(tenantKey, Number.MAX_SAFE_INTEGER, { ...limits, windowMs: 60_000 }, now);
  }

  #blocked(
    finish: (record: LoginAttempt, answer: Omit<LoginAnswer, "holdMs">) => LoginAnswer,
    attempt: (outcome: AttemptOutcome, reason: string, detail: string, extra?: Partial<LoginAttempt>) => LoginAttempt,
    reason: string,
    until: number,
    limits: ThrottleLimits,
    what: "name" | "address",
    extra: Partial<LoginAttempt> = {},
    factor = 1,
  ): LoginAnswer {
    const seconds = Math.max(1, Math.ceil((until - this.#now()) / 1000));
    const minutes = Math.ceil(seconds / 60);
    const limit =
      what === "name"
        ? `${limits.maxFailures} failed logins with this name (domainLogin.maxFailures, below AD's lockout threshold)`
        : `${limits.maxFailuresPerAddress * factor} failed logins from this address or its network (domainLogin.maxFailuresPerAddress)`;
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
    if (queue.length >= maxQueuedPerName) return overflow();
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
