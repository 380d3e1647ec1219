// The built-in PBX directory: its extensions, and extensions made by hand.
import { Hono } from "hono";
import { unwrap } from "../tenant/outcome.ts";
import { type AppEnv, jsonBody, maxSmallBodyBytes, pageLimit, pageOffset, searchTerm, tenantOf } from "./route-helpers.ts";

export const extensionRoutes = new Hono<AppEnv>();

extensionRoutes.get("/extensions", async (c) => {
  const options = { ...searchTerm(c.req.query("q")), limit: pageLimit(c.req.query("limit")), offset: pageOffset(c.req.query("offset")) };
  return c.json(unwrap(await tenantOf(c).listExtensions(options)));
});
extensionRoutes.post("/extensions", async (c) => {
  const body = (await jsonBody(c.req.raw, maxSmallBodyBytes)) as { number?: unknown; displayName?: unknown; settings?: unknown } | null;
  return c.json(unwrap(await tenantOf(c).createManualExtension(body?.number, body?.displayName, body?.settings)), 201);
});
