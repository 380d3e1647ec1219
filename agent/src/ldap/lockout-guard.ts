// Whether one more wrong password, typed at a UC client, could lock the user's Windows account.
// AD locks an account when its badPwdCount reaches the lockout threshold within the
// observation window; the count rises with wrong passwords from every device the user has
// (Outlook, VPN, Windows logon), so no count kept outside AD can know it. The agent reads
// the live count, and the policy that applies to this user (a fine-grained password policy,
// msDS-ResultantPSO, wins over the domain's), from the domain controller it will bind to,
// and refuses without binding when the bind could bring the account within `margin`
// failures of the threshold: the way AD FS extranet lockout keeps its own threshold below AD's.

/** What the domain says, read from its root object: lockoutThreshold (0: never), lockOutObservationWindow. */
export interface LockoutPolicy {
  threshold: number;
  observationWindowMs: number;
  /** Where it came from, for the administrator's log. */
  source: "domain" | "fine-grained";
}

/** The user's counters as the DC holds them (badPwdCount is kept per DC and not replicated). */
export interface BadPasswordState {
  badPwdCount: number;
  /** badPasswordTime: when the last wrong password was counted, ms since the epoch (0: never). */
  badPasswordTime: number;
  /** msDS-User-Account-Control-Computed has UF_LOCKOUT (0x10): locked now, lockoutDuration considered. */
  lockedNow: boolean;
}

/** Failures left unspent at AD, beyond the one a bind may cost: the user's other devices need room too. */
export const lockoutMargin = 1;

export type LockoutVerdict =
  | { bind: true; effectiveCount: number }
  | { bind: false; reason: "account_locked" | "lockout_risk"; effectiveCount: number; detail: string };

/** Windows FILETIME (100 ns since 1601-01-01 UTC) to ms since the epoch. */
export function fileTimeToMs(value: string | undefined): number {
  if (value === undefined || value === "" || value === "0") return 0;
  const ms = Number(BigInt(value) / 10_000n) - 11_644_473_600_000;
  return Math.max(0, ms);
}

/** A negative interval of 100 ns units (lockOutObservationWindow, lockoutDuration) to ms. */
export function intervalToMs(value: string | undefined): number {
  if (value === undefined || value === "") return 0;
  const n = BigInt(value);
  return Number((n < 0n ? -n : n) / 10_000n);
}

export function lockoutVerdict(policy: LockoutPolicy, state: BadPasswordState, now: number, margin = lockoutMargin): LockoutVerdict {
  // AD forgets the count once the observation window has passed since the last failure: it
  // restarts from one at the next failure.
  const stale = state.badPasswordTime === 0 || now - state.badPasswordTime >= policy.observationWindowMs;
  const effectiveCount = stale ? 0 : state.badPwdCount;
  if (state.lockedNow)
    return { bind: false, reason: "account_locked", effectiveCount, detail: "The account is locked out at AD; no bind was tried." };
  if (policy.threshold <= 0) return { bind: true, effectiveCount };
  if (effectiveCount + 1 + margin < policy.threshold) return { bind: true, effectiveCount };
  const minutes = Math.ceil(policy.observationWindowMs / 60_000);
  return {
    bind: false,
    reason: "lockout_risk",
    effectiveCount,
    detail:
      `AD has counted ${effectiveCount} wrong password${effectiveCount === 1 ? "" : "s"} for this account within its ` +
      `${minutes}-minute observation window, and locks it at ${policy.threshold} (${policy.source === "domain" ? "domain policy" : "fine-grained password policy"}); ` +
      `one more here would leave fewer than ${margin + 1} before the lockout, so no bind was tried. ` +
      "The count falls back once the window has passed since the last wrong password, or at the next correct logon in Windows.",
  };
}
