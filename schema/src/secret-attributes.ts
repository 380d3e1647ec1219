// Attributes that hold secrets: passwords and their hashes, LAPS and DSRM passwords, BitLocker
// recovery keys, gMSA and trust passwords, TPM owner information. The agent never asks a DC
// for them, never filters on them (a yes/no answer to (ms-Mcs-AdmPwd=a*) leaks a password a
// character at a time) and drops them from any answer, whatever a configuration says; an
// agent host can add names with --deny-attribute. Validation warns where a configuration
// names one, since a sync with it fails.

export const secretAttributes: readonly string[] = [
  "unicodePwd",
  "userPassword",
  "unixUserPassword",
  "supplementalCredentials",
  "dBCSPwd",
  "lmPwdHistory",
  "ntPwdHistory",
  "priorValue",
  "currentValue",
  "trustAuthIncoming",
  "trustAuthOutgoing",
  "initialAuthIncoming",
  "initialAuthOutgoing",
  "ms-Mcs-AdmPwd",
  "ms-Mcs-AdmPwdExpirationTime",
  "msLAPS-Password",
  "msLAPS-PasswordExpirationTime",
  "msLAPS-EncryptedPassword",
  "msLAPS-EncryptedPasswordHistory",
  "msLAPS-EncryptedDSRMPassword",
  "msLAPS-EncryptedDSRMPasswordHistory",
  "msFVE-RecoveryPassword",
  "msFVE-KeyPackage",
  "msDS-ManagedPassword",
  "msDS-ManagedPasswordId",
  "msDS-ManagedPasswordPreviousId",
  "msTPM-OwnerInformation",
  "msTPM-TpmInformationForComputer",
];

/** The attribute a description names, without options (";binary", ";range=0-1499"), lower-cased. */
export function attributeKey(description: string): string {
  return (description.split(";")[0] ?? "").trim().toLowerCase();
}

const known = new Set(secretAttributes.map(attributeKey));

export function isSecretAttribute(description: string): boolean {
  return known.has(attributeKey(description));
}
