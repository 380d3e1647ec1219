import { describe, expect, it } from "vitest";
import { sqliteStorage } from "../../../test/support/sqlite-storage.ts";
import { type AttemptOutcome, attemptsCsv, type LoginAttempt, LoginAttempts, loggableName, maxAttemptRows } from "./login-attempts.ts";

const DAY = 86_400_000;
const now = Date.UTC(2027, 5, 1);

const attempt = (at: number, username: string, outcome: AttemptOutcome = "failure", source = "192.0.2.1"): LoginAttempt => ({
  at,
  username,
  source,
  outcome,
  reason: outcome === "success" ? "ok" : "invalid_credentials",
  adCode: null,
  extension: null,
  detail: "",
  durationMs: 12.6,
});

describe("LoginAttempts", () => {
  it("drops attempts older than the retention as new ones are logged, and keeps the younger ones", () => {
    const log = new LoginAttempts(sqliteStorage());
    log.record(attempt(now - 40 * DAY, "old@example.com"), 30);
    log.record(attempt(now - 29 * DAY, "recent@example.com"), 30);
    // Pruning runs every hundredth write, so a busy login screen does not pay for it each time.
    for (let i = 0; i < 98; i++) log.record(attempt(now, `user${i}@example.com`), 30);
    const names = log.list({ limit: 1000, offset: 0 }).attempts.map((a) => a.username);
    expect(names).not.toContain("old@example.com");
    expect(names).toContain("recent@example.com");
    expect(log.list({ limit: 1, offset: 0 }).total).toBe(99);
  });

  it("folds a spray's identical failures within a minute into one row with a count", () => {
    const sql = sqliteStorage();
    const log = new LoginAttempts(sql);
    for (let i = 0; i < 50; i++) log.record(attempt(now + i * 1000, "judy@example.com"), 90);
    log.record(attempt(now + 50_000, "judy@example.com", "failure", "198.51.100.1"), 90);
    // A minute after the last repeat: a row of its own.
    log.record(attempt(now + 50_000 + 60_000, "judy@example.com", "failure", "198.51.100.1"), 90);
    const { total, attempts } = log.list({ limit: 10, offset: 0 });
    expect(total).toBe(3);
    expect(attempts.map((a) => [a.source, a.repeats])).toEqual([
      ["198.51.100.1", 1],
      ["198.51.100.1", 1],
      ["192.0.2.1", 50],
    ]);
    expect(attempts[2]).toMatchObject({ at: now, lastAt: now + 49_000 });
    // Successes are each their own row.
    log.record(attempt(now, "judy@example.com", "success"), 90);
    log.record(attempt(now, "judy@example.com", "success"), 90);
    expect(log.list({ limit: 10, offset: 0 }).total).toBe(5);
  });

  it("keeps at most its cap of rows, however many different attempts arrive", () => {
    const sql = sqliteStorage();
    const log = new LoginAttempts(sql);
    for (let i = 0; i < maxAttemptRows + 300; i++) log.record(attempt(now, `user${i}@example.com`), 90);
    expect(sql.exec<{ n: number }>("SELECT count(*) AS n FROM login_attempts").one().n).toBe(maxAttemptRows);
    expect(log.list({ limit: 1, offset: 0 }).attempts[0]?.username).toBe(`user${maxAttemptRows + 299}@example.com`);
  });

  it("keeps everything younger than the default 90 days", () => {
    const log = new LoginAttempts(sqliteStorage());
    log.record(attempt(now - 89 * DAY, "kept@example.com"), 90);
    log.record(attempt(now - 91 * DAY, "dropped@example.com"), 90);
    for (let i = 0; i < 98; i++) log.record(attempt(now, `user${i}@example.com`), 90);
    const names = log.list({ limit: 1000, offset: 0 }).attempts.map((a) => a.username);
    expect(names).toContain("kept@example.com");
    expect(names).not.toContain("dropped@example.com");
  });

  it("lists newest first, filtered by outcome and by a name or the exact source address", () => {
    const log = new LoginAttempts(sqliteStorage());
    log.record(attempt(now - 3000, "Judy@Example.com", "success"), 90);
    log.record(attempt(now - 2000, "judy@example.com", "failure", "198.51.100.7"), 90);
    log.record(attempt(now - 1000, "bob@example.com", "blocked"), 90);
    const list = (o: { outcome?: AttemptOutcome; q?: string }) =>
      log.list({ limit: 10, offset: 0, ...o }).attempts.map((a) => `${a.username}/${a.outcome}`);
    expect(list({})).toEqual(["bob@example.com/blocked", "judy@example.com/failure", "Judy@Example.com/success"]);
    expect(list({ outcome: "failure" })).toEqual(["judy@example.com/failure"]);
    expect(list({ q: "JUDY" })).toEqual(["judy@example.com/failure", "Judy@Example.com/success"]);
    expect(list({ q: "198.51.100.7" })).toEqual(["judy@example.com/failure"]);
    expect(list({ q: "198.51.100" })).toEqual([]);
    expect(log.list({ limit: 1, offset: 1 }).attempts.map((a) => a.username)).toEqual(["judy@example.com"]);
  });

  it("exports CSV with the time in ISO 8601 and a name that would be a formula kept as text", () => {
    const csv = attemptsCsv([attempt(now, "=cmd|' /C calc'!A0")]);
    expect(csv.split("\r\n")[0]).toBe(
      '"Time","Username","Source","Outcome","Reason","AD code","Extension","Detail","Duration (ms)","Repeats","Last repeat"',
    );
    expect(csv.split("\r\n")[1]).toBe(
      `"2027-06-01T00:00:00.000Z","'=cmd|' /C calc'!A0","192.0.2.1","failure","invalid_credentials","","","","12.6","1",""`,
    );
  });

  it("logs a name as typed but bounded, control characters escaped, and a non-string by its type", () => {
    expect(loggableName("x".repeat(5000))).toMatch(/^x+… \(5000 characters\)$/);
    expect(loggableName("judy\u0000\n@example.com")).toBe("judy\\u0000\\u000a@example.com");
    expect(loggableName({ evil: true })).toBe("(object)");
    expect(loggableName(null)).toBe("(null)");
  });
});
