// The switches every vendor stand-in has for the tests (a delay before each answer, a run of
// 429s with Retry-After, a run of 5xx answers, and a service that went away), and the loopback
// server they run on. The vendor's own rules stay in each stand-in; these are the faults the
// network and the vendor's front door add, the same for every vendor.
import type { IncomingMessage, Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";

export interface FaultAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export class StandInFaults {
  /** Delay before each answer, in milliseconds. */
  latencyMs = 0;
  #rateLimited = 0;
  #retryAfter = 0;
  #failing = 0;
  #failStatus = 503;
  #down = false;
  readonly #sockets = new Set<Socket>();

  /** The next n requests answer HTTP 429 with Retry-After. */
  rateLimit(n: number, retryAfterSeconds: number): void {
    this.#rateLimited = n;
    this.#retryAfter = retryAfterSeconds;
  }

  /** The next n requests answer this 5xx status. */
  failNext(n: number, status = 503): void {
    if (!Number.isInteger(status) || status < 500 || status > 599) throw new Error(`failNext takes a 5xx status, not ${status}`);
    this.#failing = n;
    this.#failStatus = status;
  }

  /** true: every connection is reset (TCP RST), as an unreachable service; false: back to normal. */
  down(isDown: boolean): void {
    this.#down = isDown;
    if (isDown) for (const s of this.#sockets) s.resetAndDestroy();
  }

  /**
   * Waits the latency, then resets the request's connection if the service is down meanwhile
   * (answering false), or answers true: go on.
   */
  async arrive(req: IncomingMessage): Promise<boolean> {
    if (this.latencyMs > 0) await new Promise((r) => setTimeout(r, this.latencyMs));
    if (!this.#down) return true;
    req.socket.resetAndDestroy();
    return false;
  }

  /** What a switch makes of the next request, if anything: a 429, then a 5xx, with the text bodies front doors give. */
  next(): FaultAnswer | undefined {
    if (this.#rateLimited > 0) {
      this.#rateLimited--;
      return { status: 429, headers: { "content-type": "text/plain", "retry-after": String(this.#retryAfter) }, body: "Too Many Requests" };
    }
    if (this.#failing > 0) {
      this.#failing--;
      const status = this.#failStatus;
      return { status, headers: { "content-type": "text/html" }, body: `<html><body><h1>${status}</h1></body></html>` };
    }
    return undefined;
  }

  /** Listens on a random loopback port, keeping the connections so down() can reset them; answers the URL. */
  async listen(server: Server): Promise<string> {
    server.on("connection", (socket: Socket) => {
      if (this.#down) {
        socket.resetAndDestroy();
        return;
      }
      this.#sockets.add(socket);
      socket.on("close", () => this.#sockets.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  async close(server: Server): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
