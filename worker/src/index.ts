import { Hono, type MiddlewareHandler } from "hono";
import { planActions } from "../../engine/plan.ts";
import { isValid, validateConfig } from "../../schema/src/validate-config.ts";
import { parseAgentToken, tenantPattern } from "./agent-token.ts";
import { ApiError, errorResponse } from "./api-error.ts";
import type { Env } from "./env.ts";
import type { AttemptOutcome } from "./login/login-attempts.ts";
import { sessionKey, verifySession } from "./login/session-token.ts";
import { type AdminAuthVariables, adminAuth, requireAdminRole } from "./middleware/admin-auth/index.ts";
import type { Outcome } from "./tenant/tenant-object.ts";

export { TenantObject } from "./tenant/tenant-object.ts";

/** Configurations are small; this bounds what one request may make the isolate parse. */
const maxBodyBytes = 1024 * 1024;

type AppEnv = { Bindings: Env; Variables: AdminAuthVariables };

export const app = new Hono<AppEnv>();

app.onError(errorResponse);
app.notFound((c) => errorResponse(new ApiError(404, "not_found", `No route for ${c.req.method} ${new URL(c.req.url).pathname}`), c));

app.get("/api/v1/health", (c) => c.json({ ok: true }));

/** Validates a draft configuration without storing it: the editor's server-side check. */
app.post("/api/v1/config/validate", async (c) => {
  const problems = validateConfig(await jsonBody(c.req.raw));
  return c.json({ valid: isValid(problems), problems });
});

// ---- agents dial in ------------------------------------------------------------------------

app.get("/api/v1/agent/connect", async (c) => {
  const token = parseAgentToken(c.req.header("Authorization")?.replace(/^Bearer\s+/, "") ?? "");
  if (!token) throw new ApiError(401, "invalid_agent_token", "The agent token is missing or malformed.");
  // The token names its tenant; that tenant's object checks the secret before upgrading.
  // A plain GET gets the same verdict on the token, which is how an agent learns why it was refused.
  return tenant(c.env, token.tenant).fetch(c.req.raw);
});

// ---- administrators ------------------------------------------------------------------------

const tenantRoutes = new Hono<AppEnv>();
tenantRoutes.use("*", adminAuthFromEnv());

tenantRoutes.get("/config", async (c) => c.json(unwrap(await tenantOf(c).getConfig())));
tenantRoutes.put("/config", requireAdminRole(), async (c) =>
  c.json(unwrap(await tenantOf(c).putConfig(c.req.param("tenant") as string, await jsonBody(c.req.raw), by(c)))),
);
tenantRoutes.put("/config/bind-password", requireAdminRole(), async (c) => {
  const body = (await jsonBody(c.req.raw)) as { password?: unknown } | null;
  return c.json(unwrap(await tenantOf(c).setBindPassword(c.req.param("tenant") as string, body?.password, by(c))));
});

tenantRoutes.post("/test-connection", requireAdminRole(), async (c) => {
  const text = await c.req.text();
  const body = (text.trim() === "" ? {} : parseJson(text)) as { config?: unknown; bindPassword?: unknown } | null;
  if (typeof body !== "object" || body === null)
    throw new ApiError(400, "invalid_body", "Send {} to test the saved configuration, or { config, bindPassword } for a draft.");
  const password = typeof body.bindPassword === "string" ? body.bindPassword : undefined;
  return c.json(unwrap(await tenantOf(c).testConnection(c.req.param("tenant") as string, body.config, password)));
});

tenantRoutes.get("/directory/ous", async (c) => c.json(unwrap(await tenantOf(c).listOus(c.req.param("tenant") as string))));
tenantRoutes.get("/directory/groups", async (c) => {
  const query = (c.req.query("q") ?? "").trim();
  if (query.length > 256) throw new ApiError(400, "invalid_query", "q is at most 256 characters.");
  const limit = Number(c.req.query("limit") ?? 200);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
    throw new ApiError(400, "invalid_query", "limit is a whole number from 1 to 1000.");
  return c.json(unwrap(await tenantOf(c).findGroups(c.req.param("tenant") as string, query, limit)));
});
tenantRoutes.get("/directory/attributes", async (c) =>
  c.json(unwrap(await tenantOf(c).listUserAttributes(c.req.param("tenant") as string))),
);

// ---- sync --------------------------------------------------------------------------------

tenantRoutes.post("/preview", requireAdminRole(), async (c) =>
  c.json(unwrap(await tenantOf(c).preview(c.req.param("tenant") as string, by(c), pageLimit(c.req.query("limit"))))),
);
tenantRoutes.post("/sync", requireAdminRole(), async (c) =>
  c.json(unwrap(await tenantOf(c).startSync(c.req.param("tenant") as string, by(c))), 202),
);
tenantRoutes.get("/schedule", async (c) => c.json(unwrap(await tenantOf(c).getSchedule())));
tenantRoutes.get("/runs", async (c) =>
  c.json(unwrap(await tenantOf(c).listRuns(pageLimit(c.req.query("limit")), pageOffset(c.req.query("offset"))))),
);
tenantRoutes.delete("/runs", requireAdminRole(), async (c) => c.json(unwrap(await tenantOf(c).clearRuns(by(c)))));
tenantRoutes.get("/runs/:id", async (c) => c.json(unwrap(await tenantOf(c).getRun(c.req.param("id")))));
tenantRoutes.get("/runs/:id/items", async (c) => {
  const action = c.req.query("action");
  if (action !== undefined && !planActions.includes(action as never))
    throw new ApiError(400, "invalid_query", `action is one of ${planActions.join(", ")}.`);
  const q = c.req.query("q");
  return c.json(
    unwrap(
      await tenantOf(c).runItems(c.req.param("id"), {
        ...(action ? { action } : {}),
        ...(q ? { q: q.slice(0, 200) } : {}),
        limit: pageLimit(c.req.query("limit")),
        offset: pageOffset(c.req.query("offset")),
      }),
    ),
  );
});
tenantRoutes.get("/runs/:id/events", async (c) => {
  const format = c.req.query("format") ?? "json";
  if (format !== "json" && format !== "csv") throw new ApiError(400, "invalid_query", "format is json or csv.");
  const events = unwrap(await tenantOf(c).runEvents(c.req.param("id"), format));
  if (format === "json") return c.json(events);
  return c.body(events as string, 200, {
    "Content-Type": "text/csv; charset=utf-8",
    "Content-Disposition": `attachment; filename="sync-log-${c.req.param("id")}.csv"`,
  });
});
tenantRoutes.post("/runs/:id/approve", requireAdminRole(), async (c) =>
  c.json(unwrap(await tenantOf(c).decideRun(c.req.param("id"), true, by(c)))),
);
tenantRoutes.post("/runs/:id/reject", requireAdminRole(), async (c) =>
  c.json(unwrap(await tenantOf(c).decideRun(c.req.param("id"), false, by(c)))),
);

// ---- domain login attempts -------------------------------------------------------------------

tenantRoutes.get("/auth/attempts", async (c) => {
  const outcome = c.req.query("outcome");
  if (outcome !== undefined && !["success", "failure", "blocked", "unavailable"].includes(outcome))
    throw new ApiError(400, "invalid_query", "outcome is success, failure, blocked or unavailable.");
  const q = c.req.query("q")?.slice(0, 200);
  const filters = { ...(outcome ? { outcome: outcome as AttemptOutcome } : {}), ...(q ? { q } : {}) };
  if (c.req.query("format") === "csv") {
    return c.body(unwrap(await tenantOf(c).loginAttemptsCsv(filters)), 200, {
      "Content-Type": "text/csv; charset=utf-8",
      "Content-Disposition": 'attachment; filename="domain-logins.csv"',
    });
  }
  return c.json(
    unwrap(
      await tenantOf(c).loginAttempts({ ...filters, limit: pageLimit(c.req.query("limit")), offset: pageOffset(c.req.query("offset")) }),
    ),
  );
});

// ---- the built-in PBX directory -------------------------------------------------------------

tenantRoutes.get("/extensions", async (c) => {
  const q = c.req.query("q");
  return c.json(
    unwrap(
      await tenantOf(c).listExtensions({
        ...(q ? { q: q.slice(0, 200) } : {}),
        limit: pageLimit(c.req.query("limit")),
        offset: pageOffset(c.req.query("offset")),
      }),
    ),
  );
});
tenantRoutes.post("/extensions", requireAdminRole(), async (c) => {
  const body = (await jsonBody(c.req.raw)) as { number?: unknown; displayName?: unknown; settings?: unknown } | null;
  return c.json(unwrap(await tenantOf(c).createManualExtension(body?.number, body?.displayName, body?.settings)), 201);
});

tenantRoutes.get("/agents", async (c) => c.json(unwrap(await tenantOf(c).listAgents())));
tenantRoutes.get("/agents/enrollment-tokens", async (c) => c.json(unwrap(await tenantOf(c).listEnrollmentTokens())));
tenantRoutes.post("/agents/enrollment-tokens", requireAdminRole(), async (c) => {
  const text = await c.req.text();
  const body = (text.trim() === "" ? {} : parseJson(text)) as { label?: unknown } | null;
  const label = typeof body?.label === "string" && body.label.trim() !== "" ? body.label.trim().slice(0, 100) : "agent";
  return c.json(unwrap(await tenantOf(c).createEnrollmentToken(c.req.param("tenant") as string, label, by(c))), 201);
});
tenantRoutes.delete("/agents/enrollment-tokens/:id", requireAdminRole(), async (c) =>
  c.json(unwrap(await tenantOf(c).revokeEnrollmentToken(c.req.param("id"), by(c)))),
);

app.use("/api/v1/tenants/:tenant/*", async (c, next) => {
  if (!tenantPattern.test(c.req.param("tenant") as string)) throw new ApiError(404, "not_found", "No such tenant.");
  await next();
});

// ---- UC clients: domain login --------------------------------------------------------------
// Before the administrator routes: these answer people logging in, not portal sessions.

/** A login body is two short strings; a little room above a 10,000-character name, no more. */
const maxLoginBodyBytes = 64 * 1024;

app.post("/api/v1/tenants/:tenant/auth/domain-login", async (c) => {
  const name = c.req.param("tenant") as string;
  const text = await c.req.text();
  if (text.length > maxLoginBodyBytes) throw new ApiError(413, "body_too_large", `A login body is at most ${maxLoginBodyBytes} bytes.`);
  const body = parseJson(text) as { username?: unknown; password?: unknown } | null;
  if (typeof body !== "object" || body === null) throw new ApiError(400, "invalid_body", "Send { username, password }.");
  // Cloudflare sets CF-Connecting-IP on every request to the worker; a client cannot forge it there.
  const source = c.req.header("CF-Connecting-IP") ?? "unknown";
  const answer = unwrap(await tenant(c.env, name).domainLogin(name, body.username, body.password, source));
  if (answer.holdMs > 0) await new Promise((resolve) => setTimeout(resolve, answer.holdMs));
  c.header("Cache-Control", "no-store");
  if (answer.retryAfterSeconds !== undefined) c.header("Retry-After", String(answer.retryAfterSeconds));
  return c.json(answer.body, answer.status);
});

/** For the UC back end: whether a session token is valid, and whom it names. */
app.get("/api/v1/tenants/:tenant/auth/session", async (c) => {
  const token = c.req.header("Authorization")?.match(/^Bearer\s+(\S+)$/)?.[1];
  const claims = token === undefined ? undefined : await verifySession(await sessionKey(c.env), token, c.req.param("tenant") as string);
  if (claims === undefined) throw new ApiError(401, "invalid_session", "The session token is missing, invalid or expired: log in again.");
  c.header("Cache-Control", "no-store");
  return c.json(claims);
});

app.route("/api/v1/tenants/:tenant", tenantRoutes);

export default app;

// ---- helpers -------------------------------------------------------------------------------

function tenant(env: Env, name: string) {
  return env.TENANT.get(env.TENANT.idFromName(name));
}

function tenantOf(c: { env: Env; req: { param(name: string): string | undefined } }) {
  return tenant(c.env, c.req.param("tenant") as string);
}

function by(c: { get(key: "admin"): AdminAuthVariables["admin"] }): string {
  return c.get("admin").sub;
}

function unwrap<T>(outcome: Outcome<T>): T {
  if (outcome.ok) return outcome.value;
  throw new ApiError(outcome.status as never, outcome.code, outcome.message, outcome.details);
}

async function jsonBody(request: Request): Promise<unknown> {
  const text = await request.text();
  if (text.length > maxBodyBytes) throw new ApiError(413, "body_too_large", `A request body is at most ${maxBodyBytes} bytes.`);
  return parseJson(text);
}

function pageLimit(value: string | undefined): number {
  const n = value === undefined ? 100 : Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 1000) throw new ApiError(400, "invalid_query", "limit is a whole number from 1 to 1000.");
  return n;
}

function pageOffset(value: string | undefined): number {
  const n = value === undefined ? 0 : Number(value);
  if (!Number.isInteger(n) || n < 0) throw new ApiError(400, "invalid_query", "offset is a whole number, 0 or more.");
  return n;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ApiError(400, "invalid_json", `The body is not valid JSON: ${(e as Error).message}`);
  }
}

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
