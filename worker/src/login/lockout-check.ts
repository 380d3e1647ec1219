// Test Connection's last step when domain login is on: what keeps logins through the UC client
// from locking Windows accounts, in this domain. The agent reads each account's live
// bad-password count and the policy that applies to it before binding, and stops `margin`
// failures short of the threshold; the worker pauses a name after at most threshold − 2.
// The step says what the effective limit is, and warns where the guard cannot work (the
// lockout policy is not readable, so the agent will refuse every login).
import type { ConnectionStep } from "../../../schema/src/agent-protocol.ts";

const title = "Domain login cannot lock AD accounts";

/**
 * `threshold`: the domain's lockoutThreshold (0: accounts never lock), undefined when it could
 * not be read; `windowMinutes`: its lockOutObservationWindow.
 */
export function lockoutStep(
  maxFailures: number,
  threshold: number | undefined,
  durationMs: number,
  windowMinutes?: number,
): ConnectionStep {
  const step = { id: "domainLogin" as const, title, durationMs };
  if (threshold === undefined) {
    return {
      ...step,
      status: "warning",
      detail:
        "The domain's account lockout policy (lockoutThreshold) could not be read, so the agent cannot tell whether a login could lock an account: it will refuse every domain login.",
      fix: "Give the service account read access to the domain object (lockoutThreshold, lockOutObservationWindow).",
      code: "lockout_threshold_unknown",
    };
  }
  const psoNote =
    " Fine-grained password policies are honoured per user; the service account needs Read on the Password Settings Container (CN=Password Settings Container,CN=System) for them, or their members cannot log in.";
  if (threshold === 0) {
    return {
      ...step,
      status: "ok",
      detail: `AD never locks accounts in this domain's default policy; logins with one name pause after ${maxFailures} failures.${psoNote}`,
    };
  }
  const stop = Math.max(0, threshold - 2);
  const pause = Math.min(maxFailures, Math.max(1, threshold - 2));
  const window = windowMinutes === undefined ? "" : ` within ${windowMinutes} minutes`;
  const capped = maxFailures > pause ? ` domainLogin.maxFailures (${maxFailures}) is above that, so ${pause} applies.` : "";
  return {
    ...step,
    status: "ok",
    detail:
      `AD locks an account after ${threshold} wrong passwords${window}. Before each bind the agent reads the account's own count at the DC, which includes wrong passwords from the user's other devices, ` +
      `and does not bind once it has reached ${stop}, so one spare failure is always left; logins with one name pause after ${pause} failures.${capped}${psoNote}`,
  };
}
