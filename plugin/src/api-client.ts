// The page's one way to the worker's API. Every failure becomes an ApiProblem whose `kind`
// tells the page how to show it: an expired session and an offline agent each have their own
// banner; everything else is the server's own sentence, or ours when no answer came at all.
import type {
  AgentEvent,
  AgentInfo,
  AttemptOutcome,
  EnrollmentTokenInfo,
  Extension,
  LoginAttempt,
  OuNode,
  PlanAction,
  PlanItem,
  Problem,
  RunEvent,
  RunInfo,
  Schedule,
  StoredConfig,
  TestConnectionResult,
} from "./api-types.ts";

export type ProblemKind = "session" | "forbidden" | "agent" | "invalid" | "network" | "server";

export class ApiProblem extends Error {
  readonly status: number;
  readonly code: string;
  readonly kind: ProblemKind;
  readonly details: unknown;

  constructor(status: number, code: string, message: string, details?: unknown) {
    super(message);
    this.name = "ApiProblem";
    this.status = status;
    this.code = code;
    this.details = details;
    this.kind = kindOf(status, code);
  }

  /** Problems the server found in a configuration it refused, when it sent them. */
  get problems(): Problem[] {
    const problems = (this.details as { problems?: unknown } | undefined)?.problems;
    return Array.isArray(problems) ? (problems as Problem[]) : [];
  }
}

function kindOf(status: number, code: string): ProblemKind {
  if (status === 0) return "network";
  if (status === 401) return "session";
  if (status === 403) return "forbidden";
  if (code === "agent_offline" || code === "agent_disconnected" || code === "agent_timeout") return "agent";
  if (status === 400 || status === 409 || status === 413) return "invalid";
  return "server";
}

export interface ClientOptions {
  /** The API's base URL, e.g. https://pbx.example.com/api/v1 */
  apiBaseUrl: string;
  tenant: string;
  /** The host's session: called before every request, so a renewed token is always used. */
  getToken(): string | Promise<string>;
}

export class ApiClient {
  readonly #options: ClientOptions;

  constructor(options: ClientOptions) {
    this.#options = options;
  }

  get tenantBase(): string {
    return `${this.#options.apiBaseUrl.replace(/\/+$/, "")}/tenants/${encodeURIComponent(this.#options.tenant)}`;
  }

  async #fetch(method: string, path: string, body?: unknown): Promise<Response> {
    const token = await this.#options.getToken();
    let res: Response;
    try {
      res = await fetch(`${this.tenantBase}${path}`, {
        method,
        headers: { Authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "Content-Type": "application/json" }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch {
      throw new ApiProblem(0, "network", "The PBX could not be reached. Check your network connection and try again.");
    }
    if (res.ok) return res;
    const text = await res.text();
    let error: { code?: string; message?: string; details?: unknown } | undefined;
    try {
      error = (JSON.parse(text) as { error?: typeof error }).error;
    } catch {
      // A proxy's HTML error page: fall back to the status below.
    }
    throw new ApiProblem(
      res.status,
      error?.code ?? `http_${res.status}`,
      error?.message ?? `The PBX answered ${res.status} ${res.statusText || ""}`.trim(),
      error?.details,
    );
  }

  async #json<T>(method: string, path: string, body?: unknown): Promise<T> {
    return (await (await this.#fetch(method, path, body)).json()) as T;
  }

  getConfig = () => this.#json<StoredConfig>("GET", "/config");
  putConfig = (config: unknown) => this.#json<StoredConfig>("PUT", "/config", config);
  setBindPassword = (password: string) => this.#json<unknown>("PUT", "/config/bind-password", { password });
  setPbxSecret = (secret: string) => this.#json<StoredConfig>("PUT", "/config/pbx-secret", { secret });
  testPbx = (draft?: { config: unknown; secret?: string }) => this.#json<TestConnectionResult>("POST", "/pbx/test", draft ?? {});
  testConnection = (draft?: { config: unknown; bindPassword?: string }) =>
    this.#json<TestConnectionResult>("POST", "/test-connection", draft ?? {});

  ous = () => this.#json<OuNode>("GET", "/directory/ous");
  groups = (q: string, limit = 50) =>
    this.#json<{ groups: Array<{ dn: string; name: string; description: string | null }>; truncated: boolean }>(
      "GET",
      `/directory/groups?${new URLSearchParams({ q, limit: String(limit) })}`,
    );
  attributes = () => this.#json<Array<{ name: string; syntax?: string; description?: string }>>("GET", "/directory/attributes");

  /** `full` reads the whole directory where an incremental read would do. */
  preview = (limit = 200, options: { full?: boolean } = {}) =>
    this.#json<{ run: RunInfo; total: number; items: PlanItem[] }>("POST", `/preview?limit=${limit}${options.full ? "&full=true" : ""}`);
  startSync = (options: { full?: boolean } = {}) => this.#json<RunInfo>("POST", `/sync${options.full ? "?full=true" : ""}`);
  run = (id: string) => this.#json<RunInfo>("GET", `/runs/${encodeURIComponent(id)}`);
  runs = (limit = 50) => this.#json<RunInfo[]>("GET", `/runs?limit=${limit}`);
  clearRuns = () => this.#json<{ removed: number }>("DELETE", "/runs");
  runItems = (id: string, query: { action?: PlanAction | undefined; q?: string | undefined; limit?: number; offset?: number }) => {
    const params = new URLSearchParams();
    if (query.action) params.set("action", query.action);
    if (query.q) params.set("q", query.q);
    params.set("limit", String(query.limit ?? 200));
    params.set("offset", String(query.offset ?? 0));
    return this.#json<{ total: number; items: Array<PlanItem & { status?: string; error?: string | null }> }>(
      "GET",
      `/runs/${encodeURIComponent(id)}/items?${params}`,
    );
  };
  runEvents = (id: string) => this.#json<RunEvent[]>("GET", `/runs/${encodeURIComponent(id)}/events`);
  runEventsCsv = async (id: string) => (await this.#fetch("GET", `/runs/${encodeURIComponent(id)}/events?format=csv`)).text();
  loginAttempts = (query: { outcome?: AttemptOutcome | undefined; limit?: number }) => {
    const params = new URLSearchParams({ limit: String(query.limit ?? 100) });
    if (query.outcome) params.set("outcome", query.outcome);
    return this.#json<{ total: number; attempts: LoginAttempt[] }>("GET", `/auth/attempts?${params}`);
  };
  loginAttemptsCsv = async () => (await this.#fetch("GET", "/auth/attempts?format=csv")).text();
  approve = (id: string) => this.#json<RunInfo>("POST", `/runs/${encodeURIComponent(id)}/approve`);
  reject = (id: string) => this.#json<RunInfo>("POST", `/runs/${encodeURIComponent(id)}/reject`);
  cancelRun = (id: string) => this.#json<RunInfo>("POST", `/runs/${encodeURIComponent(id)}/cancel`);
  schedule = () => this.#json<Schedule>("GET", "/schedule");

  extensions = (q: string, limit = 100, offset = 0) => {
    const params = new URLSearchParams({ limit: String(limit), offset: String(offset) });
    if (q) params.set("q", q);
    return this.#json<{ total: number; extensions: Extension[] }>("GET", `/extensions?${params}`);
  };

  agents = () => this.#json<AgentInfo[]>("GET", "/agents");
  enrollmentTokens = () => this.#json<EnrollmentTokenInfo[]>("GET", "/agents/enrollment-tokens");
  createEnrollmentToken = (label: string, expiresInHours: number) =>
    this.#json<EnrollmentTokenInfo & { token: string }>("POST", "/agents/enrollment-tokens", { label, expiresInHours });
  agentEvents = (limit = 50) => this.#json<AgentEvent[]>("GET", `/agents/events?limit=${limit}`);
  revokeAgent = (id: string) => this.#json<AgentInfo>("DELETE", `/agents/${encodeURIComponent(id)}`);
  revokeEnrollmentToken = (id: string) => this.#json<unknown>("DELETE", `/agents/enrollment-tokens/${encodeURIComponent(id)}`);
}
