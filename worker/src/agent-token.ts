import { toBase64 } from "./secret-box.ts";

/**
 * The agents' two secrets, both `<prefix>_<tenant>_<id>_<secret>`:
 * - an enrollment token, `adsa_…`: made by an administrator, single-use, expiring; an agent
 *   spends it once, at its first start, to get
 * - its credential, `adsc_…`: one per agent, kept by the agent in its state directory; the
 *   only thing the agent socket accepts.
 * The tenant and id route the request to the right Durable Object and row before anything is
 * trusted; the secret is 32 random bytes, so an unsalted SHA-256 is enough to store it
 * (nothing to brute-force).
 */
export interface ParsedAgentToken {
  tenant: string;
  id: string;
  secret: string;
}

const secretPattern = (prefix: string) => new RegExp(`^${prefix}_([a-z0-9][a-z0-9-]{0,62})_([a-f0-9]{16})_([A-Za-z0-9_-]{43})$`);
const tokenPattern = secretPattern("adsa");
const credentialPattern = secretPattern("adsc");

function parse(pattern: RegExp, text: string): ParsedAgentToken | undefined {
  const m = pattern.exec(text);
  return m ? { tenant: m[1] as string, id: m[2] as string, secret: m[3] as string } : undefined;
}

/** An enrollment token, or undefined when the text is not one. */
export function parseAgentToken(token: string): ParsedAgentToken | undefined {
  return parse(tokenPattern, token);
}

/** An agent's credential, or undefined when the text is not one. */
export function parseAgentCredential(credential: string): ParsedAgentToken | undefined {
  return parse(credentialPattern, credential);
}

export function newAgentCredential(tenant: string): { credential: string; id: string; secret: string } {
  const { token, id, secret } = newAgentToken(tenant);
  return { credential: `adsc${token.slice(4)}`, id, secret };
}

export function newAgentToken(tenant: string): { token: string; id: string; secret: string } {
  const id = [...crypto.getRandomValues(new Uint8Array(8))].map((b) => b.toString(16).padStart(2, "0")).join("");
  const secret = toBase64(crypto.getRandomValues(new Uint8Array(32)))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");
  return { token: `adsa_${tenant}_${id}_${secret}`, id, secret };
}

export async function hashSecret(secret: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(secret));
  return toBase64(new Uint8Array(digest));
}

/** Constant-time comparison of two hashes of equal length. */
export function sameHash(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

export const tenantPattern = /^[a-z0-9][a-z0-9-]{0,62}$/;
