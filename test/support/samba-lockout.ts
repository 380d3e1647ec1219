// Account lockout on a test DC, as a hardened domain has it: the domain's policy (the Default
// Domain Policy's lockoutThreshold and windows, set on the domain object), a fine-grained
// password policy (a Password Settings Object) for a group, and the grant that lets the
// service account read such policies (by default only Domain Admins can).
import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { Attribute, Change, type Client } from "ldapts";
import type { SambaDc } from "./samba-dc.ts";

/** A negative interval of 100 ns units, as AD stores lockOutObservationWindow and lockoutDuration. */
export const adInterval = (minutes: number) => String(-BigInt(minutes) * 60n * 10_000_000n);

export async function setDomainLockout(
  admin: Client,
  dc: SambaDc,
  policy: { threshold: number; windowMinutes: number; durationMinutes: number },
): Promise<void> {
  const replace = (type: string, value: string) =>
    new Change({ operation: "replace", modification: new Attribute({ type, values: [value] }) });
  await admin.modify(dc.baseDn, [
    replace("lockoutThreshold", String(policy.threshold)),
    replace("lockOutObservationWindow", adInterval(policy.windowMinutes)),
    replace("lockoutDuration", adInterval(policy.durationMinutes)),
  ]);
}

/** A Password Settings Object with this lockout threshold, applied to `appliesTo` (users or groups). */
export async function addPasswordSettings(
  admin: Client,
  dc: SambaDc,
  name: string,
  policy: { threshold: number; windowMinutes: number; appliesTo: string[] },
): Promise<string> {
  const dn = `CN=${name},CN=Password Settings Container,CN=System,${dc.baseDn}`;
  await admin.add(dn, {
    objectClass: ["msDS-PasswordSettings"],
    "msDS-PasswordSettingsPrecedence": "1",
    "msDS-PasswordReversibleEncryptionEnabled": "FALSE",
    "msDS-PasswordHistoryLength": "0",
    "msDS-PasswordComplexityEnabled": "FALSE",
    "msDS-MinimumPasswordLength": "1",
    "msDS-MinimumPasswordAge": "0",
    "msDS-MaximumPasswordAge": "-9223372036854775808",
    "msDS-LockoutThreshold": String(policy.threshold),
    "msDS-LockoutObservationWindow": adInterval(policy.windowMinutes),
    "msDS-LockoutDuration": adInterval(policy.windowMinutes),
    "msDS-PSOAppliesTo": policy.appliesTo,
  });
  return dn;
}

/**
 * Lets Authenticated Users read the Password Settings Container and what is in it: what an
 * administrator grants the service account so that the agent can honour fine-grained
 * policies. samba-tool works on the DC's database directly (the running DC sees the change).
 */
export async function grantPasswordSettingsRead(dc: SambaDc): Promise<void> {
  await promisify(execFile)("samba-tool", [
    "dsacl",
    "set",
    "-H",
    `tdb://${path.join(dc.dir, "private", "sam.ldb")}`,
    `--configfile=${path.join(dc.dir, "etc", "smb.conf")}`,
    "--objectdn",
    `CN=Password Settings Container,CN=System,${dc.baseDn}`,
    "--sddl",
    "(A;CI;RPLCLORC;;;AU)",
  ]);
}
