import { describe, expect, it } from "vitest";
import { lockoutStep } from "./lockout-check.ts";

describe("lockoutStep", () => {
  it.each([
    [5, 0, "ok", undefined],
    [5, 6, "ok", undefined],
    [5, 5, "warning", "lockout_threshold_reached"],
    [10, 3, "warning", "lockout_threshold_reached"],
    [5, undefined, "warning", "lockout_threshold_unknown"],
  ] as const)("maxFailures %s against a threshold of %s is %s", (max, threshold, status, code) => {
    const step = lockoutStep(max, threshold, 3);
    expect(step).toMatchObject({ id: "domainLogin", status, durationMs: 3 });
    expect(step.code).toBe(code);
  });

  it("says what to set when the threshold is reached", () => {
    expect(lockoutStep(5, 5, 0).fix).toBe("Set domainLogin.maxFailures to 4 or less.");
  });
});
