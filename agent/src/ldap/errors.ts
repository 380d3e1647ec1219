// Directory failures as a small class tree with machine-readable codes, and the one place
// (toDirectoryError) that turns what ldapts and Node throw into them. Messages never hold a
// password: nothing here ever sees one, and ldapts redacts it from its own output.
import type { AuthFailureReason } from "../../../schema/src/agent-protocol.ts";
import type { CertificateInfo, TlsProblemCode } from "./certificate.ts";

export interface DirectoryErrorOptions {
  fix?: string;
  server?: string;
  resultCode?: number;
  cause?: unknown;
}

export class DirectoryError extends Error {
  readonly code: string;
  /** The likely fix, for an administrator. */
  readonly fix: string | undefined;
  /** host:port of the domain controller involved, when one was. */
  readonly server: string | undefined;
  /** The LDAP result code (RFC 4511 section 4.1.9) when the server answered with one. */
  readonly resultCode: number | undefined;

  constructor(code: string, message: string, options: DirectoryErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "DirectoryError";
    this.code = code;
    this.fix = options.fix;
    this.server = options.server;
    this.resultCode = options.resultCode;
  }
}

export type ConnectErrorCode =
  | "dns_not_found"
  | "connection_refused"
  | "connect_timeout"
  | "host_unreachable"
  | "connection_closed"
  | "server_timeout"
  | "server_unavailable";

/** The domain controller could not be reached or stopped answering; another DC may do. */
export class ConnectError extends DirectoryError {
  declare readonly code: ConnectErrorCode;
  constructor(code: ConnectErrorCode, message: string, options?: DirectoryErrorOptions) {
    super(code, message, options);
    this.name = "ConnectError";
  }
}

export type TlsErrorCode = TlsProblemCode | "tls_handshake" | "starttls_refused";

export class TlsError extends DirectoryError {
  declare readonly code: TlsErrorCode;
  /** The certificate the DC presented, when the handshake got that far. */
  readonly certificate: CertificateInfo | undefined;
  constructor(code: TlsErrorCode, message: string, options: DirectoryErrorOptions & { certificate?: CertificateInfo } = {}) {
    super(code, message, options);
    this.name = "TlsError";
    this.certificate = options.certificate;
  }
}

/** A bind the server refused. Never worth retrying on another DC: it would refuse it too. */
export class BindError extends DirectoryError {
  /** AD's sub-code from "…, data 52e, …" (lower-case hex), when there was one. */
  readonly adCode: string | undefined;
  /** What the refusal means for a person logging in (see endUserReason for what to show them). */
  readonly reason: AuthFailureReason;
  constructor(code: string, message: string, options: DirectoryErrorOptions & { adCode?: string; reason: AuthFailureReason }) {
    super(code, message, options);
    this.name = "BindError";
    this.adCode = options.adCode;
    this.reason = options.reason;
  }
}

const STRONG_AUTH_FIX =
  'Set connection.security to "ldaps" (port 636) or "starttls" (port 389). The domain controller refuses to accept a password over an unencrypted connection, as hardened domain controllers should.';

/** Result code 8: the DC wants the bind protected by TLS (or signing) first. */
export class StrongAuthRequiredError extends BindError {
  constructor(message: string, options: DirectoryErrorOptions = {}) {
    super("strong_auth_required", message, { fix: STRONG_AUTH_FIX, ...options, reason: "directory_unavailable" });
    this.name = "StrongAuthRequiredError";
  }
}

export type BindPasswordErrorCode = "bind_password_missing" | "bind_password_empty" | "bind_password_unreadable";

/** The bind password is not where the configuration says, or is empty. */
export class BindPasswordError extends DirectoryError {
  declare readonly code: BindPasswordErrorCode;
  constructor(code: BindPasswordErrorCode, message: string, options?: DirectoryErrorOptions) {
    super(code, message, options);
    this.name = "BindPasswordError";
  }
}

export type SearchErrorCode =
  | "no_such_object"
  | "invalid_dn"
  | "invalid_filter"
  | "insufficient_access"
  | "size_limit"
  | "time_limit"
  | "admin_limit"
  | "timeout"
  | "referral"
  | "unwilling_to_perform"
  | "no_position"
  | "search_failed";

export class SearchError extends DirectoryError {
  declare readonly code: SearchErrorCode;
  constructor(code: SearchErrorCode, message: string, options?: DirectoryErrorOptions) {
    super(code, message, options);
    this.name = "SearchError";
  }
}

// ---------------------------------------------------------------------------------------
// AD bind sub-codes

/**
 * AD's sub-code from a bind diagnostic, lower-case: "52e" from
 * "80090308: LdapErr: DSID-0C09042F, comment: AcceptSecurityContext error, data 52e, v4563".
 * Samba writes the same shape ("…, data 52e, v1db1"). The sub-code is a Win32 error number
 * in hex (0x52e = 1326, ERROR_LOGON_FAILURE).
 */
export function parseAdSubCode(diagnostic: string): string | undefined {
  const match = /\bdata ([0-9a-f]{1,8})\b/i.exec(diagnostic);
  const code = match?.[1]?.toLowerCase();
  // "data 0" is "no further detail", e.g. in the strong-authentication message.
  return code === undefined || /^0+$/.test(code) ? undefined : code.replace(/^0+/, "");
}

export interface AdBindCodeInfo {
  reason: AuthFailureReason;
  /** What it means, for an administrator. */
  explanation: string;
  fix: string;
}

const AD_BIND_CODES: Record<string, AdBindCodeInfo> = {
  "52e": {
    reason: "invalid_credentials",
    explanation:
      "the password is wrong, or no account has this name (Samba domain controllers, and Windows ones for some name forms, answer 52e for an unknown account too)",
    fix: "Check the user name (a DN must match the account exactly; a UPN must be its userPrincipalName) and enter the password again.",
  },
  "525": {
    reason: "no_such_user",
    explanation: "no account has this name",
    fix: "Check the user name: a DN must match the account exactly (CN=…,OU=…,DC=…); a UPN must be the account's userPrincipalName.",
  },
  "530": {
    reason: "not_permitted",
    explanation: "the account may not log on at this time of day (logon hours)",
    fix: "Allow logon at all hours for this account (Account tab, Logon Hours).",
  },
  "531": {
    reason: "not_permitted",
    explanation: "the account may only log on from certain computers (userWorkstations)",
    fix: 'Allow the account to log on to all computers (Account tab, "Log On To…").',
  },
  "532": {
    reason: "password_expired",
    explanation: "the account's password has expired",
    fix: 'Set a new password; for the service account also tick "Password never expires" so the sync does not stop when it ages out.',
  },
  "533": {
    reason: "account_disabled",
    explanation: "the account is disabled",
    fix: "Enable the account in Active Directory Users and Computers.",
  },
  "568": {
    reason: "not_permitted",
    explanation: "the account is a member of too many groups for a logon token (ERROR_TOO_MANY_CONTEXT_IDS)",
    fix: "Reduce the account's group memberships.",
  },
  "701": {
    reason: "account_expired",
    explanation: "the account has expired (accountExpires is in the past)",
    fix: 'Extend the account\'s expiry date or set it to "Never" (Account tab, Account expires).',
  },
  "773": {
    reason: "password_must_change",
    explanation: 'the password must be changed before the account can be used ("User must change password at next logon")',
    fix: 'Set a new password and untick "User must change password at next logon".',
  },
  "775": {
    reason: "account_locked",
    explanation: "the account is locked out after too many failed logons",
    fix: "Unlock the account (Account tab), and find what keeps sending a wrong password before it locks again.",
  },
};

/** The meaning of an AD bind sub-code (from parseAdSubCode), or undefined for one we do not know. */
export function explainAdBindCode(adCode: string): AdBindCodeInfo | undefined {
  return AD_BIND_CODES[adCode.toLowerCase()];
}

// ---------------------------------------------------------------------------------------
// The one mapping

export type OperationPhase = "connect" | "tls" | "bind" | "search";

export interface ErrorContext {
  phase: OperationPhase;
  /** host:port, for messages. */
  server?: string;
  /** The DN being searched, for no_such_object messages. */
  base?: string;
}

const DNS_CODES = new Set(["ENOTFOUND", "EAI_AGAIN", "EAI_NONAME", "EAI_NODATA", "EAI_FAIL"]);
const UNREACHABLE_CODES = new Set(["EHOSTUNREACH", "ENETUNREACH", "EHOSTDOWN", "ENETDOWN", "EADDRNOTAVAIL"]);
const CLOSED_CODES = new Set(["ECONNRESET", "EPIPE", "ECONNABORTED", "ERR_STREAM_DESTROYED", "ERR_SOCKET_CLOSED"]);

/** Maps anything ldapts or Node throws to a DirectoryError; DirectoryErrors pass through. */
export function toDirectoryError(error: unknown, context: ErrorContext): DirectoryError {
  if (error instanceof DirectoryError) return error;
  const server = context.server;
  const at = server === undefined ? "" : ` (${server})`;
  const opts = (extra: DirectoryErrorOptions = {}): DirectoryErrorOptions => {
    const out: DirectoryErrorOptions = { cause: error, ...extra };
    if (server !== undefined) out.server = server;
    return out;
  };

  const resultCode = ldapResultCode(error);
  if (resultCode !== undefined) return fromResultCode(resultCode, diagnosticOf(error), context, opts);

  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const message = error instanceof Error ? error.message : String(error);
  if (typeof code === "string") {
    if (DNS_CODES.has(code)) {
      return new ConnectError(
        "dns_not_found",
        `the name of the domain controller${at} cannot be resolved (${code})`,
        opts({
          fix: "Check the host name for typos, and that the agent host uses the domain's DNS servers (nslookup the name on the agent host).",
        }),
      );
    }
    if (code === "ECONNREFUSED") {
      return new ConnectError(
        "connection_refused",
        `the domain controller${at} refused the connection: nothing listens on that port`,
        opts({
          fix: "Check the port (636 for LDAPS, 389 for StartTLS and plain LDAP) and that the domain controller's LDAP service is running.",
        }),
      );
    }
    if (code === "ETIMEDOUT") return connectTimeout(at, opts);
    if (UNREACHABLE_CODES.has(code)) {
      return new ConnectError(
        "host_unreachable",
        `there is no route to the domain controller${at} (${code})`,
        opts({ fix: "Check the address and the network path (routing, VPN, firewalls) from the agent host to the domain controller." }),
      );
    }
    if (CLOSED_CODES.has(code)) {
      if (context.phase === "tls") return handshakeError(message, at, opts);
      return connectionClosed(at, opts);
    }
    if (code.startsWith("ERR_SSL_") || code.startsWith("ERR_TLS_")) return handshakeError(message, at, opts);
  }
  if (context.phase === "tls" && /socket disconnected before secure TLS connection|wrong version number|handshake/i.test(message)) {
    return handshakeError(message, at, opts);
  }
  // ldapts' own errors carry only a message.
  if (message === "Connection timeout") return connectTimeout(at, opts);
  if (/Operation timed out/.test(message)) {
    if (context.phase === "search") {
      return new SearchError(
        "timeout",
        `the domain controller${at} did not answer the search in time`,
        opts({ fix: "Raise connection.searchTimeoutSeconds, narrow the scope, or check the domain controller's load." }),
      );
    }
    return new ConnectError(
      "server_timeout",
      `the domain controller${at} accepted the connection but did not answer in time`,
      opts({ fix: "Check the domain controller's health and load; the agent tries the next domain controller meanwhile." }),
    );
  }
  if (/Connection closed before message response|Socket error|Socket connection not established|socket hang up/i.test(message)) {
    return connectionClosed(at, opts);
  }
  if (/filter/i.test(message) && context.phase === "search") {
    return new SearchError(
      "invalid_filter",
      `the LDAP filter is not valid: ${message}`,
      opts({ fix: "Correct the filter (RFC 4515), e.g. (department=Sales); literal * ( ) \\ in values are written \\2a \\28 \\29 \\5c." }),
    );
  }
  return new DirectoryError("unexpected", `unexpected error talking to the domain controller${at}: ${message}`, opts());
}

function connectTimeout(at: string, opts: (extra?: DirectoryErrorOptions) => DirectoryErrorOptions): ConnectError {
  return new ConnectError(
    "connect_timeout",
    `the domain controller${at} did not accept the connection in time`,
    opts({
      fix: "Check that the host is up and that a firewall lets the agent host reach this port; raise connection.connectTimeoutSeconds for a slow link.",
    }),
  );
}

function connectionClosed(at: string, opts: (extra?: DirectoryErrorOptions) => DirectoryErrorOptions): ConnectError {
  return new ConnectError(
    "connection_closed",
    `the domain controller${at} closed the connection`,
    opts({ fix: "Check the domain controller's event log; a TLS inspection device or idle timeout on the path can also cut connections." }),
  );
}

function handshakeError(message: string, at: string, opts: (extra?: DirectoryErrorOptions) => DirectoryErrorOptions): TlsError {
  return new TlsError(
    "tls_handshake",
    `the TLS handshake with the domain controller${at} failed: ${message}`,
    opts({
      fix: 'Check that this port speaks LDAPS (636; 389 needs security "starttls") and that the domain controller has a certificate installed.',
    }),
  );
}

function ldapResultCode(error: unknown): number | undefined {
  // ldapts' ResultCodeError subclasses carry the numeric result code in `code`.
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === "number" && error instanceof Error) return code;
  return undefined;
}

// ResultCodeError appends " Code: 0x31" to the server's diagnostic message.
function diagnosticOf(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/\s*Code: 0x[0-9a-f]+$/i, "");
}

function fromResultCode(
  resultCode: number,
  diagnostic: string,
  context: ErrorContext,
  opts: (extra?: DirectoryErrorOptions) => DirectoryErrorOptions,
): DirectoryError {
  const at = context.server === undefined ? "" : ` (${context.server})`;
  const said = diagnostic === "" ? "" : `: ${diagnostic}`;
  const o = (extra: DirectoryErrorOptions = {}) => opts({ resultCode, ...extra });
  switch (resultCode) {
    case 8:
    case 13:
      // 8 strongerAuthRequired, 13 confidentialityRequired: both mean "protect the connection first".
      return new StrongAuthRequiredError(
        `the domain controller${at} requires an encrypted connection (or signing) before it accepts a password${said}`,
        o(),
      );
    case 49: {
      const adCode = parseAdSubCode(diagnostic);
      const info = adCode === undefined ? undefined : explainAdBindCode(adCode);
      const bindOptions: DirectoryErrorOptions & { adCode?: string; reason: AuthFailureReason } = {
        ...o({ fix: info?.fix ?? "Check the user name and enter the password again." }),
        reason: info?.reason ?? "invalid_credentials",
      };
      if (adCode !== undefined) bindOptions.adCode = adCode;
      const what = info?.explanation ?? (adCode === undefined ? "invalid credentials" : `invalid credentials (AD code ${adCode})`);
      return new BindError(
        adCode === undefined ? "invalid_credentials" : `ad_${adCode}`,
        `the bind was refused${at}: ${what}${said}`,
        bindOptions,
      );
    }
    case 48:
    case 7:
      return new BindError("inappropriate_auth", `the domain controller${at} does not accept this kind of bind${said}`, {
        ...o({ fix: "Bind with a user name and password (a simple bind); anonymous binds are not accepted." }),
        reason: "directory_unavailable",
      });
    case 32:
      return new SearchError(
        "no_such_object",
        `${context.base === undefined ? "the entry" : `"${context.base}"`} does not exist in the directory${at}${said}`,
        o({
          fix: "Check the DN for typos; copy it from the attribute editor (distinguishedName) in Active Directory Users and Computers.",
        }),
      );
    case 34:
      return new SearchError(
        "invalid_dn",
        `the DN is not valid${said}`,
        o({ fix: "Write the DN as in AD, e.g. OU=Sales,DC=example,DC=com." }),
      );
    case 3:
      return new SearchError(
        "time_limit",
        `the search ran out of time on the domain controller${at}${said}`,
        o({ fix: "Raise connection.searchTimeoutSeconds or narrow the scope." }),
      );
    case 4:
      return new SearchError("size_limit", `the search hit a size limit on the domain controller${at}${said}`, o());
    case 11:
      return new SearchError(
        "admin_limit",
        `the search hit an administrative limit of the domain controller${at}${said}`,
        o({ fix: "Check the domain controller's LDAP policy (MaxResultSetSize, MaxQueryDuration) or narrow the scope." }),
      );
    case 10:
      return new SearchError(
        "referral",
        `the domain controller${at} referred the request to another server${said}`,
        o({ fix: "The base DN belongs to another domain: use this domain's DN, or connect to a domain controller of that domain." }),
      );
    case 50:
      return new SearchError(
        "insufficient_access",
        `the bind account may not read this${at}${said}`,
        o({ fix: "Give the bind account read access to the users, groups and OUs in the scope." }),
      );
    case 53:
      return new SearchError("unwilling_to_perform", `the domain controller${at} is unwilling to perform the request${said}`, o());
    case 51:
    case 52:
      return new ConnectError(
        "server_unavailable",
        `the domain controller${at} is busy or unavailable${said}`,
        o({ fix: "The domain controller may be starting, shutting down or overloaded; the agent tries the next one." }),
      );
    default:
      if (context.phase === "bind") {
        return new BindError("bind_failed", `the bind failed${at} (LDAP result ${resultCode})${said}`, {
          ...o(),
          reason: "directory_unavailable",
        });
      }
      return new SearchError("search_failed", `the request failed${at} (LDAP result ${resultCode})${said}`, o());
  }
}
