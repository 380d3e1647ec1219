// An agent's first start, for tests that speak the agent protocol themselves: the enrollment
// token spent for the agent's credential, as the real agent does (agent/src/enrollment/).
import { agentEnrollPath, agentHeaders, agentProtocolVersion } from "../../schema/src/agent-protocol.ts";

export async function enrollAgent(url: string, token: string, id: string, hostname = `${id}.test`): Promise<string> {
  const response = await fetch(new URL(agentEnrollPath, url), {
    method: "POST",
    headers: {
      Authorization: `Bearer ${token}`,
      [agentHeaders.id]: id,
      [agentHeaders.hostname]: hostname,
      [agentHeaders.version]: "test",
      [agentHeaders.protocol]: String(agentProtocolVersion),
    },
  });
  const body = (await response.json()) as { credential?: string };
  if (response.status !== 201 || typeof body.credential !== "string")
    throw new Error(`enrolling ${id} failed: HTTP ${response.status} ${JSON.stringify(body)}`);
  return body.credential;
}
