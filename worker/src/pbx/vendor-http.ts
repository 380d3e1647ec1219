// How every vendor target calls its API over HTTP: at most `concurrency` calls in flight, a
// 429 (honouring Retry-After), a 5xx, a timeout or a dropped connection retried with
// exponential backoff and full jitter, and a vendor that ran a call out of retries left alone
// for a while, so the calls behind it fail at once with the same reason instead of each
// spending its own retries: a run against a PBX that went away ends promptly, as partial,
// and says why. What an answer means is the target's to say (its own error mapping).
import { VendorError, type VendorFailureKind } from "./vendor-error.ts";

export interface VendorHttpOptions {
  /** The vendor's name, as messages say it ("Yeastar did not answer …"). */
  vendor: string;
  concurrency?: number;
  fetch?: typeof fetch;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  timeoutMs?: number;
  /** Retries of a 429, 5xx or timeout before the call fails. */
  retries?: number;
  /** The target's own error class, so callers see one kind of error per target. */
  error?: (kind: VendorFailureKind, endpoint: string, message: string, status?: number) => VendorError;
}

/**
 * Subrequests a vendor operation is planned at (PbxDirectory.requestsPerOperation): an
 * extension's fields, its photo and its group memberships are a call each, and some room is
 * left for retries; a run then applies 200 vendor operations a step, well inside Workers'
 * subrequest limit per invocation.
 */
export const vendorRequestsPerOperation = 5;

/** The options a target's client passes on as they are. */
export type VendorCallOptions = Pick<VendorHttpOptions, "concurrency" | "fetch" | "now" | "sleep" | "timeoutMs" | "retries">;

/** The call options `options` sets, for a client that takes them among its own. */
export function callOptions(options: VendorCallOptions): VendorCallOptions {
  const keys = ["concurrency", "fetch", "now", "sleep", "timeoutMs", "retries"] as const;
  return Object.fromEntries(keys.filter((k) => options[k] !== undefined).map((k) => [k, options[k]])) as VendorCallOptions;
}

/** How long a vendor that ran a call out of retries is left alone. */
const downForMs = 10_000;

export class VendorHttp {
  readonly #o: Required<VendorHttpOptions>;
  #inFlight = 0;
  readonly #waiting: Array<() => void> = [];
  #downUntil = 0;
  #downReason = "";

  constructor(options: VendorHttpOptions) {
    this.#o = {
      concurrency: 4,
      now: Date.now,
      sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
      timeoutMs: 20_000,
      retries: 5,
      error: (kind, endpoint, message, status) => new VendorError(kind, endpoint, message, status),
      ...options,
      fetch: options.fetch ?? ((input, init) => fetch(input, init)),
    };
  }

  get concurrency(): number {
    return this.#o.concurrency;
  }

  error(kind: VendorFailureKind, endpoint: string, message: string, status?: number): VendorError {
    return this.#o.error(kind, endpoint, message, status);
  }

  /** Runs `call` in one of the `concurrency` slots, failing at once while the vendor is taken as down. */
  async slot<T>(endpoint: string, call: () => Promise<T>): Promise<T> {
    this.#refuseWhileDown(endpoint);
    await this.#turn();
    try {
      return await call();
    } finally {
      this.#release();
    }
  }

  /**
   * One HTTP exchange with its retries. Answers the response of the first try that is neither
   * a 429 nor a 5xx (its status is the caller's to read); throws `unavailable` once the
   * retries are spent. The URL may carry a token: no message ever includes it.
   */
  async exchange(endpoint: string, url: URL | string, init: RequestInit): Promise<Response> {
    this.#refuseWhileDown(endpoint);
    for (let attempt = 0; ; attempt++) {
      let retryAfterMs: number | undefined;
      let why: string;
      try {
        const response = await this.#o.fetch(url, { ...init, signal: AbortSignal.timeout(this.#o.timeoutMs) });
        if (response.status !== 429 && response.status < 500) return response;
        await response.body?.cancel();
        const after = Number(response.headers.get("Retry-After"));
        if (response.headers.has("Retry-After") && Number.isFinite(after) && after >= 0) retryAfterMs = after * 1000;
        why = `HTTP ${response.status}`;
      } catch (error) {
        if (error instanceof VendorError) throw error;
        why = (error as Error).name === "TimeoutError" ? `no answer within ${this.#o.timeoutMs / 1000} s` : "the connection failed";
      }
      if (attempt >= this.#o.retries) {
        this.#downReason = `${this.#o.vendor} did not answer ${endpoint} (${why}, ${attempt + 1} tries)`;
        this.#downUntil = this.#o.now() + downForMs;
        throw this.#o.error("unavailable", endpoint, this.#downReason);
      }
      // Full jitter on an exponential ceiling, or what Retry-After asks for.
      const ceiling = Math.min(30_000, 500 * 2 ** attempt);
      await this.#o.sleep(retryAfterMs ?? Math.round(ceiling / 2 + Math.random() * (ceiling / 2)));
    }
  }

  #refuseWhileDown(endpoint: string): void {
    if (this.#o.now() < this.#downUntil)
      throw this.#o.error("unavailable", endpoint, `${this.#downReason}; not tried again until ${new Date(this.#downUntil).toISOString()}`);
  }

  async #turn(): Promise<void> {
    if (this.#inFlight < this.#o.concurrency) {
      this.#inFlight++;
      return;
    }
    await new Promise<void>((resolve) => this.#waiting.push(resolve));
  }

  #release(): void {
    const next = this.#waiting.shift();
    if (next !== undefined) next();
    else this.#inFlight--;
  }
}
