// What a SCIM service's answer means to a sync (RFC 7644 3.12): the one place an HTTP status and
// a `scimType` become a kind of failure. A uniqueness refusal (409, or 400 "uniqueness") is a
// conflict the administrator can resolve; the service's own `detail` is kept in the message.
import { kindForStatus, VendorError, type VendorFailureKind } from "../vendor-error.ts";

export class ScimError extends VendorError {
  /** The error body's scimType (RFC 7644 Table 9), when the service gave one. */
  readonly scimType: string | undefined;

  constructor(kind: VendorFailureKind, endpoint: string, message: string, status?: number, scimType?: string) {
    super(kind, endpoint, message, status);
    this.name = "ScimError";
    this.scimType = scimType;
  }
}

export function scimError(endpoint: string, status: number, body: unknown): ScimError {
  const error = typeof body === "object" && body !== null ? (body as Record<string, unknown>) : {};
  const scimType = typeof error.scimType === "string" ? error.scimType : undefined;
  const detail = typeof error.detail === "string" && error.detail !== "" ? error.detail : `HTTP ${status}`;
  const kind: VendorFailureKind = scimType === "uniqueness" ? "conflict" : kindForStatus(status);
  return new ScimError(kind, endpoint, `SCIM service: ${detail}${scimType ? ` (${scimType})` : ""} [HTTP ${status}]`, status, scimType);
}
