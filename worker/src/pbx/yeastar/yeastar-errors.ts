// What a Yeastar Open API answer means to a sync. Yeastar answers HTTP 200 with an `errcode`
// (0 is success); the codes are listed in the developer guide's "Error codes" page. A
// duplicate (40003) is a conflict the administrator can resolve; everything else fails the
// operation. Either way the vendor's own message is kept, so the log says what Yeastar said.

import { VendorError, type VendorFailureKind } from "../vendor-error.ts";

/** errcodes the adapter acts on (P-Series Open API, "Error Code and Error Message"). */
export const yeastarCodes = {
  success: 0,
  failed: -1,
  internal: -2,
  interfaceNotExisted: 10001,
  tokenExpired: 10004,
  accessDenied: 10005,
  parameterSyntax: 40001,
  parameterError: 40002,
  duplicate: 40003,
  notFound: 60001,
  limitExceeded: 60002,
} as const;

export type YeastarFailureKind = VendorFailureKind;

export class YeastarError extends VendorError {
  /** Yeastar's errcode, when the answer was one of Yeastar's. */
  readonly errcode: number | undefined;

  constructor(kind: YeastarFailureKind, endpoint: string, message: string, errcode?: number, status?: number) {
    super(kind, endpoint, message, status);
    this.name = "YeastarError";
    this.errcode = errcode;
  }
}

/** The one place an errcode becomes a kind of failure. */
export function kindOf(errcode: number): YeastarFailureKind {
  switch (errcode) {
    case yeastarCodes.duplicate:
      return "conflict";
    case yeastarCodes.notFound:
      return "not_found";
    case yeastarCodes.tokenExpired:
      return "auth";
    case yeastarCodes.accessDenied:
    case yeastarCodes.interfaceNotExisted:
      return "denied";
    case yeastarCodes.internal:
      return "unavailable";
    default:
      return "failure";
  }
}

/** Yeastar's words, with the fields it named: "DUPLICATE KEY VALUE (number)". */
export function vendorMessage(answer: Record<string, unknown>): string {
  const text = typeof answer.errmsg === "string" ? answer.errmsg : "no message";
  const fields = [answer.duplicate_field_list, answer.invalid_param_list]
    .flatMap((list) => (Array.isArray(list) ? list : []))
    .map((f) => (typeof f === "string" ? f : typeof f === "object" && f !== null ? JSON.stringify(f) : String(f)));
  const sub = typeof answer.submsg === "string" && answer.submsg !== "" ? `: ${answer.submsg}` : "";
  return `Yeastar: ${text}${sub}${fields.length > 0 ? ` (${fields.join(", ")})` : ""} [errcode ${String(answer.errcode)}]`;
}
