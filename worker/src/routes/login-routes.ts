// Domain login: what UC clients call (no administrator session: these answer people logging
// in), and the administrator's log of attempts.
import { type Context, Hono } from "hono";
import { ApiError } from "../api-error.ts";
import { invalidCredentials } from "../login/domain-login.ts";
import type { AttemptOutcome } from "../login/login-attempts.ts";
import { sessionKey, verifySession } from "../login/session-token.ts";
import { type LoginRegistration, loginRegistration } from "../registry/tenant-registry.ts";
import { unwrap } from "../tenant/outcome.ts";
import {
  type AppEnv,
  maxLoginBodyBytes,
  pageLimit,
  pageOffset,
  parseJson,
  readBodyText,
  searchTerm,
  tenantName,
  tenantOf,
} from "./route-helpers.ts";

export const ucLoginRoutes = new Hono<AppEnv>();

/**
 * CORS for a browser-based UC client: only the origins the tenant lists in
 * domainLogin.allowedOrigins get the headers, so no other page can read an answer, and since
 * only application/json is taken, no other page can even send a login without a preflight.
 */
function corsHeaders(c: Context<AppEnv>, registration: LoginRegistration): Record<string, string> {
  const origin = c.req.header("Origin");
  if (origin === undefined) return {};
  if (!registration.origins.includes(origin)) return { Vary: "Origin" };
  return { "Access-Control-Allow-Origin": origin, Vary: "Origin" };
}

/** The answer of a tenant whose login is off, or of a name no tenant has: a wrong password's, as slow. */
async function refusedUnreached(c: Context<AppEnv>) {
  await new Promise((resolve) => setTimeout(resolve, 90 + Math.random() * 20));
  c.header("Cache-Control", "no-store");
  return c.json(invalidCredentials, 401);
}

ucLoginRoutes.options("/auth/domain-login", async (c) => {
  const headers = corsHeaders(c, await loginRegistration(c.env, tenantName(c)));
  if (headers["Access-Control-Allow-Origin"] !== undefined) {
    headers["Access-Control-Allow-Methods"] = "POST";
    headers["Access-Control-Allow-Headers"] = "Content-Type";
    headers["Access-Control-Max-Age"] = "600";
  }
  return c.body(null, 204, headers);
});

ucLoginRoutes.post("/auth/domain-login", async (c) => {
  // A form or a text/plain fetch from any web page needs no preflight; JSON does.
  const type = c.req.header("Content-Type")?.split(";")[0]?.trim().toLowerCase();
  if (type !== "application/json")
    throw new ApiError(415, "unsupported_media_type", "Send the login as JSON, with Content-Type: application/json.");
  // Checked from Content-Length and while reading: an anonymous caller cannot make the worker buffer more.
  const text = await readBodyText(c.req.raw, maxLoginBodyBytes);
  const body = parseJson(text) as { username?: unknown; password?: unknown } | null;
  if (typeof body !== "object" || body === null) throw new ApiError(400, "invalid_body", "Send { username, password }.");
  // Only a tenant whose login is on is reached at all: any other name, used or not, costs no storage.
  const registration = await loginRegistration(c.env, tenantName(c));
  if (!registration.enabled) return refusedUnreached(c);
  // Cloudflare sets CF-Connecting-IP on every request to the worker; a client cannot forge it there.
  const source = c.req.header("CF-Connecting-IP") ?? "unknown";
  const answer = unwrap(await tenantOf(c).domainLogin(tenantName(c), body.username, body.password, source));
  if (answer.holdMs > 0) await new Promise((resolve) => setTimeout(resolve, answer.holdMs));
  c.header("Cache-Control", "no-store");
  for (const [name, value] of Object.entries(corsHeaders(c, registration))) c.header(name, value);
  if (answer.retryAfterSeconds !== undefined) c.header("Retry-After", String(answer.retryAfterSeconds));
  return c.json(answer.body, answer.status);
});

/** For the UC back end: whether a session token is valid, and whom it names. */
ucLoginRoutes.get("/auth/session", async (c) => {
  const token = c.req.header("Authorization")?.match(/^Bearer\s+(\S+)$/)?.[1];
  const claims = token === undefined ? undefined : await verifySession(await sessionKey(c.env), token, tenantName(c));
  if (claims === undefined) throw new ApiError(401, "invalid_session", "The session token is missing, invalid or expired: log in again.");
  c.header("Cache-Control", "no-store");
  return c.json(claims);
});

const outcomes: AttemptOutcome[] = ["success", "failure", "blocked", "unavailable"];

export const loginAttemptRoutes = new Hono<AppEnv>();

loginAttemptRoutes.get("/auth/attempts", async (c) => {
  const outcome = c.req.query("outcome");
  if (outcome !== undefined && !outcomes.includes(outcome as AttemptOutcome))
    throw new ApiError(400, "invalid_query", "outcome is success, failure, blocked or unavailable.");
  const filters = { ...(outcome ? { outcome: outcome as AttemptOutcome } : {}), ...searchTerm(c.req.query("q")) };
  if (c.req.query("format") === "csv") {
    return c.body(unwrap(await tenantOf(c).loginAttemptsCsv(filters)), 200, {
      "Content-Type": "text/csv; charset=utf-8",
      "Content-Disposition": 'attachment; filename="domain-logins.csv"',
    });
  }
  const page = { limit: pageLimit(c.req.query("limit")), offset: pageOffset(c.req.query("offset")) };
  return c.json(unwrap(await tenantOf(c).loginAttempts({ ...filters, ...page })));
});
