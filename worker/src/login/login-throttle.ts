// Failed domain logins, counted per account and per network address, in the tenant's SQLite.
// The account limit sits below AD's own lockout threshold: guessing through this endpoint
// pauses here first, so it can never lock the Windows account (which would lock the user
// out of their PC too). The address limit stops one client from trying many accounts.
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

/** An account key: the synced user's objectGUID when known, else the name as typed, folded. */
export function accountKey(guid: string | null, typed: string): string {
  return guid !== null ? `account:${guid}` : `name:${typed.trim().toLowerCase()}`;
}

export function addressKey(address: string): string {
  return `address:${address}`;
}

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
   * Counts a failure for `key`; at `max` failures within the window the key is paused, and
   * its count starts again when the pause ends. Returns when the new pause ends, if one began.
   */
  fail(key: string, max: number, limits: ThrottleLimits, now: number): number | undefined {
    const row = this.#sql
      .exec<{ failures: number; window_start: number }>("SELECT failures, window_start FROM login_throttle WHERE key = ?", key)
      .toArray()[0];
    const fresh = row === undefined || now - row.window_start > limits.windowMs;
    const failures = fresh ? 1 : row.failures + 1;
    const blocked = failures >= max ? now + limits.blockMs : 0;
    this.#sql.exec(
      `INSERT INTO login_throttle (key, failures, window_start, blocked_until) VALUES (?, ?, ?, ?)
       ON CONFLICT (key) DO UPDATE SET failures = excluded.failures, window_start = excluded.window_start, blocked_until = excluded.blocked_until`,
      key,
      blocked > 0 ? 0 : failures,
      blocked > 0 ? blocked : fresh ? now : row.window_start,
      blocked,
    );
    this.#prune(limits, now);
    return blocked > 0 ? blocked : undefined;
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
