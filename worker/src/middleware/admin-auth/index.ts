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

export interface AdminAuthOptions {
  /** Shared secret for HS256 tokens minted by the host portal. */
  hs256Secret?: string | undefined;
  /** Public key (JWK, RS256 or ES256) for tokens the host portal signs with its private key. */
  publicKey?: HonoJsonWebKey | undefined;
  /** Expected `iss` claim, when the host portal sets one. */
  issuer?: string | undefined;
  /** Route parameter naming the tenant the request is about. */
  tenantParam?: string;
}

export type AdminAuthVariables = { admin: AdminClaims };

/**
 * Bearer-JWT authentication of portal administrators. A token names one tenant; a request
 * for another tenant is refused with 403 even when the token is otherwise valid.
 */
export function adminAuth(options: AdminAuthOptions): MiddlewareHandler<{ Variables: AdminAuthVariables }> {
  const { hs256Secret, publicKey, issuer, tenantParam = "tenant" } = options;
  if (!hs256Secret && !publicKey) throw new Error("adminAuth: set hs256Secret or publicKey; without one no token can be verified");
  if (hs256Secret !== undefined && hs256Secret.length < 32) throw new Error("adminAuth: hs256Secret must be at least 32 characters");
  const keyAlg = (publicKey as { alg?: string } | undefined)?.alg;
  if (keyAlg !== undefined && !["RS256", "ES256"].includes(keyAlg)) {
    throw new Error(`adminAuth: publicKey.alg ${keyAlg} is not supported (RS256 or ES256)`);
  }

  return async (c, next) => {
    const header = c.req.header("Authorization");
    const token = header?.match(/^Bearer\s+([A-Za-z0-9._~+/-]+=*)$/)?.[1];
    if (!token) throw new ApiError(401, "unauthorized", "Sign in again: this request carries no administrator session.");

    const claims = await verifyToken(token, hs256Secret, publicKey, issuer);
    const tenant = c.req.param(tenantParam);
    if (tenant !== undefined && tenant !== claims.tenant) {
      throw new ApiError(403, "forbidden_tenant", "This session belongs to another tenant.");
    }
    c.set("admin", claims);
    await next();
  };
}

async function verifyToken(
  token: string,
  secret: string | undefined,
  publicKey: HonoJsonWebKey | undefined,
  issuer: string | undefined,
): Promise<AdminClaims> {
  const alg = headerAlg(token);
  const options = { ...(issuer ? { iss: issuer } : {}) };
  let payload: Record<string, unknown>;
  try {
    if (alg === "HS256" && secret) payload = await verify(token, secret, { alg: "HS256", ...options });
    else if ((alg === "RS256" || alg === "ES256") && publicKey) payload = await verify(token, publicKey, { alg, ...options });
    else throw new Error(`algorithm ${alg} not accepted`);
  } catch (e) {
    const expired = e instanceof Error && /expired/i.test(e.name + e.message);
    throw expired
      ? new ApiError(401, "session_expired", "Your session has expired: sign in again.")
      : new ApiError(401, "unauthorized", "The administrator session is not valid: sign in again.");
  }
  const { sub, tenant, role, exp } = payload;
  if (typeof tenant !== "string" || tenant === "" || (role !== "admin" && role !== "viewer") || typeof exp !== "number") {
    throw new ApiError(401, "unauthorized", "The administrator session does not name a tenant and role.");
  }
  return { sub: typeof sub === "string" ? sub : "unknown", tenant, role, exp };
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
