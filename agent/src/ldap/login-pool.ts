// Connections kept open between domain logins. A login through fresh connections pays two
// TCP connects, two TLS handshakes and the service bind before the one bind that matters;
// kept open, a login is one search on the service connection and one bind on a connection
// that has already done its handshake. LDAP allows a connection to bind again and again
// (RFC 4511 section 4.2.1), each bind replacing the last, so a connection that has just
// checked one user's password can check the next one's.
import { createHash } from "node:crypto";
import type { LdapTarget } from "../../../schema/src/agent-protocol.ts";
import { type DomainNames, freshConnections, type LoginConnections } from "./authenticate.ts";
import { connectionSettings, type DirectoryConnection, type Endpoint, openConnection, openTransport } from "./connection.ts";
import { ConnectError } from "./errors.ts";

export interface LoginPoolOptions {
  /** Connections of a target unused this long are closed (AD itself drops them after MaxConnIdleTime, 15 minutes). */
  idleMs?: number;
  /** User binds in flight per target at most; more wait their turn, so a burst cannot flood the DC with handshakes. */
  maxBinders?: number;
  /** How long the domain's names are trusted before they are read again. */
  namesTtlMs?: number;
}

interface Slot {
  /** The shared service connection: ldapts multiplexes requests on it by message ID. */
  service: Promise<DirectoryConnection> | undefined;
  names: { value: DomainNames; at: number } | undefined;
  idle: Map<string, DirectoryConnection[]>;
  busy: number;
  waiting: Array<() => void>;
  timer: NodeJS.Timeout | undefined;
}

export class LoginPool implements LoginConnections {
  readonly #slots = new Map<string, Slot>();
  readonly #idleMs: number;
  readonly #maxBinders: number;
  readonly #namesTtlMs: number;

  constructor(options: LoginPoolOptions = {}) {
    this.#idleMs = options.idleMs ?? 60_000;
    this.#maxBinders = options.maxBinders ?? 16;
    this.#namesTtlMs = options.namesTtlMs ?? 5 * 60_000;
    if (!(this.#maxBinders >= 1)) throw new Error("LoginPool: maxBinders must be at least 1");
  }

  async service<T>(target: LdapTarget, use: (connection: DirectoryConnection) => Promise<T>): Promise<T> {
    const slot = this.#slot(target);
    for (let attempt = 0; ; attempt++) {
      slot.service ??= openConnection(target);
      const pending = slot.service;
      let connection: DirectoryConnection;
      try {
        connection = await pending;
      } catch (error) {
        if (slot.service === pending) slot.service = undefined;
        throw error;
      }
      try {
        return await use(connection);
      } catch (error) {
        // A service connection the DC closed (idle timeout, restart) is opened again once;
        // a lookup is a read, so doing it twice is harmless.
        if (connection.client.isConnected && !(error instanceof ConnectError)) throw error;
        if (slot.service === pending) slot.service = undefined;
        await connection.close();
        if (attempt > 0) throw error;
      }
    }
  }

  async binder<T>(target: LdapTarget, endpoint: Endpoint, use: (connection: DirectoryConnection) => Promise<T>): Promise<T> {
    const slot = this.#slot(target);
    await this.#turn(slot);
    try {
      const idle = slot.idle.get(endpoint.server) ?? [];
      let connection = idle.pop();
      while (connection !== undefined && !connection.client.isConnected) {
        await connection.close();
        connection = idle.pop();
      }
      const reused = connection !== undefined;
      connection ??= await openTransport(connectionSettings(target.connection), endpoint);
      let result: T;
      try {
        result = await use(connection);
      } catch (error) {
        await connection.close();
        // Only a connection that was lying idle is worth one more try: the DC may have closed
        // it meanwhile. A refused bind is an answer (BindError) and never repeated, since
        // every repetition would count towards the account's lockout.
        if (!reused || !(error instanceof ConnectError)) throw error;
        const fresh = await openTransport(connectionSettings(target.connection), endpoint);
        try {
          result = await use(fresh);
        } catch (again) {
          await fresh.close();
          throw again;
        }
        connection = fresh;
      }
      if (connection.client.isConnected) {
        idle.push(connection);
        slot.idle.set(endpoint.server, idle);
      } else await connection.close();
      return result;
    } finally {
      this.#release(slot);
    }
  }

  async domainNames(target: LdapTarget, connection: DirectoryConnection): Promise<DomainNames> {
    const slot = this.#slot(target);
    if (slot.names !== undefined && Date.now() - slot.names.at < this.#namesTtlMs) return slot.names.value;
    const value = await freshConnections.domainNames(target, connection);
    slot.names = { value, at: Date.now() };
    return value;
  }

  /** Open service connections and idle user connections, over all targets. */
  size(): { services: number; idleBinders: number } {
    let services = 0;
    let idleBinders = 0;
    for (const slot of this.#slots.values()) {
      if (slot.service !== undefined) services++;
      for (const list of slot.idle.values()) idleBinders += list.length;
    }
    return { services, idleBinders };
  }

  /** Closes every connection the pool holds. */
  async close(): Promise<void> {
    const slots = [...this.#slots.values()];
    this.#slots.clear();
    await Promise.all(slots.map((slot) => closeSlot(slot)));
  }

  #slot(target: LdapTarget): Slot {
    // Everything that decides where and as whom the service connection binds.
    const key = createHash("sha256")
      .update(JSON.stringify([target.connection, target.bindPassword ?? null]))
      .digest("base64");
    let slot = this.#slots.get(key);
    if (slot === undefined) {
      slot = { service: undefined, names: undefined, idle: new Map(), busy: 0, waiting: [], timer: undefined };
      this.#slots.set(key, slot);
    }
    const current = slot;
    const arm = () => {
      if (current.timer !== undefined) clearTimeout(current.timer);
      current.timer = setTimeout(() => {
        if (current.busy > 0) return arm();
        this.#slots.delete(key);
        void closeSlot(current);
      }, this.#idleMs);
      current.timer.unref();
    };
    arm();
    return current;
  }

  async #turn(slot: Slot): Promise<void> {
    if (slot.busy < this.#maxBinders) {
      slot.busy++;
      return;
    }
    await new Promise<void>((resolve) => slot.waiting.push(resolve));
  }

  #release(slot: Slot): void {
    const next = slot.waiting.shift();
    // The turn passes straight to the next waiter, so busy stays as it is.
    if (next !== undefined) next();
    else slot.busy--;
  }
}

async function closeSlot(slot: Slot): Promise<void> {
  if (slot.timer !== undefined) clearTimeout(slot.timer);
  const service = await slot.service?.catch(() => undefined);
  const idle = [...slot.idle.values()].flat();
  slot.idle.clear();
  await Promise.all([service?.close(), ...idle.map((c) => c.close())]);
}
