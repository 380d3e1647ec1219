// A stand-in for the 3CX V20 Configuration API ("XAPI": OAuth2 client credentials, then OData v4
// under /xapi/v1), served by node:http on a random loopback port. It refuses what 3CX refuses, and
// where 3CX's material is silent it takes the stricter reading, so that an adapter cannot pass here
// by accident and then fail against a real PBX.
//
// TAKEN FROM THE SOURCES (github.com/3cx/xapi-tutorial at 1c6947c, 20.0.10; its swagger.yaml is
// 3CX's own OpenAPI export of the OData service; and www.3cx.com/docs/configuration-rest-api-
// endpoints/, read in its zh copy www.3cx.cn/docs/configuration-rest-api-endpoints/):
// - endpoints page, auth.ts: POST /connect/token with client_id, client_secret and grant_type=
//   client_credentials as form fields (the page says application/x-www-form-urlencoded; auth.ts
//   sends a FormData, i.e. multipart/form-data: both are taken). The answer is {token_type:
//   "Bearer", expires_in, access_token, refresh_token: null}; bad credentials are HTTP 401 with
//   {"error": "unauthorized", "error_description": "The request requires valid user
//   authentication."}; a token lives 60 minutes. Commit 1c6947c: expires_in is in seconds since
//   20.0.9 (it was minutes before), so the default here is 3600.
// - README.md and CLAUDE.md of the tutorial: "only one access token can be active at a time" and
//   "parallel execution causes authentication failures": a new token for a client REPLACES the old
//   one, which answers 401 from then on (not a cap that refuses the newcomer).
// - auth.ts, swagger.yaml (servers, securitySchemes): calls go to /xapi/v1/... with
//   Authorization: Bearer <token>.
// - swagger.yaml paths: GET/POST /Users; GET/PATCH/DELETE /Users({Id}) (PATCH and DELETE answer
//   204, POST 201 with the entity); GET /Users(Number={Number}) with the number as an OData string
//   literal (users.spec.ts quotes it with odataParamEncoder: '101', '' for a quote); GET
//   /Users({Id})/Groups; POST /Users/Pbx.BatchDelete with {"ids": [...]} (lower-case ids) answering
//   {value: [Pbx.UserDeleteError {Error, ExtensionNumber}]}; GET
//   /Users/Pbx.GetFirstAvailableExtensionNumber() answering Pbx.FirstAvailableNumber {Number};
//   GET/POST /Groups; GET/PATCH/DELETE /Groups({Id}); GET /Groups({Id})/Members and /Rights; POST
//   /Groups/Pbx.DeleteCompanyById {"id"}. Lists take $top, $skip, $filter, $count, $orderby,
//   $select, $expand and answer {"@odata.context", "@odata.count"?, value}; the endpoints page
//   shows "@odata.context": "https://PBX_FQDN/xapi/v1/$metadata#Groups" and a department found by
//   $filter=Name eq '...'.
// - swagger.yaml schemas: Pbx.User (allOf Pbx.DN, Pbx.ClickToCall) and Pbx.Group have the property
//   lists copied below and NO required properties; Id and Rights.RoleName are the only non-nullable
//   ones. DN.Groups, Group.Members, Group.Rights and UserGroup.Rights are navigation properties,
//   so they appear only when $expand asks (Groups($expand=Rights) to see the roles). Pbx.UserGroup
//   is {Id, GroupId, Name, Number, MemberName, CanDelete, Type, Tags, Rights, GroupRights}.
//   Errors are Pbx.ODataErrors.ODataError {error: {code, message, target?, details: [{code,
//   message, target}]}}; the warning codes are the Pbx.Warnings enum (WARNINGS.XAPI.REQUIRED,
//   ALREADY_IN_USE, FORBIDDEN_CHANGE, NOT_FOUND, DUPLICATE, INVALID_PIN_NUMBER,
//   NON_EXISTENT_EXT_NUMBER, WARNINGS.INVALID, GROUP_CANNOT_BE_DELETED,
//   GROUP_WITH_MEMBERS_CANNOT_BE_DELETED, OPERATOR_CANNOT_BE_DELETED, LENGTH_NOT_MORE_255_CHARS).
// - A duplicate answers 400 {"error": {"code": "", "message": "EmailAddress:\nWARNINGS.XAPI.
//   ALREADY_IN_USE", "details": [{"code": "", "message": "WARNINGS.XAPI.ALREADY_IN_USE", "target":
//   "EmailAddress"}]}}: a fixture recorded from a real PBX (an open-source Go client's test); the
//   same shape with target Number for a taken number (a 20.0 Update 7 client reference quoting the
//   endpoints page; a Python threecxapi library's tests use the same envelope).
// - users.spec.ts / groups.spec.ts "Should not allow to change number": PATCH with another Number
//   is refused, PATCH with the same Number goes through. Membership is set from the user side,
//   PATCH /Users({Id}) {Groups: [{GroupId, Rights: {RoleName: "users"}}]}, and removed with
//   Groups: [] (a collection in a PATCH replaces the whole collection); or from the group side,
//   PATCH /Groups({Id}) {Members: [{Number, Rights: {RoleName}}]}. A group is created with {Name}.
// - Body properties the schema does not know make the body fail to bind, which 3CX reports as 400
//   {"error": {"code": "", "message": "The input was not valid.\n\ndelta:\nThe delta field is
//   required."}} (two independent client write-ups of PATCH against a real PBX; the message names
//   no property).
// - Roles: V20 has seven access roles (User, Receptionist, Manager, Group Admin, Group Owner, System
//   Admin, System Owner: 3CX partner write-ups); the RoleName spellings users, receptionists,
//   managers, group_admins, group_owners, system_admins, system_owners come from that client
//   reference (users.spec.ts confirms "users"). The same reference names the default department
//   "DEFAULT", Number "GRP0000"; a user is in it unless placed elsewhere (an assumption).
// - Rate limits: 3CX documents none for the API (the swagger's AntiHackingSettings
//   MaxRequestPerPeriod/ThrottlePeriodLength guard the PBX, with no documented answer); 429 here is
//   a test device only.
//
// ASSUMED, the sources being silent (each the strict choice; adjust here if a real PBX differs):
// - DELIBERATELY STRICTER THAN 3CX: POST /Users requires Number (400 WARNINGS.XAPI.REQUIRED,
//   target Number). The tutorial creates a user from {} and 3CX picks a number; a sync must not let
//   the PBX choose, so it asks GetFirstAvailableExtensionNumber() or sends its own. A Number must be
//   digits (WARNINGS.INVALID); first available numbers are counted from 100. POST /Groups requires
//   a non-blank Name (WARNINGS.XAPI.REQUIRED, target Name).
// - Error text: message is "<target>:\n<warning>" per problem, joined by "\n"; details carry
//   code "". A binding failure names the action's parameter: delta (PATCH), user / group (POST),
//   parameters (an action); the same answer covers a wrong JSON type, an unknown enum value, a
//   non-JSON body, a property spelt in another case, and writing a navigation collection other
//   than Groups (users) or Members (groups).
// - A taken EmailAddress is compared case-blind (clients of the endpoints page look users up with
//   tolower(EmailAddress) eq ...); empty addresses never clash. A group Name is unique case-blind
//   (ALREADY_IN_USE, target Name). EmailAddress must look like an address (WARNINGS.INVALID);
//   Mobile and OutboundCallerID take digits with one leading + (WARNINGS.INVALID); FirstName,
//   LastName, DisplayName and EmailAddress at most 255 (WARNINGS.LENGTH_NOT_MORE_255_CHARS); VMPIN
//   4 to 10 digits (WARNINGS.XAPI.INVALID_PIN_NUMBER).
// - The refusal of a new Number (users and groups) is WARNINGS.XAPI.FORBIDDEN_CHANGE, target
//   Number: the tutorial shows only that it is refused. PATCH with an Id other than the key: the
//   same, target Id (POST ignores Id; clients quoting 3CX's examples send "Id": 0). Changing a
//   group's IsDefault, or setting HasMembers: FORBIDDEN_CHANGE.
// - BatchDelete takes exactly {"ids": [...]}, the swagger's spelling; clients quoting the endpoints
//   page send "Ids", which is refused here (a binding failure) because "ids" works either way.
// - A Groups entry needs an existing GroupId (WARNINGS.XAPI.NOT_FOUND, target GroupId) and
//   Rights.RoleName (WARNINGS.XAPI.REQUIRED; an unknown role WARNINGS.XAPI.NOT_FOUND, target
//   RoleName); the same group twice is WARNINGS.XAPI.DUPLICATE, target Groups. A Members entry needs
//   the Number of an existing user (WARNINGS.XAPI.NON_EXISTENT_EXT_NUMBER, target Members).
//   PrimaryGroupId must be one of the user's groups (NOT_FOUND, target PrimaryGroupId); when the
//   user leaves its primary group, the first remaining group becomes primary (null when none).
//   Multi-company rules (one department per user) and role-downgrade rules are not modelled.
// - In Pbx.UserGroup, Name is the group's name, Number the member's number and MemberName the
//   member's display name (the same rows serve /Users({Id})/Groups and /Groups({Id})/Members).
// - Deleting DEFAULT: GROUP_CANNOT_BE_DELETED; a group with members:
//   GROUP_WITH_MEMBERS_CANNOT_BE_DELETED; the department operator (addUser {operator: true}):
//   OPERATOR_CANNOT_BE_DELETED. BatchDelete reports an unknown id as {Error:
//   "WARNINGS.XAPI.NOT_FOUND", ExtensionNumber: null} and deletes the rest.
// - Paging: no documented maximum; maxPageSize (default 100) is the OData MaxTop ($top above it is
//   400) and the server page size (a list without $top stops there and gives @odata.nextLink with
//   $skip). Without $orderby a list is in Id order. $count must be true or false; $search, unknown
//   $-options and repeated options are 400; $filter, $orderby, $top, $skip and $count on a single
//   entity are 400. Query errors read "The query specified in the URI is not valid. <reason>".
// - $filter: eq ne gt ge lt le, and or not, parentheses, tolower toupper trim length contains
//   startswith endswith, string literals in quotes ('' for a quote). eq is case-sensitive (it is a
//   database comparison); a string property compared with a number is 400 (incompatible types),
//   so Number eq 101 is refused and Number eq '101' is not. Lambdas (any/all) are not modelled.
// - $expand takes the navigation properties of the type, with nested $select and $expand only.
// - An invalid, superseded or expired token: 401 with WWW-Authenticate: Bearer error=
//   "invalid_token" and no body; no token: 401 with WWW-Authenticate: Bearer. Everything under
//   /xapi/ wants a token before routing. Unknown routes and unknown keys: 404 without a body;
//   wrong method: 405 with Allow and no body; POST/PATCH without Content-Type application/json:
//   415. /connect/token: only POST (405); grant_type missing: 400 {error: "invalid_request"},
//   another: 400 {error: "unsupported_grant_type"}; a JSON body: 400 {error: "invalid_request"}.
// - A new user gets Enabled true, Require2FA false, VMEnabled true, Language "EN" and a random
//   4-digit VMPIN unless the body says otherwise; DisplayName, unless set, is "FirstName LastName".
// - GET answers VMPIN, AuthPassword and DeskphonePassword as 3CX does (a client of a real PBX
//   redacts those from get_user), but never AccessPassword, which is not kept. writes() redacts
//   all four.
// - 429 and 5xx answers (the test switches) have a text body, not JSON: look at the status before
//   parsing. down(true) resets every connection (TCP RST), as an unreachable PBX looks.
import { randomBytes, randomInt, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { StandInFaults } from "./stand-in-faults.ts";

export interface ThreeCxSimulatorOptions {
  clientId?: string;
  clientSecret?: string;
  /** expires_in of every access token, in seconds (3CX: 3600). */
  accessTokenSeconds?: number;
  /** OData MaxTop and server page size (3CX documents none; 100 here). */
  maxPageSize?: number;
}

/** One request as the simulator saw it: no header, so never the token; no body, so never the secret. */
export interface SimulatedCall {
  method: string;
  /** The path as sent, e.g. /xapi/v1/Users(3) or /connect/token. */
  path: string;
  query: Record<string, string>;
  status: number;
}

/** An accepted create, update or delete; secrets in `fields` read "[redacted]". */
export interface SimulatedWrite {
  method: string;
  path: string;
  /** The entity written (for a BatchDelete, one write per user deleted). */
  id: number | null;
  fields: Record<string, unknown>;
}

export interface SimulatedMembership {
  GroupId: number;
  GroupName: string;
  RoleName: string;
}

export interface SimulatedUser {
  Id: number;
  Number: string;
  FirstName: string;
  LastName: string;
  DisplayName: string;
  EmailAddress: string;
  Mobile: string;
  OutboundCallerID: string;
  Enabled: boolean;
  Require2FA: boolean;
  Language: string;
  VMEnabled: boolean;
  VMPIN: string;
  ContactImage: string;
  PrimaryGroupId: number | null;
  /** The user's departments and its role in each. */
  Groups: SimulatedMembership[];
  /** Other schema properties the API was given (never AccessPassword). */
  extra: Record<string, unknown>;
  /** Made by addUser, as an administrator would in 3CX's console. */
  handMade: boolean;
  /** The department operator, which 3CX will not delete. */
  operator: boolean;
}

export interface SimulatedGroup {
  Id: number;
  Number: string;
  Name: string;
  IsDefault: boolean;
  Language: string;
  TimeZoneId: string;
  extra: Record<string, unknown>;
  handMade: boolean;
}

/** What a test may give addUser; everything but the number has a default. */
export interface HandMadeUser {
  Number: string;
  FirstName?: string;
  LastName?: string;
  DisplayName?: string;
  EmailAddress?: string;
  Mobile?: string;
  OutboundCallerID?: string;
  Enabled?: boolean;
  Require2FA?: boolean;
  Language?: string;
  VMEnabled?: boolean;
  VMPIN?: string;
  ContactImage?: string;
  /** Default: DEFAULT with role users. */
  Groups?: { GroupId: number; RoleName: string }[];
  operator?: boolean;
}

export interface ThreeCxSimulator {
  /** e.g. http://127.0.0.1:41234; the token is at `${url}/connect/token`, the API under `${url}/xapi/v1/`. */
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
  /** Every access token live now is expired from now on (401). */
  expireAccessTokens(): void;
  /** Access tokens that would be accepted now (3CX: at most one per client). */
  liveAccessTokens(): number;
  readonly calls: SimulatedCall[];
  writes(): SimulatedWrite[];
  users(): SimulatedUser[];
  groups(): SimulatedGroup[];
  addUser(fields: HandMadeUser): SimulatedUser;
  addGroup(name: string): SimulatedGroup;
  close(): Promise<void>;
}

/** RoleName values for Groups[].Rights and Members[].Rights. */
export const THREECX_ROLE_NAMES = [
  "users",
  "receptionists",
  "managers",
  "group_admins",
  "group_owners",
  "system_admins",
  "system_owners",
] as const;

type Json = Record<string, unknown>;

const API = "/xapi/v1";
const MAX_BODY_BYTES = 1024 * 1024;
const REDACTED = "[redacted]";
const FIRST_EXTENSION = 100;
const UNAUTHORIZED = { error: "unauthorized", error_description: "The request requires valid user authentication." };

const W = {
  REQUIRED: "WARNINGS.XAPI.REQUIRED",
  IN_USE: "WARNINGS.XAPI.ALREADY_IN_USE",
  FORBIDDEN_CHANGE: "WARNINGS.XAPI.FORBIDDEN_CHANGE",
  NOT_FOUND: "WARNINGS.XAPI.NOT_FOUND",
  DUPLICATE: "WARNINGS.XAPI.DUPLICATE",
  INVALID: "WARNINGS.INVALID",
  PIN: "WARNINGS.XAPI.INVALID_PIN_NUMBER",
  NO_SUCH_EXTENSION: "WARNINGS.XAPI.NON_EXISTENT_EXT_NUMBER",
  TOO_LONG: "WARNINGS.LENGTH_NOT_MORE_255_CHARS",
  GROUP_UNDELETABLE: "WARNINGS.GROUP_CANNOT_BE_DELETED",
  GROUP_HAS_MEMBERS: "WARNINGS.GROUP_WITH_MEMBERS_CANNOT_BE_DELETED",
  OPERATOR: "WARNINGS.OPERATOR_CANNOT_BE_DELETED",
} as const;

// ---- the schema, as swagger.yaml has it -------------------------------------------------------

type PropType = "key" | "int" | "string" | "boolean" | "datetime" | "complex" | "array" | "roleName" | { enum: readonly string[] };

const TRANSCRIPTION = { enum: ["Nothing", "Voicemail", "Recordings", "Both", "Inherit"] } as const;
const AUTHENTICATION = { enum: ["Both", "Name", "Email", "None"] } as const;
const PEER_TYPE = {
  enum: [
    "None",
    "Extension",
    "Queue",
    "RingGroup",
    "IVR",
    "Fax",
    "Conference",
    "SpecialMenu",
    "Parking",
    "ExternalLine",
    "Group",
    "RoutePoint",
  ],
} as const;

/** Pbx.DN and Pbx.ClickToCall, the bases of both Pbx.User and Pbx.Group. */
const DN_PROPS: Record<string, PropType> = {
  Id: "key",
  Number: "string",
  TranscriptionMode: TRANSCRIPTION,
  CallUsEnableChat: "boolean",
  CallUsEnablePhone: "boolean",
  CallUsEnableVideo: "boolean",
  CallUsRequirement: AUTHENTICATION,
  ClickToCallId: "string",
};

const USER_PROPS: Record<string, PropType> = {
  ...DN_PROPS,
  AccessPassword: "string",
  AgentSettings: "complex",
  AIAgent: "boolean",
  AllowLanOnly: "boolean",
  AllowOwnRecordings: "boolean",
  AuthID: "string",
  AuthPassword: "string",
  Blfs: "string",
  BlockTunnel: "boolean",
  BreakTime: "complex",
  CallScreening: "boolean",
  ContactImage: "string",
  CurrentProfileName: "string",
  DatevEnabled: "boolean",
  DeskphonePassword: "string",
  DisplayName: "string",
  EmailAddress: "string",
  EmergencyAdditionalInfo: "string",
  EmergencyLocationId: "string",
  Enable2FA: "boolean",
  Enabled: "boolean",
  EnableHotdesking: "boolean",
  FirstName: "string",
  ForbidRecording: "boolean",
  GoogleCalendarEnabled: "boolean",
  GoogleContactsEnabled: "boolean",
  GoogleSignInEnabled: "boolean",
  HideInPhonebook: "boolean",
  HotdeskingAssignment: "string",
  Hours: "complex",
  Internal: "boolean",
  IsRegistered: "boolean",
  Language: "string",
  LastName: "string",
  Mobile: "string",
  MS365CalendarEnabled: "boolean",
  MS365ContactsEnabled: "boolean",
  MS365SignInEnabled: "boolean",
  MS365TeamsEnabled: "boolean",
  MyPhoneAllowDeleteRecordings: "boolean",
  MyPhoneHideForwardings: "boolean",
  MyPhonePush: "boolean",
  MyPhoneShowRecordings: "boolean",
  OfficeHoursProps: "array",
  OutboundCallerID: "string",
  PbxDeliversAudio: "boolean",
  PinProtected: "boolean",
  PinProtectTimeout: "int",
  PrimaryGroupId: "int",
  PromptSet: "string",
  QueueStatus: { enum: ["LoggedOut", "LoggedIn"] },
  RecordCalls: "boolean",
  RecordEmailNotify: "boolean",
  RecordExternalCallsOnly: "boolean",
  Require2FA: "boolean",
  SendEmailMissedCalls: "boolean",
  SIPID: "string",
  SRTPMode: { enum: ["SRTPDisabled", "SRTPEnabled", "SRTPEnforced"] },
  Tags: "array",
  VMDisablePinAuth: "boolean",
  VMEmailOptions: { enum: ["None", "Notification", "Attachment", "AttachmentAndDelete", "VmailToMembers", "EmailToExtrasOnly"] },
  VMEnabled: "boolean",
  VMPIN: "string",
  VMPlayCallerID: "boolean",
  VMPlayMsgDateTime: { enum: ["None", "Play12Hr", "Play24Hr"] },
  WebMeetingApproveParticipants: "boolean",
  WebMeetingFriendlyName: "string",
};

const GROUP_PROPS: Record<string, PropType> = {
  ...DN_PROPS,
  AllowCallService: "boolean",
  AnswerAfter: "int",
  BreakRoute: "complex",
  BreakTime: "complex",
  CallHandlingMode: "array",
  CurrentGroupHours: {
    enum: ["Default", "ForceOpened", "ForceClosed", "ForceBreak", "ForceCustomOperator", "ForceHoliday", "HasForcedMask"],
  },
  CustomOperator: "complex",
  CustomPrompt: "string",
  DisableCustomPrompt: "boolean",
  GloballyVisible: "boolean",
  HasMembers: "boolean",
  HolidaysRoute: "complex",
  Hours: "complex",
  IsDefault: "boolean",
  Language: "string",
  LastLoginTime: "datetime",
  MusicOnHold: "string",
  Name: "string",
  OfficeRoute: "complex",
  OutOfOfficeRoute: "complex",
  OverrideExpiresAt: "datetime",
  OverrideHolidays: "boolean",
  PromptSet: "string",
  Props: "complex",
  TimeZoneId: "string",
};

const USER_GROUP_PROPS: Record<string, PropType> = {
  CanDelete: "boolean",
  GroupId: "int",
  Id: "int",
  MemberName: "string",
  Name: "string",
  Number: "string",
  Tags: "array",
  TranscriptionMode: TRANSCRIPTION,
  Type: PEER_TYPE,
};

const RIGHTS_PROPS: Record<string, PropType> = {
  AllowIVR: "boolean",
  AllowParking: "boolean",
  AllowToChangePresence: "boolean",
  AllowToManageCompanyBook: "boolean",
  AssignClearOperations: "boolean",
  CanBargeIn: "boolean",
  CanIntercom: "boolean",
  CanSeeGroupCalls: "boolean",
  CanSeeGroupMembers: "boolean",
  CanSeeGroupRecordings: "boolean",
  Invalid: "boolean",
  PerformOperations: "boolean",
  RoleName: "roleName",
  ShowMyCalls: "boolean",
  ShowMyPresence: "boolean",
  ShowMyPresenceOutside: "boolean",
};

/** Properties with their own slot in SimulatedUser; the rest of the schema goes to `extra`. */
const MODELED_USER = [
  "Number",
  "FirstName",
  "LastName",
  "DisplayName",
  "EmailAddress",
  "Mobile",
  "OutboundCallerID",
  "Enabled",
  "Require2FA",
  "Language",
  "VMEnabled",
  "VMPIN",
  "ContactImage",
] as const;
type ModeledUserField = (typeof MODELED_USER)[number];
const MODELED_GROUP = ["Number", "Name", "IsDefault", "Language", "TimeZoneId"] as const;
const SECRET_FIELDS = new Set(["VMPIN", "AccessPassword", "AuthPassword", "DeskphonePassword"]);
/** Never kept, so never answered. */
const WRITE_ONLY = new Set(["AccessPassword"]);
/** Status, not configuration: taken and ignored. */
const IGNORED_ON_WRITE = new Set(["Id", "IsRegistered", "HasMembers"]);

// ---- errors --------------------------------------------------------------------------------

interface Problem {
  target: string | null;
  warning: string;
}

/** An answer other than success, thrown from a handler and sent by the dispatcher. */
class Refusal extends Error {
  readonly status: number;
  readonly body: Json | null;
  readonly headers: Record<string, string>;
  constructor(status: number, body: Json | null, headers: Record<string, string> = {}) {
    super(`HTTP ${status}`);
    this.status = status;
    this.body = body;
    this.headers = headers;
  }
}

/** 3CX's validation answer: one detail per problem, the message "<target>:\n<warning>" for each. */
const refuse = (problems: Problem[], status = 400) =>
  new Refusal(status, {
    error: {
      code: "",
      message: problems.map((p) => (p.target === null ? p.warning : `${p.target}:\n${p.warning}`)).join("\n"),
      details: problems.map((p) => ({ code: "", message: p.warning, ...(p.target === null ? {} : { target: p.target }) })),
    },
  });
const one = (target: string | null, warning: string) => refuse([{ target, warning }]);
/** What ASP.NET answers when the body does not bind to the action's parameter. */
const notValid = (parameter: string) =>
  new Refusal(400, {
    error: { code: "", message: `The input was not valid.\n\n${parameter}:\nThe ${parameter} field is required.` },
  });
class QueryError extends Error {}
const queryRefusal = (reason: string) =>
  new Refusal(400, { error: { code: "", message: `The query specified in the URI is not valid. ${reason}` } });
const noEntity = () => new Refusal(404, null);

// ---- OData query options -------------------------------------------------------------------

type Scalar = string | number | boolean | null;
type ExprType = "string" | "number" | "boolean" | "null" | "other";
type Expr =
  | { k: "lit"; v: Scalar; t: ExprType }
  | { k: "prop"; name: string; t: ExprType }
  | { k: "call"; fn: string; args: Expr[]; t: ExprType }
  | { k: "cmp"; op: string; l: Expr; r: Expr; t: ExprType }
  | { k: "logic"; op: "and" | "or"; l: Expr; r: Expr; t: ExprType }
  | { k: "not"; e: Expr; t: ExprType };

type LexToken = { k: "id" | "str" | "num" | "punct"; v: string; at: number };

const COMPARISONS: Record<string, string> = {
  eq: "Equal",
  ne: "NotEqual",
  gt: "GreaterThan",
  ge: "GreaterThanOrEqual",
  lt: "LessThan",
  le: "LessThanOrEqual",
};
const EDM: Record<ExprType, string> = {
  string: "Edm.String",
  number: "Edm.Int32",
  boolean: "Edm.Boolean",
  null: "null",
  other: "complex",
};
const FUNCTIONS: Record<string, { args: ExprType[]; t: ExprType }> = {
  tolower: { args: ["string"], t: "string" },
  toupper: { args: ["string"], t: "string" },
  trim: { args: ["string"], t: "string" },
  length: { args: ["string"], t: "number" },
  contains: { args: ["string", "string"], t: "boolean" },
  startswith: { args: ["string", "string"], t: "boolean" },
  endswith: { args: ["string", "string"], t: "boolean" },
};

const propExprType = (p: PropType): ExprType => {
  if (p === "string" || p === "roleName" || p === "datetime" || typeof p === "object") return "string";
  if (p === "int" || p === "key") return "number";
  if (p === "boolean") return "boolean";
  return "other";
};

function lex(src: string): LexToken[] {
  const out: LexToken[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i] as string;
    if (/\s/.test(c)) {
      i++;
    } else if (c === "(" || c === ")" || c === ",") {
      out.push({ k: "punct", v: c, at: i });
      i++;
    } else if (c === "'") {
      const at = i;
      let v = "";
      i++;
      for (;;) {
        if (i >= src.length) throw new QueryError(`There is an unterminated string literal at position ${at} in '${src}'.`);
        if (src[i] === "'") {
          if (src[i + 1] === "'") {
            v += "'";
            i += 2;
            continue;
          }
          i++;
          break;
        }
        v += src[i];
        i++;
      }
      out.push({ k: "str", v, at });
    } else if (/[0-9-]/.test(c)) {
      const m = /^-?[0-9]+/.exec(src.slice(i));
      if (!m) throw new QueryError(`Syntax error at position ${i} in '${src}'.`);
      out.push({ k: "num", v: m[0], at: i });
      i += m[0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_./]*/.exec(src.slice(i)) as RegExpExecArray;
      out.push({ k: "id", v: m[0], at: i });
      i += m[0].length;
    } else {
      throw new QueryError(`Syntax error: character '${c}' is not valid at position ${i} in '${src}'.`);
    }
  }
  return out;
}

function parseFilter(src: string, typeName: string, props: Record<string, PropType>): Expr {
  const tokens = lex(src);
  let pos = 0;
  const peek = () => tokens[pos];
  const isWord = (w: string) => {
    const t = peek();
    return t !== undefined && t.k === "id" && t.v === w;
  };
  const syntax = (): never => {
    const t = peek();
    throw new QueryError(`Syntax error at position ${t === undefined ? src.length : t.at} in '${src}'.`);
  };
  const needBool = (e: Expr) => {
    if (e.t !== "boolean" && e.t !== "null") throw new QueryError("The $filter expression must evaluate to a single boolean value.");
  };

  const primary = (): Expr => {
    const t = peek();
    if (t === undefined) return syntax();
    pos++;
    if (t.k === "punct" && t.v === "(") {
      const e = or();
      if (peek()?.v !== ")") syntax();
      pos++;
      return e;
    }
    if (t.k === "str") return { k: "lit", v: t.v, t: "string" };
    if (t.k === "num") return { k: "lit", v: Number(t.v), t: "number" };
    if (t.k !== "id") return syntax();
    if (t.v === "true" || t.v === "false") return { k: "lit", v: t.v === "true", t: "boolean" };
    if (t.v === "null") return { k: "lit", v: null, t: "null" };
    if (peek()?.v === "(") {
      pos++;
      const fn = FUNCTIONS[t.v];
      if (!fn) {
        throw new QueryError(
          `An unknown function with name '${t.v}' was found. This may also be a function import or a key lookup on a navigation property, which is not allowed.`,
        );
      }
      const args: Expr[] = [];
      if (peek()?.v !== ")") {
        args.push(or());
        while (peek()?.v === ",") {
          pos++;
          args.push(or());
        }
      }
      if (peek()?.v !== ")") syntax();
      pos++;
      if (args.length !== fn.args.length) {
        throw new QueryError(`The function '${t.v}' takes ${fn.args.length} argument(s), not ${args.length}.`);
      }
      fn.args.forEach((want, n) => {
        const got = (args[n] as Expr).t;
        if (got !== want && got !== "null") {
          throw new QueryError(`No function signature for the function with name '${t.v}' matches the specified arguments.`);
        }
      });
      return { k: "call", fn: t.v, args, t: fn.t };
    }
    const p = props[t.v];
    if (p === undefined) throw new QueryError(`Could not find a property named '${t.v}' on type '${typeName}'.`);
    return { k: "prop", name: t.v, t: propExprType(p) };
  };

  const comparison = (): Expr => {
    const l = primary();
    const t = peek();
    if (t === undefined || t.k !== "id" || !(t.v in COMPARISONS)) return l;
    pos++;
    const r = primary();
    const kind = COMPARISONS[t.v] as string;
    if (l.t === "other" || r.t === "other")
      throw new QueryError(`The operator kind '${kind}' is not supported on complex or collection values.`);
    if (l.t !== "null" && r.t !== "null" && l.t !== r.t) {
      throw new QueryError(
        `A binary operator with incompatible types was detected. Found operand types '${EDM[l.t]}' and '${EDM[r.t]}' for operator kind '${kind}'.`,
      );
    }
    return { k: "cmp", op: t.v, l, r, t: "boolean" };
  };

  const unary = (): Expr => {
    if (isWord("not")) {
      pos++;
      const e = unary();
      needBool(e);
      return { k: "not", e, t: "boolean" };
    }
    return comparison();
  };

  const and = (): Expr => {
    let l = unary();
    while (isWord("and")) {
      pos++;
      const r = unary();
      needBool(l);
      needBool(r);
      l = { k: "logic", op: "and", l, r, t: "boolean" };
    }
    return l;
  };

  function or(): Expr {
    let l = and();
    while (isWord("or")) {
      pos++;
      const r = and();
      needBool(l);
      needBool(r);
      l = { k: "logic", op: "or", l, r, t: "boolean" };
    }
    return l;
  }

  const e = or();
  if (pos < tokens.length) syntax();
  needBool(e);
  return e;
}

function evaluate(e: Expr, row: Json): Scalar {
  switch (e.k) {
    case "lit":
      return e.v;
    case "prop": {
      const v = row[e.name];
      return typeof v === "string" || typeof v === "number" || typeof v === "boolean" ? v : null;
    }
    case "call": {
      const a = e.args.map((x) => evaluate(x, row));
      const s = a[0];
      const t = a[1];
      if (typeof s !== "string") return e.t === "boolean" ? false : null;
      if (e.fn === "tolower") return s.toLowerCase();
      if (e.fn === "toupper") return s.toUpperCase();
      if (e.fn === "trim") return s.trim();
      if (e.fn === "length") return s.length;
      if (typeof t !== "string") return false;
      if (e.fn === "contains") return s.includes(t);
      if (e.fn === "startswith") return s.startsWith(t);
      return s.endsWith(t);
    }
    case "cmp": {
      const l = evaluate(e.l, row);
      const r = evaluate(e.r, row);
      if (e.op === "eq") return l === r;
      if (e.op === "ne") return l !== r;
      if (l === null || r === null) return false;
      if (e.op === "gt") return l > r;
      if (e.op === "ge") return l >= r;
      if (e.op === "lt") return l < r;
      return l <= r;
    }
    case "logic": {
      const l = evaluate(e.l, row) === true;
      return e.op === "and" ? l && evaluate(e.r, row) === true : l || evaluate(e.r, row) === true;
    }
    case "not":
      return evaluate(e.e, row) !== true;
  }
}

/** An OData entity type as the simulator serves it: its structural properties and navigations. */
interface EntityType {
  name: string;
  props: Record<string, PropType>;
  row: (item: unknown) => Json;
  navs: Record<string, Nav>;
}
interface Nav {
  /** null: a navigation 3CX has that the simulator does not model (always empty). */
  type: EntityType | null;
  many: boolean;
  get: (item: unknown) => unknown[];
}
interface ExpandItem {
  select: string[] | null;
  expand: Map<string, ExpandItem>;
}

/** Splits on commas that are not inside parentheses. */
function splitTop(s: string, sep: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    if (s[i] === "(") depth++;
    else if (s[i] === ")") depth--;
    else if (s[i] === sep && depth === 0) {
      parts.push(s.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(s.slice(start));
  return parts.map((p) => p.trim());
}

function parseSelect(raw: string, type: EntityType): string[] {
  const items = splitTop(raw, ",");
  for (const item of items) {
    if (item === "*") continue;
    if (!(item in type.props) && !(item in type.navs)) {
      throw new QueryError(`Could not find a property named '${item}' on type '${type.name}'.`);
    }
  }
  return items;
}

function parseExpand(raw: string, type: EntityType): Map<string, ExpandItem> {
  const out = new Map<string, ExpandItem>();
  for (const item of splitTop(raw, ",")) {
    const m = /^([A-Za-z0-9_]+)(?:\((.*)\))?$/s.exec(item);
    if (!m) throw new QueryError(`Syntax error in $expand near '${item}'.`);
    const name = m[1] as string;
    const nav = type.navs[name];
    if (!nav) {
      if (name in type.props) {
        throw new QueryError(
          `Property '${name}' on type '${type.name}' is not a navigation property or complex property. Only navigation properties can be expanded.`,
        );
      }
      throw new QueryError(`Could not find a property named '${name}' on type '${type.name}'.`);
    }
    const spec: ExpandItem = { select: null, expand: new Map() };
    if (m[2] !== undefined && m[2].trim() !== "") {
      for (const opt of splitTop(m[2], ";")) {
        const eq = opt.indexOf("=");
        const key = eq < 0 ? opt : opt.slice(0, eq).trim();
        const value = eq < 0 ? "" : opt.slice(eq + 1).trim();
        if (nav.type === null) throw new QueryError(`Query options inside $expand of '${name}' are not supported.`);
        if (key === "$select") spec.select = parseSelect(value, nav.type);
        else if (key === "$expand") spec.expand = parseExpand(value, nav.type);
        else throw new QueryError(`The query option '${key}' is not supported inside $expand.`);
      }
    }
    out.set(name, spec);
  }
  return out;
}

interface QueryOptions {
  filter: Expr | null;
  orderby: { name: string; desc: boolean }[];
  top: number | null;
  skip: number;
  count: boolean;
  select: string[] | null;
  expand: Map<string, ExpandItem>;
}

const COLLECTION_OPTIONS = ["$filter", "$orderby", "$top", "$skip", "$count"];
const KNOWN_OPTIONS = new Set([...COLLECTION_OPTIONS, "$select", "$expand"]);

function parseQuery(q: URLSearchParams, type: EntityType, collection: boolean, maxTop: number): QueryOptions {
  const seen = new Set<string>();
  for (const key of q.keys()) {
    if (!key.startsWith("$")) continue;
    if (key === "$search" || !KNOWN_OPTIONS.has(key)) throw new QueryError(`The query parameter '${key}' is not supported.`);
    if (seen.has(key)) throw new QueryError(`Query option '${key}' was specified more than once, but it must be specified at most once.`);
    seen.add(key);
    if (!collection && COLLECTION_OPTIONS.includes(key)) {
      throw new QueryError(
        "The requested resource is not a collection. Query options $filter, $orderby, $count, $skip, and $top can be applied only on collections.",
      );
    }
  }
  const nonNegative = (name: string): number | null => {
    const raw = q.get(name);
    if (raw === null) return null;
    if (!/^[0-9]+$/.test(raw)) {
      throw new QueryError(
        `Invalid value '${raw}' for ${name} query option found. The ${name} query option requires a non-negative integer value.`,
      );
    }
    return Number(raw);
  };
  const top = nonNegative("$top");
  if (top !== null && top > maxTop) {
    throw new QueryError(`The limit of '${maxTop}' for Top query has been exceeded. The value from the incoming request is '${top}'.`);
  }
  const countRaw = q.get("$count");
  if (countRaw !== null && countRaw !== "true" && countRaw !== "false") throw new QueryError(`'${countRaw}' is not a valid count option.`);
  const orderby: { name: string; desc: boolean }[] = [];
  const orderRaw = q.get("$orderby");
  if (orderRaw !== null) {
    for (const item of splitTop(orderRaw, ",")) {
      const m = /^([A-Za-z0-9_]+)(?:\s+(asc|desc))?$/.exec(item);
      if (!m) throw new QueryError(`Syntax error in $orderby near '${item}'.`);
      const p = type.props[m[1] as string];
      if (p === undefined) throw new QueryError(`Could not find a property named '${m[1]}' on type '${type.name}'.`);
      if (propExprType(p) === "other") throw new QueryError("The $orderby expression must evaluate to a single value of primitive type.");
      orderby.push({ name: m[1] as string, desc: m[2] === "desc" });
    }
  }
  const filterRaw = q.get("$filter");
  const selectRaw = q.get("$select");
  const expandRaw = q.get("$expand");
  return {
    filter: filterRaw === null ? null : parseFilter(filterRaw, type.name, type.props),
    orderby,
    top,
    skip: nonNegative("$skip") ?? 0,
    count: countRaw === "true",
    select: selectRaw === null ? null : parseSelect(selectRaw, type),
    expand: expandRaw === null ? new Map() : parseExpand(expandRaw, type),
  };
}

function render(type: EntityType, item: unknown, select: string[] | null, expand: Map<string, ExpandItem>): Json {
  const full = type.row(item);
  const keys = select === null || select.includes("*") ? Object.keys(full) : select.filter((k) => k in type.props);
  const out: Json = {};
  for (const k of keys) out[k] = k in full ? full[k] : null;
  for (const [name, spec] of expand) {
    const nav = type.navs[name] as Nav;
    const items = nav.get(item);
    const navType = nav.type;
    if (navType === null) out[name] = nav.many ? [] : null;
    else if (nav.many) out[name] = items.map((i) => render(navType, i, spec.select, spec.expand));
    else out[name] = items[0] === undefined ? null : render(navType, items[0], spec.select, spec.expand);
  }
  return out;
}

const compareScalars = (a: unknown, b: unknown): number => {
  // OData sorts null first in ascending order.
  if (a === b) return 0;
  if (a === null || a === undefined) return -1;
  if (b === null || b === undefined) return 1;
  if (typeof a === "number" && typeof b === "number") return a - b;
  const x = String(a);
  const y = String(b);
  return x < y ? -1 : x > y ? 1 : 0;
};

// ---- request bodies ------------------------------------------------------------------------

const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);
const isInt32 = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v) && v >= -2147483648 && v <= 2147483647;

function fitsType(v: unknown, p: PropType): boolean {
  if (p === "key") return isInt32(v);
  if (p === "roleName") return typeof v === "string";
  if (v === null) return true;
  if (p === "int") return isInt32(v);
  if (p === "string") return typeof v === "string";
  if (p === "boolean") return typeof v === "boolean";
  if (p === "datetime") return typeof v === "string" && !Number.isNaN(Date.parse(v));
  if (p === "complex") return isObject(v);
  if (p === "array") return Array.isArray(v);
  return typeof v === "string" && p.enum.includes(v);
}

/** Whether `value` is an object of the schema's properties, each of its type (OData's binding). */
function binds(value: unknown, props: Record<string, PropType>, navs: Record<string, (v: unknown) => boolean> = {}): value is Json {
  if (!isObject(value)) return false;
  for (const [k, v] of Object.entries(value)) {
    if (k.startsWith("@odata.")) continue;
    const nav = navs[k];
    if (nav) {
      if (!nav(v)) return false;
      continue;
    }
    const p = props[k];
    if (p === undefined || !fitsType(v, p)) return false;
  }
  return true;
}

/** A Pbx.UserGroup as a body may carry it, with its Rights navigation inline. */
const bindsUserGroup = (v: unknown) => {
  const rights = (r: unknown) => r === null || binds(r, RIGHTS_PROPS);
  return binds(v, USER_GROUP_PROPS, { Rights: rights, GroupRights: rights });
};
const bindsUserGroups = (v: unknown) => Array.isArray(v) && v.every(bindsUserGroup);

const roleOf = (entry: Json): unknown => (isObject(entry.Rights) ? entry.Rights.RoleName : undefined);
const isRole = (v: unknown): v is string => typeof v === "string" && (THREECX_ROLE_NAMES as readonly string[]).includes(v);

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const PHONE = /^\+?[0-9]*$/;

// ---- the simulator -------------------------------------------------------------------------

interface StoredMembership {
  /** The Pbx.UserGroup row's own id. */
  Id: number;
  GroupId: number;
  RoleName: string;
}

interface StoredUser {
  Id: number;
  /** Every schema property set, modelled ones included; DisplayName only when set explicitly. */
  fields: Json;
  PrimaryGroupId: number | null;
  memberships: StoredMembership[];
  handMade: boolean;
  operator: boolean;
}

interface StoredGroup {
  Id: number;
  fields: Json;
  handMade: boolean;
}

interface Token {
  clientId: string;
  expiresAt: number;
}

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export async function startThreeCxSimulator(options: ThreeCxSimulatorOptions = {}): Promise<ThreeCxSimulator> {
  const clientId = options.clientId ?? `sim${randomInt(100, 1000)}`;
  const clientSecret = options.clientSecret ?? randomBytes(24).toString("base64url");
  const accessTokenSeconds = options.accessTokenSeconds ?? 3600;
  const maxPageSize = options.maxPageSize ?? 100;

  const tokens = new Map<string, Token>();
  const users = new Map<number, StoredUser>();
  const groups = new Map<number, StoredGroup>();
  const calls: SimulatedCall[] = [];
  const writes: SimulatedWrite[] = [];
  // Users and departments are both DNs in 3CX and share one run of ids.
  let nextDnId = 1;
  let nextMembershipId = 1;
  let nextGroupNumber = 1;
  const faults = new StandInFaults();

  const now = () => Date.now();
  const copy = <T>(value: T): T => structuredClone(value);
  const redact = (body: Json): Json =>
    Object.fromEntries(Object.entries(body).map(([k, v]) => [k, SECRET_FIELDS.has(k) ? REDACTED : copy(v)]));

  const defaultGroup: StoredGroup = {
    Id: nextDnId++,
    fields: { Number: "GRP0000", Name: "DEFAULT", IsDefault: true, Language: "EN", TimeZoneId: "51" },
    handMade: false,
  };
  groups.set(defaultGroup.Id, defaultGroup);

  const str = (fields: Json, k: string) => (typeof fields[k] === "string" ? (fields[k] as string) : "");
  const displayName = (u: StoredUser) =>
    typeof u.fields.DisplayName === "string" ? u.fields.DisplayName : `${str(u.fields, "FirstName")} ${str(u.fields, "LastName")}`.trim();
  const membersOf = (groupId: number) => [...users.values()].filter((u) => u.memberships.some((m) => m.GroupId === groupId));
  const userByNumber = (n: string) => [...users.values()].find((u) => u.fields.Number === n);

  // ---- entity types ------------------------------------------------------------------------

  interface MembershipView {
    m: StoredMembership;
    user: StoredUser;
  }
  const rightsType: EntityType = {
    name: "Pbx.Rights",
    props: RIGHTS_PROPS,
    row: (item) => ({ RoleName: item as string }),
    navs: {},
  };
  const userGroupType: EntityType = {
    name: "Pbx.UserGroup",
    props: USER_GROUP_PROPS,
    row: (item) => {
      const { m, user } = item as MembershipView;
      return {
        Id: m.Id,
        GroupId: m.GroupId,
        Name: str(groups.get(m.GroupId)?.fields ?? {}, "Name"),
        Number: user.fields.Number,
        MemberName: displayName(user),
        Type: "Extension",
        CanDelete: true,
      };
    },
    navs: {
      Rights: { type: rightsType, many: false, get: (item) => [(item as MembershipView).m.RoleName] },
      GroupRights: { type: rightsType, many: false, get: (item) => [(item as MembershipView).m.RoleName] },
    },
  };
  const userRow = (u: StoredUser): Json => {
    const out: Json = { Id: u.Id };
    for (const [k, v] of Object.entries(u.fields)) if (!WRITE_ONLY.has(k)) out[k] = copy(v);
    out.DisplayName = displayName(u);
    out.PrimaryGroupId = u.PrimaryGroupId;
    return out;
  };
  const viewsOf = (u: StoredUser): MembershipView[] => u.memberships.map((m) => ({ m, user: u }));
  const userType: EntityType = {
    name: "Pbx.User",
    props: USER_PROPS,
    row: (item) => userRow(item as StoredUser),
    navs: {
      Groups: { type: userGroupType, many: true, get: (item) => viewsOf(item as StoredUser) },
      ForwardingExceptions: { type: null, many: true, get: () => [] },
      ForwardingProfiles: { type: null, many: true, get: () => [] },
      Greetings: { type: null, many: true, get: () => [] },
      Phones: { type: null, many: true, get: () => [] },
    },
  };
  const groupRow = (g: StoredGroup): Json => ({ Id: g.Id, ...copy(g.fields), HasMembers: membersOf(g.Id).length > 0 });
  const memberViews = (g: StoredGroup): MembershipView[] =>
    membersOf(g.Id).flatMap((u) => u.memberships.filter((m) => m.GroupId === g.Id).map((m) => ({ m, user: u })));
  const groupType: EntityType = {
    name: "Pbx.Group",
    props: GROUP_PROPS,
    row: (item) => groupRow(item as StoredGroup),
    navs: {
      Members: { type: userGroupType, many: true, get: (item) => memberViews(item as StoredGroup) },
      Rights: { type: rightsType, many: true, get: () => [...THREECX_ROLE_NAMES] },
      Groups: { type: null, many: true, get: () => [] },
      OfficeHolidays: { type: null, many: true, get: () => [] },
    },
  };

  // ---- public views ------------------------------------------------------------------------

  const publicUser = (u: StoredUser): SimulatedUser => {
    const f = u.fields;
    const extra: Json = {};
    for (const [k, v] of Object.entries(f)) {
      if (!(MODELED_USER as readonly string[]).includes(k) && !WRITE_ONLY.has(k)) extra[k] = copy(v);
    }
    return {
      Id: u.Id,
      Number: str(f, "Number"),
      FirstName: str(f, "FirstName"),
      LastName: str(f, "LastName"),
      DisplayName: displayName(u),
      EmailAddress: str(f, "EmailAddress"),
      Mobile: str(f, "Mobile"),
      OutboundCallerID: str(f, "OutboundCallerID"),
      Enabled: f.Enabled === true,
      Require2FA: f.Require2FA === true,
      Language: str(f, "Language"),
      VMEnabled: f.VMEnabled === true,
      VMPIN: str(f, "VMPIN"),
      ContactImage: str(f, "ContactImage"),
      PrimaryGroupId: u.PrimaryGroupId,
      Groups: u.memberships.map((m) => ({
        GroupId: m.GroupId,
        GroupName: str(groups.get(m.GroupId)?.fields ?? {}, "Name"),
        RoleName: m.RoleName,
      })),
      extra,
      handMade: u.handMade,
      operator: u.operator,
    };
  };
  const publicGroup = (g: StoredGroup): SimulatedGroup => {
    const extra: Json = {};
    for (const [k, v] of Object.entries(g.fields)) if (!(MODELED_GROUP as readonly string[]).includes(k)) extra[k] = copy(v);
    return {
      Id: g.Id,
      Number: str(g.fields, "Number"),
      Name: str(g.fields, "Name"),
      IsDefault: g.fields.IsDefault === true,
      Language: str(g.fields, "Language"),
      TimeZoneId: str(g.fields, "TimeZoneId"),
      extra,
      handMade: g.handMade,
    };
  };

  // ---- tokens ------------------------------------------------------------------------------

  const sameSecret = (given: string, expected: string) => {
    const a = Buffer.from(given);
    const b = Buffer.from(expected);
    return a.length === b.length && timingSafeEqual(a, b);
  };
  const liveAccessTokens = () => [...tokens.values()].filter((t) => t.expiresAt > now()).length;

  const tokenAnswer = async (method: string, headers: IncomingMessage["headers"], raw: Buffer): Promise<Answer> => {
    if (method !== "POST") return { status: 405, headers: { allow: "POST" }, body: "" };
    const type = String(headers["content-type"] ?? "");
    const oauth = (status: number, payload: Json) => json(status, payload, { "cache-control": "no-store", pragma: "no-cache" });
    if (!/^(application\/x-www-form-urlencoded|multipart\/form-data)\b/i.test(type)) {
      return oauth(400, { error: "invalid_request", error_description: "The request body must be sent as form fields." });
    }
    let form: FormData;
    try {
      form = await new Response(new Uint8Array(raw), { headers: { "content-type": type } }).formData();
    } catch {
      return oauth(400, { error: "invalid_request", error_description: "The request body could not be read." });
    }
    const field = (name: string) => {
      const v = form.get(name);
      return typeof v === "string" ? v : "";
    };
    const grant = field("grant_type");
    if (grant === "")
      return oauth(400, { error: "invalid_request", error_description: "The mandatory 'grant_type' parameter is missing." });
    if (grant !== "client_credentials") {
      return oauth(400, { error: "unsupported_grant_type", error_description: "The specified 'grant_type' is not supported." });
    }
    if (!sameSecret(field("client_id"), clientId) || !sameSecret(field("client_secret"), clientSecret)) return oauth(401, UNAUTHORIZED);
    // One live token per client: the new one replaces the old (see the header).
    for (const [t, v] of tokens) if (v.clientId === clientId) tokens.delete(t);
    const segment = (n: number) => randomBytes(n).toString("base64url");
    const accessToken = `${Buffer.from('{"alg":"RS256","typ":"at+jwt"}').toString("base64url")}.${segment(48)}.${segment(64)}`;
    tokens.set(accessToken, { clientId, expiresAt: now() + accessTokenSeconds * 1000 });
    return oauth(200, { token_type: "Bearer", expires_in: accessTokenSeconds, access_token: accessToken, refresh_token: null });
  };

  const authenticate = (headers: IncomingMessage["headers"]) => {
    const h = String(headers.authorization ?? "");
    const m = /^Bearer\s+(\S+)$/i.exec(h);
    if (!m) throw new Refusal(401, null, { "www-authenticate": "Bearer" });
    const t = tokens.get(m[1] as string);
    if (!t || t.expiresAt <= now()) throw new Refusal(401, null, { "www-authenticate": 'Bearer error="invalid_token"' });
  };

  // ---- users -------------------------------------------------------------------------------

  /** Checks a Groups collection; answers the memberships it asks for (ids not yet given). */
  const checkMemberships = (value: unknown[], problems: Problem[]): { GroupId: number; RoleName: string }[] => {
    const out: { GroupId: number; RoleName: string }[] = [];
    for (const entry of value as Json[]) {
      const gid = entry.GroupId;
      const role = roleOf(entry);
      if (typeof gid !== "number") problems.push({ target: "GroupId", warning: W.REQUIRED });
      else if (!groups.has(gid)) problems.push({ target: "GroupId", warning: W.NOT_FOUND });
      if (role === undefined || role === "") problems.push({ target: "RoleName", warning: W.REQUIRED });
      else if (!isRole(role)) problems.push({ target: "RoleName", warning: W.NOT_FOUND });
      if (typeof gid === "number" && isRole(role)) {
        if (out.some((o) => o.GroupId === gid)) problems.push({ target: "Groups", warning: W.DUPLICATE });
        else out.push({ GroupId: gid, RoleName: role });
      }
    }
    return out;
  };

  /** The field rules of a user create or update, on what `body` carries. */
  const userFieldProblems = (body: Json, current: StoredUser | null): Problem[] => {
    const problems: Problem[] = [];
    const add = (target: string, warning: string) => problems.push({ target, warning });
    const number = body.Number;
    if (current === null) {
      if (number === undefined || number === null || number === "") add("Number", W.REQUIRED);
      else if (!/^[0-9]+$/.test(number as string)) add("Number", W.INVALID);
    } else if (number !== undefined && number !== current.fields.Number) add("Number", W.FORBIDDEN_CHANGE);
    if (current !== null && body.Id !== undefined && body.Id !== current.Id) add("Id", W.FORBIDDEN_CHANGE);
    for (const k of ["FirstName", "LastName", "DisplayName", "EmailAddress"]) {
      const v = body[k];
      if (typeof v === "string" && v.length > 255) add(k, W.TOO_LONG);
    }
    const email = body.EmailAddress;
    if (typeof email === "string" && email !== "" && email.length <= 255 && !EMAIL.test(email)) add("EmailAddress", W.INVALID);
    for (const k of ["Mobile", "OutboundCallerID"]) {
      const v = body[k];
      if (typeof v === "string" && !PHONE.test(v)) add(k, W.INVALID);
    }
    if (body.VMPIN !== undefined && !(typeof body.VMPIN === "string" && /^[0-9]{4,10}$/.test(body.VMPIN))) add("VMPIN", W.PIN);
    return problems;
  };

  const refuseTaken = (body: Json, self: number | null) => {
    const problems: Problem[] = [];
    const others = [...users.values()].filter((u) => u.Id !== self);
    if (self === null && typeof body.Number === "string" && others.some((u) => u.fields.Number === body.Number)) {
      problems.push({ target: "Number", warning: W.IN_USE });
    }
    const email = body.EmailAddress;
    if (
      typeof email === "string" &&
      email !== "" &&
      others.some((u) => str(u.fields, "EmailAddress").toLowerCase() === email.toLowerCase())
    ) {
      problems.push({ target: "EmailAddress", warning: W.IN_USE });
    }
    if (problems.length > 0) throw refuse(problems);
  };

  /** Memberships and primary group after a write; refuses a primary group the user is not in. */
  const resolveGroups = (body: Json, current: StoredUser | null): { memberships: StoredMembership[]; primary: number | null } => {
    const problems: Problem[] = [];
    let wanted: { GroupId: number; RoleName: string }[];
    if (Array.isArray(body.Groups)) wanted = checkMemberships(body.Groups, problems);
    else if (current) wanted = current.memberships.map((m) => ({ GroupId: m.GroupId, RoleName: m.RoleName }));
    else wanted = [{ GroupId: defaultGroup.Id, RoleName: "users" }];
    let primary: number | null;
    if (typeof body.PrimaryGroupId === "number") {
      primary = body.PrimaryGroupId;
      if (!wanted.some((w) => w.GroupId === primary)) problems.push({ target: "PrimaryGroupId", warning: W.NOT_FOUND });
    } else {
      const keep = current?.PrimaryGroupId ?? null;
      primary = keep !== null && wanted.some((w) => w.GroupId === keep) ? keep : (wanted[0]?.GroupId ?? null);
    }
    if (problems.length > 0) throw refuse(problems);
    const memberships = wanted.map((w) => {
      const existing = current?.memberships.find((m) => m.GroupId === w.GroupId);
      return { Id: existing?.Id ?? nextMembershipId++, GroupId: w.GroupId, RoleName: w.RoleName };
    });
    return { memberships, primary };
  };

  const applyUserFields = (u: StoredUser, body: Json) => {
    for (const [k, v] of Object.entries(body)) {
      if (k.startsWith("@odata.") || k === "Groups" || k === "PrimaryGroupId" || IGNORED_ON_WRITE.has(k) || WRITE_ONLY.has(k)) continue;
      if (v === null && (MODELED_USER as readonly string[]).includes(k)) {
        // A modelled text set to null reads as empty; DisplayName falls back to the names.
        if (k === "DisplayName") delete u.fields.DisplayName;
        else if (typeof u.fields[k] === "string") u.fields[k] = "";
        else u.fields[k] = false;
        continue;
      }
      u.fields[k] = copy(v);
    }
  };

  const newUser = (handMade: boolean): StoredUser => ({
    Id: nextDnId++,
    fields: {
      Number: "",
      FirstName: "",
      LastName: "",
      EmailAddress: "",
      Mobile: "",
      OutboundCallerID: "",
      Enabled: true,
      Require2FA: false,
      Language: "EN",
      VMEnabled: true,
      VMPIN: String(randomInt(1000, 10000)),
      ContactImage: "",
    },
    PrimaryGroupId: null,
    memberships: [],
    handMade,
    operator: false,
  });

  const userById = (key: string): StoredUser => {
    const u = users.get(Number(key));
    if (!u) throw noEntity();
    return u;
  };

  const deleteUser = (u: StoredUser) => {
    if (u.operator) throw one(null, W.OPERATOR);
    users.delete(u.Id);
  };

  const firstAvailableNumber = () => {
    const taken = new Set([...users.values()].map((u) => u.fields.Number));
    let n = FIRST_EXTENSION;
    while (taken.has(String(n))) n++;
    return String(n);
  };

  // ---- groups ------------------------------------------------------------------------------

  const bindsMembers = (v: unknown) => bindsUserGroups(v);

  const checkGroupBody = (
    body: Json,
    current: StoredGroup | null,
  ): { name: string | null; members: { user: StoredUser; role: string }[] | null } => {
    const problems: Problem[] = [];
    let name: string | null = null;
    if (body.Name !== undefined || current === null) {
      if (typeof body.Name !== "string" || body.Name.trim() === "") problems.push({ target: "Name", warning: W.REQUIRED });
      else if (body.Name.length > 255) problems.push({ target: "Name", warning: W.TOO_LONG });
      else name = body.Name;
    }
    if (current !== null) {
      if (body.Number !== undefined && body.Number !== current.fields.Number)
        problems.push({ target: "Number", warning: W.FORBIDDEN_CHANGE });
      if (body.Id !== undefined && body.Id !== current.Id) problems.push({ target: "Id", warning: W.FORBIDDEN_CHANGE });
    }
    const isDefault = current?.fields.IsDefault === true;
    if (body.IsDefault !== undefined && body.IsDefault !== isDefault) problems.push({ target: "IsDefault", warning: W.FORBIDDEN_CHANGE });
    if (body.HasMembers !== undefined && body.HasMembers !== null) problems.push({ target: "HasMembers", warning: W.FORBIDDEN_CHANGE });
    let members: { user: StoredUser; role: string }[] | null = null;
    if (Array.isArray(body.Members)) {
      members = [];
      for (const entry of body.Members as Json[]) {
        const n = entry.Number;
        const role = roleOf(entry);
        const user = typeof n === "string" ? userByNumber(n) : undefined;
        if (!user) problems.push({ target: "Members", warning: W.NO_SUCH_EXTENSION });
        if (role === undefined || role === "") problems.push({ target: "RoleName", warning: W.REQUIRED });
        else if (!isRole(role)) problems.push({ target: "RoleName", warning: W.NOT_FOUND });
        if (user && isRole(role)) {
          if (members.some((m) => m.user === user)) problems.push({ target: "Members", warning: W.DUPLICATE });
          else members.push({ user, role });
        }
      }
    }
    if (problems.length > 0) throw refuse(problems);
    if (name !== null) {
      const lower = name.toLowerCase();
      const clash = [...groups.values()].some((g) => g.Id !== current?.Id && str(g.fields, "Name").toLowerCase() === lower);
      if (clash) throw one("Name", W.IN_USE);
    }
    return { name, members };
  };

  /** Sets a group's membership to exactly `members`, from the group's side. */
  const setMembers = (g: StoredGroup, members: { user: StoredUser; role: string }[]) => {
    for (const u of users.values()) {
      const wanted = members.find((m) => m.user === u);
      const existing = u.memberships.find((m) => m.GroupId === g.Id);
      if (wanted && existing) existing.RoleName = wanted.role;
      else if (wanted) u.memberships.push({ Id: nextMembershipId++, GroupId: g.Id, RoleName: wanted.role });
      else if (existing) u.memberships = u.memberships.filter((m) => m !== existing);
      if (u.PrimaryGroupId !== null && !u.memberships.some((m) => m.GroupId === u.PrimaryGroupId)) {
        u.PrimaryGroupId = u.memberships[0]?.GroupId ?? null;
      }
      if (u.PrimaryGroupId === null && u.memberships[0]) u.PrimaryGroupId = u.memberships[0].GroupId;
    }
  };

  const applyGroupFields = (g: StoredGroup, body: Json) => {
    for (const [k, v] of Object.entries(body)) {
      if (k.startsWith("@odata.") || k === "Members" || IGNORED_ON_WRITE.has(k) || k === "IsDefault") continue;
      g.fields[k] = copy(v);
    }
  };

  const groupById = (key: string): StoredGroup => {
    const g = groups.get(Number(key));
    if (!g) throw noEntity();
    return g;
  };

  const deleteGroup = (g: StoredGroup) => {
    if (g.fields.IsDefault === true) throw one(null, W.GROUP_UNDELETABLE);
    if (membersOf(g.Id).length > 0) throw one(null, W.GROUP_HAS_MEMBERS);
    groups.delete(g.Id);
  };

  const nextNumberForGroup = () => {
    for (;;) {
      const n = `GRP${String(nextGroupNumber++).padStart(4, "0")}`;
      if (![...groups.values()].some((g) => g.fields.Number === n)) return n;
    }
  };

  // ---- answers -----------------------------------------------------------------------------

  const json = (status: number, payload: Json, headers: Record<string, string> = {}): Answer => ({
    status,
    headers: { "content-type": "application/json; charset=utf-8", ...headers },
    body: JSON.stringify(payload),
  });
  const odata = (payload: Json, status = 200, headers: Record<string, string> = {}) =>
    json(status, payload, { "odata-version": "4.0", ...headers });
  const noContent = (): Answer => ({ status: 204, headers: {}, body: "" });
  const metadata = (fragment: string) => `${sim.url}${API}/$metadata#${fragment}`;
  const withSelect = (set: string, select: string[] | null) => (select === null ? set : `${set}(${select.join(",")})`);

  const collection = (type: EntityType, items: unknown[], q: URLSearchParams, context: string, url: URL): Answer => {
    let o: QueryOptions;
    try {
      o = parseQuery(q, type, true, maxPageSize);
    } catch (e) {
      if (e instanceof QueryError) throw queryRefusal(e.message);
      throw e;
    }
    let rows = items.map((item) => ({ item, row: type.row(item) }));
    const filter = o.filter;
    if (filter) rows = rows.filter((r) => evaluate(filter, r.row) === true);
    const order = o.orderby.length > 0 ? o.orderby : [{ name: "Id", desc: false }];
    rows.sort((a, b) => {
      for (const { name, desc } of order) {
        const c = compareScalars(a.row[name], b.row[name]);
        if (c !== 0) return desc ? -c : c;
      }
      return 0;
    });
    const total = rows.length;
    const size = o.top ?? maxPageSize;
    const page = rows.slice(o.skip, o.skip + size);
    const body: Json = { "@odata.context": metadata(withSelect(context, o.select)) };
    if (o.count) body["@odata.count"] = total;
    body.value = page.map((r) => render(type, r.item, o.select, o.expand));
    if (o.top === null && o.skip + size < total) {
      const next = new URLSearchParams(url.searchParams);
      next.set("$skip", String(o.skip + size));
      body["@odata.nextLink"] = `${sim.url}${url.pathname}?${next.toString()}`;
    }
    return odata(body);
  };

  const entity = (type: EntityType, item: unknown, q: URLSearchParams, set: string): Answer => {
    let o: QueryOptions;
    try {
      o = parseQuery(q, type, false, maxPageSize);
    } catch (e) {
      if (e instanceof QueryError) throw queryRefusal(e.message);
      throw e;
    }
    return odata({ "@odata.context": metadata(`${withSelect(set, o.select)}/$entity`), ...render(type, item, o.select, o.expand) });
  };

  interface Ctx {
    method: string;
    url: URL;
    path: string;
    query: URLSearchParams;
    body: () => unknown;
  }
  type Handler = (ctx: Ctx, m: RegExpExecArray) => Answer;
  interface Route {
    pattern: RegExp;
    methods: Partial<Record<string, Handler>>;
  }
  let downAt: number | undefined;
  const write = (method: string, path: string, id: number | null, fields: Json) => {
    writes.push({ method, path, id, fields: redact(fields) });
    if (downAt !== undefined && writes.length >= downAt) faults.down(true);
  };

  const routes: Route[] = [
    {
      pattern: /^\/Users$/,
      methods: {
        GET: ({ query, url }) => collection(userType, [...users.values()], query, "Users", url),
        POST: ({ body, path }) => {
          const b = body();
          if (!binds(b, USER_PROPS, { Groups: bindsUserGroups })) throw notValid("user");
          const problems = userFieldProblems(b, null);
          if (problems.length > 0) throw refuse(problems);
          refuseTaken(b, null);
          const { memberships, primary } = resolveGroups(b, null);
          const u = newUser(false);
          applyUserFields(u, b);
          u.memberships = memberships;
          u.PrimaryGroupId = primary;
          users.set(u.Id, u);
          write("POST", path, u.Id, b);
          return odata({ "@odata.context": metadata("Users/$entity"), ...userRow(u) }, 201, {
            location: `${sim.url}${API}/Users(${u.Id})`,
          });
        },
      },
    },
    {
      pattern: /^\/Users\((-?[0-9]+)\)$/,
      methods: {
        GET: ({ query }, m) => entity(userType, userById(m[1] as string), query, "Users"),
        PATCH: ({ body, path }, m) => {
          const u = userById(m[1] as string);
          const b = body();
          if (!binds(b, USER_PROPS, { Groups: bindsUserGroups })) throw notValid("delta");
          const problems = userFieldProblems(b, u);
          if (problems.length > 0) throw refuse(problems);
          refuseTaken(b, u.Id);
          const { memberships, primary } = resolveGroups(b, u);
          applyUserFields(u, b);
          u.memberships = memberships;
          u.PrimaryGroupId = primary;
          write("PATCH", path, u.Id, b);
          return noContent();
        },
        DELETE: ({ path }, m) => {
          const u = userById(m[1] as string);
          deleteUser(u);
          write("DELETE", path, u.Id, {});
          return noContent();
        },
      },
    },
    {
      // The alternate key is an OData string literal: Users(Number='101').
      pattern: /^\/Users\(Number='((?:[^']|'')*)'\)$/,
      methods: {
        GET: ({ query }, m) => {
          const u = userByNumber((m[1] as string).replaceAll("''", "'"));
          if (!u) throw noEntity();
          return entity(userType, u, query, "Users");
        },
      },
    },
    {
      pattern: /^\/Users\((-?[0-9]+)\)\/Groups$/,
      methods: {
        GET: ({ query, url }, m) => {
          const u = userById(m[1] as string);
          return collection(userGroupType, viewsOf(u), query, `Users(${u.Id})/Groups`, url);
        },
      },
    },
    {
      pattern: /^\/Users\/Pbx\.BatchDelete$/,
      methods: {
        POST: ({ body, path }) => {
          const b = body();
          if (!isObject(b) || !Object.keys(b).every((k) => k === "ids") || !Array.isArray(b.ids) || !b.ids.every(isInt32)) {
            throw notValid("parameters");
          }
          const errors: Json[] = [];
          for (const id of b.ids as number[]) {
            const u = users.get(id);
            if (!u) {
              errors.push({ Error: W.NOT_FOUND, ExtensionNumber: null });
              continue;
            }
            if (u.operator) {
              errors.push({ Error: W.OPERATOR, ExtensionNumber: u.fields.Number });
              continue;
            }
            users.delete(id);
            write("POST", path, id, {});
          }
          return odata({ "@odata.context": metadata("Collection(Pbx.UserDeleteError)"), value: errors });
        },
      },
    },
    {
      pattern: /^\/Users\/Pbx\.GetFirstAvailableExtensionNumber\(\)$/,
      methods: {
        GET: () => odata({ "@odata.context": metadata("Pbx.FirstAvailableNumber"), Number: firstAvailableNumber() }),
      },
    },
    {
      pattern: /^\/Groups$/,
      methods: {
        GET: ({ query, url }) => collection(groupType, [...groups.values()], query, "Groups", url),
        POST: ({ body, path }) => {
          const b = body();
          if (!binds(b, GROUP_PROPS, { Members: bindsMembers })) throw notValid("group");
          const { members } = checkGroupBody(b, null);
          if (typeof b.Number === "string" && [...groups.values()].some((g) => g.fields.Number === b.Number)) throw one("Number", W.IN_USE);
          const g: StoredGroup = { Id: nextDnId++, fields: { Language: "EN", TimeZoneId: "51" }, handMade: false };
          applyGroupFields(g, b);
          g.fields.IsDefault = false;
          if (typeof g.fields.Number !== "string" || g.fields.Number === "") g.fields.Number = nextNumberForGroup();
          groups.set(g.Id, g);
          if (members) setMembers(g, members);
          write("POST", path, g.Id, b);
          return odata({ "@odata.context": metadata("Groups/$entity"), ...groupRow(g) }, 201, {
            location: `${sim.url}${API}/Groups(${g.Id})`,
          });
        },
      },
    },
    {
      pattern: /^\/Groups\((-?[0-9]+)\)$/,
      methods: {
        GET: ({ query }, m) => entity(groupType, groupById(m[1] as string), query, "Groups"),
        PATCH: ({ body, path }, m) => {
          const g = groupById(m[1] as string);
          const b = body();
          if (!binds(b, GROUP_PROPS, { Members: bindsMembers })) throw notValid("delta");
          const { members } = checkGroupBody(b, g);
          applyGroupFields(g, b);
          if (members) setMembers(g, members);
          write("PATCH", path, g.Id, b);
          return noContent();
        },
        DELETE: ({ path }, m) => {
          const g = groupById(m[1] as string);
          deleteGroup(g);
          write("DELETE", path, g.Id, {});
          return noContent();
        },
      },
    },
    {
      pattern: /^\/Groups\((-?[0-9]+)\)\/Members$/,
      methods: {
        GET: ({ query, url }, m) => {
          const g = groupById(m[1] as string);
          return collection(userGroupType, memberViews(g), query, `Groups(${g.Id})/Members`, url);
        },
      },
    },
    {
      pattern: /^\/Groups\((-?[0-9]+)\)\/Rights$/,
      methods: {
        GET: ({ query, url }, m) => {
          const g = groupById(m[1] as string);
          return collection(rightsType, [...THREECX_ROLE_NAMES], query, `Groups(${g.Id})/Rights`, url);
        },
      },
    },
    {
      pattern: /^\/Groups\/Pbx\.DeleteCompanyById$/,
      methods: {
        POST: ({ body, path }) => {
          const b = body();
          if (!isObject(b) || !Object.keys(b).every((k) => k === "id") || !isInt32(b.id)) throw notValid("parameters");
          const g = groups.get(b.id);
          if (!g) throw one("id", W.NOT_FOUND);
          deleteGroup(g);
          write("POST", path, g.Id, {});
          return noContent();
        },
      },
    },
  ];

  const xapiAnswer = (method: string, url: URL, path: string, headers: IncomingMessage["headers"], raw: Buffer | null): Answer => {
    authenticate(headers);
    const rest = path.slice(API.length);
    for (const route of routes) {
      const m = route.pattern.exec(rest);
      if (!m) continue;
      const handler = route.methods[method];
      if (!handler) return { status: 405, headers: { allow: Object.keys(route.methods).join(", ") }, body: "" };
      const body = () => {
        if (raw === null) throw new Refusal(413, null);
        if (!/^application\/json\b/i.test(String(headers["content-type"] ?? ""))) throw new Refusal(415, null);
        try {
          return JSON.parse(raw.toString("utf8")) as unknown;
        } catch {
          // Not JSON at all: nothing binds, whatever the action's parameter is called.
          return undefined;
        }
      };
      return handler({ method, url, path, query: url.searchParams, body }, m);
    }
    return { status: 404, headers: {}, body: "" };
  };

  const answer = async (method: string, url: URL, headers: IncomingMessage["headers"], raw: Buffer | null): Promise<Answer> => {
    const fault = faults.next();
    if (fault) return fault;
    let path: string;
    try {
      path = decodeURIComponent(url.pathname);
    } catch {
      return { status: 400, headers: {}, body: "" };
    }
    try {
      if (path === "/connect/token") return await tokenAnswer(method, headers, raw ?? Buffer.alloc(0));
      if (path === API || path.startsWith(`${API}/`)) return xapiAnswer(method, url, path, headers, raw);
      if (path.startsWith("/xapi/")) {
        authenticate(headers);
      }
      return { status: 404, headers: {}, body: "" };
    } catch (e) {
      if (e instanceof Refusal) {
        return e.body === null ? { status: e.status, headers: e.headers, body: "" } : json(e.status, e.body, e.headers);
      }
      return json(500, { error: { code: "", message: "An error has occurred." } });
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
    const url = new URL(req.url ?? "/", sim.url);
    const method = req.method ?? "GET";
    const raw = await readBody(req);
    if (!(await faults.arrive(req))) return;
    const a = await answer(method, url, req.headers, raw);
    const query = Object.fromEntries(
      [...url.searchParams.keys()].map((k) => [k, /token|secret/i.test(k) ? REDACTED : (url.searchParams.get(k) ?? "")]),
    );
    calls.push({ method, path: url.pathname, query, status: a.status });
    res.writeHead(a.status, { ...a.headers, "content-length": Buffer.byteLength(a.body) });
    res.end(a.body);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  const url = await faults.listen(server);

  const sim: ThreeCxSimulator = {
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
      for (const token of tokens.values()) if (token.expiresAt > t) token.expiresAt = t;
    },
    liveAccessTokens,
    writes: () => copy(writes),
    users: () => [...users.values()].sort((a, b) => a.Id - b.Id).map(publicUser),
    groups: () => [...groups.values()].sort((a, b) => a.Id - b.Id).map(publicGroup),
    addUser(fields) {
      if (!/^[0-9]+$/.test(fields.Number)) throw new Error(`addUser: "${fields.Number}" is not an extension number`);
      if (userByNumber(fields.Number)) throw new Error(`addUser: ${fields.Number} exists`);
      const email = fields.EmailAddress ?? "";
      if (email !== "" && [...users.values()].some((u) => str(u.fields, "EmailAddress").toLowerCase() === email.toLowerCase())) {
        throw new Error(`addUser: ${email} is taken`);
      }
      const wanted = fields.Groups ?? [{ GroupId: defaultGroup.Id, RoleName: "users" }];
      for (const w of wanted) {
        if (!groups.has(w.GroupId)) throw new Error(`addUser: no group ${w.GroupId}`);
        if (!isRole(w.RoleName)) throw new Error(`addUser: no role ${w.RoleName}`);
      }
      const u = newUser(true);
      const { Groups: _groups, operator, ...rest } = fields;
      for (const k of MODELED_USER as readonly ModeledUserField[]) {
        const v = rest[k];
        if (v !== undefined) u.fields[k] = v;
      }
      u.memberships = wanted.map((w) => ({ Id: nextMembershipId++, GroupId: w.GroupId, RoleName: w.RoleName }));
      u.PrimaryGroupId = u.memberships[0]?.GroupId ?? null;
      u.operator = operator === true;
      users.set(u.Id, u);
      return publicUser(u);
    },
    addGroup(name) {
      if (name.trim() === "") throw new Error("addGroup: a group needs a name");
      if ([...groups.values()].some((g) => str(g.fields, "Name").toLowerCase() === name.toLowerCase()))
        throw new Error(`addGroup: ${name} exists`);
      const g: StoredGroup = {
        Id: nextDnId++,
        fields: { Number: nextNumberForGroup(), Name: name, IsDefault: false, Language: "EN", TimeZoneId: "51" },
        handMade: true,
      };
      groups.set(g.Id, g);
      return publicGroup(g);
    },
    close: () => faults.close(server),
  };
  return sim;
}
