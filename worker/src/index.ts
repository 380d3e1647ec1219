// The worker: one Hono app composed of a sub-app per concern (src/routes/). The tenant's
// Durable Object (src/tenant/) does the work; routes parse, check and answer.
import { Hono } from "hono";
import { agentConnectPath, agentEnrollPath } from "../../schema/src/agent-protocol.ts";
import { tenantPattern } from "./agent-token.ts";
import { ApiError, errorResponse } from "./api-error.ts";
import { adminRoutes } from "./routes/admin-routes.ts";
import { agentConnect, agentEnroll } from "./routes/agent-routes.ts";
import { configValidation } from "./routes/config-routes.ts";
import { ucLoginRoutes } from "./routes/login-routes.ts";
import type { AppEnv } from "./routes/route-helpers.ts";

export { TenantRegistry } from "./registry/tenant-registry.ts";
export { TenantObject } from "./tenant/tenant-object.ts";

export const app = new Hono<AppEnv>();

app.onError(errorResponse);
app.notFound((c) => errorResponse(new ApiError(404, "not_found", `No route for ${c.req.method} ${new URL(c.req.url).pathname}`), c));

app.get("/api/v1/health", (c) => c.json({ ok: true }));
app.route("/api/v1/config/validate", configValidation);
app.route(agentEnrollPath, agentEnroll);
app.route(agentConnectPath, agentConnect);

app.use("/api/v1/tenants/:tenant/*", async (c, next) => {
  if (!tenantPattern.test(c.req.param("tenant") as string)) throw new ApiError(404, "not_found", "No such tenant.");
  await next();
});
// UC clients before the administrator routes: these answer people logging in, not portal sessions.
app.route("/api/v1/tenants/:tenant", ucLoginRoutes);
app.route("/api/v1/tenants/:tenant", adminRoutes);

export default app;
