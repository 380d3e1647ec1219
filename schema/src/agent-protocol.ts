import type { SyncConfig } from "../generated/config.ts";

/**
 * The messages between the worker and a connector agent, as JSON text frames over one
 * WebSocket the agent opens. Every operation is a read: there is no LDAP write here at all,
 * so a compromised cloud side cannot change the customer's directory through an agent.
 */
export const agentProtocolVersion = 1;

/** The connection settings an operation needs, with the bind password resolved or left to the agent. */
export interface LdapTarget {
  connection: NonNullable<SyncConfig["connection"]>;
  /** The bind password when it is stored in the portal; absent when the agent holds it (source "agent"). */
  bindPassword?: string;
}

/** One directory search, as the worker asks for it and the agent pages through it. */
export interface SearchSpec {
  base: string;
  scope: "base" | "one" | "sub";
  filter: string;
  /** Attributes to return; [] for all user attributes, ["1.1"] for none. */
  attributes: string[];
  /** Attributes to return as bytes (base64 on the wire), besides those always read as bytes. */
  binaryAttributes?: string[];
  /** Stop after this many entries; reaching it makes the read incomplete. */
  sizeLimit?: number;
  /** Entries per page; default: the connection's pageSize. */
  pageSize?: number;
  /**
   * Also answer where the DC that serves this search stands (DirectoryPosition), read on the
   * same connection before the first page: what an incremental read is measured from.
   */
  position?: boolean;
  /**
   * Also return deleted objects (tombstones) under the base: the Show Deleted control
   * (1.2.840.113556.1.4.417, MS-ADTS 3.1.1.3.4.1.14). A tombstone keeps its objectGUID, so
   * it says which user was deleted; AD lists them only to accounts allowed to list CN=Deleted
   * Objects (by default, administrators).
   */
  showDeleted?: boolean;
}

/**
 * Where a domain controller's copy of the directory stands. Update sequence numbers are a
 * DC's own (MS-ADTS 3.1.1.1.9), so a position means something only on the DC it was read
 * from (dsServiceName) and while that DC's database keeps its identity (invocationId, new
 * after a restore from backup).
 */
export interface DirectoryPosition {
  /** The DC that answered, host:port. */
  server: string;
  /** The DN of the DC's NTDS Settings object (rootDSE dsServiceName). */
  dsServiceName: string;
  /** The DC database's identity, its 16 bytes in hex. */
  invocationId: string;
  /** rootDSE highestCommittedUSN before the search, in decimal (a 64-bit number, kept as text). */
  highestCommittedUsn: string;
}

export type AgentOperation =
  | { op: "testConnection"; target: LdapTarget; scope?: SyncConfig["scope"] }
  | ({ op: "search"; target: LdapTarget } & SearchSpec)
  | { op: "readEntries"; target: LdapTarget; dns: string[]; attributes: string[]; binaryAttributes?: string[] }
  | { op: "listOus"; target: LdapTarget }
  | { op: "listUserAttributes"; target: LdapTarget }
  /**
   * `objectGuid` (base64 of its 16 bytes) is the synced user's: the agent binds only that
   * account, whatever else AD resolves the name to.
   */
  | { op: "authenticate"; target: LdapTarget; username: string; password: string; objectGuid?: string };

export type AgentOperationName = AgentOperation["op"];

/** One directory entry as it crosses the tunnel: binary attributes as base64. */
export interface WireEntry {
  dn: string;
  attributes: Record<string, string[]>;
  /** Names of the attributes in `attributes` whose values are base64 of raw bytes. */
  binary?: string[];
}

export type StepStatus = "ok" | "failed" | "skipped" | "warning";

/** One step of Test Connection, in the order an administrator would check things by hand. */
export interface ConnectionStep {
  /** "agent", "domainLogin" and the pbx… steps are the worker's own, before and after the agent's. */
  id: "agent" | "policy" | "reachable" | "tls" | "bind" | "baseDn" | "scope" | "domainLogin" | "pbxReachable" | "pbxAuth" | "pbxAccess";
  title: string;
  status: StepStatus;
  durationMs: number;
  /** Plain-language account of what happened. */
  detail: string;
  /** On failure: the likely fix. */
  fix?: string;
  /** Machine-readable cause, e.g. "ad_52e", "tls_untrusted", "strong_auth_required". */
  code?: string;
}

export interface ScopeCounts {
  usersInScope: number;
  disabledUsers: number;
  ous: number;
  groups: number;
}

export interface TestConnectionResult {
  ok: boolean;
  /** The domain controller that answered, host:port. */
  server?: string;
  steps: ConnectionStep[];
  counts?: ScopeCounts;
}

export interface OuNode {
  dn: string;
  name: string;
  children: OuNode[];
}

export interface UserAttribute {
  name: string;
  syntax: string;
  multiValued: boolean;
}

export type AuthenticateResult =
  | {
      ok: true;
      dn: string;
      /** The user's objectGUID, base64 of its 16 bytes as in WireEntry: who the DN belongs to, across renames. */
      objectGuid?: string;
      upn?: string;
      displayName?: string;
      /** The lockout policy that applied, as for a refusal: the worker keeps its pause below the domain's. */
      lockout?: { threshold: number; observationWindowMs: number; badPwdCount: number; source: "domain" | "fine-grained" };
    }
  | {
      ok: false;
      reason: AuthFailureReason;
      adCode?: string;
      /** Why the agent did not bind, or what AD said, for the administrator's log. */
      detail?: string;
      /** The lockout policy that applies to the user and their count at the DC, when read. */
      lockout?: { threshold: number; observationWindowMs: number; badPwdCount: number; source: "domain" | "fine-grained" };
    };

export type AuthFailureReason =
  | "invalid_credentials"
  | "no_such_user"
  | "account_disabled"
  | "account_locked"
  | "account_expired"
  | "password_expired"
  | "password_must_change"
  | "not_permitted"
  /** One more wrong password could lock the Windows account: refused without a bind. */
  | "lockout_risk"
  /** A fine-grained password policy applies and the service account cannot read it: refused without a bind. */
  | "lockout_policy_unreadable"
  /** The name belongs to another account than the synced one: refused without a bind. */
  | "account_changed"
  | "directory_unavailable";

/**
 * Where an agent spends its enrollment token, once, at its first start: a POST with
 * `Authorization: Bearer <enrollment token>` and the headers below, answered with an
 * AgentEnrollment. The token is single-use and expires; the credential it buys is the only
 * thing the agent socket accepts.
 */
export const agentEnrollPath = "/api/v1/agent/enroll";

/** Where an agent dials in, with `Authorization: Bearer <its credential>`. */
export const agentConnectPath = "/api/v1/agent/connect";

/** What enrollment answers (HTTP 201). */
export interface AgentEnrollment {
  /** The agent's id, as it asked for it. */
  agentId: string;
  tenant: string;
  /** `adsc_…`: kept by the agent in a file only it can read; shown nowhere else. */
  credential: string;
}

/**
 * Headers of the agent's enrollment and WebSocket upgrade requests. The agent says who it is
 * there, so the worker knows it before accepting the socket.
 */
export const agentHeaders = {
  id: "X-Adsync-Agent-Id",
  hostname: "X-Adsync-Agent-Hostname",
  version: "X-Adsync-Agent-Version",
  protocol: "X-Adsync-Agent-Protocol",
} as const;

/** Sent as a text frame every few seconds; the worker answers "pong" without waking up. */
export const heartbeat = { ping: "ping", pong: "pong" } as const;

/**
 * Worker to agent. `timeoutMs` bounds the time without progress: the whole of a one-shot
 * operation, the gap between two pages of a search. `ack` confirms a page was taken in.
 */
export type WorkerMessage =
  | { type: "request"; id: string; operation: AgentOperation; timeoutMs: number }
  | { type: "ack"; id: string }
  | { type: "cancel"; id: string }
  /**
   * Sent just before the socket is closed with agentRevokedCloseCode: a WebSocket client
   * sees the close only once the connection has wound down, which can take seconds.
   */
  | { type: "revoked"; reason: string };

/**
 * Pages a search may have sent and not yet had acknowledged. The agent waits for an ack
 * before going past it, so a slow consumer slows the read instead of piling pages up in
 * memory on either side.
 */
export const pageWindow = 2;

/**
 * The most one agent message may hold, in bytes of its JSON text. The worker closes the
 * socket of an agent that sends more (RFC 6455 section 7.4.1: 1009, message too big), so
 * what one agent sends stays bounded whatever it is: at most pageWindow pages of this size
 * per request are held in a Durable Object, whose isolate has 128 MB. The agent splits its
 * pages to fit.
 */
export const maxMessageBytes = 4 * 1024 * 1024;

/**
 * What the agent aims a page's message at, within maxMessageBytes: a message becomes one string
 * in the Durable Object's isolate, and V8 puts a string over 128 KB (two bytes a character at
 * worst) in its large-object space, which only a full collection frees. A run of thousands of
 * such pages grew the heap V8 keeps with the directory's size; messages under this one are
 * garbage a young-generation collection takes. An entry larger than this goes alone.
 */
export const frameTargetBytes = 60_000;

/** The most entries one page may carry. */
export const maxPageEntries = 2000;

/** Close codes the worker gives an agent that breaks the protocol, with the reason beside them. */
export const agentCloseCodes = {
  /** Not JSON, not one of the protocol's messages, or a field of the wrong type. */
  malformed: 4002,
  /** An answer to a request this agent was never given. */
  foreignRequest: 4004,
  /** More pages in flight than the acknowledgement window allows. */
  windowExceeded: 4005,
  /** A page with more entries than maxPageEntries. */
  pageTooLarge: 4006,
  /** RFC 6455 "message too big": over maxMessageBytes. */
  messageTooBig: 1009,
} as const;

/** The agent was revoked (Agents > Revoke): it stops instead of reconnecting. */
export const agentRevokedCloseCode = 4007;

/** A failure as the agent reports it: a stable code, what happened, and the likely fix. */
export interface AgentFailure {
  code: string;
  message: string;
  fix?: string;
  server?: string;
}

/** Agent to worker. */
export type AgentMessage =
  | { type: "page"; id: string; entries: WireEntry[] }
  | { type: "result"; id: string; result: unknown; complete?: SearchCompleteness }
  | { type: "error"; id: string; error: AgentFailure };

/** Whether a search read everything it was asked for; deletions depend on it. */
export interface SearchCompleteness {
  complete: boolean;
  pages: number;
  entries: number;
  /** Why the read is incomplete: size or time limit, an error, an unread referral into the scope. */
  reason?: string;
  /** Asked for with SearchSpec.position: where the DC stood when the search began. */
  position?: DirectoryPosition;
  /** Asked for with SearchSpec.position and not read: why (not an AD DC, the Configuration partition unreadable). */
  positionUnavailable?: string;
}
