// Every domain login attempt, for the administrator: when, who (as typed), from where, and
// how it ended with the reason only the administrator may see. Never the password.
import { csv } from "../csv.ts";
import { addMissingColumns, type Sql } from "../sql.ts";

export type AttemptOutcome = "success" | "failure" | "blocked" | "unavailable";

export interface LoginAttempt {
  at: number;
  /** The name as typed, shortened and with control characters written out (\u0000). */
  username: string;
  /** The client's address (CF-Connecting-IP). */
  source: string;
  outcome: AttemptOutcome;
  /** Why, in the administrator's terms: "invalid_credentials", "account_locked", "not_synced", "suffix_not_allowed"... */
  reason: string;
  /** AD's sub-code of a refused bind (52e, 533, 701, 773...). */
  adCode: string | null;
  /** The synced extension the name belongs to, when it was found. */
  extension: string | null;
  /** A sentence for the administrator: what it means and, where there is one, what to do. */
  detail: string;
  durationMs: number;
  /** Identical attempts folded into this one (same name, address, outcome and reason within a minute), and the last of them. */
  repeats?: number;
  lastAt?: number;
}

/** The longest name the log keeps; a 10,000-character name is an attack, not a user. */
const maxLoggedName = 256;

/**
 * The most rows kept, whatever the retention says: the endpoint is public, so the log must
 * not grow with what an anonymous caller sends. Repeats of one attempt fold into one row.
 */
export const maxAttemptRows = 10_000;
const foldWithinMs = 60_000;

const schema = `
  CREATE TABLE IF NOT EXISTS login_attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, username TEXT NOT NULL, source TEXT NOT NULL,
    outcome TEXT NOT NULL, reason TEXT NOT NULL, ad_code TEXT, extension TEXT, detail TEXT NOT NULL, duration_ms INTEGER NOT NULL);
  CREATE INDEX IF NOT EXISTS login_attempts_at ON login_attempts (at);
`;

type Row = {
  id: number;
  at: number;
  repeats: number;
  last_at: number | null;
  username: string;
  source: string;
  outcome: string;
  reason: string;
  ad_code: string | null;
  extension: string | null;
  detail: string;
  duration_ms: number;
};

export function loggableName(username: unknown): string {
  if (typeof username !== "string") return `(${username === null ? "null" : typeof username})`;
  const shown = username.replace(/\p{Cc}/gu, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
  return shown.length > maxLoggedName ? `${shown.slice(0, maxLoggedName)}… (${username.length} characters)` : shown;
}

export class LoginAttempts {
  readonly #sql: Sql;
  #writes = 0;

  constructor(sql: Sql) {
    this.#sql = sql;
    sql.exec(schema);
    addMissingColumns(sql, "login_attempts", { repeats: "INTEGER NOT NULL DEFAULT 1", last_at: "INTEGER" });
  }

  record(attempt: LoginAttempt, retentionDays: number): void {
    // A spray repeats itself: the same name from the same address failing the same way is
    // one row with a count, not a row per try.
    const last = this.#sql.exec<Row>("SELECT * FROM login_attempts ORDER BY id DESC LIMIT 1").toArray()[0];
    if (
      last !== undefined &&
      attempt.outcome !== "success" &&
      last.username === attempt.username &&
      last.source === attempt.source &&
      last.outcome === attempt.outcome &&
      last.reason === attempt.reason &&
      last.ad_code === attempt.adCode &&
      last.extension === attempt.extension &&
      attempt.at - (last.last_at ?? last.at) < foldWithinMs
    ) {
      this.#sql.exec("UPDATE login_attempts SET repeats = repeats + 1, last_at = ? WHERE id = ?", attempt.at, last.id);
      return;
    }
    this.#sql.exec(
      `INSERT INTO login_attempts (at, username, source, outcome, reason, ad_code, extension, detail, duration_ms)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      attempt.at,
      attempt.username,
      attempt.source,
      attempt.outcome,
      attempt.reason,
      attempt.adCode,
      attempt.extension,
      attempt.detail,
      Math.round(attempt.durationMs),
    );
    if (++this.#writes % 100 === 0) this.#sql.exec("DELETE FROM login_attempts WHERE at < ?", attempt.at - retentionDays * 86_400_000);
    this.#sql.exec("DELETE FROM login_attempts WHERE id <= (SELECT max(id) FROM login_attempts) - ?", maxAttemptRows);
  }

  /** Newest first. */
  list(options: { limit: number; offset: number; outcome?: AttemptOutcome; q?: string }): { total: number; attempts: LoginAttempt[] } {
    const where = "WHERE (? IS NULL OR outcome = ?) AND (? IS NULL OR instr(lower(username), lower(?)) > 0 OR source = ?)";
    const args = [options.outcome ?? null, options.outcome ?? null, options.q ?? null, options.q ?? null, options.q ?? null];
    const total = Number(this.#sql.exec<{ n: number }>(`SELECT count(*) AS n FROM login_attempts ${where}`, ...args).one().n);
    const attempts = this.#sql
      .exec<Row>(
        `SELECT id, at, username, source, outcome, reason, ad_code, extension, detail, duration_ms, repeats, last_at FROM login_attempts ${where}
         ORDER BY at DESC, id DESC LIMIT ? OFFSET ?`,
        ...args,
        options.limit,
        options.offset,
      )
      .toArray()
      .map((r) => ({
        at: r.at,
        username: r.username,
        source: r.source,
        outcome: r.outcome as AttemptOutcome,
        reason: r.reason,
        adCode: r.ad_code,
        extension: r.extension,
        detail: r.detail,
        durationMs: r.duration_ms,
        repeats: r.repeats,
        ...(r.last_at === null ? {} : { lastAt: r.last_at }),
      }));
    return { total, attempts };
  }
}

/** The attempts as CSV, for the Log's export. */
export function attemptsCsv(attempts: LoginAttempt[]): string {
  return csv(
    ["Time", "Username", "Source", "Outcome", "Reason", "AD code", "Extension", "Detail", "Duration (ms)", "Repeats", "Last repeat"],
    attempts.map((a) => [
      new Date(a.at).toISOString(),
      a.username,
      a.source,
      a.outcome,
      a.reason,
      a.adCode,
      a.extension,
      a.detail,
      a.durationMs,
      a.repeats ?? 1,
      a.lastAt === undefined ? "" : new Date(a.lastAt).toISOString(),
    ]),
  );
}
