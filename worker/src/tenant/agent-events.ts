// What happened to the tenant's agents, as the administrator reads it in Agents: tokens made
// and revoked, agents enrolled (from which host and address, with whose token), refused and
// revoked. Capped, so that refused attempts cannot fill the tenant's storage; only requests
// that carry one of the tenant's own tokens or credentials write here at all.
import type { Sql } from "../sql.ts";
import { logEvent } from "./event-log.ts";
import type { AgentEvent, AgentEventType } from "./tenant-types.ts";

export const agentEventsSchema = `
  CREATE TABLE IF NOT EXISTS agent_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, type TEXT NOT NULL, agent_id TEXT,
    hostname TEXT, address TEXT, token_id TEXT, token_label TEXT, token_by TEXT, by TEXT, detail TEXT);
`;

/** The most events kept; the oldest go first. */
export const agentEventsKept = 1000;

type Row = {
  seq: number;
  at: number;
  type: string;
  agent_id: string | null;
  hostname: string | null;
  address: string | null;
  token_id: string | null;
  token_label: string | null;
  token_by: string | null;
  by: string | null;
  detail: string | null;
};

export class AgentEvents {
  readonly #sql: Sql;
  readonly #now: () => number;

  constructor(sql: Sql, now: () => number = Date.now) {
    this.#sql = sql;
    this.#now = now;
    sql.exec(agentEventsSchema);
  }

  record(type: AgentEventType, fields: Omit<AgentEvent, "seq" | "at" | "type">): void {
    const at = this.#now();
    this.#sql.exec(
      `INSERT INTO agent_events (at, type, agent_id, hostname, address, token_id, token_label, token_by, by, detail)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      at,
      type,
      fields.agentId ?? null,
      fields.hostname ?? null,
      fields.address ?? null,
      fields.tokenId ?? null,
      fields.tokenLabel ?? null,
      fields.tokenBy ?? null,
      fields.by ?? null,
      fields.detail ?? null,
    );
    this.#sql.exec("DELETE FROM agent_events WHERE seq <= (SELECT max(seq) FROM agent_events) - ?", agentEventsKept);
    logEvent(`agent_${type}`, fields);
  }

  /** The newest first. */
  list(limit: number): AgentEvent[] {
    return this.#sql
      .exec<Row>("SELECT * FROM agent_events ORDER BY seq DESC LIMIT ?", limit)
      .toArray()
      .map((r) => ({
        seq: r.seq,
        at: r.at,
        type: r.type as AgentEventType,
        agentId: r.agent_id,
        hostname: r.hostname,
        address: r.address,
        tokenId: r.token_id,
        tokenLabel: r.token_label,
        tokenBy: r.token_by,
        by: r.by,
        detail: r.detail,
      }));
  }
}
