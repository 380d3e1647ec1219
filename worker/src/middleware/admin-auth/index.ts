import type { MiddlewareHandler } from "hono";
import { verify } from "hono/jwt";
import type { HonoJsonWebKey } from "hono/utils/jwt/jws";
import { ApiError } from "../../api-error.ts";

/** What the host portal's token says about the caller. */
export interface AdminClaims {
  sub: string;
  tenant: string;
  role: "admin" | "viewer";
  exp: number;
}

/** How far apart the host portal's clock and ours may be, for `exp`, `nbf` and `iat`. */
export const clockSkewSeconds = 60;
/** The longest session a token may grant, unless the deployment says otherwise. */
export const defaultMaxLifetimeSeconds = 24 * 3600;

export interface AdminAuthOptions {
  /** Shared secret for HS256 tokens minted by the host portal. */
  hs256Secret?: string | undefined;
  /** Public key (JWK, RS256 or ES256) for tokens the host portal signs with its private key. */
  publicKey?: HonoJsonWebKey | undefined;
  /** Expected `iss` claim, when the host portal sets one. */
  issuer?: string | undefined;
  /** Expected `aud` claim (the string, or an array holding it), when the host portal sets one. */
  audience?: string | undefined;
  /** The longest `exp - iat` (or `exp - now` without `iat`) accepted; 24 hours by default. */
  maxLifetimeSeconds?: number | undefined;
  /** Route parameter naming the tenant the request is about. */
  tenantParam?: string;
}

export type AdminAuthVariables = { admin: AdminClaims };

/**
 * Bearer-JWT authentication of portal administrators. A token names one tenant; a request
 * for another tenant is refused with 403 even when the token is otherwise valid.
 */
export function adminAuth(options: AdminAuthOptions): MiddlewareHandler<{ Variables: AdminAuthVariables }> {
  const { hs256Secret, publicKey, tenantParam = "tenant" } = options;
  if (!hs256Secret && !publicKey) throw new Error("adminAuth: set hs256Secret or publicKey; without one no token can be verified");
  if (hs256Secret !== undefined && hs256Secret.length < 32) throw new Error("adminAuth: hs256Secret must be at least 32 characters");
  const keyAlg = (publicKey as { alg?: string } | undefined)?.alg;
  if (keyAlg !== undefined && !["RS256", "ES256"].includes(keyAlg)) {
    throw new Error(`adminAuth: publicKey.alg ${keyAlg} is not supported (RS256 or ES256)`);
  }
  const maxLifetimeSeconds = options.maxLifetimeSeconds ?? defaultMaxLifetimeSeconds;
  if (!Number.isInteger(maxLifetimeSeconds) || maxLifetimeSeconds < 1)
    throw new Error(`adminAuth: maxLifetimeSeconds must be a whole number of seconds, 1 or more (not ${maxLifetimeSeconds})`);
  const expected: Expected = {
    issuer: options.issuer || undefined,
    audience: options.audience || undefined,
    maxLifetimeSeconds,
  };

  return async (c, next) => {
    const header = c.req.header("Authorization");
    const token = header?.match(/^Bearer\s+([A-Za-z0-9._~+/-]+=*)$/)?.[1];
    if (!token) throw new ApiError(401, "unauthorized", "Sign in again: this request carries no administrator session.");

    const claims = await verifyToken(token, hs256Secret, publicKey, expected);
    const tenant = c.req.param(tenantParam);
    if (tenant !== undefined && tenant !== claims.tenant) {
      throw new ApiError(403, "forbidden_tenant", "This session belongs to another tenant.");
    }
    c.set("admin", claims);
    await next();
  };
}

interface Expected {
  issuer: string | undefined;
  audience: string | undefined;
  maxLifetimeSeconds: number;
}

async function verifyToken(
  token: string,
  secret: string | undefined,
  publicKey: HonoJsonWebKey | undefined,
  expected: Expected,
): Promise<AdminClaims> {
  const alg = headerAlg(token);
  // Hono checks the header and the signature; the claims are checked below, with the leeway
  // Hono's own checks lack, and only once the signature has shown the token is the portal's.
  const options = { exp: false, nbf: false, iat: false };
  let payload: Record<string, unknown>;
  try {
    if (alg === "HS256" && secret) payload = await verify(token, secret, { alg: "HS256", ...options });
    else if ((alg === "RS256" || alg === "ES256") && publicKey) payload = await verify(token, publicKey, { alg, ...options });
    else throw new Error(`algorithm ${alg} not accepted`);
  } catch {
    throw new ApiError(401, "unauthorized", "The administrator session is not valid: sign in again.");
  }
  checkTimes(payload, expected.maxLifetimeSeconds);
  if (expected.issuer !== undefined && payload.iss !== expected.issuer) {
    throw new ApiError(
      401,
      "invalid_issuer",
      `The administrator session was not issued by ${expected.issuer}: sign in again through the portal.`,
    );
  }
  if (expected.audience !== undefined && !audiences(payload.aud).includes(expected.audience)) {
    throw new ApiError(
      401,
      "invalid_audience",
      `The administrator session is not meant for ${expected.audience}: sign in again through the portal.`,
    );
  }
  const { sub, tenant, role, exp } = payload;
  if (typeof tenant !== "string" || tenant === "" || (role !== "admin" && role !== "viewer")) {
    throw new ApiError(401, "unauthorized", "The administrator session does not name a tenant and role.");
  }
  return { sub: typeof sub === "string" ? sub : "unknown", tenant, role, exp: exp as number };
}

/**
 * `exp` is required, `nbf` and `iat` optional, each within the clock-skew leeway; and a
 * session may not outlive the maximum lifetime, so a leaked token is not good for years.
 */
function checkTimes(payload: Record<string, unknown>, maxLifetimeSeconds: number): void {
  const now = Math.floor(Date.now() / 1000);
  const { exp, nbf, iat } = payload;
  const time = (v: unknown) => typeof v === "number" && Number.isFinite(v);
  if (!time(exp) || (nbf !== undefined && !time(nbf)) || (iat !== undefined && !time(iat))) {
    throw new ApiError(401, "unauthorized", "The administrator session has no valid expiry (exp), or a malformed nbf or iat.");
  }
  const expires = exp as number;
  if (now >= expires + clockSkewSeconds) throw new ApiError(401, "session_expired", "Your session has expired: sign in again.");
  if ((nbf !== undefined && (nbf as number) > now + clockSkewSeconds) || (iat !== undefined && (iat as number) > now + clockSkewSeconds)) {
    throw new ApiError(
      401,
      "session_not_yet_valid",
      "The administrator session is not valid yet: check the clocks of the portal and of this server.",
    );
  }
  const lifetime = expires - (iat === undefined ? now : (iat as number));
  if (lifetime > maxLifetimeSeconds) {
    throw new ApiError(
      401,
      "session_lifetime_too_long",
      `The administrator session is valid for longer than ${maxLifetimeSeconds} seconds, which this server does not accept: sign in again.`,
      { maxLifetimeSeconds },
    );
  }
}

function audiences(aud: unknown): unknown[] {
  return Array.isArray(aud) ? aud : [aud];
}
function headerAlg(token: string): string {
  try {
    const header = JSON.parse(atob((token.split(".")[0] ?? "").replace(/-/g, "+").replace(/_/g, "/"))) as { alg?: unknown };
    return typeof header.alg === "string" ? header.alg : "none";
  } catch {
    return "none";
  }
}

/** Refuses callers whose role may only read. */
export function requireAdminRole(): MiddlewareHandler<{ Variables: AdminAuthVariables }> {
  return async (c, next) => {
    if (c.get("admin").role !== "admin") throw new ApiError(403, "forbidden_role", "Your role may view this page but not change it.");
    await next();
  };
}
