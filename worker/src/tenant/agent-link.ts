import type { AgentMessage, AgentOperation, WorkerMessage } from "../../../schema/src/agent-protocol.ts";
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

interface Pending {
  operation: AgentOperation;
  timeoutMs: number;
  agentId: string;
  tried: Set<string>;
  timer: ReturnType<typeof setTimeout>;
  resolve(value: unknown): void;
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

  call<T>(operation: AgentOperation, timeoutMs: number): Promise<T> {
    const id = crypto.randomUUID();
    return new Promise<T>((resolve, reject) => {
      const pending: Pending = {
        operation,
        timeoutMs,
        agentId: "",
        tried: new Set(),
        timer: setTimeout(() => {
          this.#pending.delete(id);
          this.#sendTo(pending.agentId, { type: "cancel", id });
          reject(new ApiError(504, "agent_timeout", `The connector agent did not answer within ${Math.round(timeoutMs / 1000)} s.`));
        }, timeoutMs),
        resolve: resolve as (value: unknown) => void,
        reject,
      };
      this.#pending.set(id, pending);
      this.#dispatch(id, pending, "offline");
    });
  }

  /** A message from an agent; returns false when it was not one of ours. */
  receive(text: string): boolean {
    let message: AgentMessage;
    try {
      message = JSON.parse(text) as AgentMessage;
    } catch {
      return false;
    }
    const pending = this.#pending.get(message.id);
    if (!pending) return message.type === "result" || message.type === "error" || message.type === "page";
    if (message.type === "result") {
      this.#settle(message.id, pending);
      pending.resolve(message.result);
    } else if (message.type === "error") {
      this.#settle(message.id, pending);
      pending.reject(new ApiError(502, message.error.code, message.error.message));
    }
    return true;
  }

  /** An agent went away: its requests move to another agent, or fail. */
  agentGone(agentId: string): void {
    for (const [id, pending] of this.#pending) {
      if (pending.agentId !== agentId) continue;
      this.#dispatch(id, pending, "disconnected");
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
          ? new ApiError(
              503,
              "agent_offline",
              "No connector agent is connected for this tenant. Start one (Agents > Add agent) and try again.",
            )
          : new ApiError(
              503,
              "agent_disconnected",
              "The connector agent disconnected during the request, and no other agent is connected.",
            ),
      );
      return;
    }
    pending.agentId = chosen.agent.agentId;
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
