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

/** The admin middleware, built once per isolate from the secrets it finds. */
function adminAuthFromEnv(): MiddlewareHandler<AppEnv> {
  let built: { key: string; handler: MiddlewareHandler<AppEnv> } | undefined;
  return async (c, next) => {
    const key = `${c.env.ADMIN_JWT_SECRET ?? ""}|${c.env.ADMIN_JWT_PUBLIC_KEY ?? ""}`;
    if (built?.key !== key) {
      try {
        const publicKey = c.env.ADMIN_JWT_PUBLIC_KEY ? JSON.parse(c.env.ADMIN_JWT_PUBLIC_KEY) : undefined;
        built = { key, handler: adminAuth({ hs256Secret: c.env.ADMIN_JWT_SECRET, publicKey }) as unknown as MiddlewareHandler<AppEnv> };
      } catch (e) {
        console.error(`admin authentication is misconfigured: ${(e as Error).message}`);
        throw new ApiError(500, "misconfigured", "Administrator sign-in is not configured on this server.");
      }
    }
    return built.handler(c, next);
  };
}
