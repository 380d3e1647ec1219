import { toBase64 } from "./secret-box.ts";

/**
 * Agent enrollment tokens: `adsa_<tenant>_<id>_<secret>`. The tenant and id route the
 * connection to the right Durable Object and row before anything is trusted; the secret is
 * 32 random bytes, so an unsalted SHA-256 is enough to store it (nothing to brute-force).
 */
export interface ParsedAgentToken {
  tenant: string;
  id: string;
  secret: string;
}

const tokenPattern = /^adsa_([a-z0-9][a-z0-9-]{0,62})_([a-f0-9]{16})_([A-Za-z0-9_-]{43})$/;

export function parseAgentToken(token: string): ParsedAgentToken | undefined {
  const m = tokenPattern.exec(token);
  return m ? { tenant: m[1] as string, id: m[2] as string, secret: m[3] as string } : undefined;
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
