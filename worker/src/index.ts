import { Hono } from "hono";
import { isValid, validateConfig } from "../../schema/src/validate-config.ts";
import { ApiError, errorResponse } from "./api-error.ts";

/** Configurations are small; this bounds what one request may make the isolate parse. */
const maxConfigBytes = 1024 * 1024;

export const app = new Hono();

app.onError(errorResponse);
app.notFound((c) => errorResponse(new ApiError(404, "not_found", `No route for ${c.req.method} ${new URL(c.req.url).pathname}`), c));

app.get("/api/v1/health", (c) => c.json({ ok: true }));

/** Validates a draft configuration without storing it: the editor's server-side check. */
app.post("/api/v1/config/validate", async (c) => {
  const text = await c.req.text();
  if (text.length > maxConfigBytes) throw new ApiError(413, "config_too_large", `A configuration is at most ${maxConfigBytes} bytes.`);
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (e) {
    throw new ApiError(400, "invalid_json", `The body is not valid JSON: ${(e as Error).message}`);
  }
  const problems = validateConfig(document);
  return c.json({ valid: isValid(problems), problems });
});

export default app;
