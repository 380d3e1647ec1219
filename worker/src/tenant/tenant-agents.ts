// The tenant's connector agents: enrollment tokens (only their hashes are kept), the agents
// seen, and their WebSockets. The sockets use the hibernation API, so an idle tenant costs
// nothing while its agents stay connected; the token is checked before the upgrade.
import { agentHeaders } from "../../../schema/src/agent-protocol.ts";
import { hashSecret, newAgentToken, parseAgentToken, sameHash } from "../agent-token.ts";
import { ApiError } from "../api-error.ts";
import { columnNames, type Sql } from "../sql.ts";
import type { AgentAttachment } from "./agent-link.ts";
import { logEvent } from "./event-log.ts";
import type { AgentInfo, EnrollmentTokenInfo } from "./tenant-types.ts";

export const tenantAgentsSchema = `
  CREATE TABLE IF NOT EXISTS enrollment_tokens (
    id TEXT PRIMARY KEY, hash TEXT NOT NULL, label TEXT NOT NULL, created_at INTEGER NOT NULL,
    created_by TEXT NOT NULL, revoked_at INTEGER);
  CREATE TABLE IF NOT EXISTS agents (
    id TEXT PRIMARY KEY, token_id TEXT NOT NULL, hostname TEXT NOT NULL, version TEXT NOT NULL,
    first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL);
`;

type TokenRow = {
  id: string;
  hash: string;
  label: string;
  created_at: number;
  created_by: string;
  revoked_at: number | null;
};

/** The part of DurableObjectState that holds the agents' sockets. */
export type SocketState = Pick<DurableObjectState, "getWebSockets" | "acceptWebSocket" | "getWebSocketAutoResponseTimestamp">;

export interface OpenAgent {
  socket: WebSocket;
  agent: AgentAttachment;
}

/** The close code an agent is told it was revoked with: it stops instead of reconnecting. */
export const agentRevokedCloseCode = 4007;

const tokenTag = (id: string) => `token:${id}`;
const agentTag = (id: string) => `agent:${id}`;

export class TenantAgents {
  readonly #sql: Sql;
  readonly #state: SocketState;

  constructor(sql: Sql, state: SocketState) {
    this.#sql = sql;
    this.#state = state;
    sql.exec(tenantAgentsSchema);
    // Tenants made before agents could be revoked one by one.
    if (!columnNames(sql, "agents").has("revoked_at"))
      sql.exec("ALTER TABLE agents ADD COLUMN revoked_at INTEGER; ALTER TABLE agents ADD COLUMN revoked_by TEXT");
  }

  async createToken(tenant: string, label: string, by: string): Promise<EnrollmentTokenInfo & { token: string }> {
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
    logEvent("enrollment_token_created", { id, by });
    return { id, label, createdAt, createdBy: by, revokedAt: null, token };
  }

  listTokens(): EnrollmentTokenInfo[] {
    return this.#sql
      .exec<TokenRow>("SELECT id, hash, label, created_at, created_by, revoked_at FROM enrollment_tokens ORDER BY created_at")
      .toArray()
      .map(tokenInfo);
  }

  /** Revokes a token and disconnects every agent that connected with it. */
  revokeToken(id: string, by: string): EnrollmentTokenInfo {
    const updated = this.#sql.exec("UPDATE enrollment_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", Date.now(), id);
    if (updated.rowsWritten === 0 && !this.#tokenRow(id)) throw new ApiError(404, "token_not_found", `No enrollment token ${id}.`);
    for (const socket of this.#state.getWebSockets(tokenTag(id))) socket.close(4001, "enrollment token revoked");
    logEvent("enrollment_token_revoked", { id, by });
    return tokenInfo(this.#tokenRow(id) as TokenRow);
  }

  #tokenRow(id: string): TokenRow | undefined {
    return this.#sql
      .exec<TokenRow>("SELECT id, hash, label, created_at, created_by, revoked_at FROM enrollment_tokens WHERE id = ?", id)
      .toArray()[0];
  }

  /** Every agent seen, whether connected now, and how many requests each is serving. */
  list(inFlight: Map<string, number>): AgentInfo[] {
    const live = new Map<string, { since: number; seen: number }>();
    for (const socket of this.#state.getWebSockets()) {
      const a = socket.deserializeAttachment() as AgentAttachment;
      const seen = this.#state.getWebSocketAutoResponseTimestamp(socket)?.getTime() ?? a.connectedAt;
      if (socket.readyState === WebSocket.OPEN) live.set(a.agentId, { since: a.connectedAt, seen });
    }
    return this.#sql
      .exec<{ id: string; token_id: string; hostname: string; version: string; last_seen: number; revoked_at: number | null }>(
        "SELECT id, token_id, hostname, version, last_seen, revoked_at FROM agents ORDER BY hostname, id",
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
          revokedAt: r.revoked_at,
        };
      });
  }

  /** The agent's WebSocket upgrade; the token is checked before anything is accepted. */
  async connect(request: Request): Promise<Response> {
    const parsed = parseAgentToken(request.headers.get("Authorization")?.replace(/^Bearer\s+/, "") ?? "");
    const row = parsed ? this.#tokenRow(parsed.id) : undefined;
    if (!parsed || !row || row.revoked_at !== null || !sameHash(row.hash, await hashSecret(parsed.secret))) {
      logEvent("agent_refused", { tokenId: parsed?.id ?? null, reason: row?.revoked_at ? "revoked" : "unknown token" });
      return Response.json({ error: { code: "invalid_agent_token", message: "The agent token is unknown or revoked." } }, { status: 401 });
    }
    const agentId = request.headers.get(agentHeaders.id) ?? "";
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(agentId)) {
      return Response.json(
        { error: { code: "invalid_agent", message: `The ${agentHeaders.id} header is missing or malformed.` } },
        { status: 400 },
      );
    }
    // An agent id belongs to the token it connected with: another live token can neither take
    // it over nor evict the agent that has it (once that token is revoked, the id may be
    // enrolled again with a new one), and a revoked agent stays revoked.
    const known = this.#sql
      .exec<{ token_id: string; revoked_at: number | null }>("SELECT token_id, revoked_at FROM agents WHERE id = ?", agentId)
      .toArray()[0];
    if (known?.revoked_at != null) {
      logEvent("agent_refused", { agentId, tokenId: parsed.id, reason: "agent revoked" });
      return Response.json(
        {
          error: {
            code: "agent_revoked",
            message: `The agent ${agentId} was revoked (Agents); enroll it again with a new token and another id.`,
          },
        },
        { status: 401 },
      );
    }
    if (known !== undefined && known.token_id !== parsed.id && this.#tokenRow(known.token_id)?.revoked_at === null) {
      logEvent("agent_refused", { agentId, tokenId: parsed.id, reason: "agent id of another token" });
      return Response.json(
        {
          error: {
            code: "agent_id_taken",
            message: `The agent id ${agentId} belongs to an agent enrolled with another token; choose another --id.`,
          },
        },
        { status: 409 },
      );
    }
    if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") {
      return Response.json(
        { error: { code: "upgrade_required", message: "The token is valid; connect with a WebSocket." } },
        { status: 426 },
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
    for (const old of this.#state.getWebSockets(agentTag(agentId))) old.close(4000, "replaced by a new connection");
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    this.#state.acceptWebSocket(server, [tokenTag(parsed.id), agentTag(agentId)]);
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
    logEvent("agent_connected", { agentId, hostname: attachment.hostname, version: attachment.version });
    return new Response(null, { status: 101, webSocket: client });
  }

  /** Revokes one agent: its socket is closed, and it cannot connect again under its id. */
  revoke(agentId: string, by: string): AgentInfo {
    const updated = this.#sql.exec(
      "UPDATE agents SET revoked_at = ?, revoked_by = ? WHERE id = ? AND revoked_at IS NULL",
      Date.now(),
      by,
      agentId,
    );
    if (updated.rowsWritten === 0 && this.#sql.exec("SELECT id FROM agents WHERE id = ?", agentId).toArray().length === 0)
      throw new ApiError(404, "agent_not_found", `No agent ${agentId}.`);
    for (const socket of this.#state.getWebSockets(agentTag(agentId))) socket.close(agentRevokedCloseCode, "agent revoked");
    logEvent("agent_revoked", { agentId, by });
    return this.list(new Map()).find((a) => a.id === agentId) as AgentInfo;
  }

  /** Notes a closed or failed socket; answers the agent it belonged to, if any. */
  gone(socket: WebSocket, how: string): string | undefined {
    const agent = socket.deserializeAttachment() as AgentAttachment | null;
    if (!agent) return undefined;
    this.#sql.exec("UPDATE agents SET last_seen = ? WHERE id = ?", Date.now(), agent.agentId);
    logEvent("agent_disconnected", { agentId: agent.agentId, how });
    return agent.agentId;
  }

  open(): OpenAgent[] {
    return this.#state
      .getWebSockets()
      .filter((socket) => socket.readyState === WebSocket.OPEN)
      .map((socket) => ({ socket, agent: socket.deserializeAttachment() as AgentAttachment }));
  }

  connected(): boolean {
    return this.open().length > 0;
  }
}

function tokenInfo(r: TokenRow): EnrollmentTokenInfo {
  return { id: r.id, label: r.label, createdAt: r.created_at, createdBy: r.created_by, revokedAt: r.revoked_at };
}
