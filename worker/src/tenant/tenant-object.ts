import { DurableObject } from "cloudflare:workers";
import type { PlanItem } from "../../../engine/plan.ts";
import {
  agentCloseCodes,
  agentEnrollPath,
  heartbeat,
  type OuNode,
  type TestConnectionResult,
  type UserAttribute,
} from "../../../schema/src/agent-protocol.ts";
import type { Env } from "../env.ts";
import { invalidCredentials, type LoginAnswer } from "../login/domain-login.ts";
import type { AttemptOutcome, LoginAttempt } from "../login/login-attempts.ts";
import { BuiltinPbx, type ExtensionView } from "../pbx/builtin/builtin-pbx.ts";
import { ConfiguredPbx } from "../pbx/pbx-targets.ts";
import { registryStub } from "../registry/tenant-registry.ts";
import type { RunEvent, RunInfo } from "../sync/sync-runs.ts";
import { AgentEnrollment } from "./agent-enrollment.ts";
import { AgentEvents } from "./agent-events.ts";
import { type AgentAttachment, AgentLink, type Verdict } from "./agent-link.ts";
import { DirectoryOperations } from "./directory-operations.ts";
import { type Outcome, outcome } from "./outcome.ts";
import { TenantAgents } from "./tenant-agents.ts";
import { TenantConfig } from "./tenant-config.ts";
import { TenantExtensions } from "./tenant-extensions.ts";
import { TenantLogin } from "./tenant-login.ts";
import { TenantRuns } from "./tenant-runs.ts";
import type { AgentEvent, AgentInfo, EnrollmentTokenInfo, GroupList, StoredConfig } from "./tenant-types.ts";

/**
 * One per tenant, in its own SQLite. This class owns what only a Durable Object has (storage,
 * the alarm, the agents' hibernatable sockets) and hands each call to the module of its
 * concern; each RPC method answers an Outcome, since our error class cannot cross the stub.
 */
interface Modules {
  config: TenantConfig;
  agents: TenantAgents;
  enrollment: AgentEnrollment;
  agentEvents: AgentEvents;
  link: AgentLink;
  directory: DirectoryOperations;
  login: TenantLogin;
  runs: TenantRuns;
  extensions: TenantExtensions;
}

export class TenantObject extends DurableObject<Env> {
  /**
   * Made on first use, not in the constructor: making them creates the tenant's tables, and
   * the public login route reaches the object of any tenant-shaped name. An object that has
   * never stored anything answers a login without making them, so an unknown name never
   * persists anything.
   */
  #modules: Modules | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    // Heartbeats are answered by the runtime itself, without waking a hibernating object.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(heartbeat.ping, heartbeat.pong));
  }

  #m(): Modules {
    if (this.#modules !== undefined) return this.#modules;
    const { ctx, env } = this;
    const sql = ctx.storage.sql;
    const config = new TenantConfig(sql, env.CONFIG_ENCRYPTION_KEY);
    const agentEvents = new AgentEvents(sql);
    const agents = new TenantAgents(sql, ctx, agentEvents);
    const enrollment = new AgentEnrollment(sql, agents, agentEvents);
    const link = new AgentLink({ open: () => agents.open() });
    const agentConnected = () => agents.connected();
    const builtin = new BuiltinPbx(sql);
    // The target pbx.kind names, resolved at each call; the built-in directory by default.
    const pbx = new ConfiguredPbx({
      sql,
      builtin,
      config: () => config.config(),
      tenantName: () => config.tenantName(),
      pbxSecret: (tenant) => config.pbxSecret(tenant),
      encryptionKey: env.CONFIG_ENCRYPTION_KEY,
    });
    this.#modules = {
      config,
      agents,
      enrollment,
      agentEvents,
      link,
      directory: new DirectoryOperations({ config, link, openAgents: () => agents.open() }),
      login: new TenantLogin(sql, { config, link, pbx, agentConnected, env }),
      runs: new TenantRuns(sql, { config, link, pbx, alarms: ctx.storage, agentConnected }),
      extensions: new TenantExtensions(builtin, pbx),
    };
    // A tenant configured before the registry existed registers the first time it runs.
    if (config.config() !== null) void this.#register(config.tenantName()).catch(() => {});
    return this.#modules;
  }

  /** Whether this tenant has ever stored anything; reading sqlite_master writes nothing. */
  #exists(): boolean {
    if (this.#modules !== undefined) return true;
    return this.ctx.storage.sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'config' LIMIT 1").toArray().length > 0;
  }

  get #config(): TenantConfig {
    return this.#m().config;
  }
  get #agents(): TenantAgents {
    return this.#m().agents;
  }
  get #enrollment(): AgentEnrollment {
    return this.#m().enrollment;
  }
  get #agentEvents(): AgentEvents {
    return this.#m().agentEvents;
  }
  get #link(): AgentLink {
    return this.#m().link;
  }
  get #directory(): DirectoryOperations {
    return this.#m().directory;
  }
  get #login(): TenantLogin {
    return this.#m().login;
  }
  get #runs(): TenantRuns {
    return this.#m().runs;
  }
  get #extensions(): TenantExtensions {
    return this.#m().extensions;
  }

  // ---- configuration and secrets ----------------------------------------------------------

  getConfig(): Promise<Outcome<StoredConfig>> {
    return outcome(() => this.#config.stored());
  }
  putConfig(tenant: string, document: unknown, by: string): Promise<Outcome<StoredConfig>> {
    return outcome(async () => {
      await this.#runs.configSaved(this.#config.save(tenant, document, by));
      await this.#register(tenant);
      return this.#config.stored();
    });
  }

  /** Tells the registry whether this tenant's domain login is on, so the public route may reach it. */
  async #register(tenant: string): Promise<void> {
    const config = this.#config.config();
    const login = config?.domainLogin;
    const enabled =
      login?.enabled === true && config?.connection?.security !== "insecurePlainLdap" && config?.connection?.insecureSkipVerify !== true;
    await registryStub(this.env).setLogin(tenant, { enabled, origins: enabled ? (login?.allowedOrigins ?? []) : [] });
  }
  setBindPassword(tenant: string, password: unknown, by: string): Promise<Outcome<StoredConfig>> {
    return outcome(() => this.#config.setBindPassword(tenant, password, by));
  }
  setPbxSecret(tenant: string, secret: unknown, by: string): Promise<Outcome<StoredConfig>> {
    return outcome(() => this.#config.setPbxSecret(tenant, secret, by));
  }

  // ---- agents ---------------------------------------------------------------------------

  createEnrollmentToken(
    tenant: string,
    label: string,
    by: string,
    hours: number,
  ): Promise<Outcome<EnrollmentTokenInfo & { token: string }>> {
    return outcome(() => this.#enrollment.createToken(tenant, label, by, hours));
  }
  listEnrollmentTokens(): Promise<Outcome<EnrollmentTokenInfo[]>> {
    return outcome(() => this.#enrollment.listTokens());
  }
  revokeEnrollmentToken(id: string, by: string): Promise<Outcome<EnrollmentTokenInfo>> {
    return outcome(() => this.#enrollment.revokeToken(id, by));
  }
  agentEvents(limit: number): Promise<Outcome<AgentEvent[]>> {
    return outcome(() => this.#agentEvents.list(limit));
  }
  revokeAgent(id: string, by: string): Promise<Outcome<AgentInfo>> {
    return outcome(() => {
      const revoked = this.#agents.revoke(id, by);
      // Its requests in flight move to another agent, or fail.
      this.#link.agentGone(id);
      return revoked;
    });
  }
  listAgents(): Promise<Outcome<AgentInfo[]>> {
    return outcome(() => this.#agents.list(this.#link.inFlight()));
  }

  /**
   * An agent's own requests: its enrollment (token for credential), and its WebSocket upgrade,
   * where the credential is checked before anything is accepted.
   */
  override async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === agentEnrollPath && request.method === "POST") return this.#enrollment.enroll(request);
    const verdict = await this.#agents.connect(request);
    if (verdict instanceof Response) return verdict;
    // A reconnecting agent replaces its old socket rather than counting twice: only the
    // holder of this agent's credential gets this far.
    for (const old of this.ctx.getWebSockets(verdict.tag)) old.close(4000, "replaced by a new connection");
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    this.ctx.acceptWebSocket(server, [verdict.tag]);
    server.serializeAttachment(verdict.attachment);
    return new Response(null, { status: 101, webSocket: client });
  }
  override async webSocketMessage(socket: WebSocket, message: string | ArrayBuffer): Promise<void> {
    // What an agent sent before its socket was closed still arrives: drop it unread.
    if (socket.readyState !== WebSocket.OPEN) return;
    const agent = socket.deserializeAttachment() as AgentAttachment;
    const verdict: Verdict =
      typeof message === "string"
        ? this.#link.receive(message, agent.agentId)
        : { ok: false, code: agentCloseCodes.malformed, reason: "a binary message" };
    if (verdict.ok) return;
    // Whatever an agent sends, it cannot make the worker hold more or answer for another:
    // it is disconnected, and its requests move to another agent or fail.
    this.#agentEvents.record("protocol_violation", {
      agentId: agent.agentId,
      hostname: agent.hostname,
      detail: `${verdict.code} ${verdict.reason}`.slice(0, 200),
    });
    socket.close(verdict.code, verdict.reason.slice(0, 120));
    this.#link.agentGone(agent.agentId);
  }
  override async webSocketClose(socket: WebSocket, code: number): Promise<void> {
    this.#agentGone(socket, `closed (${code})`);
  }
  override async webSocketError(socket: WebSocket): Promise<void> {
    this.#agentGone(socket, "errored");
  }
  #agentGone(socket: WebSocket, how: string): void {
    const agentId = this.#agents.gone(socket, how);
    if (agentId !== undefined) this.#link.agentGone(agentId);
  }

  // ---- directory operations -------------------------------------------------------------

  /** Test Connection on the saved configuration, or on a draft (with a draft password). */
  testConnection(tenant: string, draft: unknown, draftPassword: string | undefined): Promise<Outcome<TestConnectionResult>> {
    return outcome(() => this.#directory.testConnection(tenant, draft, draftPassword));
  }
  /** The PBX panel's Test: the PBX target's steps alone, for the saved configuration or a draft. */
  testPbx(tenant: string, draft: unknown, draftSecret: string | undefined): Promise<Outcome<TestConnectionResult>> {
    return outcome(() => this.#directory.testPbx(tenant, draft, draftSecret));
  }
  listOus(tenant: string): Promise<Outcome<OuNode>> {
    return outcome(() => this.#directory.listOus(tenant));
  }
  findGroups(tenant: string, query: string, limit: number): Promise<Outcome<GroupList>> {
    return outcome(() => this.#directory.findGroups(tenant, query, limit));
  }
  listUserAttributes(tenant: string): Promise<Outcome<UserAttribute[]>> {
    return outcome(() => this.#directory.listUserAttributes(tenant));
  }

  // ---- domain login ---------------------------------------------------------------------

  domainLogin(tenant: string, username: unknown, password: unknown, source: string): Promise<Outcome<LoginAnswer>> {
    // A tenant-shaped name nobody uses: the answer of a tenant with login off, and nothing stored.
    if (!this.#exists()) return outcome(() => unknownTenantLogin());
    return outcome(() => this.#login.login(tenant, username, password, source));
  }
  loginAttempts(options: {
    limit: number;
    offset: number;
    outcome?: AttemptOutcome;
    q?: string;
  }): Promise<Outcome<{ total: number; attempts: LoginAttempt[] }>> {
    return outcome(() => this.#login.attempts(options));
  }
  loginAttemptsCsv(options: { outcome?: AttemptOutcome; q?: string }): Promise<Outcome<string>> {
    return outcome(() => this.#login.attemptsCsv(options));
  }

  // ---- runs and schedule ----------------------------------------------------------------

  preview(
    tenant: string,
    by: string,
    limit: number,
    options: { full?: boolean } = {},
  ): Promise<Outcome<{ run: RunInfo; total: number; items: PlanItem[] }>> {
    return outcome(() => this.#runs.preview(tenant, by, limit, options));
  }
  startSync(tenant: string, by: string, options: { full?: boolean } = {}): Promise<Outcome<RunInfo>> {
    return outcome(() => this.#runs.startSync(tenant, by, options));
  }
  decideRun(id: string, approve: boolean, by: string): Promise<Outcome<RunInfo>> {
    return outcome(() => this.#runs.decide(id, approve, by));
  }
  cancelRun(id: string, by: string): Promise<Outcome<RunInfo>> {
    return outcome(() => this.#runs.cancel(id, by));
  }
  getSchedule(): Promise<Outcome<{ mode: string; nextRunAt: string | null; timeZone?: string }>> {
    return outcome(() => this.#runs.schedule());
  }
  listRuns(limit: number, offset: number): Promise<Outcome<RunInfo[]>> {
    return outcome(() => this.#runs.list(limit, offset));
  }
  getRun(id: string): Promise<Outcome<RunInfo>> {
    return outcome(() => this.#runs.get(id));
  }
  runItems(
    id: string,
    options: { action?: string; q?: string; offset?: number; limit?: number },
  ): Promise<Outcome<{ total: number; items: PlanItem[] }>> {
    return outcome(() => this.#runs.items(id, options));
  }
  runEvents(id: string, format: "json" | "csv"): Promise<Outcome<RunEvent[] | string>> {
    return outcome(() => this.#runs.events(id, format));
  }
  clearRuns(by: string): Promise<Outcome<{ removed: number }>> {
    return outcome(() => this.#runs.clear(by));
  }
  /** The one alarm drives the run in progress and starts scheduled runs. */
  override alarm(): Promise<void> {
    return this.#runs.alarm();
  }

  // ---- the built-in PBX directory -------------------------------------------------------

  listExtensions(options: {
    q?: string;
    offset?: number;
    limit?: number;
  }): Promise<Outcome<{ total: number; extensions: ExtensionView[] }>> {
    return outcome(() => this.#extensions.list(options));
  }
  createManualExtension(number: unknown, displayName: unknown, settings: unknown): Promise<Outcome<ExtensionView>> {
    return outcome(() => this.#extensions.createManual(number, displayName, settings));
  }
}

function unknownTenantLogin(): LoginAnswer {
  return { status: 401, body: invalidCredentials, holdMs: 90 + Math.random() * 20 };
}
