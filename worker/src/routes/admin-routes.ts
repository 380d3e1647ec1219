// Everything an administrator of a tenant does, behind one session check: any role may read,
// only the admin role may change anything (every write is a POST, PUT or DELETE).
import { Hono, type MiddlewareHandler } from "hono";
import { ApiError } from "../api-error.ts";
import { adminAuth, requireAdminRole } from "../middleware/admin-auth/index.ts";
import { agentRoutes } from "./agent-routes.ts";
import { configRoutes } from "./config-routes.ts";
import { directoryRoutes } from "./directory-routes.ts";
import { extensionRoutes } from "./extension-routes.ts";
import { loginAttemptRoutes } from "./login-routes.ts";
import type { AppEnv } from "./route-helpers.ts";
import { runRoutes } from "./run-routes.ts";

export const adminRoutes = new Hono<AppEnv>();

adminRoutes.use("*", adminAuthFromEnv());
adminRoutes.on(["POST", "PUT", "PATCH", "DELETE"], "*", requireAdminRole() as unknown as MiddlewareHandler<AppEnv>);
adminRoutes.route("/", configRoutes);
adminRoutes.route("/", directoryRoutes);
adminRoutes.route("/", runRoutes);
adminRoutes.route("/", loginAttemptRoutes);
adminRoutes.route("/", extensionRoutes);
adminRoutes.route("/", agentRoutes);

/** The admin middleware, built once per isolate from the secrets and vars it finds. */
function adminAuthFromEnv(): MiddlewareHandler<AppEnv> {
  let built: { key: string; handler: MiddlewareHandler<AppEnv> } | undefined;
  return async (c, next) => {
    const { ADMIN_JWT_SECRET, ADMIN_JWT_PUBLIC_KEY, ADMIN_JWT_ISSUER, ADMIN_JWT_AUDIENCE, ADMIN_JWT_MAX_LIFETIME_SECONDS } = c.env;
    const key = JSON.stringify([
      ADMIN_JWT_SECRET,
      ADMIN_JWT_PUBLIC_KEY,
      ADMIN_JWT_ISSUER,
      ADMIN_JWT_AUDIENCE,
      ADMIN_JWT_MAX_LIFETIME_SECONDS,
    ]);
    if (built?.key !== key) {
      try {
        const publicKey = ADMIN_JWT_PUBLIC_KEY ? JSON.parse(ADMIN_JWT_PUBLIC_KEY) : undefined;
        const handler = adminAuth({
          hs256Secret: ADMIN_JWT_SECRET,
          publicKey,
          issuer: ADMIN_JWT_ISSUER,
          audience: ADMIN_JWT_AUDIENCE,
          maxLifetimeSeconds: maxLifetime(ADMIN_JWT_MAX_LIFETIME_SECONDS),
        });
        built = { key, handler: handler as unknown as MiddlewareHandler<AppEnv> };
      } catch (e) {
        console.error(`admin authentication is misconfigured: ${(e as Error).message}`);
        throw new ApiError(500, "misconfigured", "Administrator sign-in is not configured on this server.");
      }
    }
    return built.handler(c, next);
  };
}

/** The var as text (wrangler.toml [vars] or .dev.vars); a number too, when [vars] gives one. */
function maxLifetime(value: string | number | undefined): number | undefined {
  if (value === undefined || value === "") return undefined;
  const seconds = typeof value === "number" ? value : /^\d+$/.test(value.trim()) ? Number(value.trim()) : Number.NaN;
  // NaN is refused by adminAuth, so that a typo fails loudly instead of lifting the limit.
  return seconds;
}
