// Durable Object RPC cannot carry our error class, so failures cross the stub as values: the
// tenant object wraps each call, the routes unwrap the answer back into an ApiError.
import { ApiError } from "../api-error.ts";

export type Outcome<T> = { ok: true; value: T } | { ok: false; status: number; code: string; message: string; details?: unknown };

/** Runs one call of the tenant object; an unexpected error is logged and answered as an opaque 500. */
export async function outcome<T>(body: () => T | Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await body() };
  } catch (e) {
    if (e instanceof ApiError) {
      return { ok: false, status: e.status, code: e.code, message: e.message, ...(e.details === undefined ? {} : { details: e.details }) };
    }
    console.error(`tenant object: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
    return { ok: false, status: 500, code: "internal_error", message: "The server failed to handle this request." };
  }
}

/** The answer of an RPC call, or its failure thrown again as the ApiError it was. */
export function unwrap<T>(answer: Outcome<T>): T {
  if (answer.ok) return answer.value;
  throw new ApiError(answer.status as never, answer.code, answer.message, answer.details);
}
