// Test Connection's last step when domain login is on: is domainLogin.maxFailures below the
// domain's account lockout threshold? If it is not, wrong passwords typed into UC clients
// lock the Windows account before this endpoint pauses the login.
import type { ConnectionStep } from "../../../schema/src/agent-protocol.ts";

const title = "Domain login below AD's lockout threshold";

/** `threshold`: the domain's lockoutThreshold (0: accounts never lock); undefined when it could not be read. */
export function lockoutStep(maxFailures: number, threshold: number | undefined, durationMs: number): ConnectionStep {
  const step = { id: "domainLogin" as const, title, durationMs };
  if (threshold === undefined) {
    return {
      ...step,
      status: "warning",
      detail: `The domain's account lockout threshold could not be read, so it is not known whether ${maxFailures} failed logins stay below it.`,
      fix: "Give the service account read access to the domain object (lockoutThreshold), or check the Default Domain Policy by hand.",
      code: "lockout_threshold_unknown",
    };
  }
  if (threshold === 0) {
    return { ...step, status: "ok", detail: `AD never locks accounts in this domain; logins pause after ${maxFailures} failures.` };
  }
  if (maxFailures < threshold) {
    return {
      ...step,
      status: "ok",
      detail: `Logins pause after ${maxFailures} failures, below AD's lockout threshold of ${threshold}: a UC client cannot lock a Windows account.`,
    };
  }
  return {
    ...step,
    status: "warning",
    detail: `Logins pause only after ${maxFailures} failures, but AD locks an account after ${threshold}: wrong passwords typed into a UC client can lock the user out of Windows.`,
    fix: `Set domainLogin.maxFailures to ${Math.max(1, threshold - 1)} or less.`,
    code: "lockout_threshold_reached",
  };
}
