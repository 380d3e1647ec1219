import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";

/**
 * The worker's one error type: every failure the API reports carries a stable, machine-readable
 * `code` beside its message, so the portal can react to the kind of failure, not the wording.
 */
export class ApiError extends Error {
  readonly status: ContentfulStatusCode;
  readonly code: string;
  readonly details: unknown;

  constructor(status: ContentfulStatusCode, code: string, message: string, details?: unknown) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

export interface ErrorBody {
  error: { code: string; message: string; details?: unknown };
}

/** Hono `onError` handler: ApiError as itself, anything else as an opaque 500 (details go to the log, not the caller). */
export function errorResponse(err: Error, c: Context): Response {
  if (err instanceof ApiError) {
    const body: ErrorBody = {
      error: { code: err.code, message: err.message, ...(err.details === undefined ? {} : { details: err.details }) },
    };
    return c.json(body, err.status);
  }
  console.error(`unhandled ${err.name}: ${err.message}`);
  const body: ErrorBody = { error: { code: "internal_error", message: "The server failed to handle this request." } };
  return c.json(body, 500);
}
