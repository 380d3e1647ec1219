// Domain login: what UC clients call (no administrator session: these answer people logging
// in), and the administrator's log of attempts.
import { Hono } from "hono";
import { ApiError } from "../api-error.ts";
import type { AttemptOutcome } from "../login/login-attempts.ts";
import { sessionKey, verifySession } from "../login/session-token.ts";
import { unwrap } from "../tenant/outcome.ts";
import { type AppEnv, pageLimit, pageOffset, parseJson, searchTerm, tenantName, tenantOf } from "./route-helpers.ts";

/** A login body is two short strings; a little room above a 10,000-character name, no more. */
const maxLoginBodyBytes = 64 * 1024;

export const ucLoginRoutes = new Hono<AppEnv>();

ucLoginRoutes.post("/auth/domain-login", async (c) => {
  const text = await c.req.text();
  if (text.length > maxLoginBodyBytes) throw new ApiError(413, "body_too_large", `A login body is at most ${maxLoginBodyBytes} bytes.`);
  const body = parseJson(text) as { username?: unknown; password?: unknown } | null;
  if (typeof body !== "object" || body === null) throw new ApiError(400, "invalid_body", "Send { username, password }.");
  // Cloudflare sets CF-Connecting-IP on every request to the worker; a client cannot forge it there.
  const source = c.req.header("CF-Connecting-IP") ?? "unknown";
  const answer = unwrap(await tenantOf(c).domainLogin(tenantName(c), body.username, body.password, source));
  if (answer.holdMs > 0) await new Promise((resolve) => setTimeout(resolve, answer.holdMs));
  c.header("Cache-Control", "no-store");
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
