// Connector agents: the two requests agents make themselves (enrollment, once, and the socket
// they dial in on), and the administrator's view of agents, enrollment tokens and their log.
import { Hono } from "hono";
import { parseAgentCredential, parseAgentToken } from "../agent-token.ts";
import { ApiError } from "../api-error.ts";
import { defaultTokenHours, maxTokenHours } from "../tenant/agent-enrollment.ts";
import { unwrap } from "../tenant/outcome.ts";
import { type AppEnv, by, maxSmallBodyBytes, optionalJsonBody, pageLimit, tenantName, tenantOf, tenantStub } from "./route-helpers.ts";

const bearer = (header: string | undefined) => header?.replace(/^Bearer\s+/, "") ?? "";

/** Where an agent spends its enrollment token for its credential; the token authenticates it. */
export const agentEnroll = new Hono<AppEnv>();

agentEnroll.post("/", async (c) => {
  const token = parseAgentToken(bearer(c.req.header("Authorization")));
  if (!token) throw new ApiError(401, "invalid_enrollment_token", "The enrollment token is missing or malformed.");
  // The token names its tenant; that tenant's object checks it and spends it.
  return tenantStub(c.env, token.tenant).fetch(c.req.raw);
});

/** Where agents dial in; the agent's credential, not an administrator session, authenticates it. */
export const agentConnect = new Hono<AppEnv>();

agentConnect.get("/", async (c) => {
  const presented = bearer(c.req.header("Authorization"));
  // An enrollment token is routed too, so that its holder is told what to do with it.
  const named = parseAgentCredential(presented) ?? parseAgentToken(presented);
  if (!named) throw new ApiError(401, "invalid_agent_credential", "The agent credential is missing or malformed.");
  // A plain GET gets the same verdict on the credential, which is how an agent learns why it was refused.
  return tenantStub(c.env, named.tenant).fetch(c.req.raw);
});

export const agentRoutes = new Hono<AppEnv>();

agentRoutes.get("/agents", async (c) => c.json(unwrap(await tenantOf(c).listAgents())));
agentRoutes.get("/agents/events", async (c) => c.json(unwrap(await tenantOf(c).agentEvents(pageLimit(c.req.query("limit"))))));
agentRoutes.get("/agents/enrollment-tokens", async (c) => c.json(unwrap(await tenantOf(c).listEnrollmentTokens())));
agentRoutes.post("/agents/enrollment-tokens", async (c) => {
  const body = (await optionalJsonBody(c.req.raw, maxSmallBodyBytes)) as { label?: unknown; expiresInHours?: unknown } | null;
  const label = typeof body?.label === "string" && body.label.trim() !== "" ? body.label.trim().slice(0, 100) : "agent";
  const hours = body?.expiresInHours ?? defaultTokenHours;
  if (typeof hours !== "number" || !Number.isInteger(hours) || hours < 1 || hours > maxTokenHours)
    throw new ApiError(400, "invalid_expiry", `expiresInHours must be a whole number of hours from 1 to ${maxTokenHours}.`);
  return c.json(unwrap(await tenantOf(c).createEnrollmentToken(tenantName(c), label, by(c), hours)), 201);
});
agentRoutes.delete("/agents/:id", async (c) => c.json(unwrap(await tenantOf(c).revokeAgent(c.req.param("id"), by(c)))));
agentRoutes.delete("/agents/enrollment-tokens/:id", async (c) =>
  c.json(unwrap(await tenantOf(c).revokeEnrollmentToken(c.req.param("id"), by(c)))),
);
