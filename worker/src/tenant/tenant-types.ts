// What the tenant's routes answer about its configuration, agents and groups. Kept apart from
// the Durable Object so that the portal's typed client can import them without Workers' types.
import type { SyncConfig } from "../../../schema/generated/config.ts";

export interface StoredConfig {
  config: SyncConfig | null;
  bindPasswordSet: boolean;
  /** A PBX API secret is stored (pbx.secret); the secret itself is never returned. */
  pbxSecretSet: boolean;
  updatedAt: number | null;
  updatedBy: string | null;
}

export interface EnrollmentTokenInfo {
  id: string;
  label: string;
  createdAt: number;
  createdBy: string;
  /** After this, the token enrolls nothing. */
  expiresAt: number;
  /** When an agent spent it (a token enrolls one agent), and which. */
  usedAt: number | null;
  usedBy: string | null;
  revokedAt: number | null;
  /** pending: it can still enroll an agent. */
  status: "pending" | "used" | "expired" | "revoked";
}

export interface AgentInfo {
  id: string;
  hostname: string;
  version: string;
  connected: boolean;
  connectedSince: number | null;
  lastSeen: number;
  inFlight: number;
  /** The enrollment token it enrolled with, its label, and who made it. */
  tokenId: string;
  tokenLabel: string | null;
  enrolledBy: string | null;
  /** When it spent its token for its credential, and from which address. */
  enrolledAt: number | null;
  enrolledFrom: string | null;
  /** When an administrator revoked this agent (Agents > Revoke); its credential stops working. */
  revokedAt: number | null;
}

export type AgentEventType =
  | "token_created"
  | "token_revoked"
  | "enrolled"
  | "enrollment_refused"
  | "connection_refused"
  | "revoked"
  | "protocol_violation";

/** One line of the agents' log (Agents > Activity). */
export interface AgentEvent {
  seq: number;
  at: number;
  type: AgentEventType;
  agentId?: string | null;
  hostname?: string | null;
  /** The address the request came from, as Cloudflare saw it. */
  address?: string | null;
  tokenId?: string | null;
  tokenLabel?: string | null;
  /** Who made the enrollment token. */
  tokenBy?: string | null;
  /** The administrator who did it (made or revoked a token, revoked an agent). */
  by?: string | null;
  /** Why it was refused, or what was broken. */
  detail?: string | null;
}

export interface GroupSummary {
  dn: string;
  name: string;
  description: string | null;
}

export interface GroupList {
  groups: GroupSummary[];
  /** More groups matched than were asked for, or the read stopped early. */
  truncated: boolean;
}
