import { DurableObject } from "cloudflare:workers";
import type { PlanItem } from "../../../engine/plan.ts";
import { nextScheduledRun } from "../../../engine/schedule.ts";
import type { SyncConfig } from "../../../schema/generated/config.ts";
import {
  type AgentOperation,
  type AuthenticateResult,
  agentHeaders,
  type ConnectionStep,
  heartbeat,
  type LdapTarget,
  type OuNode,
  type TestConnectionResult,
  type UserAttribute,
} from "../../../schema/src/agent-protocol.ts";
import { domainOfDn } from "../../../schema/src/dn.ts";
import { filter } from "../../../schema/src/ldap-filter.ts";
import { isValid, validateConfig } from "../../../schema/src/validate-config.ts";
import { hashSecret, newAgentToken, parseAgentToken, sameHash } from "../agent-token.ts";
import { ApiError } from "../api-error.ts";
import type { Env } from "../env.ts";
import { DomainLogin, type LoginAnswer } from "../login/domain-login.ts";
import { lockoutStep } from "../login/lockout-check.ts";
import { type AttemptOutcome, attemptsCsv, type LoginAttempt, LoginAttempts } from "../login/login-attempts.ts";
import { LoginThrottle } from "../login/login-throttle.ts";
import { issueSession, sessionKey } from "../login/session-token.ts";
import { BuiltinPbx, type ExtensionView, PbxError } from "../pbx/builtin/builtin-pbx.ts";
import { secretBox } from "../secret-box.ts";
import { eventsCsv, type RunEvent, type RunInfo, SyncRuns } from "../sync/sync-runs.ts";
import { type AgentAttachment, AgentLink, agentOffline } from "./agent-link.ts";
import type { AgentInfo, EnrollmentTokenInfo, GroupList, GroupSummary, StoredConfig } from "./tenant-types.ts";

/** Durable Object RPC cannot carry our error class, so failures cross as values. */
export type Outcome<T> = { ok: true; value: T } | { ok: false; status: number; code: string; message: string; details?: unknown };

type TokenRow = {
  id: string;
  hash: string;
  label: string;
  created_at: number;
  created_by: string;
  revoked_at: number | null;
};

const agentTimeoutMs = 60_000;
// A login is a search and a bind; a user at the login screen should not wait a minute to hear the DC is gone.
const loginTimeoutMs = 15_000;
// Should the instance driving a preview go away mid-read, the alarm ends it and frees the lock.
const previewWatchdogMs = 5 * 60_000;

/**
 * One per tenant: its configuration, agent tokens and agent sockets, in SQLite. Agent sockets
 * use the hibernation API, so an idle tenant costs nothing while its agents stay connected.
 */
export class TenantObject extends DurableObject<Env> {
  readonly #sql: SqlStorage;
  readonly #link: AgentLink;
  readonly #pbx: BuiltinPbx;
  readonly #runs: SyncRuns;
  readonly #login: DomainLogin;
  /** Runs this instance is driving right now; after a restart the alarm picks the others up. */
  readonly #driving = new Set<string>();
  /** The tenant's name, which the object is addressed by; kept for work that starts from an alarm. */
  #tenant: string | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#sql = ctx.storage.sql;
    this.#sql.exec(`
      CREATE TABLE IF NOT EXISTS config (
        id INTEGER PRIMARY KEY CHECK (id = 1), document TEXT, bind_password TEXT, updated_at INTEGER, updated_by TEXT);
      CREATE TABLE IF NOT EXISTS enrollment_tokens (
        id TEXT PRIMARY KEY, hash TEXT NOT NULL, label TEXT NOT NULL, created_at INTEGER NOT NULL,
        created_by TEXT NOT NULL, revoked_at INTEGER);
      CREATE TABLE IF NOT EXISTS agents (
        id TEXT PRIMARY KEY, token_id TEXT NOT NULL, hostname TEXT NOT NULL, version TEXT NOT NULL,
        first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL);
    `);
    // Heartbeats are answered by the runtime itself, without waking a hibernating object.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(heartbeat.ping, heartbeat.pong));
    this.#link = new AgentLink({ open: () => this.#openAgents() });
    this.#sql.exec(`
      CREATE TABLE IF NOT EXISTS schedule (id INTEGER PRIMARY KEY CHECK (id = 1), next_at INTEGER);
      CREATE TABLE IF NOT EXISTS tenant (id INTEGER PRIMARY KEY CHECK (id = 1), name TEXT NOT NULL);
    `);
    this.#pbx = new BuiltinPbx(this.#sql);
    this.#login = new DomainLogin(new LoginThrottle(this.#sql), new LoginAttempts(this.#sql));
    this.#runs = new SyncRuns(this.#sql, {
      pbx: this.#pbx,
      target: async () => {
        const config = this.#storedConfig().config;
        if (!config?.connection) throw new ApiError(409, "not_configured", "Save a connection first.");
        return { config, target: await this.#target(this.#tenantName(), config, undefined) };
      },
      search: (target) => (spec, page) =>
        this.#link.stream({ op: "search", target, ...spec }, ((target.connection.searchTimeoutSeconds ?? 120) + 10) * 1000, { page }),
    });
  }

  // ---- configuration -------------------------------------------------------------------

  async getConfig(): Promise<Outcome<StoredConfig>> {
    return run(() => this.#storedConfig());
  }

  async putConfig(tenant: string, document: unknown, by: string): Promise<Outcome<StoredConfig>> {
    return run(async () => {
      this.#rememberTenant(tenant);
      const problems = validateConfig(document);
      if (!isValid(problems)) throw new ApiError(400, "invalid_config", "The configuration has errors; nothing was saved.", { problems });
      this.#sql.exec(
        `INSERT INTO config (id, document, updated_at, updated_by) VALUES (1, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET document = excluded.document, updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
        JSON.stringify(document),
        Date.now(),
        by,
      );
      log("config_saved", { by, warnings: problems.length });
      this.#setNextRun(nextScheduledRun((document as SyncConfig).schedule, Date.now()));
      await this.#arm(false);
      return this.#storedConfig();
    });
  }

  async setBindPassword(tenant: string, password: unknown, by: string): Promise<Outcome<StoredConfig>> {
    return run(async () => {
      if (typeof password !== "string" || password === "")
        throw new ApiError(400, "invalid_password", "The bind password must be a non-empty string.");
      if (password.length > 1024) throw new ApiError(400, "invalid_password", "The bind password is longer than 1024 characters.");
      const sealed = await (await secretBox(this.env.CONFIG_ENCRYPTION_KEY)).seal(password, tenant);
      this.#sql.exec(
        `INSERT INTO config (id, bind_password, updated_at, updated_by) VALUES (1, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET bind_password = excluded.bind_password, updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
        sealed,
        Date.now(),
        by,
      );
      log("bind_password_set", { by });
      return this.#storedConfig();
    });
  }

  #storedConfig(): StoredConfig {
    const row = this.#sql
      .exec<{ document: string | null; bind_password: string | null; updated_at: number | null; updated_by: string | null }>(
        "SELECT document, bind_password, updated_at, updated_by FROM config WHERE id = 1",
      )
      .toArray()[0];
    return {
      config: row?.document ? (JSON.parse(row.document) as SyncConfig) : null,
      bindPasswordSet: Boolean(row?.bind_password),
      updatedAt: row?.updated_at ?? null,
      updatedBy: row?.updated_by ?? null,
    };
  }

  // ---- agents ----------------------------------------------------------------------------

  async createEnrollmentToken(tenant: string, label: string, by: string): Promise<Outcome<EnrollmentTokenInfo & { token: string }>> {
    return run(async () => {
      const { token, id, secret } = newAgentToken(tenant);
      const createdAt = Date.now();
      this.#sql.exec(
        "INSERT INTO enrollment_tokens (id, hash, label, created_at, created_by) VALUES (?, ?, ?, ?, ?)",
        id,
        await hashSecret(secret),
        label,
        createdAt,
        by,
      );
      log("enrollment_token_created", { id, by });
      return { id, label, createdAt, createdBy: by, revokedAt: null, token };
    });
  }

  async listEnrollmentTokens(): Promise<Outcome<EnrollmentTokenInfo[]>> {
    return run(() =>
      this.#sql
        .exec<{ id: string; label: string; created_at: number; created_by: string; revoked_at: number | null }>(
          "SELECT id, label, created_at, created_by, revoked_at FROM enrollment_tokens ORDER BY created_at",
        )
        .toArray()
        .map((r) => ({ id: r.id, label: r.label, createdAt: r.created_at, createdBy: r.created_by, revokedAt: r.revoked_at })),
    );
  }

  /** Revokes a token and disconnects every agent that connected with it. */
  async revokeEnrollmentToken(id: string, by: string): Promise<Outcome<EnrollmentTokenInfo>> {
    return run(() => {
      const updated = this.#sql.exec("UPDATE enrollment_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", Date.now(), id);
      if (updated.rowsWritten === 0 && !this.#tokenRow(id)) throw new ApiError(404, "token_not_found", `No enrollment token ${id}.`);
      for (const socket of this.ctx.getWebSockets(tokenTag(id))) socket.close(4001, "enrollment token revoked");
      log("enrollment_token_revoked", { id, by });
      const row = this.#tokenRow(id) as TokenRow;
      return { id: row.id, label: row.label, createdAt: row.created_at, createdBy: row.created_by, revokedAt: row.revoked_at };
    });
  }

  #tokenRow(id: string): TokenRow | undefined {
    return this.#sql
      .exec<TokenRow>("SELECT id, hash, label, created_at, created_by, revoked_at FROM enrollment_tokens WHERE id = ?", id)
      .toArray()[0];
  }

  async listAgents(): Promise<Outcome<AgentInfo[]>> {
    return run(() => {
      const inFlight = this.#link.inFlight();
      const live = new Map<string, { since: number; seen: number }>();
      for (const socket of this.ctx.getWebSockets()) {
        const a = socket.deserializeAttachment() as AgentAttachment;
        const seen = this.ctx.getWebSocketAutoResponseTimestamp(socket)?.getTime() ?? a.connectedAt;
        if (socket.readyState === WebSocket.OPEN) live.set(a.agentId, { since: a.connectedAt, seen });
      }
      return this.#sql
        .exec<{ id: string; token_id: string; hostname: string; version: string; last_seen: number }>(
          "SELECT id, token_id, hostname, version, last_seen FROM agents ORDER BY hostname, id",
        )
        .toArray()
        .map((r) => {
          const l = live.get(r.id);
          return {
            id: r.id,
            hostname: r.hostname,
            version: r.version,
            connected: l !== undefined,
            connectedSince: l?.since ?? null,
            lastSeen: Math.max(r.last_seen, l?.seen ?? 0),
            inFlight: inFlight.get(r.id) ?? 0,
            tokenId: r.token_id,
          };
        });
    });
  }

  /** The agent's WebSocket upgrade; the token is checked before anything is accepted. */
  override async fetch(request: Request): Promise<Response> {
    const parsed = parseAgentToken(request.headers.get("Authorization")?.replace(/^Bearer\s+/, "") ?? "");
    const row = parsed ? this.#tokenRow(parsed.id) : undefined;
    if (!parsed || !row || row.revoked_at !== null || !sameHash(row.hash, await hashSecret(parsed.secret))) {
      log("agent_refused", { tokenId: parsed?.id ?? null, reason: row?.revoked_at ? "revoked" : "unknown token" });
      return Response.json({ error: { code: "invalid_agent_token", message: "The agent token is unknown or revoked." } }, { status: 401 });
    }
    if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") {
      return Response.json(
        { error: { code: "upgrade_required", message: "The token is valid; connect with a WebSocket." } },
        { status: 426 },
      );
    }
    const agentId = request.headers.get(agentHeaders.id) ?? "";
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(agentId)) {
      return Response.json(
        { error: { code: "invalid_agent", message: `The ${agentHeaders.id} header is missing or malformed.` } },
        { status: 400 },
      );
    }
    const attachment: AgentAttachment = {
      agentId,
      tokenId: parsed.id,
      hostname: (request.headers.get(agentHeaders.hostname) ?? "unknown").slice(0, 253),
      version: (request.headers.get(agentHeaders.version) ?? "unknown").slice(0, 64),
      connectedAt: Date.now(),
    };
    // A reconnecting agent replaces its old socket rather than counting twice.
    for (const old of this.ctx.getWebSockets(agentTag(agentId))) old.close(4000, "replaced by a new connection");
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    this.ctx.acceptWebSocket(server, [tokenTag(parsed.id), agentTag(agentId)]);
    server.serializeAttachment(attachment);
    this.#sql.exec(
      `INSERT INTO agents (id, token_id, hostname, version, first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET token_id = excluded.token_id, hostname = excluded.hostname, version = excluded.version, last_seen = excluded.last_seen`,
      agentId,
      parsed.id,
      attachment.hostname,
      attachment.version,
      attachment.connectedAt,
      attachment.connectedAt,
    );
    log("agent_connected", { agentId, hostname: attachment.hostname, version: attachment.version });
    return new Response(null, { status: 101, webSocket: client });
  }

  override async webSocketMessage(socket: WebSocket, message: string | ArrayBuffer): Promise<void> {
    if (typeof message !== "string" || !this.#link.receive(message)) {
      socket.close(4002, "unexpected message");
    }
  }

  override async webSocketClose(socket: WebSocket, code: number): Promise<void> {
    this.#agentGone(socket, `closed (${code})`);
  }

  override async webSocketError(socket: WebSocket): Promise<void> {
    this.#agentGone(socket, "errored");
  }

  #agentGone(socket: WebSocket, how: string): void {
    const agent = socket.deserializeAttachment() as AgentAttachment | null;
    if (!agent) return;
    this.#sql.exec("UPDATE agents SET last_seen = ? WHERE id = ?", Date.now(), agent.agentId);
    log("agent_disconnected", { agentId: agent.agentId, how });
    this.#link.agentGone(agent.agentId);
  }

  // ---- directory operations ---------------------------------------------------------------

  /** Test Connection on the saved configuration, or on a draft (with a draft password). */
  async testConnection(tenant: string, draft: unknown, draftPassword: string | undefined): Promise<Outcome<TestConnectionResult>> {
    return run(async () => {
      const open = this.#openAgents();
      const started = Date.now();
      const config = draft === undefined ? this.#storedConfig().config : this.#validDraft(draft);
      if (!config?.connection)
        throw new ApiError(409, "not_configured", "Fill in the connection (domain controllers, bind account, base DN) first.");
      if (open.length === 0) {
        const step: ConnectionStep = {
          id: "agent",
          title: "Connector agent connected",
          status: "failed",
          durationMs: 0,
          detail: "No connector agent is connected for this tenant, so nothing can reach the domain controller.",
          fix: "Install and start the connector agent on a host inside your network (Agents > Add agent).",
          code: "agent_offline",
        };
        return { ok: false, steps: [step] };
      }
      const first = (open[0] as { agent: AgentAttachment }).agent;
      const agentStep: ConnectionStep = {
        id: "agent",
        title: "Connector agent connected",
        status: "ok",
        durationMs: Date.now() - started,
        detail: `${open.length} agent${open.length > 1 ? "s" : ""} connected (${first.hostname}, version ${first.version}).`,
      };
      const target = await this.#target(tenant, config, draftPassword);
      const result = await this.#link.call<TestConnectionResult>({ op: "testConnection", target, scope: config.scope }, agentTimeoutMs);
      const steps = [agentStep, ...result.steps];
      if (result.ok && config.domainLogin?.enabled === true)
        steps.push(await this.#lockoutStep(target, config.domainLogin.maxFailures ?? 5));
      return { ...result, steps };
    });
  }

  async #lockoutStep(target: LdapTarget, maxFailures: number): Promise<ConnectionStep> {
    const started = Date.now();
    const domain = domainOfDn(target.connection.baseDn)?.dn;
    let threshold: number | undefined;
    if (domain !== undefined) {
      await this.#link
        .stream(
          { op: "search", target, base: domain, scope: "base", filter: "(objectClass=domain)", attributes: ["lockoutThreshold"] },
          agentTimeoutMs,
          {
            page: (entries) => {
              const value = entries[0]?.attributes.lockoutThreshold?.[0];
              if (value !== undefined && /^\d+$/.test(value)) threshold = Number(value);
            },
          },
        )
        .catch(() => undefined);
    }
    return lockoutStep(maxFailures, threshold, Date.now() - started);
  }

  async listOus(tenant: string): Promise<Outcome<OuNode>> {
    return run(async () => this.#link.call<OuNode>({ op: "listOus", target: await this.#savedTarget(tenant) }, agentTimeoutMs));
  }

  /** Groups under the base DN whose name contains `query`, for the editor's group pickers. */
  async findGroups(tenant: string, query: string, limit: number): Promise<Outcome<GroupList>> {
    return run(async () => {
      const target = await this.#savedTarget(tenant);
      const groups: GroupSummary[] = [];
      const complete = await this.#link.stream(
        {
          op: "search",
          target,
          base: target.connection.baseDn,
          scope: "sub",
          filter: query === "" ? "(objectCategory=group)" : filter`(&(objectCategory=group)(|(cn=*${query}*)(description=*${query}*)))`,
          attributes: ["cn", "description"],
          sizeLimit: limit,
        },
        agentTimeoutMs,
        {
          page: (entries) => {
            for (const e of entries)
              groups.push({ dn: e.dn, name: e.attributes.cn?.[0] ?? e.dn, description: e.attributes.description?.[0] ?? null });
          },
          restart: () => {
            groups.length = 0;
          },
        },
      );
      groups.sort((a, b) => a.name.localeCompare(b.name));
      return { groups, truncated: !complete.complete };
    });
  }

  async listUserAttributes(tenant: string): Promise<Outcome<UserAttribute[]>> {
    return run(async () =>
      this.#link.call<UserAttribute[]>({ op: "listUserAttributes", target: await this.#savedTarget(tenant) }, agentTimeoutMs),
    );
  }

  /** Sends any read operation to an agent; the route layer decides which are exposed. */
  async callAgent<T>(operation: AgentOperation): Promise<Outcome<T>> {
    return run(() => this.#link.call<T>(operation, agentTimeoutMs));
  }

  // ---- domain login ----------------------------------------------------------------------

  /** A UC client's login with AD credentials; see DomainLogin for what is checked where. */
  async domainLogin(tenant: string, username: unknown, password: unknown, source: string): Promise<Outcome<LoginAnswer>> {
    return run(() => {
      const config = this.#storedConfig().config;
      return this.#login.login(
        { tenant, username, password, source },
        {
          config,
          agentConnected: () => this.#hasAgent(),
          findByLogin: (name) => this.#pbx.findByLogin(name),
          authenticate: async (name, secret) =>
            this.#link.call<AuthenticateResult>(
              { op: "authenticate", target: await this.#savedTarget(tenant), username: name, password: secret },
              loginTimeoutMs,
            ),
          issue: async (user, minutes) => issueSession(await sessionKey(this.env), user, minutes),
        },
      );
    });
  }

  async loginAttempts(options: {
    limit: number;
    offset: number;
    outcome?: AttemptOutcome;
    q?: string;
  }): Promise<Outcome<{ total: number; attempts: LoginAttempt[] }>> {
    return run(() => this.#login.attempts.list(options));
  }

  async loginAttemptsCsv(options: { outcome?: AttemptOutcome; q?: string }): Promise<Outcome<string>> {
    return run(() => attemptsCsv(this.#login.attempts.list({ ...options, limit: 100_000, offset: 0 }).attempts));
  }

  // ---- sync runs -----------------------------------------------------------------------------

  /** Preview: the read and the plan of a sync, stopped before anything is applied. */
  async preview(tenant: string, by: string, limit: number): Promise<Outcome<{ run: RunInfo; total: number; items: PlanItem[] }>> {
    return run(async () => {
      this.#rememberTenant(tenant);
      this.#requireReady();
      const id = this.#begin("preview", "manual", by);
      await this.#arm(false);
      await this.#drive(id);
      const result = this.#runs.get(id) as RunInfo;
      if (result.status === "failed") throw new ApiError(502, "preview_failed", result.error ?? "The preview failed.", { runId: id });
      return { run: result, ...this.#runs.items(id, { limit }) };
    });
  }

  /** Sync Now: takes the run lock and returns at once; the alarm drives the run. */
  async startSync(tenant: string, by: string): Promise<Outcome<RunInfo>> {
    return run(async () => {
      this.#rememberTenant(tenant);
      this.#requireReady();
      const id = this.#begin("sync", "manual", by);
      await this.#arm(true);
      return this.#runs.get(id) as RunInfo;
    });
  }

  async decideRun(id: string, approve: boolean, by: string): Promise<Outcome<RunInfo>> {
    return run(async () => {
      const result = this.#runs.decide(id, approve, by);
      log(approve ? "run_approved" : "run_rejected", { id, by });
      if (approve) await this.#arm(true);
      return result;
    });
  }

  /** The schedule as configured, and when the alarm will start the next run. */
  async getSchedule(): Promise<Outcome<{ mode: string; nextRunAt: string | null; timeZone?: string }>> {
    return run(() => {
      const schedule = this.#storedConfig().config?.schedule;
      const mode = schedule?.mode ?? "interval";
      const next = this.#nextRun();
      return {
        mode,
        nextRunAt: next === null ? null : new Date(next).toISOString(),
        ...(mode === "daily" ? { timeZone: schedule?.timeZone ?? "UTC" } : {}),
      };
    });
  }

  async listRuns(limit: number, offset: number): Promise<Outcome<RunInfo[]>> {
    return run(() => this.#runs.list(limit, offset));
  }

  async getRun(id: string): Promise<Outcome<RunInfo>> {
    return run(() => {
      const found = this.#runs.get(id);
      if (!found) throw new ApiError(404, "run_not_found", `No run ${id}.`);
      return found;
    });
  }

  async runItems(
    id: string,
    options: { action?: string; q?: string; offset?: number; limit?: number },
  ): Promise<Outcome<{ total: number; items: PlanItem[] }>> {
    return run(() => {
      if (!this.#runs.get(id)) throw new ApiError(404, "run_not_found", `No run ${id}.`);
      return this.#runs.items(id, options);
    });
  }

  async runEvents(id: string, format: "json" | "csv"): Promise<Outcome<RunEvent[] | string>> {
    return run(() => {
      if (!this.#runs.get(id)) throw new ApiError(404, "run_not_found", `No run ${id}.`);
      const events = this.#runs.events(id);
      return format === "csv" ? eventsCsv(events) : events;
    });
  }

  async clearRuns(by: string): Promise<Outcome<{ removed: number }>> {
    return run(() => {
      const removed = this.#runs.clear();
      log("log_cleared", { by, removed });
      return { removed };
    });
  }

  async listExtensions(options: {
    q?: string;
    offset?: number;
    limit?: number;
  }): Promise<Outcome<{ total: number; extensions: ExtensionView[] }>> {
    return run(() => ({ total: this.#pbx.count(), extensions: this.#pbx.views(options) }));
  }

  async createManualExtension(number: unknown, displayName: unknown, settings: unknown): Promise<Outcome<ExtensionView>> {
    return run(() => {
      if (typeof number !== "string" || typeof displayName !== "string" || displayName.trim() === "")
        throw new ApiError(400, "invalid_extension", "Send { number, displayName } with a 2-10 digit number.");
      try {
        return this.#pbx.createManual(
          number,
          displayName.trim(),
          typeof settings === "object" && settings !== null ? (settings as Record<string, unknown>) : {},
        );
      } catch (e) {
        if (e instanceof PbxError) throw new ApiError(e.code === "number_taken" ? 409 : 400, e.code, e.message);
        throw e;
      }
    });
  }

  /** Drives the active run, starts a due scheduled run, and sets the next alarm. */
  override async alarm(): Promise<void> {
    let more = false;
    const active = this.#runs.active();
    if (active && active.status !== "awaiting-approval" && !this.#driving.has(active.id)) more = await this.#drive(active.id);
    const now = Date.now();
    const due = this.#nextRun();
    const config = this.#storedConfig().config;
    if (due !== null && due <= now && config) {
      this.#applyRetention();
      const running = this.#runs.active();
      if (running) this.#runs.missed(`run ${running.id} was still in progress`);
      else if (!this.#hasAgent()) this.#runs.missed("no connector agent was connected");
      else {
        // Retention was applied just above.
        this.#runs.begin("sync", "schedule", null);
        more = true;
      }
      this.#setNextRun(nextScheduledRun(config.schedule, now));
    }
    await this.#arm(more);
  }

  /** Starts a run, first dropping the log of runs older than the retention. */
  #begin(kind: RunInfo["kind"], trigger: RunInfo["trigger"], by: string | null): string {
    this.#applyRetention();
    return this.#runs.begin(kind, trigger, by);
  }

  #applyRetention(): void {
    const retentionDays = this.#storedConfig().config?.log?.retentionDays ?? 90;
    this.#runs.prune(Date.now() - retentionDays * 86_400_000);
  }

  async #drive(id: string): Promise<boolean> {
    this.#driving.add(id);
    try {
      let more = await this.#runs.step(id);
      // A preview ends after its read and plan; a sync goes on in chunks, one alarm each.
      if (this.#runs.get(id)?.kind === "preview") more = false;
      return more;
    } finally {
      this.#driving.delete(id);
    }
  }

  async #arm(now: boolean): Promise<void> {
    let next = now ? Date.now() : this.#nextRun();
    // The same alarm drives a run in progress: setting the schedule must not put that off.
    const active = this.#runs.active();
    if (active && active.status !== "awaiting-approval") {
      const due = active.kind === "sync" ? Date.now() : Date.now() + previewWatchdogMs;
      next = next === null ? due : Math.min(next, due);
    }
    if (next === null) await this.ctx.storage.deleteAlarm();
    else await this.ctx.storage.setAlarm(next);
  }

  #nextRun(): number | null {
    return this.#sql.exec<{ next_at: number | null }>("SELECT next_at FROM schedule WHERE id = 1").toArray()[0]?.next_at ?? null;
  }

  #setNextRun(at: number | null): void {
    this.#sql.exec("INSERT INTO schedule (id, next_at) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET next_at = excluded.next_at", at);
  }

  #openAgents(): Array<{ socket: WebSocket; agent: AgentAttachment }> {
    return this.ctx
      .getWebSockets()
      .filter((socket) => socket.readyState === WebSocket.OPEN)
      .map((socket) => ({ socket, agent: socket.deserializeAttachment() as AgentAttachment }));
  }

  #hasAgent(): boolean {
    return this.#openAgents().length > 0;
  }

  #requireReady(): void {
    if (!this.#storedConfig().config?.connection)
      throw new ApiError(409, "not_configured", "Save a connection (domain controllers, bind account, base DN) first.");
    if (!this.#hasAgent()) throw agentOffline();
  }

  #rememberTenant(tenant: string): void {
    if (this.#tenant === tenant) return;
    this.#tenant = tenant;
    this.#sql.exec("INSERT INTO tenant (id, name) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET name = excluded.name", tenant);
  }
  #tenantName(): string {
    if (this.#tenant === undefined) {
      this.#tenant = this.#sql.exec<{ name: string }>("SELECT name FROM tenant WHERE id = 1").toArray()[0]?.name;
    }
    if (this.#tenant === undefined) throw new ApiError(409, "not_configured", "This tenant has no configuration yet.");
    return this.#tenant;
  }

  #validDraft(draft: unknown): SyncConfig {
    const problems = validateConfig(draft);
    if (!isValid(problems)) throw new ApiError(400, "invalid_config", "The configuration has errors.", { problems });
    return draft as SyncConfig;
  }

  async #savedTarget(tenant: string): Promise<LdapTarget> {
    const config = this.#storedConfig().config;
    if (!config?.connection)
      throw new ApiError(409, "not_configured", "Save a connection (domain controllers, bind account, base DN) first.");
    return this.#target(tenant, config, undefined);
  }

  async #target(tenant: string, config: SyncConfig, draftPassword: string | undefined): Promise<LdapTarget> {
    const connection = config.connection as NonNullable<SyncConfig["connection"]>;
    if ((connection.bindPassword.source ?? "stored") !== "stored") return { connection };
    if (draftPassword !== undefined && draftPassword !== "") return { connection, bindPassword: draftPassword };
    const sealed = this.#sql
      .exec<{ bind_password: string | null }>("SELECT bind_password FROM config WHERE id = 1")
      .toArray()[0]?.bind_password;
    if (!sealed) throw new ApiError(409, "bind_password_missing", "Enter the bind password in Connection: none is stored yet.");
    return { connection, bindPassword: await (await secretBox(this.env.CONFIG_ENCRYPTION_KEY)).open(sealed, tenant) };
  }
}

const tokenTag = (id: string) => `token:${id}`;
const agentTag = (id: string) => `agent:${id}`;

async function run<T>(body: () => T | Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await body() };
  } catch (e) {
    if (e instanceof ApiError) {
      return { ok: false, status: e.status, code: e.code, message: e.message, ...(e.details === undefined ? {} : { details: e.details }) };
    }
    console.error(`tenant object: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
    return { ok: false, status: 500, code: "internal_error", message: "The server failed to handle this request." };
  }
}

/** One line per event; callers pass no secret, and nothing here reads one. */
function log(event: string, fields: Record<string, unknown>): void {
  console.log(JSON.stringify({ event, ...fields }));
}
