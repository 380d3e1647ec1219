// What the tenant's routes answer about its configuration, agents and groups. Kept apart from
// the Durable Object so that the portal's typed client can import them without Workers' types.
import type { SyncConfig } from "../../../schema/generated/config.ts";

export interface StoredConfig {
  config: SyncConfig | null;
  bindPasswordSet: boolean;
  updatedAt: number | null;
  updatedBy: string | null;
}

export interface EnrollmentTokenInfo {
  id: string;
  label: string;
  createdAt: number;
  createdBy: string;
  revokedAt: number | null;
}

export interface AgentInfo {
  id: string;
  hostname: string;
  version: string;
  connected: boolean;
  connectedSince: number | null;
  lastSeen: number;
  inFlight: number;
  tokenId: string;
  /** When an administrator revoked this agent (Agents > Revoke); it cannot connect again. */
  revokedAt: number | null;
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
