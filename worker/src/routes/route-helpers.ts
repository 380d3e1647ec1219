// What every route module shares: the app's types, the tenant's Durable Object, and the
// parsing of bodies and paging parameters with the API's own error codes.
import type { Context } from "hono";
import { ApiError } from "../api-error.ts";
import type { Env } from "../env.ts";
import type { AdminAuthVariables } from "../middleware/admin-auth/index.ts";

export type AppEnv = { Bindings: Env; Variables: AdminAuthVariables };

/**
 * What one request may make the isolate hold and parse, per kind of body: a configuration (or
 * a draft of one, with Test Connection) is the largest thing the API takes.
 */
export const maxConfigBodyBytes = 1024 * 1024;
/** Small JSON bodies: a bind password, an extension, an enrollment token's label. */
export const maxSmallBodyBytes = 64 * 1024;
/** A login body is two short strings; a little room above a 10,000-character name, no more. */
export const maxLoginBodyBytes = 64 * 1024;

/** Past any list's length (ten times a run of 100,000 users), and well inside SQLite's integers. */
export const maxPageOffset = 1_000_000;

export function tenantStub(env: Env, name: string) {
  return env.TENANT.get(env.TENANT.idFromName(name));
}

/** The tenant the path names (checked against the tenant pattern before any route runs). */
export function tenantName(c: Context<AppEnv>): string {
  return c.req.param("tenant") as string;
}

export function tenantOf(c: Context<AppEnv>) {
  return tenantStub(c.env, tenantName(c));
}

/** Who is asking, for the log: the administrator session's subject. */
export function by(c: Context<AppEnv>): string {
  return c.get("admin").sub;
}

/**
 * The body as text, refused with 413 once it is over `maxBytes`: at once when Content-Length
 * says so, and otherwise while it streams in, so that a body sent chunked, or with a
 * Content-Length that lies, is stopped at the limit instead of being read whole first.
 */
export async function readBodyText(request: Request, maxBytes: number): Promise<string> {
  const declared = request.headers.get("Content-Length");
  if (declared !== null && /^\s*\d+\s*$/.test(declared) && Number(declared) > maxBytes) throw bodyTooLarge(maxBytes);
  if (request.body === null) return "";
  const reader = request.body.getReader();
  const decoder = new TextDecoder();
  let text = "";
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    const chunk = value as Uint8Array;
    size += chunk.byteLength;
    if (size > maxBytes) {
      // Nothing more of it is read: the rest of the upload is dropped, not buffered.
      await reader.cancel().catch(() => undefined);
      throw bodyTooLarge(maxBytes);
    }
    text += decoder.decode(chunk, { stream: true });
  }
  return text + decoder.decode();
}

function bodyTooLarge(maxBytes: number): ApiError {
  return new ApiError(413, "body_too_large", `This request's body is at most ${maxBytes} bytes.`, { maxBytes });
}

/** A JSON body of at most `maxBytes` (see the limits above). */
export async function jsonBody(request: Request, maxBytes: number): Promise<unknown> {
  return parseJson(await readBodyText(request, maxBytes));
}

/** An empty body reads as {}, for routes whose body is optional. */
export async function optionalJsonBody(request: Request, maxBytes: number): Promise<unknown> {
  const text = await readBodyText(request, maxBytes);
  return text.trim() === "" ? {} : parseJson(text);
}

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ApiError(400, "invalid_json", `The body is not valid JSON: ${(e as Error).message}`);
  }
}

/**
 * A whole-number query parameter from `min` to `max`, `fallback` when absent. Digits only:
 * Number() would also take "", " 5", "1.0", "0x10", "1e20" and "Infinity", and an offset of
 * 1e20 would reach SQLite and fail there as a 500.
 */
export function integerQuery(name: string, value: string | undefined, range: { min: number; max: number; fallback: number }): number {
  if (value === undefined) return range.fallback;
  const n = /^\d{1,16}$/.test(value) ? Number(value) : Number.NaN;
  if (!(n >= range.min && n <= range.max))
    throw new ApiError(400, "invalid_query", `${name} is a whole number from ${range.min} to ${range.max}.`, { parameter: name });
  return n;
}

/** How many rows a page holds: 1 to 1000. */
export function pageLimit(value: string | undefined, fallback = 100): number {
  return integerQuery("limit", value, { min: 1, max: 1000, fallback });
}

/** Where a page starts. */
export function pageOffset(value: string | undefined): number {
  return integerQuery("offset", value, { min: 0, max: maxPageOffset, fallback: 0 });
}

/** A search term as the lists take it: at most 200 characters, absent when empty. */
export function searchTerm(value: string | undefined): { q?: string } {
  return value ? { q: value.slice(0, 200) } : {};
}
