import { describe, expect, it } from "vitest";
import { sqliteStorage } from "../../../test/support/sqlite-storage.ts";
import { accountKey, LoginThrottle, type ThrottleLimits } from "./login-throttle.ts";

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
});
