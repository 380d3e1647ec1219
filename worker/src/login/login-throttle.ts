// Failed domain logins, counted per name and per network address, in the tenant's SQLite.
// A name is paused after its limit, whether or not anyone has it, so a pause tells nothing;
// AD's own lockout is guarded by the agent, which reads the account's live bad-password
// count before each bind. The address limits stop one client, or one IPv6 network, from
// trying many names.
import type { Sql } from "../sql.ts";

export interface ThrottleLimits {
  maxFailures: number;
  maxFailuresPerAddress: number;
  windowMs: number;
  blockMs: number;
}

export const throttleSchema = `
  CREATE TABLE IF NOT EXISTS login_throttle (
    key TEXT PRIMARY KEY, failures INTEGER NOT NULL, window_start INTEGER NOT NULL, blocked_until INTEGER NOT NULL DEFAULT 0);
  CREATE INDEX IF NOT EXISTS login_throttle_window ON login_throttle (window_start);
`;

/**
 * A name key: the part of the name both forms share (`local` of local@suffix, `user` of
 * DOMAIN\user), folded. It depends only on what was typed, never on whether the account
 * exists, so "user@example.com" and "EXAMPLE\user" pause together for everyone: trying the
 * other form after a pause tells nothing.
 */
export function nameKey(typed: string): string {
  const folded = typed.trim().toLowerCase();
  const local = folded.includes("\\") ? folded.slice(folded.lastIndexOf("\\") + 1) : folded.split("@")[0];
  return `name:${local === undefined || local === "" ? folded : local}`;
}

/**
 * The address keys a failure counts against, each with how many times the per-address limit
 * it may take: the address itself, and for IPv6 its /64 (one customer's network; a host
 * picks new addresses in it at will) and /48 (one site).
 */
export function addressKeys(address: string): Array<{ key: string; factor: number }> {
  // An IPv4 client seen through an IPv6 socket is that IPv4 address.
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  if (mapped !== undefined) return [{ key: `address:${mapped}`, factor: 1 }];
  const v6 = expandIpv6(address);
  if (v6 === undefined) return [{ key: `address:${address}`, factor: 1 }];
  return [
    { key: `address:${v6.slice(0, 4).join(":")}::/64`, factor: 1 },
    { key: `address:${v6.slice(0, 3).join(":")}::/48`, factor: 4 },
  ];
}

/** The eight 16-bit groups of an IPv6 address, in lower-case hex without leading zeros; undefined for anything else. */
export function expandIpv6(address: string): string[] | undefined {
  if (!address.includes(":")) return undefined;
  let text = address
    .toLowerCase()
    .replace(/^\[|\]$/g, "")
    .replace(/%.*$/, "");
  // An IPv4 tail (::ffff:192.0.2.1) becomes two groups.
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const head = halves[0] === "" ? [] : (halves[0] as string).split(":");
  const tail = halves.length === 2 && halves[1] !== "" ? (halves[1] as string).split(":") : [];
  const missing = 8 - head.length - tail.length;
  if ((halves.length === 1 && missing !== 0) || missing < 0) return undefined;
  const groups = [...head, ...Array.from({ length: halves.length === 2 ? missing : 0 }, () => "0"), ...tail];
  if (groups.length !== 8 || !groups.every((g) => /^[0-9a-f]{1,4}$/.test(g))) return undefined;
  return groups.map((g) => Number.parseInt(g, 16).toString(16));
}

/** Every failure of the tenant counts here too: the breaker that slows all logins during a spray. */
export const tenantKey = "tenant";

export class LoginThrottle {
  readonly #sql: Sql;
  #writes = 0;

  constructor(sql: Sql) {
    this.#sql = sql;
    sql.exec(throttleSchema);
  }

  /** When the key's pause ends (ms since the epoch), or undefined when it is not paused. */
  blockedUntil(key: string, now: number): number | undefined {
    const row = this.#sql.exec<{ blocked_until: number }>("SELECT blocked_until FROM login_throttle WHERE key = ?", key).toArray()[0];
    return row !== undefined && row.blocked_until > now ? row.blocked_until : undefined;
  }

  /**
   * Counts a failure for `key`; at `max` failures the key is paused. The count is forgotten
   * only once the window has passed since the last failure, as AD forgets badPwdCount after
   * its observation window, and not when a pause ends: the first failure after a pause
   * pauses the key again. (window_start holds the time of the last failure.) Returns when
   * the new pause ends, if one began.
   */
  fail(key: string, max: number, limits: ThrottleLimits, now: number): number | undefined {
    const row = this.#sql
      .exec<{ failures: number; window_start: number; blocked_until: number }>(
        "SELECT failures, window_start, blocked_until FROM login_throttle WHERE key = ?",
        key,
      )
      .toArray()[0];
    const fresh = row === undefined || now - row.window_start >= limits.windowMs;
    const failures = fresh ? 1 : row.failures + 1;
    const blocked = failures >= max ? now + limits.blockMs : fresh ? 0 : row.blocked_until;
    this.#sql.exec(
      `INSERT INTO login_throttle (key, failures, window_start, blocked_until) VALUES (?, ?, ?, ?)
       ON CONFLICT (key) DO UPDATE SET failures = excluded.failures, window_start = excluded.window_start, blocked_until = excluded.blocked_until`,
      key,
      failures,
      now,
      blocked,
    );
    this.#prune(limits, now);
    return failures >= max ? blocked : undefined;
  }

  /** A successful login clears the account's failures, as AD resets badPwdCount. */
  succeed(key: string): void {
    this.#sql.exec("DELETE FROM login_throttle WHERE key = ?", key);
  }

  /** The failures counted for `key` in its current window. */
  failures(key: string): number {
    return this.#sql.exec<{ failures: number }>("SELECT failures FROM login_throttle WHERE key = ?", key).toArray()[0]?.failures ?? 0;
  }

  // Keys of a guessing run over many names would pile up; once in a while drop those whose
  // window and pause are both over.
  #prune(limits: ThrottleLimits, now: number): void {
    if (++this.#writes % 100 !== 0) return;
    this.#sql.exec("DELETE FROM login_throttle WHERE window_start < ? AND blocked_until < ?", now - limits.windowMs - limits.blockMs, now);
  }
}
