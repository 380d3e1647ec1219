import {
  InvalidCredentialsError,
  StrongAuthRequiredError as LdaptsStrongAuthRequiredError,
  NoSuchObjectError,
  SizeLimitExceededError,
  TimeLimitExceededError,
  UnknownStatusCodeError,
} from "ldapts";
import { describe, expect, it } from "vitest";
import {
  BindError,
  ConnectError,
  explainAdBindCode,
  parseAdSubCode,
  SearchError,
  StrongAuthRequiredError,
  TlsError,
  toDirectoryError,
} from "./errors.ts";

describe("parseAdSubCode", () => {
  // Diagnostic messages as Windows Server versions and Samba write them.
  it.each([
    ["80090308: LdapErr: DSID-0C09042F, comment: AcceptSecurityContext error, data 52e, v4563", "52e"],
    ["80090308: LdapErr: DSID-0C0903A9, comment: AcceptSecurityContext error, data 52e, v1db1", "52e"],
    ["80090308: LdapErr: DSID-0C09044E, comment: AcceptSecurityContext error, data 52e, v2580", "52e"],
    ["80090308: LdapErr: DSID-0C0903A9, comment: AcceptSecurityContext error, data 525, v1db1", "525"],
    ["80090308: LdapErr: DSID-0C09030B, comment: AcceptSecurityContext error, data 530, v893", "530"],
    ["80090308: LdapErr: DSID-0C09030B, comment: AcceptSecurityContext error, data 531, v893", "531"],
    ["80090308: LdapErr: DSID-0C0903A9, comment: AcceptSecurityContext error, data 532, v1db1", "532"],
    ["80090308: LdapErr: DSID-0C09042F, comment: AcceptSecurityContext error, data 533, v4563", "533"],
    ["80090308: LdapErr: DSID-0C09042F, comment: AcceptSecurityContext error, data 701, v4563", "701"],
    ["80090308: LdapErr: DSID-0C090447, comment: AcceptSecurityContext error, data 773, v3839", "773"],
    ["80090308: LdapErr: DSID-0C090446, comment: AcceptSecurityContext error, data 775, v2580", "775"],
    ["80090308: LdapErr: DSID-0C0903A9, comment: AcceptSecurityContext error, data 52E, v1db1", "52e"],
    // "data 0": no detail (the strong-authentication message carries it).
    [
      "00002028: LdapErr: DSID-0C090259, comment: The server requires binds to turn on integrity checking if SSL\\TLS are not already active on the connection, data 0, v4563",
      undefined,
    ],
    ["BindSimple: Transport encryption required.", undefined],
    ["Invalid credentials during a bind operation.", undefined],
  ])("%s -> %s", (message, code) => {
    expect(parseAdSubCode(message)).toBe(code);
  });
});

describe("explainAdBindCode", () => {
  it.each([
    ["52e", "invalid_credentials", /password is wrong/],
    ["525", "no_such_user", /no account/],
    ["530", "not_permitted", /time of day/],
    ["531", "not_permitted", /certain computers/],
    ["532", "password_expired", /expired/],
    ["533", "account_disabled", /disabled/],
    ["701", "account_expired", /account has expired/],
    ["773", "password_must_change", /must be changed/],
    ["775", "account_locked", /locked out/],
  ] as const)("%s means %s", (code, reason, explanation) => {
    const info = explainAdBindCode(code);
    expect(info?.reason).toBe(reason);
    expect(info?.explanation).toMatch(explanation);
    expect(info?.fix.length).toBeGreaterThan(10);
  });

  it("knows nothing of other codes", () => {
    expect(explainAdBindCode("1234")).toBeUndefined();
  });
});

describe("toDirectoryError", () => {
  const server = "dc1.example.com:636";

  it("maps a bind's invalid credentials with the AD sub-code, its reason and fix", () => {
    const error = toDirectoryError(
      new InvalidCredentialsError("80090308: LdapErr: DSID-0C090447, comment: AcceptSecurityContext error, data 773, v3839"),
      { phase: "bind", server },
    );
    expect(error).toBeInstanceOf(BindError);
    expect(error.code).toBe("ad_773");
    expect((error as BindError).adCode).toBe("773");
    expect((error as BindError).reason).toBe("password_must_change");
    expect(error.resultCode).toBe(49);
    expect(error.server).toBe(server);
    expect(error.message).toMatch(/must be changed/);
    expect(error.fix).toMatch(/new password/);
  });

  it("keeps an unknown sub-code and a missing one apart", () => {
    const unknown = toDirectoryError(new InvalidCredentialsError("80090308: LdapErr: DSID-0C09042F, comment: x, data 5a1, v4563"), {
      phase: "bind",
    });
    expect(unknown.code).toBe("ad_5a1");
    expect((unknown as BindError).reason).toBe("invalid_credentials");
    const none = toDirectoryError(new InvalidCredentialsError(), { phase: "bind" });
    expect(none.code).toBe("invalid_credentials");
    expect((none as BindError).adCode).toBeUndefined();
  });

  it.each([
    [
      "Windows",
      "00002028: LdapErr: DSID-0C090259, comment: The server requires binds to turn on integrity checking if SSL\\TLS are not already active on the connection, data 0, v4563",
    ],
    ["Samba", "BindSimple: Transport encryption required."],
  ])("maps %s's strong-authentication refusal to advice to use LDAPS or StartTLS", (_, message) => {
    const error = toDirectoryError(new LdaptsStrongAuthRequiredError(message), { phase: "bind", server });
    expect(error).toBeInstanceOf(StrongAuthRequiredError);
    expect(error).toBeInstanceOf(BindError);
    expect(error.code).toBe("strong_auth_required");
    expect(error.fix).toMatch(/ldaps.*starttls/);
  });

  it.each([
    ["Windows", "0000208D: NameErr: DSID-0310021B, problem 2001 (NO_OBJECT), data 0, best match of:\n\t'DC=example,DC=com'\n"],
    ["Samba", "acl_read: Error retrieving instanceType for base. at ../../source4/dsdb/samdb/ldb_modules/acl_read.c:967"],
  ])("maps %s's no-such-object to no_such_object naming the base", (_, message) => {
    const error = toDirectoryError(new NoSuchObjectError(message), { phase: "search", base: "OU=Nope,DC=example,DC=com" });
    expect(error).toBeInstanceOf(SearchError);
    expect(error.code).toBe("no_such_object");
    expect(error.message).toContain('"OU=Nope,DC=example,DC=com" does not exist');
  });

  it.each([
    [new TimeLimitExceededError("x"), "time_limit"],
    [new SizeLimitExceededError("x"), "size_limit"],
    [new UnknownStatusCodeError(10, "0000202B: RefErr: DSID-0310082F, data 0, 1 access points"), "referral"],
  ])("maps search result %s to %s", (ldaptsError, code) => {
    expect(toDirectoryError(ldaptsError, { phase: "search" }).code).toBe(code);
  });

  it.each([
    ["ENOTFOUND", "dns_not_found"],
    ["EAI_AGAIN", "dns_not_found"],
    ["ECONNREFUSED", "connection_refused"],
    ["ETIMEDOUT", "connect_timeout"],
    ["EHOSTUNREACH", "host_unreachable"],
    ["ENETUNREACH", "host_unreachable"],
    ["ECONNRESET", "connection_closed"],
  ])("maps Node's %s to a ConnectError %s", (code, expected) => {
    const error = toDirectoryError(Object.assign(new Error(`connect ${code}`), { code }), { phase: "connect", server });
    expect(error).toBeInstanceOf(ConnectError);
    expect(error.code).toBe(expected);
    expect(error.message).toContain(server);
    expect(error.fix).toBeDefined();
  });

  it("maps a reset during the TLS handshake to tls_handshake", () => {
    const error = toDirectoryError(Object.assign(new Error("socket hang up"), { code: "ECONNRESET" }), { phase: "tls", server });
    expect(error).toBeInstanceOf(TlsError);
    expect(error.code).toBe("tls_handshake");
  });

  it("maps ldapts' own timeouts by phase", () => {
    expect(toDirectoryError(new Error("Connection timeout"), { phase: "connect" }).code).toBe("connect_timeout");
    expect(toDirectoryError(new Error("SearchRequest: Operation timed out"), { phase: "search" }).code).toBe("timeout");
    expect(toDirectoryError(new Error("BindRequest: Operation timed out"), { phase: "bind" }).code).toBe("server_timeout");
  });

  it("passes DirectoryErrors through and wraps the unknown", () => {
    const known = new SearchError("no_such_object", "gone");
    expect(toDirectoryError(known, { phase: "search" })).toBe(known);
    const unknown = toDirectoryError("something odd", { phase: "search" });
    expect(unknown.code).toBe("unexpected");
    expect(unknown.message).toContain("something odd");
  });
});
