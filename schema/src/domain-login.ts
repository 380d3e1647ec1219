// Domain login's pure rules, shared by the worker (which refuses what must never reach AD)
// and the agent (which finds and binds the user): how a typed name is read, which names are
// refused outright, and what a person logging in may be told.
import type { AuthFailureReason } from "./agent-protocol.ts";

export type LoginName = { kind: "upn"; upn: string; local: string; suffix: string } | { kind: "downLevel"; domain: string; sam: string };

/**
 * The longest name taken: a userPrincipalName is at most 1024 characters in AD's schema
 * (rangeUpper), and a DOMAIN\sAMAccountName is far shorter.
 */
export const maxLoginNameLength = 1024;

/** Why a typed name or password is refused before anything is asked of the directory. */
export type LoginInputProblem =
  | "empty_password"
  | "empty_username"
  | "username_too_long"
  | "username_control_characters"
  | "malformed_username";

/** "user@example.com" or "EXAMPLE\user"; undefined for anything else. */
export function parseLoginName(username: string): LoginName | undefined {
  const name = username.trim();
  const backslash = name.indexOf("\\");
  if (backslash >= 0) {
    const domain = name.slice(0, backslash);
    const sam = name.slice(backslash + 1);
    return domain === "" || sam === "" ? undefined : { kind: "downLevel", domain, sam };
  }
  const at = name.lastIndexOf("@");
  if (at <= 0 || at === name.length - 1) return undefined;
  return { kind: "upn", upn: name, local: name.slice(0, at), suffix: name.slice(at + 1) };
}

/**
 * The input checks that need neither configuration nor directory. An empty password first:
 * RFC 4513 section 5.1.2, a bind with a name and no password is an anonymous bind, and
 * servers that allow those answer "success".
 */
export function loginInputProblem(username: unknown, password: unknown): LoginInputProblem | undefined {
  if (typeof password !== "string" || password === "") return "empty_password";
  if (typeof username !== "string" || username.trim() === "") return "empty_username";
  if (username.length > maxLoginNameLength) return "username_too_long";
  // NUL ends a C string in some LDAP stacks, and no AD name holds a control character.
  if (/\p{Cc}/u.test(username)) return "username_control_characters";
  if (parseLoginName(username) === undefined) return "malformed_username";
  return undefined;
}

/**
 * What a person logging in may be told. Only "the name or password is wrong", except
 * where the password was right: AD reports an expired or must-change password only to
 * someone who knew it, so saying so reveals nothing and tells them what to do. Anything
 * else (unknown, disabled, locked, expired account) would let a stranger probe accounts.
 * "directory_unavailable" says nothing about the account and is kept.
 */
export function endUserReason(reason: AuthFailureReason): AuthFailureReason {
  switch (reason) {
    case "password_expired":
    case "password_must_change":
    case "directory_unavailable":
      return reason;
    default:
      return "invalid_credentials";
  }
}
