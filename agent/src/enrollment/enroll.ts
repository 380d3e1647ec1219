// The agent's first start: its enrollment token, spent once, for a credential of its own.
// A refusal (spent, expired, revoked or unknown token; id taken) is final and says what to
// do; a worker that cannot be reached is tried again with backoff, since the token is only
// spent once the worker answers.
import { type AgentEnrollment, agentEnrollPath, agentHeaders, agentProtocolVersion } from "../../../schema/src/agent-protocol.ts";

export class EnrollmentRefused extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

export interface EnrollOptions {
  url: string;
  token: string;
  agentId: string;
  hostname: string;
  version: string;
  log(line: string): void;
  /** Resolves when the agent is stopping: enrollment gives up. */
  stopped?: AbortSignal;
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

export async function enroll(o: EnrollOptions): Promise<AgentEnrollment> {
  const endpoint = new URL(agentEnrollPath, o.url);
  if (endpoint.protocol === "wss:") endpoint.protocol = "https:";
  if (endpoint.protocol === "ws:") endpoint.protocol = "http:";
  const min = o.minBackoffMs ?? 500;
  const max = o.maxBackoffMs ?? 30_000;
  for (let attempt = 0; ; attempt++) {
    let reason: string;
    try {
      const response = await fetch(endpoint, {
        method: "POST",
        headers: {
          Authorization: `Bearer ${o.token}`,
          [agentHeaders.id]: o.agentId,
          [agentHeaders.hostname]: o.hostname,
          [agentHeaders.version]: o.version,
          [agentHeaders.protocol]: String(agentProtocolVersion),
        },
        signal: AbortSignal.any([AbortSignal.timeout(20_000), ...(o.stopped ? [o.stopped] : [])]),
      });
      const body = (await response.json().catch(() => null)) as
        | (Partial<AgentEnrollment> & { error?: { code?: string; message?: string } })
        | null;
      if (response.status === 201 && typeof body?.credential === "string" && typeof body.agentId === "string")
        return { agentId: body.agentId, tenant: body.tenant ?? "", credential: body.credential };
      if (response.status >= 400 && response.status < 500 && response.status !== 429)
        throw new EnrollmentRefused(body?.error?.code ?? `http_${response.status}`, body?.error?.message ?? `HTTP ${response.status}`);
      reason = `HTTP ${response.status}`;
    } catch (e) {
      if (e instanceof EnrollmentRefused || o.stopped?.aborted) throw e;
      const cause = (e as { cause?: { code?: unknown } }).cause?.code;
      reason = typeof cause === "string" ? cause : (e as Error).message;
    }
    const ceiling = Math.min(max, min * 2 ** attempt);
    const delay = Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
    o.log(`could not enroll at ${endpoint.origin} (${reason}); trying again in ${(delay / 1000).toFixed(1)} s`);
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}
