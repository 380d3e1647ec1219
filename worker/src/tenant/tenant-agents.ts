// The tenant's connector agents: each enrolled once (agent-enrollment.ts) and known by its own
// credential, of which only the hash is kept, and their WebSockets. The sockets use the
// hibernation API, so an idle tenant costs nothing while its agents stay connected; the
// credential is checked before the upgrade.
import { agentHeaders, agentRevokedCloseCode, type WorkerMessage } from "../../../schema/src/agent-protocol.ts";
import { hashSecret, parseAgentCredential, parseAgentToken, sameHash } from "../agent-token.ts";
import { ApiError } from "../api-error.ts";
import { addMissingColumns, type Sql } from "../sql.ts";
import type { AgentEvents } from "./agent-events.ts";
import type { AgentAttachment } from "./agent-link.ts";
import { logEvent } from "./event-log.ts";
import type { AgentInfo } from "./tenant-types.ts";

export const tenantAgentsSchema = `
  CREATE TABLE IF NOT EXISTS agents (
    id TEXT PRIMARY KEY, token_id TEXT NOT NULL, hostname TEXT NOT NULL, version TEXT NOT NULL,
    first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL);
`;

/** An agent id as the agent may choose it: it names the agent in logs and in the portal. */
export const agentIdPattern = /^[A-Za-z0-9._-]{1,64}$/;

/** A hibernatable socket as the registry uses it: the Durable Object's WebSocket in production. */
export type AgentSocket = WebSocket & { deserializeAttachment(): unknown };

/**
 * The part of DurableObjectState that holds the agents' sockets. The upgrade itself
 * (WebSocketPair, acceptWebSocket) is the Durable Object's: see TenantObject.fetch.
 */
export interface SocketState {
  getWebSockets(tag?: string): AgentSocket[];
  getWebSocketAutoResponseTimestamp(socket: AgentSocket): Date | null;
}

export interface OpenAgent {
  socket: AgentSocket;
  agent: AgentAttachment;
}

/** An upgrade the registry allowed: the socket to accept, its tag, and the old sockets of that tag to replace. */
export interface AcceptedAgent {
  attachment: AgentAttachment;
  tag: string;
}

export function refusal(status: number, code: string, message: string): Response {
  return Response.json({ error: { code, message } }, { status });
}

/** The caller's address as Cloudflare's edge saw it (it sets this header itself). */
export function requestAddress(request: Request): string {
  return (request.headers.get("CF-Connecting-IP") ?? "unknown").slice(0, 64);
}

type AgentRow = {
  id: string;
  token_id: string;
  hostname: string;
  version: string;
  last_seen: number;
  revoked_at: number | null;
  credential_id: string | null;
  credential_hash: string | null;
  token_label: string | null;
  token_by: string | null;
  enrolled_at: number | null;
  enrolled_from: string | null;
};

const agentTag = (id: string) => `agent:${id}`;

export class TenantAgents {
  readonly #sql: Sql;
  readonly #state: SocketState;
  readonly #events: AgentEvents;

  constructor(sql: Sql, state: SocketState, events: AgentEvents) {
    this.#sql = sql;
    this.#state = state;
    this.#events = events;
    sql.exec(tenantAgentsSchema);
    // Tenants made before agents were revoked one by one, and before they had credentials:
    // such an agent has none, cannot connect, and its id may be enrolled afresh.
    addMissingColumns(sql, "agents", {
      revoked_at: "INTEGER",
      revoked_by: "TEXT",
      credential_id: "TEXT",
      credential_hash: "TEXT",
      token_label: "TEXT",
      token_by: "TEXT",
      enrolled_at: "INTEGER",
      enrolled_from: "TEXT",
    });
    sql.exec("CREATE UNIQUE INDEX IF NOT EXISTS agents_by_credential ON agents (credential_id)");
  }

  /** The enrolled, unrevoked agent that holds this id, if any. */
  holder(agentId: string): { hostname: string } | undefined {
    return this.#sql
      .exec<{ hostname: string }>(
        "SELECT hostname FROM agents WHERE id = ? AND credential_hash IS NOT NULL AND revoked_at IS NULL",
        agentId,
      )
      .toArray()[0];
  }

  /** Records an agent that just spent its enrollment token for this credential. */
  enrolled(a: {
    agentId: string;
    hostname: string;
    version: string;
    address: string;
    tokenId: string;
    tokenLabel: string;
    tokenBy: string;
    credentialId: string;
    credentialHash: string;
    at: number;
  }): void {
    this.#sql.exec(
      `INSERT INTO agents (id, token_id, hostname, version, first_seen, last_seen, credential_id, credential_hash,
         token_label, token_by, enrolled_at, enrolled_from)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET token_id = excluded.token_id, hostname = excluded.hostname,
         version = excluded.version, first_seen = excluded.first_seen, last_seen = excluded.last_seen,
         credential_id = excluded.credential_id, credential_hash = excluded.credential_hash,
         token_label = excluded.token_label, token_by = excluded.token_by, enrolled_at = excluded.enrolled_at,
         enrolled_from = excluded.enrolled_from, revoked_at = NULL, revoked_by = NULL`,
      a.agentId,
      a.tokenId,
      a.hostname,
      a.version,
      a.at,
      a.at,
      a.credentialId,
      a.credentialHash,
      a.tokenLabel,
      a.tokenBy,
      a.at,
      a.address,
    );
  }

  /** Every agent enrolled, whether connected now, and how many requests each is serving. */
  list(inFlight: Map<string, number>): AgentInfo[] {
    const live = new Map<string, { since: number; seen: number }>();
    for (const { socket, agent } of this.open()) {
      const seen = this.#state.getWebSocketAutoResponseTimestamp(socket)?.getTime() ?? agent.connectedAt;
      live.set(agent.agentId, { since: agent.connectedAt, seen });
    }
    return this.#sql
      .exec<AgentRow>("SELECT * FROM agents ORDER BY hostname, id")
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
          tokenLabel: r.token_label,
          enrolledBy: r.token_by,
          enrolledAt: r.enrolled_at,
          enrolledFrom: r.enrolled_from,
          revokedAt: r.revoked_at,
        };
      });
  }

  /**
   * The agent's WebSocket upgrade, decided: a refusal, or the socket to accept. Its credential
   * is checked before anything is accepted.
   */
  async connect(request: Request): Promise<Response | AcceptedAgent> {
    const bearer = request.headers.get("Authorization")?.replace(/^Bearer\s+/, "") ?? "";
    if (parseAgentToken(bearer))
      return refusal(
        401,
        "enrollment_token_not_credential",
        "This is an enrollment token: an agent spends it once, at its first start, for a credential of its own, and connects with that. " +
          "Start the agent with --token (it enrolls itself), or update it to this worker's version.",
      );
    const parsed = parseAgentCredential(bearer);
    const presented = parsed ? await hashSecret(parsed.secret) : "";
    const row = parsed ? this.#sql.exec<AgentRow>("SELECT * FROM agents WHERE credential_id = ?", parsed.id).toArray()[0] : undefined;
    if (!parsed || !row || row.credential_hash === null || !sameHash(row.credential_hash, presented)) {
      logEvent("agent_refused", { credentialId: parsed?.id ?? null, reason: "unknown credential" });
      return refusal(
        401,
        "invalid_agent_credential",
        "The agent credential is unknown. Enroll the agent again: make a token in Agents > Add agent and start the agent with it.",
      );
    }
    const address = requestAddress(request);
    if (row.revoked_at !== null) {
      this.#events.record("connection_refused", { agentId: row.id, hostname: row.hostname, address, detail: "agent revoked" });
      return refusal(
        401,
        "agent_revoked",
        `The agent ${row.id} was revoked (Agents). To use this host again, delete the agent's saved credential and enroll it with a new token.`,
      );
    }
    const claimed = request.headers.get(agentHeaders.id);
    if (claimed !== null && claimed !== row.id)
      return refusal(401, "invalid_agent_credential", `This credential is the agent ${row.id}'s, not ${claimed}'s.`);
    if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket")
      return refusal(426, "upgrade_required", "The credential is valid; connect with a WebSocket.");
    const attachment: AgentAttachment = {
      agentId: row.id,
      credentialId: parsed.id,
      hostname: (request.headers.get(agentHeaders.hostname) ?? row.hostname).slice(0, 253),
      version: (request.headers.get(agentHeaders.version) ?? "unknown").slice(0, 64),
      connectedAt: Date.now(),
    };
    this.#sql.exec(
      "UPDATE agents SET hostname = ?, version = ?, last_seen = ? WHERE id = ?",
      attachment.hostname,
      attachment.version,
      attachment.connectedAt,
      row.id,
    );
    logEvent("agent_connected", { agentId: row.id, hostname: attachment.hostname, version: attachment.version, address });
    return { attachment, tag: agentTag(row.id) };
  }

  /** Revokes one agent: its socket is closed, and its credential stops working. */
  revoke(agentId: string, by: string): AgentInfo {
    const row = this.#sql.exec<AgentRow>("SELECT * FROM agents WHERE id = ?", agentId).toArray()[0];
    if (!row) throw new ApiError(404, "agent_not_found", `No agent ${agentId}.`);
    if (row.revoked_at === null) {
      this.#sql.exec("UPDATE agents SET revoked_at = ?, revoked_by = ? WHERE id = ?", Date.now(), by, agentId);
      this.#events.record("revoked", { agentId, hostname: row.hostname, tokenId: row.token_id, tokenLabel: row.token_label, by });
    }
    for (const socket of this.#state.getWebSockets(agentTag(agentId))) {
      const revoked: WorkerMessage = { type: "revoked", reason: `an administrator revoked this agent (Agents), as ${by}` };
      socket.send(JSON.stringify(revoked));
      socket.close(agentRevokedCloseCode, "agent revoked");
    }
    return this.list(new Map()).find((a) => a.id === agentId) as AgentInfo;
  }

  /** Notes a closed or failed socket; answers the agent it belonged to, if any. */
  gone(socket: WebSocket, how: string): string | undefined {
    const agent = (socket as AgentSocket).deserializeAttachment() as AgentAttachment | null;
    if (!agent) return undefined;
    this.#sql.exec("UPDATE agents SET last_seen = ? WHERE id = ?", Date.now(), agent.agentId);
    logEvent("agent_disconnected", { agentId: agent.agentId, how });
    return agent.agentId;
  }

  /**
   * The open sockets of agents whose credential is valid now. Requests, and with them bind
   * and users' passwords, go to these only: a socket left from before a revocation or a
   * re-enrollment is passed over even before it has closed.
   */
  open(): OpenAgent[] {
    const valid = new Set(
      this.#sql
        .exec<{ id: string; credential_id: string }>(
          "SELECT id, credential_id FROM agents WHERE revoked_at IS NULL AND credential_hash IS NOT NULL",
        )
        .toArray()
        .map((r) => `${r.id}\n${r.credential_id}`),
    );
    return this.#state
      .getWebSockets()
      .filter((socket) => socket.readyState === WebSocket.OPEN)
      .map((socket) => ({ socket, agent: socket.deserializeAttachment() as AgentAttachment }))
      .filter(({ agent }) => valid.has(`${agent.agentId}\n${agent.credentialId}`));
  }

  connected(): boolean {
    return this.open().length > 0;
  }
}
