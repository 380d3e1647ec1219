import {
  type AgentFailure,
  type AgentMessage,
  type AgentOperation,
  agentCloseCodes,
  maxMessageBytes,
  maxPageEntries,
  pageWindow,
  type SearchCompleteness,
  type WireEntry,
  type WorkerMessage,
} from "../../../schema/src/agent-protocol.ts";
import { ApiError } from "../api-error.ts";

/** How an agent's message was taken: accepted, or refused with the close code and reason its socket gets. */
export type Verdict = { ok: true } | { ok: false; code: number; reason: string };

const accepted: Verdict = { ok: true };
const refuse = (code: number, reason: string): Verdict => ({ ok: false, code, reason });
const endedRemembered = 1000;

function isWireEntry(value: unknown): value is WireEntry {
  if (typeof value !== "object" || value === null) return false;
  const e = value as { dn?: unknown; attributes?: unknown; binary?: unknown };
  return (
    typeof e.dn === "string" &&
    typeof e.attributes === "object" &&
    e.attributes !== null &&
    Object.values(e.attributes).every((v) => Array.isArray(v) && v.every((x) => typeof x === "string")) &&
    (e.binary === undefined || (Array.isArray(e.binary) && e.binary.every((x) => typeof x === "string")))
  );
}

function isCompleteness(value: unknown): value is SearchCompleteness {
  if (typeof value !== "object" || value === null) return false;
  const c = value as Record<string, unknown>;
  return (
    typeof c.complete === "boolean" &&
    typeof c.pages === "number" &&
    typeof c.entries === "number" &&
    (c.reason === undefined || typeof c.reason === "string") &&
    (c.position === undefined || isPosition(c.position)) &&
    (c.positionUnavailable === undefined || typeof c.positionUnavailable === "string")
  );
}

function isPosition(value: unknown): boolean {
  if (typeof value !== "object" || value === null) return false;
  const p = value as Record<string, unknown>;
  return (
    typeof p.server === "string" &&
    typeof p.dsServiceName === "string" &&
    typeof p.invocationId === "string" &&
    typeof p.highestCommittedUsn === "string" &&
    /^[0-9]{1,20}$/.test(p.highestCommittedUsn)
  );
}

function isFailure(value: unknown): value is AgentFailure {
  if (typeof value !== "object" || value === null) return false;
  const f = value as Record<string, unknown>;
  return typeof f.code === "string" && typeof f.message === "string";
}

/** What the Durable Object keeps on each agent socket, surviving hibernation. */
export interface AgentAttachment {
  agentId: string;
  /** The credential it connected with: once the agent is revoked or enrolled anew, its socket is not used. */
  credentialId: string;
  hostname: string;
  version: string;
  connectedAt: number;
}

/** The sockets the link may use; the Durable Object's hibernation API in production. */
export interface AgentSockets {
  open(): Array<{ socket: WebSocket; agent: AgentAttachment }>;
}

/** How a paged operation hands its pages over; see AgentLink.stream. */
export interface PageSink {
  /** Takes one page; the agent sends the next pages only as these calls finish. */
  page(entries: WireEntry[]): void | Promise<void>;
  /**
   * The agent serving the read dropped after some pages: forget them, the read starts over
   * on another agent. Without it such a read fails instead.
   */
  restart?(): void | Promise<void>;
}

interface Pending {
  operation: AgentOperation;
  timeoutMs: number;
  agentId: string;
  tried: Set<string>;
  timer: ReturnType<typeof setTimeout>;
  sink: PageSink | undefined;
  pages: number;
  /** Pages received from the agent serving it and not yet acknowledged. */
  unacked: number;
  /** Pages are taken in one after another, and the result only after the last of them. */
  chain: Promise<void>;
  resolve(value: { result: unknown; complete?: SearchCompleteness }): void;
  reject(error: ApiError): void;
}

/**
 * Requests to connector agents, correlated by id: each is sent to the least busy agent,
 * times out, moves to another agent when its agent drops mid-request, and fails with a
 * clear error when no agent is left. Every operation is a read, so a retry is safe.
 */
export class AgentLink {
  readonly #sockets: AgentSockets;
  readonly #pending = new Map<string, Pending>();
  /** Requests that ended, by id, with the agent that had them last: the most recent endedRemembered. */
  readonly #ended = new Map<string, string>();

  constructor(sockets: AgentSockets) {
    this.#sockets = sockets;
  }

  /** In-flight requests per agent id, for the agents list. */
  inFlight(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const p of this.#pending.values()) counts.set(p.agentId, (counts.get(p.agentId) ?? 0) + 1);
    return counts;
  }

  /** One operation with a single answer. */
  async call<T>(operation: AgentOperation, timeoutMs: number): Promise<T> {
    return (await this.#request(operation, timeoutMs, undefined)).result as T;
  }

  /**
   * A paged read: pages go to `sink` in order as they arrive, and the answer says whether the
   * read was complete. `timeoutMs` is the longest wait for the next page, not for the whole.
   */
  async stream(operation: AgentOperation, timeoutMs: number, sink: PageSink): Promise<SearchCompleteness> {
    const answer = await this.#request(operation, timeoutMs, sink);
    return answer.complete ?? (answer.result as SearchCompleteness);
  }

  #request(
    operation: AgentOperation,
    timeoutMs: number,
    sink: PageSink | undefined,
  ): Promise<{ result: unknown; complete?: SearchCompleteness }> {
    const id = crypto.randomUUID();
    return new Promise((resolve, reject) => {
      const pending: Pending = {
        operation,
        timeoutMs,
        agentId: "",
        tried: new Set(),
        timer: undefined as never,
        sink,
        pages: 0,
        unacked: 0,
        chain: Promise.resolve(),
        resolve,
        reject,
      };
      this.#arm(id, pending);
      this.#pending.set(id, pending);
      this.#dispatch(id, pending, "offline");
    });
  }

  #arm(id: string, pending: Pending): void {
    clearTimeout(pending.timer);
    pending.timer = setTimeout(() => {
      this.#settle(id, pending);
      this.#sendTo(pending.agentId, { type: "cancel", id });
      const seconds = Math.round(pending.timeoutMs / 1000);
      pending.reject(
        new ApiError(
          504,
          "agent_timeout",
          pending.pages > 0
            ? `The connector agent sent no further page within ${seconds} s.`
            : `The connector agent did not answer within ${seconds} s.`,
        ),
      );
    }, pending.timeoutMs);
  }

  /**
   * A message from agent `agentId`. Anything outside the protocol is refused with the close
   * code and reason the socket is to be closed with: a message over maxMessageBytes, one that
   * is not a protocol message, an answer to a request this agent was not given, a page over
   * maxPageEntries, or a page beyond the acknowledgement window. What an agent sends is
   * therefore bounded: pageWindow pages of maxMessageBytes per request at most.
   */
  receive(text: string, agentId: string): Verdict {
    // UTF-16 code units never outnumber UTF-8 bytes, so an agent within the byte limit is never refused here.
    if (text.length > maxMessageBytes)
      return refuse(agentCloseCodes.messageTooBig, `a message of ${text.length} characters is over the ${maxMessageBytes}-byte limit`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return refuse(agentCloseCodes.malformed, "a message that is not JSON");
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
      return refuse(agentCloseCodes.malformed, "a message that is not an object");
    const message = parsed as AgentMessage;
    if (typeof message.id !== "string" || !["page", "result", "error"].includes(message.type as string))
      return refuse(agentCloseCodes.malformed, `a message of unknown type ${JSON.stringify(String(message.type)).slice(0, 40)}`);
    const pending = this.#pending.get(message.id);
    if (pending === undefined || pending.agentId !== agentId) {
      // A late answer to a request this agent had and that ended (timed out, cancelled,
      // failed over) is the race cancellation always has; anything else is not its to answer.
      if (this.#ended.get(message.id) === agentId) return accepted;
      return refuse(agentCloseCodes.foreignRequest, "an answer to a request this agent was not given");
    }
    if (message.type === "page") {
      const entries: unknown = message.entries;
      if (!Array.isArray(entries) || !entries.every(isWireEntry))
        return refuse(agentCloseCodes.malformed, "a page whose entries are not directory entries");
      if (entries.length > maxPageEntries)
        return refuse(agentCloseCodes.pageTooLarge, `a page of ${entries.length} entries, over the limit of ${maxPageEntries}`);
      if (pending.unacked >= pageWindow)
        return refuse(agentCloseCodes.windowExceeded, `more than ${pageWindow} pages without waiting for their acknowledgement`);
      pending.unacked++;
      pending.pages++;
      this.#arm(message.id, pending);
      const { id } = message;
      pending.chain = pending.chain.then(async () => {
        if (!this.#pending.has(id)) return;
        try {
          await pending.sink?.page(entries as WireEntry[]);
        } catch (error) {
          this.#settle(id, pending);
          this.#sendTo(agentId, { type: "cancel", id });
          pending.reject(
            error instanceof ApiError
              ? error
              : new ApiError(500, "page_failed", `A page of the read could not be taken in: ${String(error)}`),
          );
          return;
        }
        pending.unacked--;
        this.#sendTo(agentId, { type: "ack", id });
      });
    } else if (message.type === "result") {
      const complete: unknown = message.complete;
      if (complete !== undefined && !isCompleteness(complete))
        return refuse(agentCloseCodes.malformed, "a result whose completeness is malformed");
      const answer = { result: message.result, ...(complete ? { complete: complete as SearchCompleteness } : {}) };
      void pending.chain.then(() => {
        if (!this.#pending.has(message.id)) return;
        this.#settle(message.id, pending);
        pending.resolve(answer);
      });
    } else {
      const failure: unknown = message.error;
      if (!isFailure(failure)) return refuse(agentCloseCodes.malformed, "an error without a code and a message");
      void pending.chain.then(() => {
        if (!this.#pending.has(message.id)) return;
        this.#settle(message.id, pending);
        pending.reject(agentFailure(failure));
      });
    }
    return accepted;
  }

  /** An agent went away: its requests move to another agent, or fail. */
  agentGone(agentId: string): void {
    for (const [id, pending] of this.#pending) {
      if (pending.agentId !== agentId) continue;
      if (pending.pages === 0) {
        this.#dispatch(id, pending, "disconnected");
        continue;
      }
      const { sink } = pending;
      pending.chain = pending.chain.then(async () => {
        if (!this.#pending.has(id)) return;
        if (!sink?.restart) {
          this.#settle(id, pending);
          pending.reject(
            new ApiError(503, "agent_disconnected", "The connector agent disconnected in the middle of a paged read; run it again."),
          );
          return;
        }
        await sink.restart();
        pending.pages = 0;
        pending.unacked = 0;
        this.#arm(id, pending);
        this.#dispatch(id, pending, "disconnected");
      });
    }
  }

  #dispatch(id: string, pending: Pending, why: "offline" | "disconnected"): void {
    const counts = this.inFlight();
    const candidates = this.#sockets
      .open()
      .filter(({ agent }) => !pending.tried.has(agent.agentId))
      .sort((a, b) => (counts.get(a.agent.agentId) ?? 0) - (counts.get(b.agent.agentId) ?? 0));
    const chosen = candidates[0];
    if (!chosen) {
      this.#settle(id, pending);
      pending.reject(
        why === "offline"
          ? agentOffline()
          : new ApiError(
              503,
              "agent_disconnected",
              "The connector agent disconnected during the request, and no other agent is connected.",
            ),
      );
      return;
    }
    pending.agentId = chosen.agent.agentId;
    this.#arm(id, pending);
    pending.tried.add(chosen.agent.agentId);
    const message: WorkerMessage = { type: "request", id, operation: pending.operation, timeoutMs: pending.timeoutMs };
    try {
      chosen.socket.send(JSON.stringify(message));
    } catch {
      this.#dispatch(id, pending, "disconnected");
    }
  }

  #sendTo(agentId: string, message: WorkerMessage): void {
    const target = this.#sockets.open().find(({ agent }) => agent.agentId === agentId);
    try {
      target?.socket.send(JSON.stringify(message));
    } catch {
      // The agent is gone already; nothing to cancel.
    }
  }

  #settle(id: string, pending: Pending): void {
    clearTimeout(pending.timer);
    this.#pending.delete(id);
    // Remembered a while, so that a late answer from its agent is not taken for a foreign one.
    this.#ended.set(id, pending.agentId);
    if (this.#ended.size > endedRemembered) this.#ended.delete(this.#ended.keys().next().value as string);
  }
}

/**
 * An agent's failure as an API error. Directory failures are the customer's to fix (502 with
 * the agent's fix); a cancelled or unknown operation is ours.
 */
function agentFailure(failure: AgentFailure): ApiError {
  const details = {
    ...(failure.fix === undefined ? {} : { fix: failure.fix }),
    ...(failure.server === undefined ? {} : { server: failure.server }),
  };
  return new ApiError(502, failure.code, failure.message, Object.keys(details).length > 0 ? details : undefined);
}

/** No agent of the tenant is connected: the same error wherever a request finds none. */
export function agentOffline(): ApiError {
  return new ApiError(
    503,
    "agent_offline",
    "No connector agent is connected for this tenant. Start one (Agents > Add agent) and try again.",
  );
}
