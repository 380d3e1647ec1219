// What a 3CX Configuration API answer means to a sync: the one place an HTTP status and an
// OData error body ({"error": {code, message, details: [{message, target}]}}, the warnings of
// 3CX's Pbx.Warnings) become a kind of failure. A value already in use (WARNINGS.XAPI.
// ALREADY_IN_USE on Number or EmailAddress) is a conflict the administrator can resolve; 3CX's
// own message and the property it names are kept.
import { kindForStatus, VendorError, type VendorFailureKind } from "../vendor-error.ts";

export class ThreeCxError extends VendorError {
  /** The warnings 3CX named, e.g. ["WARNINGS.XAPI.ALREADY_IN_USE"], and the properties they concern. */
  readonly warnings: string[];
  readonly targets: string[];

  constructor(
    kind: VendorFailureKind,
    endpoint: string,
    message: string,
    status?: number,
    warnings: string[] = [],
    targets: string[] = [],
  ) {
    super(kind, endpoint, message, status);
    this.name = "ThreeCxError";
    this.warnings = warnings;
    this.targets = targets;
  }
}

export function threeCxError(endpoint: string, status: number, body: unknown): ThreeCxError {
  const error = (typeof body === "object" && body !== null ? (body as Record<string, unknown>).error : undefined) as
    | { message?: unknown; details?: unknown }
    | undefined;
  const details = Array.isArray(error?.details) ? (error.details as Array<{ message?: unknown; target?: unknown }>) : [];
  const warnings = details.map((d) => String(d.message ?? "")).filter(Boolean);
  const targets = details.map((d) => String(d.target ?? "")).filter(Boolean);
  const kind: VendorFailureKind = warnings.some((w) => w.endsWith("ALREADY_IN_USE")) ? "conflict" : kindForStatus(status);
  // The details name each property with its warning; without them the message says it all.
  const named = details.map((d) => `${String(d.target ?? "")}: ${String(d.message ?? "")}`);
  const text =
    named.length > 0
      ? named.join(", ")
      : typeof error?.message === "string" && error.message !== ""
        ? error.message.replace(/\s*\n\s*/g, " ")
        : `HTTP ${status}`;
  return new ThreeCxError(kind, endpoint, `3CX: ${text} [HTTP ${status}]`, status, warnings, targets);
}
