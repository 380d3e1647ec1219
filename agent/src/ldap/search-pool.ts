// Bound service connections kept between the searches of a run. A run asks for many small
// searches one after another (an incremental read: which DC answers, what changed, the
// tombstones, each group, users by objectGUID), and through fresh connections each would pay
// a TCP connect, a TLS handshake and the service bind before its one request. A connection
// is taken by one search at a time and given back when the search ended well; one the DC
// closed, or that failed, is not reused.
import { createHash } from "node:crypto";
import type { LdapTarget } from "../../../schema/src/agent-protocol.ts";
import { type DirectoryConnection, openConnection } from "./connection.ts";

export interface SearchPoolOptions {
  /** An idle connection is closed after this long (AD itself drops idle ones after MaxConnIdleTime, 15 minutes). */
  idleMs?: number;
  /** Idle connections kept per target; a burst of concurrent searches opens more, and closes them after. */
  maxIdle?: number;
  /** Opens a bound connection; openConnection unless a test stands in for it. */
  open?: (target: LdapTarget) => Promise<DirectoryConnection>;
}

interface Idle {
  connection: DirectoryConnection;
  timer: NodeJS.Timeout;
}

export class SearchPool {
  readonly #idle = new Map<string, Idle[]>();
  readonly #idleMs: number;
  readonly #maxIdle: number;
  readonly #open: (target: LdapTarget) => Promise<DirectoryConnection>;

  constructor(options: SearchPoolOptions = {}) {
    this.#idleMs = options.idleMs ?? 15_000;
    this.#maxIdle = options.maxIdle ?? 2;
    this.#open = options.open ?? openConnection;
  }

  /** A bound connection for `target`: an idle one still connected, else a new one. */
  async take(target: LdapTarget): Promise<{ connection: DirectoryConnection; reused: boolean }> {
    const idle = this.#idle.get(keyOf(target)) ?? [];
    for (let kept = idle.pop(); kept !== undefined; kept = idle.pop()) {
      clearTimeout(kept.timer);
      if (kept.connection.client.isConnected) return { connection: kept.connection, reused: true };
      await kept.connection.close();
    }
    return { connection: await this.#open(target), reused: false };
  }

  /** Gives back a connection whose search ended well; any other is closed. */
  async give(target: LdapTarget, connection: DirectoryConnection, healthy: boolean): Promise<void> {
    const key = keyOf(target);
    const idle = this.#idle.get(key) ?? [];
    if (!healthy || !connection.client.isConnected || idle.length >= this.#maxIdle) {
      await connection.close();
      return;
    }
    const entry: Idle = {
      connection,
      timer: setTimeout(() => {
        const list = this.#idle.get(key);
        const at = list?.indexOf(entry) ?? -1;
        if (list && at >= 0) list.splice(at, 1);
        if (list?.length === 0) this.#idle.delete(key);
        void connection.close();
      }, this.#idleMs),
    };
    // An idle connection does not keep the agent's process alive.
    entry.timer.unref();
    idle.push(entry);
    this.#idle.set(key, idle);
  }

  /** Closes every idle connection (the agent stopping, a test ending). */
  async close(): Promise<void> {
    const all = [...this.#idle.values()].flat();
    this.#idle.clear();
    for (const { connection, timer } of all) {
      clearTimeout(timer);
      await connection.close();
    }
  }
}

/** Everything that decides where and as whom the connection binds. */
function keyOf(target: LdapTarget): string {
  return createHash("sha256")
    .update(JSON.stringify([target.connection, target.bindPassword ?? null]))
    .digest("base64");
}
