import { describe, expect, it } from "vitest";
import { lockoutStep } from "./lockout-check.ts";

describe("lockoutStep", () => {
  it("states the effective limit: the agent stops two short of AD's threshold, and the pause never goes above it", () => {
    const step = lockoutStep(10, 5, 3, 30);
    expect(step).toMatchObject({ id: "domainLogin", status: "ok", durationMs: 3 });
    expect(step.detail).toMatch(/AD locks an account after 5 wrong passwords within 30 minutes/);
    expect(step.detail).toMatch(/does not bind once it has reached 3/);
    expect(step.detail).toMatch(/pause after 3 failures\. domainLogin\.maxFailures \(10\) is above that, so 3 applies/);
  });

  it("keeps a lower configured pause", () => {
    expect(lockoutStep(2, 5, 0).detail).toMatch(/pause after 2 failures\. Fine-grained/);
  });

  it("says accounts never lock where the threshold is 0", () => {
    expect(lockoutStep(5, 0, 0)).toMatchObject({ status: "ok", detail: expect.stringMatching(/never locks accounts/) });
  });

  it("warns, with the fix, when the policy cannot be read: every login would be refused", () => {
    expect(lockoutStep(5, undefined, 0)).toMatchObject({
      status: "warning",
      code: "lockout_threshold_unknown",
      detail: expect.stringMatching(/will refuse every domain login/),
      fix: expect.stringMatching(/read access to the domain object/),
    });
  });
});
