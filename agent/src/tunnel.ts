import {
  type AgentMessage,
  type AgentOperation,
  agentHeaders,
  agentProtocolVersion,
  heartbeat,
  type WorkerMessage,
} from "../../schema/src/agent-protocol.ts";

export interface TunnelOptions {
  /** The worker's base URL, e.g. https://pbx.example.com or http://127.0.0.1:8787. */
  url: string;
  token: string;
  agentId: string;
  hostname: string;
  version: string;
  /** Runs one operation; a thrown error with a `code` is reported to the worker as that code. */
  handle(operation: AgentOperation, signal: AbortSignal): Promise<unknown>;
  log(line: string): void;
  heartbeatMs?: number;
  /** First reconnect delay; it doubles up to maxBackoffMs, with jitter. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

/**
 * The agent's one outbound connection to the worker. It reconnects with exponential backoff
 * and full jitter (so a fleet of agents does not reconnect in step after a worker restart),
 * and treats a connection without a heartbeat answer as dead.
 */
export class Tunnel {
  readonly #o: Required<TunnelOptions>;
  #socket: WebSocket | undefined;
  #stopped = false;
  #attempt = 0;
  #timers = new Set<ReturnType<typeof setTimeout>>();
  #inFlight = new Map<string, AbortController>();
  #lastPong = 0;

  constructor(options: TunnelOptions) {
    this.#o = { heartbeatMs: 15_000, minBackoffMs: 500, maxBackoffMs: 30_000, ...options };
  }

  start(): void {
    this.#connect();
  }

  stop(): void {
    this.#stopped = true;
    for (const t of this.#timers) clearTimeout(t);
    for (const c of this.#inFlight.values()) c.abort();
    this.#socket?.close(1000, "agent stopping");
  }

  #connect(): void {
    if (this.#stopped) return;
    const url = new URL("/api/v1/agent/connect", this.#o.url);
    url.protocol = url.protocol === "https:" ? "wss:" : url.protocol === "http:" ? "ws:" : url.protocol;
    // Node's WebSocket (undici) takes request headers, so the token never appears in a URL or a log.
    const socket = new WebSocket(url, {
      headers: {
        Authorization: `Bearer ${this.#o.token}`,
        [agentHeaders.id]: this.#o.agentId,
        [agentHeaders.hostname]: this.#o.hostname,
        [agentHeaders.version]: this.#o.version,
        [agentHeaders.protocol]: String(agentProtocolVersion),
      },
    } as never);
    this.#socket = socket;
    let opened = false;
    let heartbeatTimer: ReturnType<typeof setInterval> | undefined;

    socket.addEventListener("open", () => {
      opened = true;
      this.#attempt = 0;
      this.#lastPong = Date.now();
      this.#o.log(`connected to ${url.origin} as ${this.#o.agentId}`);
      heartbeatTimer = setInterval(() => {
        if (Date.now() - this.#lastPong > this.#o.heartbeatMs * 3) {
          this.#o.log("no heartbeat answer: reconnecting");
          socket.close(4003, "heartbeat timeout");
          return;
        }
        socket.send(heartbeat.ping);
      }, this.#o.heartbeatMs);
    });
    socket.addEventListener("message", (event) => {
      const data = typeof event.data === "string" ? event.data : "";
      if (data === heartbeat.pong) {
        this.#lastPong = Date.now();
        return;
      }
      this.#lastPong = Date.now();
      void this.#onMessage(socket, data);
    });
    socket.addEventListener("close", (event) => {
      if (heartbeatTimer) clearInterval(heartbeatTimer);
      for (const c of this.#inFlight.values()) c.abort();
      this.#inFlight.clear();
      if (this.#stopped) return;
      if (event.code === 4001) this.#o.log("the worker revoked this agent's token: stopping");
      if (event.code === 4001 || event.code === 4000) {
        // Revoked, or replaced by another connection with the same agent id: do not fight it.
        if (event.code === 4000) this.#o.log("another connection took over this agent id: stopping");
        this.#stopped = true;
        return;
      }
      const reason = opened ? `disconnected (${event.code}${event.reason ? ` ${event.reason}` : ""})` : "could not connect";
      this.#scheduleReconnect(reason);
    });
    socket.addEventListener("error", () => {
      // The close event follows and carries the decision; an unauthorised upgrade shows up here.
    });
  }

  #scheduleReconnect(reason: string): void {
    const ceiling = Math.min(this.#o.maxBackoffMs, this.#o.minBackoffMs * 2 ** this.#attempt);
    const delay = Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
    this.#attempt++;
    this.#o.log(`${reason}; reconnecting in ${(delay / 1000).toFixed(1)} s`);
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      this.#connect();
    }, delay);
    this.#timers.add(timer);
  }

  async #onMessage(socket: WebSocket, data: string): Promise<void> {
    let message: WorkerMessage;
    try {
      message = JSON.parse(data) as WorkerMessage;
    } catch {
      this.#o.log("ignored a message that is not JSON");
      return;
    }
    if (message.type === "cancel") {
      this.#inFlight.get(message.id)?.abort();
      return;
    }
    if (message.type !== "request") return;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), message.timeoutMs);
    this.#inFlight.set(message.id, controller);
    const started = Date.now();
    let reply: AgentMessage;
    try {
      const result = await this.#o.handle(message.operation, controller.signal);
      reply = { type: "result", id: message.id, result };
      this.#o.log(`${message.operation.op} done in ${Date.now() - started} ms`);
    } catch (e) {
      const code = typeof (e as { code?: unknown }).code === "string" ? (e as { code: string }).code : "agent_error";
      const text = e instanceof Error ? e.message : String(e);
      reply = { type: "error", id: message.id, error: { code, message: text } };
      this.#o.log(`${message.operation.op} failed in ${Date.now() - started} ms: ${code}`);
    } finally {
      clearTimeout(timer);
      this.#inFlight.delete(message.id);
    }
    if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(reply));
  }
}
