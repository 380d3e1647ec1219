// The session token a successful domain login returns: a short-lived HS256 JWT naming the
// tenant, the extension and the user's display name, which the UC client trades for its
// own session. Signed with UC_SESSION_SECRET, or else with a key derived from
// CONFIG_ENCRYPTION_KEY (HKDF, its own label), so a deployment needs no extra secret and the
// derived key is useless for anything else.
import { sign, verify } from "hono/jwt";

export const sessionIssuer = "pbx-ad-sync";
export const sessionAudience = "uc-client";

export interface SessionClaims {
  iss: string;
  aud: string;
  /** tenant/extension: who the session is for. */
  sub: string;
  tenant: string;
  extension: string;
  displayName: string;
  upn: string | null;
  iat: number;
  exp: number;
  jti: string;
}

export interface SessionUser {
  tenant: string;
  extension: string;
  displayName: string;
  upn: string | null;
}

// Deriving the key costs a few crypto calls; an isolate keeps it per secret it has seen.
const keys = new Map<string, Promise<string>>();

/** The worker's secrets the key comes from (see Env). */
export interface SigningSecrets {
  UC_SESSION_SECRET?: string | undefined;
  CONFIG_ENCRYPTION_KEY?: string | undefined;
}

/** The signing key from the worker's secrets. */
export function sessionKey(env: SigningSecrets): Promise<string> {
  const id = `${env.UC_SESSION_SECRET ?? ""}|${env.CONFIG_ENCRYPTION_KEY ?? ""}`;
  let key = keys.get(id);
  if (key === undefined) {
    key = deriveKey(env);
    // A failure (a secret missing or too short) is not kept, so fixing the secret is enough.
    key.catch(() => keys.delete(id));
    keys.set(id, key);
  }
  return key;
}

async function deriveKey(env: SigningSecrets): Promise<string> {
  if (env.UC_SESSION_SECRET !== undefined && env.UC_SESSION_SECRET !== "") {
    if (env.UC_SESSION_SECRET.length < 32) throw new Error("UC_SESSION_SECRET must be at least 32 characters");
    return env.UC_SESSION_SECRET;
  }
  if (!env.CONFIG_ENCRYPTION_KEY) throw new Error("set UC_SESSION_SECRET or CONFIG_ENCRYPTION_KEY: session tokens cannot be signed");
  const raw = Uint8Array.from(atob(env.CONFIG_ENCRYPTION_KEY), (ch) => ch.charCodeAt(0));
  const base = await crypto.subtle.importKey("raw", raw, "HKDF", false, ["deriveBits"]);
  const bits = await crypto.subtle.deriveBits(
    { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(32), info: new TextEncoder().encode("pbx-ad-sync uc-session v1") },
    base,
    256,
  );
  return btoa(String.fromCharCode(...new Uint8Array(bits)));
}

export async function issueSession(
  key: string,
  user: SessionUser,
  minutes: number,
  now = Date.now(),
): Promise<{ token: string; expiresAt: number }> {
  const iat = Math.floor(now / 1000);
  const claims: SessionClaims = {
    iss: sessionIssuer,
    aud: sessionAudience,
    sub: `${user.tenant}/${user.extension}`,
    tenant: user.tenant,
    extension: user.extension,
    displayName: user.displayName,
    upn: user.upn,
    iat,
    exp: iat + minutes * 60,
    jti: crypto.randomUUID(),
  };
  return { token: await sign({ ...claims }, key, "HS256"), expiresAt: claims.exp * 1000 };
}

/** The claims of a valid, unexpired token of `tenant`; undefined for anything else. */
export async function verifySession(key: string, token: string, tenant: string): Promise<SessionClaims | undefined> {
  try {
    const claims = (await verify(token, key, { alg: "HS256", iss: sessionIssuer, aud: sessionAudience })) as unknown as SessionClaims;
    return claims.tenant === tenant && typeof claims.extension === "string" ? claims : undefined;
  } catch {
    return undefined;
  }
}
