// The Yeastar P-Series Open API as the adapter calls it: tokens, retries, paging. Rules from
// Yeastar's developer guide (P-Series Cloud Edition > Developer Guide > Open API):
// - `{base}/openapi/v1.0/{endpoint}?access_token=…`: the token is a query parameter, so it
//   must never reach a log or an error message; a `User-Agent` header on every request.
// - `get_token` answers an access token (30 minutes) and a refresh token (24 hours); an
//   application holds at most 8 live access tokens, so one is kept per tenant (sealed in the
//   tenant's storage, so an object that restarts does not use up the allowance) and renewed
//   with `refresh_token` rather than fetched again.
// - Answers are HTTP 200 with `errcode` 0; 10004 is an expired token: renew, then retry once.
// Yeastar documents no rate limit; a 429 (with Retry-After) or a 5xx is retried with
// exponential backoff and jitter, and at most `concurrency` calls are in flight.
import type { TokenStore } from "../sealed-token-store.ts";
import { callOptions, type VendorCallOptions, VendorHttp } from "../vendor-http.ts";
import { kindOf, vendorMessage, YeastarError, yeastarCodes } from "./yeastar-errors.ts";

export interface YeastarTokens {
  accessToken: string;
  accessExpiresAt: number;
  refreshToken: string;
  refreshExpiresAt: number;
}

export interface YeastarClientOptions extends VendorCallOptions {
  baseUrl: string;
  clientId: string;
  /** The Client Secret, opened only when a token is fetched. */
  secret: () => Promise<string>;
  /** Where the tenant's tokens are kept between invocations (sealed at rest). */
  tokens: TokenStore<YeastarTokens>;
}

export type YeastarAnswer = Record<string, unknown> & { errcode: number; errmsg?: string };

/** Renew a token this long before Yeastar says it expires: clocks differ, calls take time. */
const renewMarginMs = 60_000;
const userAgent = "pbx-ad-sync";

export class YeastarClient {
  readonly #o: Pick<Required<YeastarClientOptions>, "baseUrl" | "clientId" | "secret" | "tokens" | "now">;
  readonly #http: VendorHttp;
  #tokens: YeastarTokens | undefined;
  #loaded = false;
  /** One token fetch at a time: two would each use one of the application's 8 tokens. */
  #renewing: Promise<YeastarTokens> | undefined;

  constructor(options: YeastarClientOptions) {
    this.#o = { now: Date.now, ...options, baseUrl: options.baseUrl.replace(/\/+$/, "") };
    this.#http = new VendorHttp({
      vendor: "Yeastar",
      ...callOptions(options),
      error: (kind, endpoint, message, status) => new YeastarError(kind, endpoint, message, undefined, status),
    });
  }

  get(endpoint: string, query: Record<string, string | number> = {}): Promise<YeastarAnswer> {
    return this.#call("GET", endpoint, query, undefined);
  }

  post(endpoint: string, body: Record<string, unknown>): Promise<YeastarAnswer> {
    return this.#call("POST", endpoint, {}, body);
  }

  /** Every item of a paged list (`page`, `page_size`; the answer's `total_number` and `data`). */
  async listAll(endpoint: string, query: Record<string, string | number> = {}, pageSize = 100): Promise<Array<Record<string, unknown>>> {
    const page = async (n: number) => {
      const answer = await this.get(endpoint, { ...query, page: n, page_size: pageSize });
      const data = Array.isArray(answer.data) ? (answer.data as Array<Record<string, unknown>>) : [];
      return { data, total: typeof answer.total_number === "number" ? answer.total_number : undefined };
    };
    const first = await page(1);
    if (first.total === undefined || first.data.length === 0 || first.total <= first.data.length) return first.data;
    // The first page says how many there are: the others are asked for at once (the client
    // keeps the calls in flight within its concurrency). An object made or deleted meanwhile
    // can shift the pages, so an id seen twice counts once.
    const pages = Math.ceil(first.total / pageSize);
    const rest = await Promise.all(Array.from({ length: pages - 1 }, (_, i) => page(i + 2)));
    const seen = new Set<unknown>();
    return [first, ...rest]
      .flatMap((p) => p.data)
      .filter((item) => {
        const key = item.id ?? JSON.stringify(item);
        if (seen.has(key)) return false;
        seen.add(key);
        return true;
      });
  }

  /** Signs in (or confirms the token it has): what Test Connection's first PBX step checks. */
  async authenticate(): Promise<void> {
    await this.#token();
  }

  /** Gives the tenant's token back to Yeastar (del_token), so it stops counting against the 8. */
  async release(): Promise<void> {
    const tokens = await this.#current();
    if (tokens === undefined) return;
    await this.#raw("GET", "del_token", { access_token: tokens.accessToken }, undefined).catch(() => undefined);
    this.#tokens = undefined;
    await this.#o.tokens.save(undefined);
  }

  #call(method: "GET" | "POST", endpoint: string, query: Record<string, string | number>, body: unknown): Promise<YeastarAnswer> {
    return this.#http.slot(endpoint, async () => {
      let renewed = false;
      for (;;) {
        const tokens = await this.#token();
        const answer = await this.#raw(method, endpoint, { ...query, access_token: tokens.accessToken }, body);
        if (answer.errcode === yeastarCodes.success) return answer;
        if ((answer.errcode === yeastarCodes.tokenExpired || answer.errcode === yeastarCodes.accessDenied) && !renewed) {
          // Expired before we thought, or no longer known (the PBX restarted, the token was
          // revoked): renew once. A real lack of permission is refused again, and fails.
          renewed = true;
          if (this.#tokens?.accessToken === tokens.accessToken) this.#tokens = { ...tokens, accessExpiresAt: 0 };
          continue;
        }
        throw new YeastarError(kindOf(answer.errcode), endpoint, vendorMessage(answer), answer.errcode);
      }
    });
  }

  /** One HTTP exchange (with the retries a 429, a 5xx, a timeout or a dropped connection get). */
  async #raw(method: "GET" | "POST", endpoint: string, query: Record<string, string | number>, body: unknown): Promise<YeastarAnswer> {
    const url = new URL(`${this.#o.baseUrl}/openapi/v1.0/${endpoint}`);
    for (const [k, v] of Object.entries(query)) url.searchParams.set(k, String(v));
    const response = await this.#http.exchange(endpoint, url, {
      method,
      headers: { "User-Agent": userAgent, ...(body === undefined ? {} : { "Content-Type": "application/json" }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    if (!response.ok) {
      await response.body?.cancel();
      throw new YeastarError(
        response.status === 401 || response.status === 403 ? "denied" : "failure",
        endpoint,
        `Yeastar answered ${endpoint} with HTTP ${response.status}`,
        undefined,
        response.status,
      );
    }
    const answer = (await response.json().catch(() => null)) as YeastarAnswer | null;
    if (answer === null || typeof answer.errcode !== "number")
      throw new YeastarError("failure", endpoint, `Yeastar answered ${endpoint} with something that is not an Open API answer`);
    return answer;
  }

  async #current(): Promise<YeastarTokens | undefined> {
    if (!this.#loaded) {
      this.#tokens = await this.#o.tokens.load();
      this.#loaded = true;
    }
    return this.#tokens;
  }

  async #token(): Promise<YeastarTokens> {
    const now = this.#o.now();
    const current = await this.#current();
    if (current !== undefined && current.accessExpiresAt - renewMarginMs > now) return current;
    this.#renewing ??= this.#renew(current).finally(() => {
      this.#renewing = undefined;
    });
    return this.#renewing;
  }

  async #renew(current: YeastarTokens | undefined): Promise<YeastarTokens> {
    const now = this.#o.now();
    let answer: YeastarAnswer | undefined;
    if (current !== undefined && current.refreshExpiresAt - renewMarginMs > now) {
      answer = await this.#raw("POST", "refresh_token", {}, { refresh_token: current.refreshToken });
      // A refresh token Yeastar no longer knows: start over with the credentials.
      if (answer.errcode !== yeastarCodes.success) answer = undefined;
    }
    answer ??= await this.#raw("POST", "get_token", {}, { username: this.#o.clientId, password: await this.#o.secret() });
    if (answer.errcode !== yeastarCodes.success)
      throw new YeastarError(
        "auth",
        "get_token",
        `${vendorMessage(answer)}: check pbx.clientId and the secret in Connection > PBX (Integrations > API on the PBX)`,
        answer.errcode,
      );
    const seconds = (key: string, fallback: number) => (typeof answer[key] === "number" ? (answer[key] as number) : fallback);
    const tokens: YeastarTokens = {
      accessToken: String(answer.access_token),
      accessExpiresAt: now + seconds("access_token_expire_time", 1800) * 1000,
      refreshToken: String(answer.refresh_token),
      refreshExpiresAt: now + seconds("refresh_token_expire_time", 86_400) * 1000,
    };
    this.#tokens = tokens;
    await this.#o.tokens.save(tokens);
    return tokens;
  }
}
