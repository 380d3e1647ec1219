// The tenant's configuration and its bind password; and the editor's server-side check of a
// draft, which needs no tenant.
import { Hono } from "hono";
import { isValid, validateConfig } from "../../../schema/src/validate-config.ts";
import { forgetRegistration } from "../registry/tenant-registry.ts";
import { unwrap } from "../tenant/outcome.ts";
import { withTargetProblems } from "../tenant/tenant-config.ts";
import { type AppEnv, by, jsonBody, maxConfigBodyBytes, maxSmallBodyBytes, tenantName, tenantOf } from "./route-helpers.ts";

export const configRoutes = new Hono<AppEnv>();

configRoutes.get("/config", async (c) => c.json(unwrap(await tenantOf(c).getConfig())));
configRoutes.put("/config", async (c) => {
  const config = await jsonBody(c.req.raw, maxConfigBodyBytes);
  const saved = unwrap(await tenantOf(c).putConfig(tenantName(c), config, by(c)));
  // Domain login switched on or off takes effect at once in this isolate, in a few seconds in others.
  forgetRegistration(tenantName(c));
  return c.json(saved);
});
configRoutes.put("/config/pbx-secret", async (c) => {
  const body = (await jsonBody(c.req.raw, maxSmallBodyBytes)) as { secret?: unknown } | null;
  return c.json(unwrap(await tenantOf(c).setPbxSecret(tenantName(c), body?.secret, by(c))));
});
configRoutes.put("/config/bind-password", async (c) => {
  const body = (await jsonBody(c.req.raw, maxSmallBodyBytes)) as { password?: unknown } | null;
  return c.json(unwrap(await tenantOf(c).setBindPassword(tenantName(c), body?.password, by(c))));
});

/** Validates a draft configuration without storing it: the editor's server-side check. */
export const configValidation = new Hono<AppEnv>();

configValidation.post("/", async (c) => {
  const document = await jsonBody(c.req.raw, maxConfigBodyBytes);
  // The schema's rules, then what the configuration's PBX target cannot do.
  const problems = withTargetProblems(document, validateConfig(document));
  return c.json({ valid: isValid(problems), problems });
});
