// What a vendor API's answer means to a sync, the same for every target: each target maps its
// own protocol results (Yeastar errcodes, OData errors, SCIM scimType) to these kinds in one
// place, and keeps the vendor's own words in the message, so the log says what the PBX said.

/** conflict: the administrator can resolve it (a duplicate); unavailable: try again later. */
export type VendorFailureKind = "conflict" | "not_found" | "auth" | "denied" | "unavailable" | "failure";

/** What an HTTP status says when the body says nothing more precise. */
export function kindForStatus(status: number): VendorFailureKind {
  return status === 409 ? "conflict" : status === 404 ? "not_found" : status === 401 ? "auth" : status === 403 ? "denied" : "failure";
}

export class VendorError extends Error {
  readonly kind: VendorFailureKind;
  /** The call it answered, e.g. "extension/create" or "POST /Users". */
  readonly endpoint: string;
  /** The HTTP status, when there was an answer. */
  readonly status: number | undefined;

  constructor(kind: VendorFailureKind, endpoint: string, message: string, status?: number) {
    super(message);
    this.name = "VendorError";
    this.kind = kind;
    this.endpoint = endpoint;
    this.status = status;
  }
}
