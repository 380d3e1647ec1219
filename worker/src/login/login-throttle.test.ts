import { describe, expect, it } from "vitest";
import { sqliteStorage } from "../../../test/support/sqlite-storage.ts";
import { accountKey, addressKey, LoginThrottle, type ThrottleLimits } from "./login-throttle.ts";

const limits: ThrottleLimits = { maxFailures: 3, maxFailuresPerAddress: 10, windowMs: 15 * 60_000, blockMs: 10 * 60_000 };
const minute = 60_000;

describe("LoginThrottle", () => {
  const key = accountKey("7e2d5a1c-0000-4000-8000-000000000001", "Judy@Example.com");

  it("pauses a key at the limit within the window, for blockMs, then counts from zero", () => {
    const throttle = new LoginThrottle(sqliteStorage());
    expect(throttle.fail(key, 3, limits, 0)).toBeUndefined();
    expect(throttle.fail(key, 3, limits, minute)).toBeUndefined();
    expect(throttle.blockedUntil(key, minute)).toBeUndefined();
    expect(throttle.fail(key, 3, limits, 2 * minute)).toBe(12 * minute);
    expect(throttle.blockedUntil(key, 11 * minute)).toBe(12 * minute);
    expect(throttle.blockedUntil(key, 12 * minute)).toBeUndefined();
    // After the pause, two more failures do not pause it again at once.
    expect(throttle.fail(key, 3, limits, 13 * minute)).toBeUndefined();
    expect(throttle.fail(key, 3, limits, 13 * minute)).toBeUndefined();
    expect(throttle.failures(key)).toBe(2);
  });

  it("forgets failures older than the window", () => {
    const throttle = new LoginThrottle(sqliteStorage());
    throttle.fail(key, 3, limits, 0);
    throttle.fail(key, 3, limits, minute);
    expect(throttle.fail(key, 3, limits, 16 * minute)).toBeUndefined();
    expect(throttle.failures(key)).toBe(1);
  });

  it("clears an account's failures on a successful login", () => {
    const throttle = new LoginThrottle(sqliteStorage());
    throttle.fail(key, 3, limits, 0);
    throttle.fail(key, 3, limits, 0);
    throttle.succeed(key);
    expect(throttle.fail(key, 3, limits, 0)).toBeUndefined();
    expect(throttle.failures(key)).toBe(1);
  });

  it("keys an account by its objectGUID, and an unknown name by the name as typed, folded", () => {
    expect(accountKey("g", "x")).toBe("account:g");
    expect(accountKey(null, "  Judy@Example.COM ")).toBe("name:judy@example.com");
  });

  it("measures the window from the first failure, and counts a failure exactly at its end in it", () => {
    const throttle = new LoginThrottle(sqliteStorage());
    throttle.fail(key, 3, limits, 0);
    throttle.fail(key, 3, limits, 10 * minute);
    // 15 minutes after the first failure: still its window, so the third pauses.
    expect(throttle.fail(key, 3, limits, 15 * minute)).toBe(25 * minute);
    const other = accountKey(null, "bob@example.com");
    throttle.fail(other, 3, limits, 0);
    throttle.fail(other, 3, limits, 14 * minute);
    // One millisecond past the first failure's window: a new window of one.
    expect(throttle.fail(other, 3, limits, 15 * minute + 1)).toBeUndefined();
    expect(throttle.failures(other)).toBe(1);
  });

  it("pauses at once with a limit of one, and reports no pause for a key never seen", () => {
    const throttle = new LoginThrottle(sqliteStorage());
    expect(throttle.blockedUntil(key, 0)).toBeUndefined();
    expect(throttle.failures(key)).toBe(0);
    expect(throttle.fail(key, 1, limits, 5)).toBe(5 + 10 * minute);
    expect(throttle.blockedUntil(key, 5 + 10 * minute - 1)).toBe(5 + 10 * minute);
  });

  it("drops, every hundredth failure, keys whose window and pause are both over, and keeps the others", () => {
    const throttle = new LoginThrottle(sqliteStorage());
    const old = accountKey(null, "old@example.com");
    const paused = accountKey(null, "paused@example.com");
    throttle.fail(old, 10, limits, 0);
    throttle.fail(paused, 1, limits, 30 * minute);
    const later = 26 * minute;
    // Writes 3 to 99: the old key is still there.
    for (let i = 3; i < 100; i++) throttle.fail(addressKey(`192.0.2.${i}`), 50, limits, later + 5 * minute);
    expect(throttle.failures(old)).toBe(1);
    throttle.fail(addressKey("192.0.2.200"), 50, limits, later + 5 * minute);
    expect(throttle.failures(old)).toBe(0);
    expect(throttle.blockedUntil(paused, later + 5 * minute)).toBe(40 * minute);
    expect(throttle.failures(addressKey("192.0.2.3"))).toBe(1);
  });

  it("keys an address apart from any account", () => {
    expect(addressKey("192.0.2.1")).toBe("address:192.0.2.1");
    expect(addressKey("192.0.2.1")).not.toBe(accountKey(null, "192.0.2.1"));
  });
});
