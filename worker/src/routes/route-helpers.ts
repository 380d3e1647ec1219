// What every route module shares: the app's types, the tenant's Durable Object, and the
// parsing of bodies and paging parameters with the API's own error codes.
import type { Context } from "hono";
import { ApiError } from "../api-error.ts";
import type { Env } from "../env.ts";
import type { AdminAuthVariables } from "../middleware/admin-auth/index.ts";

export type AppEnv = { Bindings: Env; Variables: AdminAuthVariables };

/** Configurations are small; this bounds what one request may make the isolate parse. */
const maxBodyBytes = 1024 * 1024;

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

export async function jsonBody(request: Request): Promise<unknown> {
  const text = await request.text();
  if (text.length > maxBodyBytes) throw new ApiError(413, "body_too_large", `A request body is at most ${maxBodyBytes} bytes.`);
  return parseJson(text);
}

/** An empty body reads as {}, for routes whose body is optional. */
export async function optionalJsonBody(request: Request): Promise<unknown> {
  const text = await request.text();
  if (text.length > maxBodyBytes) throw new ApiError(413, "body_too_large", `A request body is at most ${maxBodyBytes} bytes.`);
  return text.trim() === "" ? {} : parseJson(text);
}

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ApiError(400, "invalid_json", `The body is not valid JSON: ${(e as Error).message}`);
  }
}

export function pageLimit(value: string | undefined): number {
  const n = value === undefined ? 100 : Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 1000) throw new ApiError(400, "invalid_query", "limit is a whole number from 1 to 1000.");
  return n;
}

export function pageOffset(value: string | undefined): number {
  const n = value === undefined ? 0 : Number(value);
  if (!Number.isInteger(n) || n < 0) throw new ApiError(400, "invalid_query", "offset is a whole number, 0 or more.");
  return n;
}

/** A search term as the lists take it: at most 200 characters, absent when empty. */
export function searchTerm(value: string | undefined): { q?: string } {
  return value ? { q: value.slice(0, 200) } : {};
}
