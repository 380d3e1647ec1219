import { describe, expect, it } from "vitest";
import { fileTimeToMs, intervalToMs, type LockoutPolicy, lockoutVerdict } from "./lockout-guard.ts";

const HALF_HOUR = 30 * 60_000;
const domain: LockoutPolicy = { threshold: 5, observationWindowMs: HALF_HOUR, source: "domain" };
const now = Date.UTC(2026, 0, 5, 9);

describe("lockoutVerdict", () => {
  it.each([
    [0, true],
    [1, true],
    [2, true],
    // 3 + this one = 4: one failure left before 5, which is the margin: refused.
    [3, false],
    [4, false],
    [9, false],
  ])("threshold 5, %i recent failures: bind %s", (count, bind) => {
    expect(lockoutVerdict(domain, { badPwdCount: count, badPasswordTime: now - 60_000, lockedNow: false }, now).bind).toBe(bind);
  });

  it("forgets failures older than the observation window, as AD does", () => {
    const state = { badPwdCount: 4, badPasswordTime: now - HALF_HOUR, lockedNow: false };
    expect(lockoutVerdict(domain, state, now)).toEqual({ bind: true, effectiveCount: 0 });
    expect(lockoutVerdict(domain, { ...state, badPasswordTime: now - HALF_HOUR + 1 }, now).bind).toBe(false);
  });

  it("honours a fine-grained policy's lower threshold, and says which policy it was", () => {
    const strict: LockoutPolicy = { threshold: 3, observationWindowMs: HALF_HOUR, source: "fine-grained" };
    expect(lockoutVerdict(strict, { badPwdCount: 0, badPasswordTime: 0, lockedNow: false }, now).bind).toBe(true);
    const refused = lockoutVerdict(strict, { badPwdCount: 1, badPasswordTime: now - 1000, lockedNow: false }, now);
    expect(refused).toMatchObject({ bind: false, reason: "lockout_risk", effectiveCount: 1 });
    expect(refused.bind === false && refused.detail).toMatch(/locks it at 3 \(fine-grained password policy\)/);
  });

  it("never binds a locked account, and always binds where accounts never lock", () => {
    expect(lockoutVerdict(domain, { badPwdCount: 0, badPasswordTime: 0, lockedNow: true }, now)).toMatchObject({
      bind: false,
      reason: "account_locked",
    });
    const never: LockoutPolicy = { threshold: 0, observationWindowMs: HALF_HOUR, source: "domain" };
    expect(lockoutVerdict(never, { badPwdCount: 1000, badPasswordTime: now, lockedNow: false }, now).bind).toBe(true);
  });

  it("reads AD's time formats", () => {
    expect(fileTimeToMs("134406381033913660")).toBe(Date.UTC(2026, 11, 1, 22, 35, 3, 391));
    expect(fileTimeToMs("0")).toBe(0);
    expect(intervalToMs("-18000000000")).toBe(HALF_HOUR);
  });
});
