import {
  type AgentMessage,
  type AgentOperation,
  agentConnectPath,
  agentHeaders,
  agentProtocolVersion,
  agentRevokedCloseCode,
  heartbeat,
  pageWindow,
  type WireEntry,
  type WorkerMessage,
} from "../../schema/src/agent-protocol.ts";
import type { OperationContext, OperationOutput } from "./operations.ts";
import { pageFrames } from "./page-frames.ts";

export interface TunnelOptions {
  /** The worker's base URL, e.g. https://pbx.example.com or http://127.0.0.1:8787. */
  url: string;
  /** The agent's own credential (adsc_…), bought with its enrollment token. */
  credential: string;
  agentId: string;
  hostname: string;
  version: string;
  /** Runs one operation; a thrown error with a `code` (and `fix`) is reported to the worker as such. */
  handle(operation: AgentOperation, context: OperationContext): Promise<OperationOutput>;
  log(line: string): void;
  /** The worker refused this agent for good (revoked, credential unknown, or replaced); the tunnel has stopped. */
  onRefused?(reason: string, code: string): void;
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
  #inFlight = new Map<string, InFlight>();
  #lastPong = 0;

  constructor(options: TunnelOptions) {
    this.#o = { heartbeatMs: 15_000, minBackoffMs: 500, maxBackoffMs: 30_000, onRefused: () => {}, ...options };
  }

  start(): void {
    this.#connect();
  }

  stop(): void {
    this.#stopped = true;
    for (const t of this.#timers) clearTimeout(t);
    for (const r of this.#inFlight.values()) r.controller.abort();
    this.#socket?.close(1000, "agent stopping");
  }

  #connect(): void {
    if (this.#stopped) return;
    const url = new URL(agentConnectPath, this.#o.url);
    url.protocol = url.protocol === "https:" ? "wss:" : url.protocol === "http:" ? "ws:" : url.protocol;
    // Node's WebSocket (undici) takes request headers, so the credential never appears in a URL or a log.
    const socket = new WebSocket(url, {
      headers: {
        Authorization: `Bearer ${this.#o.credential}`,
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
      for (const r of this.#inFlight.values()) r.controller.abort();
      this.#inFlight.clear();
      if (this.#stopped) return;
      if (event.code === agentRevokedCloseCode) return this.#refuse("an administrator revoked this agent (Agents)", "agent_revoked");
      // Replaced by another connection with this agent's credential: do not fight over it.
      if (event.code === 4000) return this.#refuse("another connection took over this agent id", "replaced");
      if (opened) return this.#scheduleReconnect(`disconnected (${event.code}${event.reason ? ` ${event.reason}` : ""})`);
      void this.#diagnose(url);
    });
    socket.addEventListener("error", () => {
      // The close event follows and carries the decision; an unauthorised upgrade shows up here.
    });
  }

  #refuse(reason: string, code: string): void {
    this.#stopped = true;
    for (const t of this.#timers) clearTimeout(t);
    this.#o.log(`${reason}: stopping`);
    this.#o.onRefused(reason, code);
  }

  /**
   * A WebSocket that never opened says nothing of why, so ask the same URL over plain HTTP:
   * a refused credential is permanent and retrying it would only fill the worker's log.
   */
  async #diagnose(url: URL): Promise<void> {
    const http = new URL(url);
    http.protocol = url.protocol === "wss:" ? "https:" : "http:";
    let reason = "could not connect";
    try {
      const response = await fetch(http, {
        headers: { Authorization: `Bearer ${this.#o.credential}`, [agentHeaders.id]: this.#o.agentId },
        signal: AbortSignal.timeout(10_000),
      });
      if (response.status === 401) {
        const said = ((await response.json().catch(() => null)) as { error?: { code?: string; message?: string } } | null)?.error;
        return this.#refuse(said?.message ?? "the worker refused this agent's credential", said?.code ?? "invalid_agent_credential");
      }
      reason = `could not connect (HTTP ${response.status})`;
    } catch (e) {
      const cause = (e as { cause?: { code?: unknown } }).cause?.code;
      reason = `could not connect${typeof cause === "string" ? ` (${cause})` : ""}`;
    }
    if (!this.#stopped) this.#scheduleReconnect(reason);
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
    if (message.type === "revoked") {
      this.#refuse("an administrator revoked this agent (Agents)", "agent_revoked");
      socket.close(1000, "revoked");
      return;
    }
    if (message.type === "cancel") {
      this.#inFlight.get(message.id)?.controller.abort();
      return;
    }
    if (message.type === "ack") {
      const request = this.#inFlight.get(message.id);
      if (!request) return;
      request.unacked = Math.max(0, request.unacked - 1);
      request.progress();
      request.wake?.();
      return;
    }
    if (message.type !== "request") return;
    const { id, operation, timeoutMs } = message;
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const request: InFlight = {
      controller,
      unacked: 0,
      wake: undefined,
      // A search is timed between pages, not as a whole: a large directory is not a hang.
      progress: () => {
        clearTimeout(timer);
        timer = setTimeout(() => controller.abort(), timeoutMs);
      },
    };
    request.progress();
    this.#inFlight.set(id, request);
    const sendFrame = async (entries: WireEntry[]) => {
      while (request.unacked >= pageWindow && !controller.signal.aborted) {
        await new Promise<void>((resolve) => {
          request.wake = resolve;
          controller.signal.addEventListener("abort", () => resolve(), { once: true });
        });
        request.wake = undefined;
      }
      if (controller.signal.aborted || socket.readyState !== WebSocket.OPEN) return;
      request.unacked++;
      socket.send(JSON.stringify({ type: "page", id, entries } satisfies AgentMessage));
    };
    // A page goes as one or more messages within the worker's limits, each one acknowledged.
    const sendPage = async (entries: WireEntry[]) => {
      for (const frame of pageFrames(entries)) await sendFrame(frame);
    };
    const started = Date.now();
    let reply: AgentMessage;
    try {
      const output = await this.#o.handle(operation, { signal: controller.signal, sendPage });
      reply = { type: "result", id, result: output.result, ...(output.complete ? { complete: output.complete } : {}) };
      this.#o.log(`${operation.op} done in ${Date.now() - started} ms${outcomeNote(output)}`);
    } catch (e) {
      const failure = e as { code?: unknown; fix?: unknown; server?: unknown };
      const code = typeof failure.code === "string" ? failure.code : "agent_error";
      const text = e instanceof Error ? e.message : String(e);
      reply = {
        type: "error",
        id,
        error: {
          code,
          message: text,
          ...(typeof failure.fix === "string" ? { fix: failure.fix } : {}),
          ...(typeof failure.server === "string" ? { server: failure.server } : {}),
        },
      };
      this.#o.log(`${operation.op} failed in ${Date.now() - started} ms: ${code}`);
    } finally {
      clearTimeout(timer);
      this.#inFlight.delete(id);
    }
    if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(reply));
  }
}

interface InFlight {
  controller: AbortController;
  /** Pages sent and not yet acknowledged by the worker. */
  unacked: number;
  wake: (() => void) | undefined;
  progress(): void;
}

/** A short note for the log line, with no directory data in it beyond counts. */
function outcomeNote(output: OperationOutput): string {
  if (output.complete)
    return ` (${output.complete.entries} entries in ${output.complete.pages} pages${output.complete.complete ? "" : ", incomplete"})`;
  const result = output.result as { ok?: unknown } | null;
  if (result && typeof result === "object" && typeof result.ok === "boolean") return result.ok ? " (ok)" : " (failed)";
  return "";
}
