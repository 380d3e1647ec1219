// Connector agents: the socket they dial in on, and the administrator's view of agents and
// enrollment tokens.
import { Hono } from "hono";
import { parseAgentToken } from "../agent-token.ts";
import { ApiError } from "../api-error.ts";
import { unwrap } from "../tenant/outcome.ts";
import { type AppEnv, by, optionalJsonBody, tenantName, tenantOf, tenantStub } from "./route-helpers.ts";

/** Where agents dial in; the agent token, not an administrator session, authenticates it. */
export const agentConnect = new Hono<AppEnv>();

agentConnect.get("/", async (c) => {
  const token = parseAgentToken(c.req.header("Authorization")?.replace(/^Bearer\s+/, "") ?? "");
  if (!token) throw new ApiError(401, "invalid_agent_token", "The agent token is missing or malformed.");
  // The token names its tenant; that tenant's object checks the secret before upgrading.
  // A plain GET gets the same verdict on the token, which is how an agent learns why it was refused.
  return tenantStub(c.env, token.tenant).fetch(c.req.raw);
});

export const agentRoutes = new Hono<AppEnv>();

agentRoutes.get("/agents", async (c) => c.json(unwrap(await tenantOf(c).listAgents())));
agentRoutes.get("/agents/enrollment-tokens", async (c) => c.json(unwrap(await tenantOf(c).listEnrollmentTokens())));
agentRoutes.post("/agents/enrollment-tokens", async (c) => {
  const body = (await optionalJsonBody(c.req.raw)) as { label?: unknown } | null;
  const label = typeof body?.label === "string" && body.label.trim() !== "" ? body.label.trim().slice(0, 100) : "agent";
  return c.json(unwrap(await tenantOf(c).createEnrollmentToken(tenantName(c), label, by(c))), 201);
});
agentRoutes.delete("/agents/:id", async (c) => c.json(unwrap(await tenantOf(c).revokeAgent(c.req.param("id"), by(c)))));
agentRoutes.delete("/agents/enrollment-tokens/:id", async (c) =>
  c.json(unwrap(await tenantOf(c).revokeEnrollmentToken(c.req.param("id"), by(c)))),
);
