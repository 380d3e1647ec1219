// The 3CX V20 Configuration API (XAPI) as the adapter calls it. From 3CX's configuration REST
// API documentation and its xapi-tutorial:
// - OAuth2 client credentials: POST {base}/connect/token, form-encoded client_id, client_secret,
//   grant_type=client_credentials; the answer's expires_in is in seconds (since 20.0.9) and
//   there is no refresh token.
// - Only one access token per client is live: fetching a new one revokes the last. So token
//   fetches are serialised, the token is kept sealed in the tenant's storage (a restarted
//   object reuses it rather than revoking the one a run in flight holds), and a 401 fetches a
//   new token and retries once (another fetch, e.g. a Test PBX, may have replaced ours).
// - OData under /xapi/v1 with Authorization: Bearer; lists answer {value, @odata.count} and
//   page with $top and $skip.
import type { TokenStore } from "../sealed-token-store.ts";
import { callOptions, type VendorCallOptions, VendorHttp } from "../vendor-http.ts";
import { ThreeCxError, threeCxError } from "./threecx-errors.ts";

export interface ThreeCxToken {
  accessToken: string;
  expiresAt: number;
}

export interface ThreeCxClientOptions extends VendorCallOptions {
  baseUrl: string;
  clientId: string;
  /** The API key, opened only when a token is fetched. */
  secret: () => Promise<string>;
  tokens: TokenStore<ThreeCxToken>;
}

export type ODataEntity = Record<string, unknown> & { Id: number };

/** Renew this long before 3CX says the token expires: clocks differ, calls take time. */
const renewMarginMs = 60_000;
const userAgent = "pbx-ad-sync";

export class ThreeCxClient {
  readonly #o: Pick<Required<ThreeCxClientOptions>, "baseUrl" | "clientId" | "secret" | "tokens" | "now">;
  readonly #http: VendorHttp;
  #token: ThreeCxToken | undefined;
  #loaded = false;
  #renewing: Promise<ThreeCxToken> | undefined;

  constructor(options: ThreeCxClientOptions) {
    this.#o = { now: Date.now, ...options, baseUrl: options.baseUrl.replace(/\/+$/, "") };
    this.#http = new VendorHttp({
      vendor: "3CX",
      ...callOptions(options),
      error: (kind, endpoint, message, status) => new ThreeCxError(kind, endpoint, message, status),
    });
  }

  /** Gets a token (or confirms the one kept): what Test Connection's sign-in step checks. */
  async authenticate(): Promise<void> {
    await this.#current();
  }

  /** One XAPI call under /xapi/v1; a 2xx answers its JSON (null for 204), anything else throws 3CX's error. */
  request(
    method: "GET" | "POST" | "PATCH" | "DELETE",
    path: string,
    options: { body?: unknown; query?: Record<string, string | number> } = {},
  ): Promise<Record<string, unknown> | null> {
    const endpoint = `${method} /${path.replace(/\(\d+\)/g, "({Id})").replace(/\('[^']*'\)|=('[^']*')/g, (m) => (m.startsWith("=") ? "='…'" : "('…')"))}`;
    return this.#http.slot(endpoint, async () => {
      for (let renewed = false; ; renewed = true) {
        const token = await this.#current();
        const url = new URL(`${this.#o.baseUrl}/xapi/v1/${path}`);
        for (const [k, v] of Object.entries(options.query ?? {})) url.searchParams.set(k, String(v));
        const response = await this.#http.exchange(endpoint, url, {
          method,
          headers: {
            Authorization: `Bearer ${token.accessToken}`,
            Accept: "application/json",
            "User-Agent": userAgent,
            ...(options.body === undefined ? {} : { "Content-Type": "application/json" }),
          },
          ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
        });
        const text = await response.text();
        let body: Record<string, unknown> | null = null;
        try {
          body = text === "" ? null : (JSON.parse(text) as Record<string, unknown>);
        } catch {
          body = null;
        }
        if (response.ok) return body;
        if (response.status === 401 && !renewed) {
          // Revoked by a newer token of the same client, or expired early: fetch one, once.
          if (this.#token?.accessToken === token.accessToken) this.#token = { ...token, expiresAt: 0 };
          continue;
        }
        throw threeCxError(endpoint, response.status, body);
      }
    });
  }

  /** Every entity of a collection: the first page says how many (@odata.count), the rest are asked for at once. */
  async listAll(path: string, query: Record<string, string>, pageSize = 100): Promise<ODataEntity[]> {
    const page = async (skip: number) => {
      const answer = await this.request("GET", path, { query: { ...query, $top: pageSize, $skip: skip, $count: "true" } });
      const value = Array.isArray(answer?.value) ? (answer.value as ODataEntity[]) : [];
      const count = typeof answer?.["@odata.count"] === "number" ? (answer["@odata.count"] as number) : value.length;
      return { value, count };
    };
    const first = await page(0);
    const all = [...first.value];
    const skips: number[] = [];
    for (let skip = pageSize; skip < first.count; skip += pageSize) skips.push(skip);
    for (const next of await Promise.all(skips.map(page))) all.push(...next.value);
    const seen = new Set<number>();
    return all.filter((e) => !seen.has(e.Id) && seen.add(e.Id) !== undefined);
  }

  async #current(): Promise<ThreeCxToken> {
    if (!this.#loaded) {
      this.#token = await this.#o.tokens.load();
      this.#loaded = true;
    }
    const token = this.#token;
    if (token !== undefined && token.expiresAt - renewMarginMs > this.#o.now()) return token;
    this.#renewing ??= this.#fetchToken().finally(() => {
      this.#renewing = undefined;
    });
    return this.#renewing;
  }

  async #fetchToken(): Promise<ThreeCxToken> {
    const form = new URLSearchParams({
      client_id: this.#o.clientId,
      client_secret: await this.#o.secret(),
      grant_type: "client_credentials",
    });
    const response = await this.#http.exchange("POST /connect/token", `${this.#o.baseUrl}/connect/token`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", "User-Agent": userAgent, Accept: "application/json" },
      body: form.toString(),
    });
    const answer = (await response.json().catch(() => null)) as Record<string, unknown> | null;
    if (!response.ok || typeof answer?.access_token !== "string") {
      throw new ThreeCxError(
        response.status === 401 || response.status === 400 ? "auth" : "failure",
        "POST /connect/token",
        `3CX refused the API client (${String(answer?.error ?? `HTTP ${response.status}`)}): check pbx.clientId and the API key in Connection > PBX (Admin > Integrations > API in 3CX)`,
        response.status,
      );
    }
    const seconds = typeof answer.expires_in === "number" ? answer.expires_in : 3600;
    const token = { accessToken: answer.access_token, expiresAt: this.#o.now() + seconds * 1000 };
    this.#token = token;
    await this.#o.tokens.save(token);
    return token;
  }
}
