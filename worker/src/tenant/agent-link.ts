import type {
  AgentFailure,
  AgentMessage,
  AgentOperation,
  SearchCompleteness,
  WireEntry,
  WorkerMessage,
} from "../../../schema/src/agent-protocol.ts";
import { ApiError } from "../api-error.ts";

/** What the Durable Object keeps on each agent socket, surviving hibernation. */
export interface AgentAttachment {
  agentId: string;
  tokenId: string;
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

  /** A message from an agent; returns false when it was not one of ours. */
  receive(text: string): boolean {
    let message: AgentMessage;
    try {
      message = JSON.parse(text) as AgentMessage;
    } catch {
      return false;
    }
    const known = message.type === "result" || message.type === "error" || message.type === "page";
    const pending = this.#pending.get(message.id);
    if (!known || !pending) return known;
    if (message.type === "page") {
      pending.pages++;
      this.#arm(message.id, pending);
      const { id, entries } = message;
      const agentId = pending.agentId;
      pending.chain = pending.chain.then(async () => {
        if (!this.#pending.has(id)) return;
        try {
          await pending.sink?.page(entries);
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
        this.#sendTo(agentId, { type: "ack", id });
      });
    } else if (message.type === "result") {
      const answer = { result: message.result, ...(message.complete ? { complete: message.complete } : {}) };
      void pending.chain.then(() => {
        if (!this.#pending.has(message.id)) return;
        this.#settle(message.id, pending);
        pending.resolve(answer);
      });
    } else {
      void pending.chain.then(() => {
        if (!this.#pending.has(message.id)) return;
        this.#settle(message.id, pending);
        pending.reject(agentFailure(message.error));
      });
    }
    return true;
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
