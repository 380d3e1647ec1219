// A stand-in for a Yeastar P-Series PBX's Open API (Cloud, Software and Appliance editions),
// served by node:http on a random loopback port. It refuses what Yeastar refuses, and where
// the developer guide is silent it takes the stricter reading, so that an adapter cannot pass
// here by accident and then fail against a real PBX.
//
// TAKEN FROM THE GUIDE (help.yeastar.com, pages under en/p-series-cloud-edition/developer-guide/
// unless another path is given; the Software and Appliance editions say the same):
// - request-structure.html, api-request-overview.html, api-interfaces-and-events-summary.html:
//   `{base}/openapi/v1.0/{endpoint}?access_token=…`; GET queries and deletes, POST creates,
//   updates and actions with a JSON body (Content-Type: application/json); get_token and
//   refresh_token carry no token; a User-Agent header is REQUIRED on every request; each
//   request is its own TCP connection, closed after the answer (so we answer Connection: close).
// - get-access-token.html, refresh-access-token.html, revoke-access-token.html,
//   authorization-rule.html (and p-series-software-edition/developer-guide/get-access-token.html
//   for the restriction): POST get_token {username: Client ID, password: Client Secret} answers
//   access_token, access_token_expire_time (1800 s), refresh_token, refresh_token_expire_time
//   (86400 s); POST refresh_token {refresh_token} gives a new pair; GET del_token revokes.
//   "Each third-party application is limited to 8 valid access tokens simultaneously. Once the
//   limit is reached, a new token can only be obtained after an existing token expires or is
//   actively revoked": so the 9th get_token FAILS, it does not push the oldest out.
// - response-result.html, error-code-and-error-message.html: HTTP 200 with {errcode, errmsg};
//   bad credentials are {errcode: -1, errmsg: "FAILURE", invalid_param_list: [{field:
//   "username or password", value: "error"}]}; a missing parameter is {errcode: 40002,
//   invalid_param_list: [{field, validation_type: "required"}]}; a duplicate is {errcode: 40003,
//   errmsg: "DUPLICATE KEY VALUE", submsg, duplicate_field_list: [{field, value,
//   external_source, external_source_name}]}; 10004 is "TOKEN EXPIRED", 60001 "DATA NOT FOUND",
//   40002 covers "the root directory of organization is inoperable".
// - query-extension-list.html, search-specific-extensions.html, query-information-of-an-
//   extension.html, query-information-of-multiple-extensions.html: page, page_size, sort_by (id,
//   number, caller_id_name, email_addr, mobile_number, presence_status), order_by (asc, desc),
//   search_value; answers total_number and data (Ext_Basicinfo: id, online_status,
//   presence_status, number, caller_id_name, role_name, email_addr, mobile_number); get answers
//   data (Ext_DetailInfo); query takes ids (comma-separated) and answers data[].
// - add-an-extension.html, edit-an-extension.html, and p-series-cloud-edition/administrator-
//   guide/import-and-export-parameters-extension.html: required type (SIP), number (digits, at
//   most 7), user_password, reg_name (at most 63), reg_password (8 to 63),
//   concurrent_registrations (1 to 3), presence_status (available, away, business_trip,
//   do_not_disturb, lunch, off_work); organization_list is required when Organization Management
//   is on; user_password must mix digits, upper and lower case letters, be 10 to 63 long, and hold
//   no four consecutive digits, no four same digits, not the extension number, the first name or
//   the last name; names at most 63; an email address may not be used twice; caller_id and
//   mobile_number take digits, letters and ( ) . - + * #, at most 31. Edit takes `id` and the
//   changed fields, and its field list has no `number` (ai-guide/update-an-extension.html: "The
//   number itself cannot be changed"). No field to disable an extension is documented.
// - query-organization-list.html, query-information-of-an-organization.html, add-an-
//   organization.html, edit-an-organization.html, delete-an-organization.html, and
//   administrator-guide/import-and-export-parameters-organization.html: a tree under the root
//   (id 1); list takes is_all (0: with extension counts, 1: also the extension id list, 2: bare)
//   and answers organization_list[] with nested children (the guide types the children's
//   parent_id, order and ext_number as String, the top level's as Integer: copied as written);
//   get answers organization_info {id, name, parent_id, order}; create {name, parent_id} answers
//   id; update {id, name?, parent_id?}; GET delete?id=; names at most 127.
// - query-extension-group-list.html, search-specific-extension-groups.html, query-information-
//   of-an-extension-group.html, add-an-extension-group.html, edit-an-extension-group.html,
//   administrator-guide/extension-group-overview.html: list/search answer total_number and data
//   [{id, name, member_select, total_extensions}], sort_by id or name; create takes name,
//   member_select (sel_all_ext | sel_specific), members (required with sel_specific) and
//   mgr_enb_* permission flags (0/1); edit's field list has id, member_select, members and the
//   flags but no name; a built-in group Default_All_Extensions holds every extension; members
//   are "manager" or "user" (the default).
//
// ASSUMED, the guide being silent (each the strict choice; adjust here if a real PBX differs):
// - Missing, empty, or a bare runtime default User-Agent ("node", "undici": Node's fetch sends
//   "node" when none is set, which does not "identify your application"): HTTP 403 with
//   {errcode: 10005, errmsg: "ACCESS DENIED"}.
// - Wrong HTTP method: HTTP 405 with Allow and {errcode: 10001, "INTERFACE NOT EXISTED"}; an
//   unknown endpoint: HTTP 200 with 10001; another API version than v1.0: HTTP 200 with 10003.
// - POST without Content-Type application/json, or a body that is not a JSON object: 40001.
// - Token cap reached: get_token answers {errcode: 60002, "MAX LIMITATION EXCEEDED"}. Expired
//   and revoked tokens do not count towards the cap.
// - A missing, unknown or revoked access_token: 10005 ACCESS DENIED (10004 is kept for tokens
//   that existed and timed out). An expired refresh_token: 10004; an unknown or already used one:
//   -1 with invalid_param_list [{field: "refresh_token", value: "error"}].
// - refresh_token and del_token revoke the old access token AND its refresh token.
// - page_size above 100 is refused (40002); without page_size a page holds 20 (the default the
//   guide's MCP tools use); page is 1-based. organization/list validates paging but answers the
//   whole tree. search_value matches number, first/last name and caller_id_name, case-blind.
// - extension/create and extensiongroup/create answer no id (only organization/create documents
//   one): an adapter must look the new object up (search by number or name, then compare exactly).
// - Unknown fields in a create or update body are refused (40002, validation_type "unknown"),
//   so a field that is not in the guide (an invented `enabled`/`disabled` switch) cannot be
//   silently ignored; `number` and `type` on extension/update and `name` on extensiongroup/update
//   are refused as "not_editable".
// - With Organization Management on, organization_list is required (non-empty) on update as on
//   create. Organization_Info is {value: "<organization id>"} on the way in (a number is also
//   accepted) and {value, text} on the way out, the shape Yeastar's other references use.
// - Members are {ext_id, user_type: "manager" | "user"}; "custom" (which needs per-member
//   permissions) is refused. A member or organization that does not exist: 60001.
// - Deleting an organization that still has sub-organizations or extensions: 70091
//   CONNECTION_RELATION_EXISTED. Updating or deleting the root: 40002. Moving an organization
//   under itself or a descendant: 40002. Root's parent_id is 0.
// - extension/query with an id that does not exist: 60001 for the whole call.
// - system/information (query-pbx-information.html) answers data: Device_Info {device_name,
//   model_name, sn, firmware_version, system_time, up_time, timestamp}.
// - 429 and 5xx answers (the test switches) have a text body, not JSON: an adapter must look at
//   the HTTP status before it parses. Rate limits are not documented at all.
// - down(true) resets every connection (TCP RST) instead of answering 503: that is what an
//   unreachable PBX (dead tunnel, firewall, instance stopped) looks like to a client.
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { StandInFaults } from "./stand-in-faults.ts";

export interface YeastarSimulatorOptions {
  clientId?: string;
  clientSecret?: string;
  /** Yeastar's Organization Management feature: makes organization_list required on extensions. */
  organizationManagement?: boolean;
  /** Live access tokens one application may hold at once (Yeastar: 8). */
  maxTokens?: number;
  accessTokenSeconds?: number;
  refreshTokenSeconds?: number;
  /** What system/information answers as firmware_version. */
  firmwareVersion?: string;
}

/** One request as the simulator saw it; the access token's value is never kept. */
export interface SimulatedCall {
  method: string;
  endpoint: string;
  query: Record<string, string>;
  status: number;
  /** The answer's errcode, or null when the answer was not Yeastar JSON (429, 5xx). */
  errcode: number | null;
}

/** An accepted create, update or delete; secrets in `fields` read "[redacted]". */
export interface SimulatedWrite {
  endpoint: string;
  id: number;
  fields: Record<string, unknown>;
}

export interface SimulatedExtension {
  id: number;
  number: string;
  type: string;
  first_name: string;
  last_name: string;
  email_addr: string;
  mobile_number: string;
  caller_id: string;
  title: string;
  role_id: number | null;
  reg_name: string;
  concurrent_registrations: number;
  presence_status: string;
  organization_ids: number[];
  /** Other documented fields the API was given (never a secret). */
  extra: Record<string, unknown>;
  /** Made by addExtension, as an administrator would in Yeastar's console. */
  handMade: boolean;
}

export interface SimulatedOrganization {
  id: number;
  name: string;
  /** 0 for the root. */
  parent_id: number;
}

export interface SimulatedGroupMember {
  ext_id: number;
  user_type: "manager" | "user";
}

export interface SimulatedGroup {
  id: number;
  name: string;
  member_select: "sel_all_ext" | "sel_specific";
  members: SimulatedGroupMember[];
  permissions: Record<string, number>;
}

/** What a test may give addExtension; everything but the number has a default. */
export interface HandMadeExtension {
  number: string;
  first_name?: string;
  last_name?: string;
  email_addr?: string;
  mobile_number?: string;
  caller_id?: string;
  title?: string;
  presence_status?: string;
  organization_ids?: number[];
  /** Kept only as a salted hash, for userPasswordMatches. */
  user_password?: string;
}

export interface YeastarSimulator {
  /** e.g. http://127.0.0.1:41234; the API is under `${url}/openapi/v1.0/`. */
  url: string;
  clientId: string;
  clientSecret: string;
  /** Delay before each answer, in milliseconds. */
  latencyMs: number;
  /** The next n requests answer HTTP 429 with Retry-After. */
  rateLimit(n: number, retryAfterSeconds: number): void;
  /** The next n requests answer this 5xx status. */
  failNext(n: number, status?: number): void;
  /** true: every connection is reset; false: back to normal. */
  down(isDown: boolean): void;
  /** Goes down (as down(true)) the moment its nth write is done: an outage at a set point of a run. */
  downAfterWrites(n: number): void;
  /** Every access token live now is expired from now on (errcode 10004). */
  expireAccessTokens(): void;
  /** Access tokens that count towards the cap now. */
  liveAccessTokens(): number;
  readonly calls: SimulatedCall[];
  writes(): SimulatedWrite[];
  extensions(): SimulatedExtension[];
  organizations(): SimulatedOrganization[];
  groups(): SimulatedGroup[];
  addExtension(fields: HandMadeExtension): SimulatedExtension;
  /** Whether the extension's Linkus/user password is `candidate` (the password itself is not kept). */
  userPasswordMatches(id: number, candidate: string): boolean;
  close(): Promise<void>;
}

type Json = Record<string, unknown>;

const BASE = "/openapi/";
const VERSION = "v1.0";
const MAX_PAGE_SIZE = 100;
const DEFAULT_PAGE_SIZE = 20;
const MAX_BODY_BYTES = 1024 * 1024;
const REDACTED = "[redacted]";

const ERRMSG: Record<number, string> = {
  [-2]: "INTERNAL SERVER ERROR",
  [-1]: "FAILURE",
  0: "SUCCESS",
  10001: "INTERFACE NOT EXISTED",
  10003: "API VERSION UNSUPPORTED",
  10004: "TOKEN EXPIRED",
  10005: "ACCESS DENIED",
  40001: "PARAMETER SYNTAX ERROR",
  40002: "PARAMETER ERROR",
  40003: "DUPLICATE KEY VALUE",
  60001: "DATA NOT FOUND",
  60002: "MAX LIMITATION EXCEEDED",
  70091: "CONNECTION_RELATION_EXISTED",
};

interface InvalidParam {
  field: string;
  validation_type: string;
}

/** A Yeastar error answer, thrown from a handler and turned into JSON by the dispatcher. */
class Refusal extends Error {
  readonly errcode: number;
  readonly extra: Json;
  readonly status: number;
  readonly headers: Record<string, string>;
  constructor(errcode: number, extra: Json = {}, status = 200, headers: Record<string, string> = {}) {
    super(ERRMSG[errcode] ?? "FAILURE");
    this.errcode = errcode;
    this.extra = extra;
    this.status = status;
    this.headers = headers;
  }
}

const invalid = (params: InvalidParam[]) => new Refusal(40002, { invalid_param_list: params });
const notFound = (field: string, value: unknown) => new Refusal(60001, { invalid_param_list: [{ field, value: String(value) }] });

const PRESENCE = ["available", "away", "business_trip", "do_not_disturb", "lunch", "off_work"];
/** Documented extension fields a create may carry (edit: the same less `type` and `number`). */
const EXTENSION_FIELDS = new Set([
  "type",
  "number",
  "first_name",
  "last_name",
  "email_addr",
  "mobile_number",
  "user_password",
  "role_id",
  "organization_list",
  "title",
  "email_language",
  "user_lang",
  "vm_lang",
  "caller_id",
  "reg_name",
  "reg_password",
  "concurrent_registrations",
  "presence_status",
  "presence_list",
  "presence_mobile_prefix",
  "agent_id",
  "enb_vm",
  "enb_vm_pin",
  "vm_pin",
]);
/** Fields kept in `extra` (the rest have their own slot, or are secrets that are not kept). */
const EXTRA_FIELDS = [
  "email_language",
  "user_lang",
  "vm_lang",
  "presence_list",
  "presence_mobile_prefix",
  "agent_id",
  "enb_vm",
  "enb_vm_pin",
];
const SECRET_FIELDS = new Set(["user_password", "reg_password", "vm_pin", "password", "refresh_token"]);
/** Yeastar's "( ) . - + * #" plus digits and letters. */
const PHONE_CHARS = /^[0-9A-Za-z().\-+*#]*$/;
/** Numbers, letters and @ _ - . ' ; starts with a number, letter or _ ; XXX@XXX.XX. */
const EMAIL = /^[0-9A-Za-z_][0-9A-Za-z_.'-]*@[0-9A-Za-z_-]+(\.[0-9A-Za-z_-]+)+$/;
const PERMISSION_FLAG = /^(mgr|user)_enb_[a-z_]+$/;

interface StoredExtension extends SimulatedExtension {
  passwordHash: string | null;
}

interface Token {
  expiresAt: number;
  pair: string;
}

/** The user-password rules a violation of which Yeastar names, in the order they are checked. */
export function userPasswordProblems(password: string, owner: { number: string; first_name: string; last_name: string }): string[] {
  const problems: string[] = [];
  if (password.length < 10) problems.push("min_length");
  if (password.length > 63) problems.push("max_length");
  if (!/[0-9]/.test(password) || !/[a-z]/.test(password) || !/[A-Z]/.test(password)) problems.push("password_mix");
  let consecutive = false;
  let same = false;
  for (let i = 0; i + 4 <= password.length; i++) {
    const run = password.slice(i, i + 4);
    if (!/^[0-9]{4}$/.test(run)) continue;
    const d = [...run].map(Number);
    const steps = [1, 2, 3].map((k) => (d[k] ?? 0) - (d[k - 1] ?? 0));
    if (steps.every((s) => s === 1) || steps.every((s) => s === -1)) consecutive = true;
    if (steps.every((s) => s === 0)) same = true;
  }
  if (consecutive) problems.push("password_consecutive_digits");
  if (same) problems.push("password_same_digits");
  if (owner.number !== "" && password.includes(owner.number)) problems.push("password_contains_number");
  const lower = password.toLowerCase();
  const names = [owner.first_name, owner.last_name].map((n) => n.trim().toLowerCase()).filter((n) => n !== "");
  if (names.some((n) => lower.includes(n))) problems.push("password_contains_name");
  return problems;
}

export async function startYeastarSimulator(options: YeastarSimulatorOptions = {}): Promise<YeastarSimulator> {
  const clientId = options.clientId ?? `sim-client-${randomBytes(6).toString("hex")}`;
  const clientSecret = options.clientSecret ?? randomBytes(24).toString("base64url");
  const organizationManagement = options.organizationManagement ?? false;
  const maxTokens = options.maxTokens ?? 8;
  const firmwareVersion = options.firmwareVersion ?? "84.23.0.20";
  const accessTokenSeconds = options.accessTokenSeconds ?? 1800;
  const refreshTokenSeconds = options.refreshTokenSeconds ?? 86400;

  const accessTokens = new Map<string, Token>();
  const refreshTokens = new Map<string, Token>();
  const extensions = new Map<number, StoredExtension>();
  // Numbers and e-mail addresses in use, as the PBX's database indexes them: a duplicate check
  // that scanned every extension would make a 10,000-extension first sync measure the simulator.
  const keys = new Map<string, Set<number>>();
  const keysOf = (e: StoredExtension) => [`n:${e.number}`, ...(e.email_addr === "" ? [] : [`e:${e.email_addr.toLowerCase()}`])];
  const index = (e: StoredExtension, add: boolean) => {
    for (const key of keysOf(e)) {
      const ids = keys.get(key) ?? new Set<number>();
      if (add) ids.add(e.id);
      else ids.delete(e.id);
      if (ids.size === 0) keys.delete(key);
      else keys.set(key, ids);
    }
  };
  const organizations = new Map<number, SimulatedOrganization>([[1, { id: 1, name: "Yeastar", parent_id: 0 }]]);
  const groups = new Map<number, SimulatedGroup>([
    [1, { id: 1, name: "Default_All_Extensions", member_select: "sel_all_ext", members: [], permissions: {} }],
  ]);
  const calls: SimulatedCall[] = [];
  const writes: SimulatedWrite[] = [];
  let downAt: number | undefined;
  const recordWrite = (write: SimulatedWrite) => {
    writes.push(write);
    if (downAt !== undefined && writes.length >= downAt) faults.down(true);
  };
  const passwordSalt = randomBytes(16);
  let nextExtensionId = 1;
  let nextOrganizationId = 2;
  let nextGroupId = 2;
  const faults = new StandInFaults();

  const now = () => Date.now();
  const newToken = () => randomBytes(24).toString("base64url").slice(0, 32);
  const hash = (password: string) => createHash("sha256").update(passwordSalt).update(password).digest("hex");
  const liveAccessTokens = () => [...accessTokens.values()].filter((t) => t.expiresAt > now()).length;

  const copy = <T>(value: T): T => structuredClone(value);
  const publicExtension = (e: StoredExtension): SimulatedExtension => {
    const { passwordHash: _secret, ...rest } = e;
    return copy(rest);
  };
  const redactFields = (body: Json): Json =>
    Object.fromEntries(Object.entries(body).map(([k, v]) => [k, SECRET_FIELDS.has(k) ? REDACTED : copy(v)]));

  // ---- tokens -------------------------------------------------------------------------------

  const issuePair = (): Json => {
    const access = newToken();
    const refresh = newToken();
    accessTokens.set(access, { expiresAt: now() + accessTokenSeconds * 1000, pair: refresh });
    refreshTokens.set(refresh, { expiresAt: now() + refreshTokenSeconds * 1000, pair: access });
    return {
      access_token_expire_time: accessTokenSeconds,
      access_token: access,
      refresh_token_expire_time: refreshTokenSeconds,
      refresh_token: refresh,
    };
  };

  const sameSecret = (given: string, expected: string) => {
    const a = Buffer.from(given);
    const b = Buffer.from(expected);
    return a.length === b.length && timingSafeEqual(a, b);
  };

  const getToken = (body: Json): Json => {
    const missing = ["username", "password"].filter((f) => typeof body[f] !== "string" || body[f] === "");
    if (missing.length > 0) throw invalid(missing.map((field) => ({ field, validation_type: "required" })));
    if (!sameSecret(body.username as string, clientId) || !sameSecret(body.password as string, clientSecret)) {
      throw new Refusal(-1, { invalid_param_list: [{ field: "username or password", value: "error" }] });
    }
    // The guide: a new token only after one expires or is revoked. Refuse; never evict.
    if (liveAccessTokens() >= maxTokens) throw new Refusal(60002);
    return issuePair();
  };

  const refreshToken = (body: Json): Json => {
    if (typeof body.refresh_token !== "string" || body.refresh_token === "") {
      throw invalid([{ field: "refresh_token", validation_type: "required" }]);
    }
    const old = refreshTokens.get(body.refresh_token);
    if (!old) throw new Refusal(-1, { invalid_param_list: [{ field: "refresh_token", value: "error" }] });
    if (old.expiresAt <= now()) throw new Refusal(10004);
    refreshTokens.delete(body.refresh_token);
    accessTokens.delete(old.pair);
    return issuePair();
  };

  const delToken = (token: string): Json => {
    const t = accessTokens.get(token);
    accessTokens.delete(token);
    if (t) refreshTokens.delete(t.pair);
    return {};
  };

  // ---- request parsing helpers --------------------------------------------------------------

  const intParam = (q: URLSearchParams, field: string): number => {
    const raw = q.get(field);
    if (raw === null || raw === "") throw invalid([{ field, validation_type: "required" }]);
    if (!/^[0-9]+$/.test(raw)) throw invalid([{ field, validation_type: "integer" }]);
    return Number(raw);
  };

  const bodyId = (body: Json): number => {
    const id = body.id;
    if (id === undefined) throw invalid([{ field: "id", validation_type: "required" }]);
    if (typeof id !== "number" || !Number.isInteger(id)) throw invalid([{ field: "id", validation_type: "integer" }]);
    return id;
  };

  const refuseUnknown = (body: Json, allowed: (key: string) => boolean, notEditable: string[] = []) => {
    const problems: InvalidParam[] = [];
    for (const key of Object.keys(body)) {
      if (notEditable.includes(key)) problems.push({ field: key, validation_type: "not_editable" });
      else if (!allowed(key)) problems.push({ field: key, validation_type: "unknown" });
    }
    if (problems.length > 0) throw invalid(problems);
  };

  const page = <T>(
    items: T[],
    q: URLSearchParams,
    sortable: Record<string, (item: T) => string | number>,
  ): { total: number; data: T[] } => {
    const problems: InvalidParam[] = [];
    const num = (field: string, fallback: number, max: number): number => {
      const raw = q.get(field);
      if (raw === null) return fallback;
      if (!/^[0-9]+$/.test(raw) || Number(raw) < 1) {
        problems.push({ field, validation_type: "integer" });
        return fallback;
      }
      if (Number(raw) > max) {
        problems.push({ field, validation_type: "max" });
        return fallback;
      }
      return Number(raw);
    };
    const pageNo = num("page", 1, Number.MAX_SAFE_INTEGER);
    const size = num("page_size", DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE);
    const sortBy = q.get("sort_by") ?? "id";
    const orderBy = q.get("order_by") ?? "asc";
    const key = sortable[sortBy];
    if (!key) problems.push({ field: "sort_by", validation_type: "enum" });
    if (orderBy !== "asc" && orderBy !== "desc") problems.push({ field: "order_by", validation_type: "enum" });
    if (problems.length > 0 || !key) throw invalid(problems);
    const sorted = [...items].sort((a, b) => {
      const x = key(a);
      const y = key(b);
      const c = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y), "en", { numeric: true });
      return orderBy === "asc" ? c : -c;
    });
    return { total: sorted.length, data: sorted.slice((pageNo - 1) * size, pageNo * size) };
  };

  // ---- extensions ---------------------------------------------------------------------------

  const callerIdName = (e: StoredExtension) => `${e.first_name} ${e.last_name}`.trim();
  const organizationInfo = (ids: number[]) => ids.map((id) => ({ value: String(id), text: organizations.get(id)?.name ?? "" }));

  const basicInfo = (e: StoredExtension): Json => ({
    id: e.id,
    online_status: {
      sip_phone: { status: 0, ext_dev_type: "sip" },
      linkus_desktop: { status: 0, ext_dev_type: "linkusdesktop" },
      linkus_mobile: { status: 0, ext_dev_type: "linkusmobile" },
      linkus_web: { status: 0, ext_dev_type: "linkusweb" },
    },
    presence_status: e.presence_status,
    number: e.number,
    caller_id_name: callerIdName(e),
    role_name: "",
    email_addr: e.email_addr,
    mobile_number: e.mobile_number,
  });

  // Never a password: Yeastar's get answers no user_password, reg_password or vm_pin.
  const detailInfo = (e: StoredExtension): Json => ({
    id: e.id,
    type: e.type,
    first_name: e.first_name,
    last_name: e.last_name,
    email_addr: e.email_addr,
    mobile_number: e.mobile_number,
    organization_list: organizationInfo(e.organization_ids),
    ...(e.role_id === null ? {} : { role_id: e.role_id }),
    title: e.title,
    number: e.number,
    caller_id: e.caller_id,
    reg_name: e.reg_name,
    concurrent_registrations: e.concurrent_registrations,
    presence_status: e.presence_status,
    ...copy(e.extra),
  });

  const extensionSort: Record<string, (e: StoredExtension) => string | number> = {
    id: (e) => e.id,
    number: (e) => e.number,
    caller_id_name: callerIdName,
    email_addr: (e) => e.email_addr,
    mobile_number: (e) => e.mobile_number,
    presence_status: (e) => e.presence_status,
  };

  /** Checks the fields present in `body` (create: all required ones too) and returns the org ids. */
  const validateExtension = (body: Json, current: StoredExtension | null): number[] | null => {
    const problems: InvalidParam[] = [];
    const add = (field: string, validation_type: string) => problems.push({ field, validation_type });
    const creating = current === null;
    if (creating) {
      const required = ["type", "number", "user_password", "reg_name", "reg_password", "concurrent_registrations", "presence_status"];
      for (const f of required) if (body[f] === undefined || body[f] === "") add(f, "required");
    }
    const text = (field: string, max: number, pattern?: RegExp) => {
      const v = body[field];
      if (v === undefined || v === "") return;
      if (typeof v !== "string") add(field, "string");
      else if (v.length > max) add(field, "max_length");
      else if (pattern && !pattern.test(v)) add(field, "format");
    };
    if (body.type !== undefined && body.type !== "" && body.type !== "SIP") add("type", "enum");
    text("number", 7, /^[0-9]+$/);
    text("first_name", 63);
    text("last_name", 63);
    text("email_addr", 255, EMAIL);
    text("mobile_number", 31, PHONE_CHARS);
    text("caller_id", 31, PHONE_CHARS);
    text("title", 255);
    text("reg_name", 63);
    if (typeof body.reg_name === "string" && body.reg_name === "" && !creating) add("reg_name", "required");
    if (body.reg_password !== undefined && body.reg_password !== "") {
      if (typeof body.reg_password !== "string") add("reg_password", "string");
      else if (body.reg_password.length < 8) add("reg_password", "min_length");
      else if (body.reg_password.length > 63) add("reg_password", "max_length");
    }
    const cr = body.concurrent_registrations;
    if (cr !== undefined && cr !== "" && !(cr === 1 || cr === 2 || cr === 3)) add("concurrent_registrations", "enum");
    const ps = body.presence_status;
    if (ps !== undefined && ps !== "" && (typeof ps !== "string" || !PRESENCE.includes(ps))) add("presence_status", "enum");
    if (body.role_id !== undefined && !(typeof body.role_id === "number" && Number.isInteger(body.role_id) && body.role_id > 0)) {
      add("role_id", "integer");
    }
    const pw = body.user_password;
    if (pw !== undefined && pw !== "") {
      if (typeof pw !== "string") add("user_password", "string");
      else {
        const owner = {
          number: typeof body.number === "string" ? body.number : (current?.number ?? ""),
          first_name: typeof body.first_name === "string" ? body.first_name : (current?.first_name ?? ""),
          last_name: typeof body.last_name === "string" ? body.last_name : (current?.last_name ?? ""),
        };
        for (const rule of userPasswordProblems(pw, owner)) add("user_password", rule);
      }
    } else if (pw === "" && !creating) add("user_password", "required");

    let orgIds: number[] | null = null;
    const ol = body.organization_list;
    if (ol === undefined) {
      if (organizationManagement) add("organization_list", "required");
    } else if (!Array.isArray(ol)) add("organization_list", "array");
    else if (organizationManagement && ol.length === 0) add("organization_list", "required");
    else {
      const ids: number[] = [];
      for (const item of ol as unknown[]) {
        const value = typeof item === "object" && item !== null ? (item as Json).value : undefined;
        const id = typeof value === "number" ? value : typeof value === "string" && /^[0-9]+$/.test(value) ? Number(value) : Number.NaN;
        if (!Number.isInteger(id)) {
          add("organization_list", "format");
          break;
        }
        if (ids.includes(id)) {
          add("organization_list", "duplicate");
          break;
        }
        ids.push(id);
      }
      orgIds = ids;
    }
    if (problems.length > 0) throw invalid(problems);
    const missingOrg = orgIds?.find((id) => !organizations.has(id));
    if (missingOrg !== undefined) throw notFound("organization_list", missingOrg);
    return orgIds;
  };

  const refuseDuplicates = (body: Json, self: number | null, verb: string) => {
    const dups: Json[] = [];
    const holder = (key: string) =>
      [...(keys.get(key) ?? [])].map((id) => extensions.get(id)).find((e) => e !== undefined && e.id !== self);
    if (typeof body.number === "string") {
      const e = holder(`n:${body.number}`);
      if (e) dups.push({ field: "number", value: body.number, external_source: "extension", external_source_name: e.number });
    }
    if (typeof body.email_addr === "string" && body.email_addr !== "") {
      const e = holder(`e:${body.email_addr.toLowerCase()}`);
      if (e) dups.push({ field: "email_addr", value: body.email_addr, external_source: "extension", external_source_name: e.number });
    }
    if (dups.length > 0) throw new Refusal(40003, { submsg: `Extension ${verb} fail for duplicate fields`, duplicate_field_list: dups });
  };

  const applyExtensionFields = (e: StoredExtension, body: Json, orgIds: number[] | null) => {
    const str = (k: string, fallback: string) => {
      const v = body[k];
      return typeof v === "string" ? v : fallback;
    };
    e.type = str("type", e.type);
    e.number = str("number", e.number);
    e.first_name = str("first_name", e.first_name);
    e.last_name = str("last_name", e.last_name);
    e.email_addr = str("email_addr", e.email_addr);
    e.mobile_number = str("mobile_number", e.mobile_number);
    e.caller_id = str("caller_id", e.caller_id);
    e.title = str("title", e.title);
    e.reg_name = str("reg_name", e.reg_name);
    e.presence_status = str("presence_status", e.presence_status);
    if (typeof body.role_id === "number") e.role_id = body.role_id;
    if (typeof body.concurrent_registrations === "number") e.concurrent_registrations = body.concurrent_registrations;
    if (orgIds !== null) e.organization_ids = orgIds;
    if (typeof body.user_password === "string") e.passwordHash = hash(body.user_password);
    for (const k of EXTRA_FIELDS) if (body[k] !== undefined) e.extra[k] = copy(body[k]);
  };

  const blankExtension = (id: number, handMade: boolean): StoredExtension => ({
    id,
    number: "",
    type: "SIP",
    first_name: "",
    last_name: "",
    email_addr: "",
    mobile_number: "",
    caller_id: "",
    title: "",
    role_id: null,
    reg_name: "",
    concurrent_registrations: 1,
    presence_status: "available",
    organization_ids: [],
    extra: {},
    handMade,
    passwordHash: null,
  });

  const extensionByQuery = (q: URLSearchParams): StoredExtension => {
    const id = intParam(q, "id");
    const e = extensions.get(id);
    if (!e) throw notFound("id", id);
    return e;
  };

  const matches = (value: string | null, ...fields: string[]) =>
    value === null || value === "" || fields.some((f) => f.toLowerCase().includes(value.toLowerCase()));

  const extensionHandlers = {
    list: (q: URLSearchParams): Json => {
      const { total, data } = page([...extensions.values()], q, extensionSort);
      return { total_number: total, data: data.map(basicInfo) };
    },
    search: (q: URLSearchParams): Json => {
      const s = q.get("search_value");
      const found = [...extensions.values()].filter((e) => matches(s, e.number, e.first_name, e.last_name, callerIdName(e)));
      const { total, data } = page(found, q, extensionSort);
      return { total_number: total, data: data.map(basicInfo) };
    },
    get: (q: URLSearchParams): Json => ({ data: detailInfo(extensionByQuery(q)) }),
    query: (q: URLSearchParams): Json => {
      const raw = q.get("ids");
      if (raw === null || raw === "") throw invalid([{ field: "ids", validation_type: "required" }]);
      const parts = raw.split(",");
      if (!parts.every((p) => /^[0-9]+$/.test(p))) throw invalid([{ field: "ids", validation_type: "format" }]);
      const found = parts.map((p) => extensions.get(Number(p)));
      const missing = parts.find((_p, i) => found[i] === undefined);
      if (missing !== undefined) throw notFound("ids", missing);
      return { data: found.flatMap((e) => (e ? [detailInfo(e)] : [])) };
    },
    create: (body: Json): Json => {
      refuseUnknown(body, (k) => EXTENSION_FIELDS.has(k));
      const orgIds = validateExtension(body, null);
      refuseDuplicates(body, null, "create");
      const e = blankExtension(nextExtensionId++, false);
      applyExtensionFields(e, body, orgIds);
      if (e.organization_ids.length === 0 && !organizationManagement) e.organization_ids = [1];
      extensions.set(e.id, e);
      index(e, true);
      recordWrite({ endpoint: "extension/create", id: e.id, fields: redactFields(body) });
      // No id in the answer: the guide documents none for extensions (see the header).
      return {};
    },
    update: (body: Json): Json => {
      const id = bodyId(body);
      refuseUnknown(body, (k) => k === "id" || EXTENSION_FIELDS.has(k), ["number", "type"]);
      const e = extensions.get(id);
      if (!e) throw notFound("id", id);
      const orgIds = validateExtension(body, e);
      refuseDuplicates(body, id, "update");
      index(e, false);
      applyExtensionFields(e, body, orgIds);
      index(e, true);
      recordWrite({ endpoint: "extension/update", id, fields: redactFields(body) });
      return {};
    },
    delete: (q: URLSearchParams): Json => {
      const e = extensionByQuery(q);
      extensions.delete(e.id);
      index(e, false);
      for (const g of groups.values()) g.members = g.members.filter((m) => m.ext_id !== e.id);
      recordWrite({ endpoint: "extension/delete", id: e.id, fields: {} });
      return {};
    },
  };

  // ---- organizations ------------------------------------------------------------------------

  const childrenOf = (id: number) => [...organizations.values()].filter((o) => o.parent_id === id && o.id !== id);
  const orderOf = (o: SimulatedOrganization) => childrenOf(o.parent_id).findIndex((s) => s.id === o.id) + 1;
  const membersOf = (id: number) => [...extensions.values()].filter((e) => e.organization_ids.includes(id)).map((e) => e.id);
  const isWithin = (id: number, ancestor: number): boolean => {
    for (let o = organizations.get(id); o; o = o.parent_id === 0 ? undefined : organizations.get(o.parent_id)) {
      if (o.id === ancestor) return true;
    }
    return false;
  };

  const organizationNode = (o: SimulatedOrganization, isAll: number, top: boolean): Json => {
    // The guide types the children's parent_id, order and ext_number as String: copied so.
    const n = (v: number) => (top ? v : String(v));
    const ext = membersOf(o.id);
    return {
      id: o.id,
      name: o.name,
      parent_id: n(o.parent_id),
      order: n(o.id === 1 ? 1 : orderOf(o)),
      ...(isAll === 0 || isAll === 1 ? { ext_number: n(ext.length) } : {}),
      ...(isAll === 1 ? { ext_list: ext } : {}),
      children: childrenOf(o.id).map((c) => organizationNode(c, isAll, false)),
    };
  };

  const organizationByQuery = (q: URLSearchParams): SimulatedOrganization => {
    const id = intParam(q, "id");
    const o = organizations.get(id);
    if (!o) throw notFound("id", id);
    return o;
  };

  const refuseDuplicateName = (name: string, parentId: number, self: number | null) => {
    const clash = childrenOf(parentId).find((o) => o.id !== self && o.name === name);
    if (clash) {
      throw new Refusal(40003, {
        submsg: "Organization name duplicated",
        duplicate_field_list: [
          { field: "name", value: name, external_source: "organization", external_source_name: organizations.get(parentId)?.name ?? "" },
        ],
      });
    }
  };

  const organizationName = (body: Json, required: boolean): string | undefined => {
    const name = body.name;
    if (name === undefined && !required) return undefined;
    if (name === undefined || name === "") throw invalid([{ field: "name", validation_type: "required" }]);
    if (typeof name !== "string") throw invalid([{ field: "name", validation_type: "string" }]);
    if (name.length > 127) throw invalid([{ field: "name", validation_type: "max_length" }]);
    return name;
  };

  const parentOf = (body: Json, required: boolean): number | undefined => {
    const p = body.parent_id;
    if (p === undefined) {
      if (required) throw invalid([{ field: "parent_id", validation_type: "required" }]);
      return undefined;
    }
    if (typeof p !== "number" || !Number.isInteger(p)) throw invalid([{ field: "parent_id", validation_type: "integer" }]);
    if (!organizations.has(p)) throw notFound("parent_id", p);
    return p;
  };

  const organizationHandlers = {
    list: (q: URLSearchParams): Json => {
      page([...organizations.values()], q, { id: (o) => o.id });
      const raw = q.get("is_all") ?? "0";
      if (!["0", "1", "2"].includes(raw)) throw invalid([{ field: "is_all", validation_type: "enum" }]);
      const root = organizations.get(1) as SimulatedOrganization;
      return { organization_list: [organizationNode(root, Number(raw), true)] };
    },
    get: (q: URLSearchParams): Json => {
      const o = organizationByQuery(q);
      return { organization_info: { id: o.id, name: o.name, parent_id: o.parent_id, order: o.id === 1 ? 1 : orderOf(o) } };
    },
    create: (body: Json): Json => {
      refuseUnknown(body, (k) => k === "name" || k === "parent_id");
      const name = organizationName(body, true) as string;
      const parentId = parentOf(body, true) as number;
      refuseDuplicateName(name, parentId, null);
      const o = { id: nextOrganizationId++, name, parent_id: parentId };
      organizations.set(o.id, o);
      recordWrite({ endpoint: "organization/create", id: o.id, fields: redactFields(body) });
      return { id: o.id };
    },
    update: (body: Json): Json => {
      const id = bodyId(body);
      refuseUnknown(body, (k) => k === "id" || k === "name" || k === "parent_id");
      const o = organizations.get(id);
      if (!o) throw notFound("id", id);
      // The guide's 40002 example: "The root directory of organization is inoperable".
      if (id === 1) throw invalid([{ field: "id", validation_type: "root_inoperable" }]);
      const name = organizationName(body, false) ?? o.name;
      const parentId = parentOf(body, false) ?? o.parent_id;
      if (isWithin(parentId, id)) throw invalid([{ field: "parent_id", validation_type: "cycle" }]);
      refuseDuplicateName(name, parentId, id);
      o.name = name;
      o.parent_id = parentId;
      recordWrite({ endpoint: "organization/update", id, fields: redactFields(body) });
      return {};
    },
    delete: (q: URLSearchParams): Json => {
      const o = organizationByQuery(q);
      if (o.id === 1) throw invalid([{ field: "id", validation_type: "root_inoperable" }]);
      if (childrenOf(o.id).length > 0 || membersOf(o.id).length > 0) throw new Refusal(70091);
      organizations.delete(o.id);
      recordWrite({ endpoint: "organization/delete", id: o.id, fields: {} });
      return {};
    },
  };

  // ---- extension groups ---------------------------------------------------------------------

  const groupSort: Record<string, (g: SimulatedGroup) => string | number> = { id: (g) => g.id, name: (g) => g.name };
  const groupSummary = (g: SimulatedGroup): Json => ({
    id: g.id,
    name: g.name,
    member_select: g.member_select,
    total_extensions: g.member_select === "sel_all_ext" ? extensions.size : g.members.length,
  });
  const groupDetail = (g: SimulatedGroup): Json => ({
    id: g.id,
    name: g.name,
    member_select: g.member_select,
    members: copy(g.members),
    ...copy(g.permissions),
  });
  const groupByQuery = (q: URLSearchParams): SimulatedGroup => {
    const id = intParam(q, "id");
    const g = groups.get(id);
    if (!g) throw notFound("id", id);
    return g;
  };

  /** Validates member_select, members and flags present in `body`; returns the resulting pieces. */
  const validateGroup = (body: Json, current: SimulatedGroup | null) => {
    const problems: InvalidParam[] = [];
    const ms = body.member_select ?? current?.member_select;
    if (ms === undefined) problems.push({ field: "member_select", validation_type: "required" });
    else if (ms !== "sel_all_ext" && ms !== "sel_specific") problems.push({ field: "member_select", validation_type: "enum" });
    let members: SimulatedGroupMember[] | undefined;
    if (body.members !== undefined) {
      if (!Array.isArray(body.members)) problems.push({ field: "members", validation_type: "array" });
      else {
        members = [];
        for (const item of body.members as unknown[]) {
          const m = (typeof item === "object" && item !== null ? item : {}) as Json;
          const extra = Object.keys(m).filter((k) => k !== "ext_id" && k !== "user_type");
          const userType = m.user_type ?? "user";
          if (
            typeof m.ext_id !== "number" ||
            !Number.isInteger(m.ext_id) ||
            extra.length > 0 ||
            (userType !== "manager" && userType !== "user")
          ) {
            problems.push({ field: "members", validation_type: "format" });
            break;
          }
          if (members.some((x) => x.ext_id === m.ext_id)) {
            problems.push({ field: "members", validation_type: "duplicate" });
            break;
          }
          members.push({ ext_id: m.ext_id, user_type: userType });
        }
      }
    }
    const resulting = members ?? (ms === current?.member_select ? current?.members : undefined);
    if (ms === "sel_specific" && (resulting === undefined || resulting.length === 0))
      problems.push({ field: "members", validation_type: "required" });
    const permissions: Record<string, number> = {};
    for (const [k, v] of Object.entries(body)) {
      if (!PERMISSION_FLAG.test(k)) continue;
      if (v !== 0 && v !== 1) problems.push({ field: k, validation_type: "enum" });
      else permissions[k] = v;
    }
    if (problems.length > 0) throw invalid(problems);
    const missing = members?.find((m) => !extensions.has(m.ext_id));
    if (missing) throw notFound("members", missing.ext_id);
    return { member_select: ms as SimulatedGroup["member_select"], members, permissions };
  };

  const groupHandlers = {
    list: (q: URLSearchParams): Json => {
      const { total, data } = page([...groups.values()], q, groupSort);
      return { total_number: total, data: data.map(groupSummary) };
    },
    search: (q: URLSearchParams): Json => {
      const s = q.get("search_value");
      const { total, data } = page(
        [...groups.values()].filter((g) => matches(s, g.name)),
        q,
        groupSort,
      );
      return { total_number: total, data: data.map(groupSummary) };
    },
    get: (q: URLSearchParams): Json => ({ data: groupDetail(groupByQuery(q)) }),
    create: (body: Json): Json => {
      refuseUnknown(body, (k) => k === "name" || k === "member_select" || k === "members" || PERMISSION_FLAG.test(k));
      if (body.name === undefined || body.name === "") throw invalid([{ field: "name", validation_type: "required" }]);
      if (typeof body.name !== "string") throw invalid([{ field: "name", validation_type: "string" }]);
      const name = body.name;
      const v = validateGroup(body, null);
      if ([...groups.values()].some((g) => g.name === name)) {
        throw new Refusal(40003, {
          submsg: "Extension group create fail for duplicate fields",
          duplicate_field_list: [{ field: "name", value: name, external_source: "extensiongroup", external_source_name: name }],
        });
      }
      const g: SimulatedGroup = {
        id: nextGroupId++,
        name,
        member_select: v.member_select,
        members: v.members ?? [],
        permissions: v.permissions,
      };
      groups.set(g.id, g);
      recordWrite({ endpoint: "extensiongroup/create", id: g.id, fields: redactFields(body) });
      // No id in the answer: the guide documents none for extension groups (see the header).
      return {};
    },
    update: (body: Json): Json => {
      const id = bodyId(body);
      refuseUnknown(body, (k) => k === "id" || k === "member_select" || k === "members" || PERMISSION_FLAG.test(k), ["name"]);
      const g = groups.get(id);
      if (!g) throw notFound("id", id);
      const v = validateGroup(body, g);
      g.member_select = v.member_select;
      if (v.members) g.members = v.members;
      Object.assign(g.permissions, v.permissions);
      recordWrite({ endpoint: "extensiongroup/update", id, fields: redactFields(body) });
      return {};
    },
    delete: (q: URLSearchParams): Json => {
      const g = groupByQuery(q);
      groups.delete(g.id);
      recordWrite({ endpoint: "extensiongroup/delete", id: g.id, fields: {} });
      return {};
    },
  };

  // ---- routing ------------------------------------------------------------------------------

  type Handler = (ctx: { query: URLSearchParams; body: Json; token: string }) => Json;
  interface Route {
    method: "GET" | "POST";
    auth: boolean;
    run: Handler;
  }
  const get = (run: (q: URLSearchParams) => Json): Route => ({ method: "GET", auth: true, run: ({ query }) => run(query) });
  const post = (run: (b: Json) => Json): Route => ({ method: "POST", auth: true, run: ({ body }) => run(body) });
  const routes: Record<string, Route> = {
    get_token: { method: "POST", auth: false, run: ({ body }) => getToken(body) },
    refresh_token: { method: "POST", auth: false, run: ({ body }) => refreshToken(body) },
    del_token: { method: "GET", auth: true, run: ({ token }) => delToken(token) },
    "system/information": get(() => ({
      data: {
        device_name: "PBX",
        model_name: "P-Series Cloud Edition",
        sn: "SIMULATED000000",
        firmware_version: firmwareVersion,
        system_time: new Date().toISOString().slice(0, 19).replace("T", " "),
        up_time: Math.floor(process.uptime()),
        timestamp: Math.floor(Date.now() / 1000),
      },
    })),
    "extension/list": get(extensionHandlers.list),
    "extension/search": get(extensionHandlers.search),
    "extension/get": get(extensionHandlers.get),
    "extension/query": get(extensionHandlers.query),
    "extension/create": post(extensionHandlers.create),
    "extension/update": post(extensionHandlers.update),
    "extension/delete": get(extensionHandlers.delete),
    "organization/list": get(organizationHandlers.list),
    "organization/get": get(organizationHandlers.get),
    "organization/create": post(organizationHandlers.create),
    "organization/update": post(organizationHandlers.update),
    "organization/delete": get(organizationHandlers.delete),
    "extensiongroup/list": get(groupHandlers.list),
    "extensiongroup/search": get(groupHandlers.search),
    "extensiongroup/get": get(groupHandlers.get),
    "extensiongroup/create": post(groupHandlers.create),
    "extensiongroup/update": post(groupHandlers.update),
    "extensiongroup/delete": get(groupHandlers.delete),
  };

  interface Answer {
    status: number;
    headers: Record<string, string>;
    body: string;
    errcode: number | null;
  }
  const json = (status: number, payload: Json, headers: Record<string, string> = {}): Answer => ({
    status,
    headers: { "content-type": "application/json; charset=utf-8", ...headers },
    body: JSON.stringify(payload),
    errcode: typeof payload.errcode === "number" ? payload.errcode : null,
  });
  const refusalAnswer = (r: Refusal) => json(r.status, { errcode: r.errcode, errmsg: r.message, ...r.extra }, r.headers);

  const answer = (
    method: string,
    versionAndEndpoint: string,
    query: URLSearchParams,
    headers: IncomingMessage["headers"],
    raw: Buffer | null,
  ): Answer => {
    const fault = faults.next();
    if (fault) return { ...fault, errcode: null };
    try {
      const ua = (headers["user-agent"] ?? "").trim();
      if (ua === "" || ua === "node" || ua === "undici") throw new Refusal(10005, {}, 403);
      const slash = versionAndEndpoint.indexOf("/");
      const version = slash < 0 ? versionAndEndpoint : versionAndEndpoint.slice(0, slash);
      const endpoint = slash < 0 ? "" : versionAndEndpoint.slice(slash + 1);
      if (version !== VERSION) throw new Refusal(/^v[0-9]+\.[0-9]+$/.test(version) ? 10003 : 10001);
      const route = routes[endpoint];
      if (!route) throw new Refusal(10001);
      if (method !== route.method) throw new Refusal(10001, {}, 405, { allow: route.method });
      let token = "";
      if (route.auth) {
        token = query.get("access_token") ?? "";
        const t = token === "" ? undefined : accessTokens.get(token);
        if (!t) throw new Refusal(10005);
        if (t.expiresAt <= now()) throw new Refusal(10004);
      }
      let body: Json = {};
      if (method === "POST") {
        const type = String(headers["content-type"] ?? "");
        if (!/^application\/json\b/i.test(type)) throw new Refusal(40001, { submsg: "Content-Type must be application/json" });
        if (raw === null) throw new Refusal(40001, { submsg: "body too large" });
        let parsed: unknown;
        try {
          parsed = JSON.parse(raw.toString("utf8"));
        } catch {
          throw new Refusal(40001, { submsg: "body is not JSON" });
        }
        if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
          throw new Refusal(40001, { submsg: "body is not a JSON object" });
        body = parsed as Json;
      }
      return json(200, { errcode: 0, errmsg: "SUCCESS", ...route.run({ query, body, token }) });
    } catch (e) {
      if (e instanceof Refusal) return refusalAnswer(e);
      return json(500, { errcode: -2, errmsg: ERRMSG[-2] as string });
    }
  };

  const readBody = (req: IncomingMessage): Promise<Buffer | null> =>
    new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on("data", (c: Buffer) => {
        size += c.length;
        if (size <= MAX_BODY_BYTES) chunks.push(c);
      });
      req.on("end", () => resolve(size > MAX_BODY_BYTES ? null : Buffer.concat(chunks)));
      req.on("error", reject);
    });

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const method = req.method ?? "GET";
    const path = url.pathname.startsWith(BASE) ? url.pathname.slice(BASE.length) : url.pathname;
    const raw = await readBody(req);
    if (!(await faults.arrive(req))) return;
    const a = url.pathname.startsWith(BASE)
      ? answer(method, path, url.searchParams, req.headers, raw)
      : json(200, { errcode: 10001, errmsg: ERRMSG[10001] as string });
    const query = Object.fromEntries(
      [...url.searchParams.keys()].map((k) => [k, k === "access_token" ? REDACTED : (url.searchParams.get(k) ?? "")]),
    );
    const endpoint = path.startsWith(`${VERSION}/`) ? path.slice(VERSION.length + 1) : path;
    calls.push({ method, endpoint, query, status: a.status, errcode: a.errcode });
    // Yeastar closes the TCP connection after each answer (API Request Overview).
    res.writeHead(a.status, { ...a.headers, connection: "close", "content-length": Buffer.byteLength(a.body) });
    res.end(a.body);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500, { connection: "close" });
      res.end();
    });
  });
  const url = await faults.listen(server);

  const sim: YeastarSimulator = {
    url,
    clientId,
    clientSecret,
    get latencyMs() {
      return faults.latencyMs;
    },
    set latencyMs(ms: number) {
      faults.latencyMs = ms;
    },
    calls,
    rateLimit: (n, retryAfterSeconds) => faults.rateLimit(n, retryAfterSeconds),
    failNext: (n, status) => faults.failNext(n, status),
    down: (value) => {
      downAt = undefined;
      faults.down(value);
    },
    downAfterWrites: (n) => {
      downAt = n;
    },
    expireAccessTokens() {
      const t = now() - 1;
      for (const token of accessTokens.values()) if (token.expiresAt > t) token.expiresAt = t;
    },
    liveAccessTokens,
    writes: () => copy(writes),
    extensions: () => [...extensions.values()].map(publicExtension),
    organizations: () => [...organizations.values()].map((o) => copy(o)),
    groups: () => [...groups.values()].map((g) => copy(g)),
    addExtension(fields) {
      if (!/^[0-9]{1,7}$/.test(fields.number)) throw new Error(`addExtension: "${fields.number}" is not an extension number`);
      if ([...extensions.values()].some((e) => e.number === fields.number)) throw new Error(`addExtension: ${fields.number} exists`);
      const orgIds = fields.organization_ids ?? [1];
      for (const id of orgIds) if (!organizations.has(id)) throw new Error(`addExtension: no organization ${id}`);
      const e = blankExtension(nextExtensionId++, true);
      e.number = fields.number;
      e.reg_name = fields.number;
      e.first_name = fields.first_name ?? "";
      e.last_name = fields.last_name ?? "";
      e.email_addr = fields.email_addr ?? "";
      e.mobile_number = fields.mobile_number ?? "";
      e.caller_id = fields.caller_id ?? "";
      e.title = fields.title ?? "";
      e.presence_status = fields.presence_status ?? "available";
      e.organization_ids = [...orgIds];
      if (fields.user_password !== undefined) e.passwordHash = hash(fields.user_password);
      extensions.set(e.id, e);
      index(e, true);
      return publicExtension(e);
    },
    userPasswordMatches(id, candidate) {
      const e = extensions.get(id);
      return e?.passwordHash != null && e.passwordHash === hash(candidate);
    },
    close: () => faults.close(server),
  };
  return sim;
}
