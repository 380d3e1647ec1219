// A SCIM 2.0 service as the adapter calls it (RFC 7644): a bearer token on every request
// (never in a URL, a log or a message), `application/scim+json` bodies, list paging with
// startIndex and count, ETags sent back as If-Match when the service gives them, and the
// retries, concurrency and down-pause every vendor target shares (vendor-http.ts).
import { callOptions, type VendorCallOptions, VendorHttp } from "../vendor-http.ts";
import { ScimError, scimError } from "./scim-errors.ts";

export interface ScimClientOptions extends VendorCallOptions {
  baseUrl: string;
  /** The bearer token, opened only when a call is made. */
  token: () => Promise<string>;
}

export type ScimResource = Record<string, unknown> & { id: string };

export interface ScimAnswer {
  status: number;
  body: Record<string, unknown> | null;
  etag: string | null;
}

const mediaType = "application/scim+json";
const userAgent = "pbx-ad-sync";

export class ScimClient {
  readonly #base: string;
  readonly #token: () => Promise<string>;
  readonly #http: VendorHttp;
  /**
   * The token, opened once a minute at most rather than per call (it is sealed at rest); a 401
   * opens it again at once, so a token replaced in the portal is used from the next call on.
   */
  #opened: { token: Promise<string>; at: number } | undefined;

  constructor(options: ScimClientOptions) {
    this.#base = options.baseUrl.replace(/\/+$/, "");
    this.#token = options.token;
    this.#http = new VendorHttp({
      vendor: "The SCIM service",
      ...callOptions(options),
      error: (kind, endpoint, message, status) => new ScimError(kind, endpoint, message, status),
    });
  }

  /**
   * One call; a 2xx answers, anything else throws the service's error. `ifMatch` sends the
   * ETag the resource was read with, so an edit made meanwhile is not overwritten (412).
   */
  request(
    method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE",
    path: string,
    options: { body?: unknown; query?: Record<string, string | number>; ifMatch?: string | null } = {},
  ): Promise<ScimAnswer> {
    const endpoint = `${method} ${path.replace(/\/[^/]{16,}$/, "/{id}")}`;
    return this.#http.slot(endpoint, async () => {
      try {
        return await this.#once(method, path, endpoint, options);
      } catch (error) {
        if (!(error instanceof ScimError && error.kind === "auth") || this.#opened === undefined) throw error;
        this.#opened = undefined;
        return this.#once(method, path, endpoint, options);
      }
    });
  }

  async #bearer(): Promise<string> {
    const now = Date.now();
    if (this.#opened === undefined || now - this.#opened.at > 60_000) this.#opened = { token: this.#token(), at: now };
    return this.#opened.token;
  }

  async #once(
    method: string,
    path: string,
    endpoint: string,
    options: { body?: unknown; query?: Record<string, string | number>; ifMatch?: string | null },
  ): Promise<ScimAnswer> {
    {
      const url = new URL(`${this.#base}${path}`);
      for (const [k, v] of Object.entries(options.query ?? {})) url.searchParams.set(k, String(v));
      const response = await this.#http.exchange(endpoint, url, {
        method,
        headers: {
          Authorization: `Bearer ${await this.#bearer()}`,
          Accept: `${mediaType}, application/json`,
          "User-Agent": userAgent,
          ...(options.body === undefined ? {} : { "Content-Type": mediaType }),
          ...(options.ifMatch ? { "If-Match": options.ifMatch } : {}),
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
      if (!response.ok) throw scimError(endpoint, response.status, body);
      return { status: response.status, body, etag: response.headers.get("ETag") };
    }
  }

  /**
   * Every resource of a list (RFC 7644 3.4.2.4: startIndex is 1-based, count a page's most).
   * The first page says how many there are; the others are asked for at once, within the
   * concurrency. A service may answer fewer than asked per page: paging goes by what came.
   */
  async listAll(path: string, pageSize: number, query: Record<string, string> = {}): Promise<ScimResource[]> {
    const page = async (startIndex: number) => {
      const answer = await this.request("GET", path, { query: { ...query, startIndex, count: pageSize } });
      const resources = Array.isArray(answer.body?.Resources) ? (answer.body.Resources as ScimResource[]) : [];
      const total = typeof answer.body?.totalResults === "number" ? answer.body.totalResults : resources.length;
      return { resources, total };
    };
    const first = await page(1);
    const all = [...first.resources];
    const perPage = first.resources.length;
    if (perPage === 0 || all.length >= first.total) return all;
    const starts: number[] = [];
    for (let start = 1 + perPage; start <= first.total; start += perPage) starts.push(start);
    for (const next of await Promise.all(starts.map(page))) all.push(...next.resources);
    // Fewer than the total (a page shorter than the first, or users added meanwhile): go on one at a time.
    while (all.length < first.total) {
      const next = await page(all.length + 1);
      if (next.resources.length === 0) break;
      all.push(...next.resources);
    }
    const seen = new Set<string>();
    return all.filter((r) => !seen.has(r.id) && seen.add(r.id) !== undefined);
  }
}
