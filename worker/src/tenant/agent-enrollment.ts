// Enrollment tokens and their one use. An administrator makes a token (Agents > Add agent);
// it is single-use and expires (24 hours unless chosen otherwise), and only its hash is kept.
// At its first start the agent spends it for a credential of its own, which it keeps in its
// state directory: a leaked install command is worth nothing once the agent has started, or
// after a day. Modelled on Cloudflare Tunnel's one-time token exchanged for a per-connector
// credential.
import { agentHeaders } from "../../../schema/src/agent-protocol.ts";
import { hashSecret, newAgentCredential, newAgentToken, parseAgentToken, sameHash } from "../agent-token.ts";
import { ApiError } from "../api-error.ts";
import { addMissingColumns, type Sql } from "../sql.ts";
import type { AgentEvents } from "./agent-events.ts";
import { agentIdPattern, refusal, requestAddress, type TenantAgents } from "./tenant-agents.ts";
import type { EnrollmentTokenInfo } from "./tenant-types.ts";

export const enrollmentSchema = `
  CREATE TABLE IF NOT EXISTS enrollment_tokens (
    id TEXT PRIMARY KEY, hash TEXT NOT NULL, label TEXT NOT NULL, created_at INTEGER NOT NULL,
    created_by TEXT NOT NULL, revoked_at INTEGER);
`;

/** How long a token made without saying stays good: a working day to install the agent. */
export const defaultTokenHours = 24;
/** The longest a token may be made for. */
export const maxTokenHours = 30 * 24;

type TokenRow = {
  id: string;
  hash: string;
  label: string;
  created_at: number;
  created_by: string;
  expires_at: number;
  used_at: number | null;
  used_by: string | null;
  revoked_at: number | null;
};

const tokenColumns = "id, hash, label, created_at, created_by, expires_at, used_at, used_by, revoked_at";

export class AgentEnrollment {
  readonly #sql: Sql;
  readonly #agents: TenantAgents;
  readonly #events: AgentEvents;
  readonly #now: () => number;

  constructor(sql: Sql, agents: TenantAgents, events: AgentEvents, now: () => number = Date.now) {
    this.#sql = sql;
    this.#agents = agents;
    this.#events = events;
    this.#now = now;
    sql.exec(enrollmentSchema);
    addMissingColumns(sql, "enrollment_tokens", { expires_at: "INTEGER", used_at: "INTEGER", used_by: "TEXT" });
    // Tokens made before tokens expired get the default lifetime from when they were made.
    sql.exec("UPDATE enrollment_tokens SET expires_at = created_at + ? WHERE expires_at IS NULL", defaultTokenHours * 3_600_000);
  }

  async createToken(tenant: string, label: string, by: string, hours: number): Promise<EnrollmentTokenInfo & { token: string }> {
    const { token, id, secret } = newAgentToken(tenant);
    const hash = await hashSecret(secret);
    const createdAt = this.#now();
    const expiresAt = createdAt + hours * 3_600_000;
    this.#sql.exec(
      "INSERT INTO enrollment_tokens (id, hash, label, created_at, created_by, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
      id,
      hash,
      label,
      createdAt,
      by,
      expiresAt,
    );
    this.#events.record("token_created", { tokenId: id, tokenLabel: label, tokenBy: by, by, detail: `valid for ${hours} h` });
    return { ...this.#info(this.#row(id) as TokenRow), token };
  }

  listTokens(): EnrollmentTokenInfo[] {
    return this.#sql
      .exec<TokenRow>(`SELECT ${tokenColumns} FROM enrollment_tokens ORDER BY created_at`)
      .toArray()
      .map((r) => this.#info(r));
  }

  /**
   * Revokes a token that has not enrolled an agent yet. A spent token enrolls nothing more;
   * the agent it enrolled is revoked on its own (Agents > Revoke).
   */
  revokeToken(id: string, by: string): EnrollmentTokenInfo {
    const row = this.#row(id);
    if (!row) throw new ApiError(404, "token_not_found", `No enrollment token ${id}.`);
    if (row.used_at !== null)
      throw new ApiError(
        409,
        "token_used",
        `The enrollment token ${row.label} already enrolled the agent ${row.used_by}; revoke that agent instead (Agents > Revoke).`,
      );
    if (row.revoked_at === null) {
      this.#sql.exec("UPDATE enrollment_tokens SET revoked_at = ? WHERE id = ?", this.#now(), id);
      this.#events.record("token_revoked", { tokenId: id, tokenLabel: row.label, tokenBy: row.created_by, by });
    }
    return this.#info(this.#row(id) as TokenRow);
  }

  /**
   * An agent's first start: its enrollment token for a credential of its own. Refused, with
   * what to do, when the token is unknown, spent, expired or revoked, or the agent id is
   * another enrolled agent's.
   */
  async enroll(request: Request): Promise<Response> {
    // The token names its tenant, and the route sent it to that tenant's object.
    const parsed = parseAgentToken(request.headers.get("Authorization")?.replace(/^Bearer\s+/, "") ?? "");
    const tenant = parsed?.tenant ?? "";
    // Every await happens here, before any check, so that the checks and writes below run as
    // one step of the object: two agents cannot spend one token, or enroll one id, at once.
    const presented = parsed ? await hashSecret(parsed.secret) : "";
    const minted = newAgentCredential(tenant);
    const mintedHash = await hashSecret(minted.secret);

    const row = parsed ? this.#row(parsed.id) : undefined;
    if (!parsed || !row || !sameHash(row.hash, presented))
      return refusal(401, "invalid_enrollment_token", "The enrollment token is unknown: copy it again from Agents > Add agent.");
    const agentId = request.headers.get(agentHeaders.id) ?? "";
    const hostname = (request.headers.get(agentHeaders.hostname) ?? "unknown").slice(0, 253);
    const version = (request.headers.get(agentHeaders.version) ?? "unknown").slice(0, 64);
    const address = requestAddress(request);
    const who = { agentId, hostname, address, tokenId: row.id, tokenLabel: row.label, tokenBy: row.created_by };
    const refuse = (status: number, code: string, message: string) => {
      this.#events.record("enrollment_refused", { ...who, detail: code });
      return refusal(status, code, message);
    };
    const now = this.#now();
    if (row.revoked_at !== null)
      return refuse(401, "enrollment_token_revoked", "This enrollment token was revoked; make a new one in Agents > Add agent.");
    if (row.used_at !== null)
      return refuse(
        401,
        "enrollment_token_used",
        `This enrollment token was already used, by the agent ${row.used_by} on ${new Date(row.used_at).toISOString()}. ` +
          "An enrolled agent starts from the credential in its state directory and needs no token; " +
          "to enroll another agent, make a new token in Agents > Add agent.",
      );
    if (now >= row.expires_at)
      return refuse(
        401,
        "enrollment_token_expired",
        `This enrollment token expired on ${new Date(row.expires_at).toISOString()}; make a new one in Agents > Add agent.`,
      );
    if (!agentIdPattern.test(agentId))
      return refusal(400, "invalid_agent", `The ${agentHeaders.id} header is missing or malformed (letters, digits, . _ -; up to 64).`);
    const holder = this.#agents.holder(agentId);
    if (holder !== undefined)
      return refuse(
        409,
        "agent_id_taken",
        `The agent id ${agentId} is already enrolled (host ${holder.hostname}): start this agent with another --id, ` +
          "or revoke that agent first (Agents > Revoke).",
      );
    this.#sql.exec("UPDATE enrollment_tokens SET used_at = ?, used_by = ? WHERE id = ?", now, agentId, row.id);
    this.#agents.enrolled({
      agentId,
      hostname,
      version,
      address,
      tokenId: row.id,
      tokenLabel: row.label,
      tokenBy: row.created_by,
      credentialId: minted.id,
      credentialHash: mintedHash,
      at: now,
    });
    this.#events.record("enrolled", { ...who, detail: `adsync-agent ${version}` });
    return Response.json({ agentId, tenant, credential: minted.credential }, { status: 201 });
  }

  #row(id: string): TokenRow | undefined {
    return this.#sql.exec<TokenRow>(`SELECT ${tokenColumns} FROM enrollment_tokens WHERE id = ?`, id).toArray()[0];
  }

  #info(r: TokenRow): EnrollmentTokenInfo {
    const status = r.revoked_at !== null ? "revoked" : r.used_at !== null ? "used" : this.#now() >= r.expires_at ? "expired" : "pending";
    return {
      id: r.id,
      label: r.label,
      createdAt: r.created_at,
      createdBy: r.created_by,
      expiresAt: r.expires_at,
      usedAt: r.used_at,
      usedBy: r.used_by,
      revokedAt: r.revoked_at,
      status,
    };
  }
}
