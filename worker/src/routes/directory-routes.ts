// Test Connection and the directory browsing the editor's pickers use, through an agent.
import { Hono } from "hono";
import { ApiError } from "../api-error.ts";
import { unwrap } from "../tenant/outcome.ts";
import { type AppEnv, maxConfigBodyBytes, optionalJsonBody, pageLimit, tenantName, tenantOf } from "./route-helpers.ts";

export const directoryRoutes = new Hono<AppEnv>();

directoryRoutes.post("/test-connection", async (c) => {
  const body = (await optionalJsonBody(c.req.raw, maxConfigBodyBytes)) as { config?: unknown; bindPassword?: unknown } | null;
  if (typeof body !== "object" || body === null)
    throw new ApiError(400, "invalid_body", "Send {} to test the saved configuration, or { config, bindPassword } for a draft.");
  const password = typeof body.bindPassword === "string" ? body.bindPassword : undefined;
  return c.json(unwrap(await tenantOf(c).testConnection(tenantName(c), body.config, password)));
});

/** The PBX panel's Test: the PBX target alone, saved ({}) or a draft ({ config, secret }). */
directoryRoutes.post("/pbx/test", async (c) => {
  const body = (await optionalJsonBody(c.req.raw, maxConfigBodyBytes)) as { config?: unknown; secret?: unknown } | null;
  if (typeof body !== "object" || body === null)
    throw new ApiError(400, "invalid_body", "Send {} to test the saved PBX settings, or { config, secret } for a draft.");
  const secret = typeof body.secret === "string" ? body.secret : undefined;
  return c.json(unwrap(await tenantOf(c).testPbx(tenantName(c), body.config, secret)));
});

directoryRoutes.get("/directory/ous", async (c) => c.json(unwrap(await tenantOf(c).listOus(tenantName(c)))));
directoryRoutes.get("/directory/groups", async (c) => {
  const query = (c.req.query("q") ?? "").trim();
  if (query.length > 256) throw new ApiError(400, "invalid_query", "q is at most 256 characters.");
  const limit = pageLimit(c.req.query("limit"), 200);
  return c.json(unwrap(await tenantOf(c).findGroups(tenantName(c), query, limit)));
});
directoryRoutes.get("/directory/attributes", async (c) => c.json(unwrap(await tenantOf(c).listUserAttributes(tenantName(c)))));
