// A SCIM 2.0 service provider that is not ours, for testing our SCIM target adapter: the
// protocol work (RFC 7643 schema coercion, RFC 7644 filters, PATCH semantics, list responses,
// error bodies) is done by the independent `scimmy` package, and the HTTP endpoints by
// `scimmy-routers` (Express). This file only adds what a real cloud PBX's SCIM service has and
// scimmy leaves to its host: an in-memory store, uniqueness of userName, ETags, absolute
// locations, bearer auth, and switches to misbehave (latency, 429, 5xx, connection resets).
//
// WHAT SCIMMY DOES ITSELF (scimmy 1.3.x, scimmy-routers 1.3.x, read in node_modules):
// - coerces every body against the User/Group schemas (+ EnterpriseUser): unknown attributes are
//   dropped, wrong types and non-canonical values (phoneNumbers.type "Work") are 400
//   invalidValue; read-only attributes (id, meta, groups) are ignored on the way in;
// - parses `filter` into resource.filter and `attributes`/`excludedAttributes`, but does NOT
//   apply the filter: the egress handler must (we call resource.filter.match());
// - sorts (sortBy/sortOrder) and pages (startIndex/count, default count 20) the array that egress
//   returns, in Messages.ListResponse; totalResults is that array's length;
// - applies PATCH operations to what egress returns and hands the result to ingress like a PUT;
//   answers 204 with no body when the patch changed nothing;
// - shapes errors as {"schemas":[…:Error],"status":"409","scimType":"uniqueness","detail":"…"},
//   but only for 307, 308, 400, 401, 403, 404, 409, 412, 413, 500, 501: it throws on any other
//   status (429, 503, 405), so those bodies are built here by hand;
// - knows nothing of userName uniqueness, meta.created/lastModified/version, If-Match: ingress
//   and the middleware below do these.
//
// SCIMMY IS A PROCESS-WIDE SINGLETON: SCIMMY.Resources.declare and SCIMMY.Config are global, so
// the handlers are declared once, and each server reaches its own store through the router's
// `context` option. Per-server differences (groups off, maxResults) are applied around the router.
//
// Express 4, not 5: scimmy-routers casts startIndex/count to numbers by assigning to req.query,
// which Express 5 recomputes on every read, so with Express 5 paging is silently ignored.
import { randomUUID } from "node:crypto";
import type { AddressInfo } from "node:net";
import express, { type NextFunction, type Request, type Response } from "express";
import SCIMMY from "scimmy";
import SCIMMYRouters from "scimmy-routers";

export type ScimJson = Record<string, unknown> & { id: string; schemas: string[]; meta: ScimMeta };
export interface ScimMeta {
  resourceType: "User" | "Group";
  created: string;
  lastModified: string;
  version: string;
  location: string;
}
export interface ScimCall {
  method: string;
  /** Path under the SCIM base, e.g. "/Users/1f0…"; query string apart. */
  path: string;
  query: Record<string, string>;
  /** HTTP status answered; 0 when the connection was reset (see down()). */
  status: number;
}
export interface ScimWrite {
  method: "POST" | "PUT" | "PATCH" | "DELETE";
  resourceType: "User" | "Group";
  id: string;
  /** The request body as sent (undefined for DELETE). */
  body: unknown;
}
export interface ScimServerOptions {
  /** Bearer token the service accepts; random when omitted. */
  token?: string;
  /** false: DELETE /Users/{id} answers 405, like services that only deactivate. Default true. */
  deleteAllowed?: boolean;
  /** false: /Groups answers 404 and ResourceTypes/Schemas do not list Group. Default true. */
  groups?: boolean;
  /** Largest page served (ServiceProviderConfig filter.maxResults); also the page size when
   *  the client sends no count. Default 200. */
  maxResults?: number;
}
export interface ScimServer {
  /** SCIM base URL, e.g. http://127.0.0.1:PORT/scim/v2 (no trailing slash). */
  readonly url: string;
  readonly token: string;
  /** Delay, in milliseconds, before each answer (resets and errors included). */
  latencyMs: number;
  /** The next n requests answer 429 with Retry-After: retryAfterSeconds and a SCIM error body. */
  rateLimit(n: number, retryAfterSeconds: number): void;
  /** The next n requests answer `status` (default 503) with a SCIM error body. */
  failNext(n: number, status?: number): void;
  /** While true every request's connection is reset (ECONNRESET), as an unreachable service. */
  down(isDown: boolean): void;
  /** Goes down (as down(true)) the moment its nth write is answered: an outage at a set point of a run. */
  downAfterWrites(n: number): void;
  /** Every request seen, in order. Never holds the token. */
  readonly calls: ScimCall[];
  /** POST/PUT/PATCH/DELETE on Users or Groups that succeeded (2xx), in order. */
  writes(): ScimWrite[];
  /** Stored users, as GET /Users/{id} would serve them. */
  users(): ScimJson[];
  /** Stored groups, as GET /Groups/{id} would serve them. */
  groups(): ScimJson[];
  /** A user made by hand in the service's admin console: not by our sync, so no externalId. */
  addUser(resource: Record<string, unknown>): ScimJson;
  close(): Promise<void>;
}

const BASE_PATH = "/scim/v2";
const ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error";
const LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
const GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group";
const JSON_LIMIT = "1mb"; // scimmy's own bulk maxPayloadSize; a 10 000-member group fits.

type Stored = Record<string, unknown> & { id: string; meta: Omit<ScimMeta, "location"> };

interface State {
  origin: string;
  groupsEnabled: boolean;
  users: Map<string, Stored>;
  groups: Map<string, Stored>;
  versionCounter: number;
}

const toJson = (value: unknown): Record<string, unknown> => JSON.parse(JSON.stringify(value ?? {})) as Record<string, unknown>;
const clone = <T>(value: T): T => structuredClone(value);
const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);

// Thrown from handlers; scimmy-routers turns it into a SCIM error body (scimType "" = none).
const scimError = (status: number, detail: string, scimType = "") => new SCIMMY.Types.Error(status, scimType, detail);

// Error bodies for statuses scimmy refuses to shape (429, 503, 405): same layout as its own.
function sendError(res: Response, status: number, detail: string, scimType?: string): void {
  res
    .status(status)
    .type("application/scim+json")
    .send(JSON.stringify({ schemas: [ERROR_SCHEMA], status: String(status), ...(scimType ? { scimType } : {}), detail }));
}

function contentOf(record: Record<string, unknown>): string {
  const { id: _id, meta: _meta, groups: _groups, ...rest } = record;
  return JSON.stringify(rest);
}

function nextMeta(state: State, resourceType: "User" | "Group", previous: Stored | undefined): Stored["meta"] {
  const now = new Date().toISOString();
  state.versionCounter += 1;
  return { resourceType, created: previous?.meta.created ?? now, lastModified: now, version: `W/"${state.versionCounter}"` };
}

function checkUserNameFree(state: State, userName: unknown, exceptId: string | undefined): void {
  if (typeof userName !== "string") return; // scimmy already refuses a missing userName
  const wanted = userName.toLowerCase(); // RFC 7643 4.1.1: userName is caseExact false
  for (const user of state.users.values()) {
    if (user.id !== exceptId && String(user.userName).toLowerCase() === wanted) {
      throw scimError(409, `userName '${userName}' is already taken`, "uniqueness");
    }
  }
}

function storeUser(state: State, data: Record<string, unknown>, id: string | undefined): Stored {
  const previous = id === undefined ? undefined : state.users.get(id);
  if (id !== undefined && previous === undefined) throw scimError(404, `Resource ${id} not found`);
  checkUserNameFree(state, data.userName, id);
  const { id: _id, meta: _meta, groups: _groups, password: _password, ...content } = data;
  const record: Stored = { ...content, id: id ?? randomUUID(), meta: previous?.meta ?? nextMeta(state, "User", undefined) };
  // A PATCH that ends where it started (scimmy still calls ingress) keeps version and dates.
  if (previous !== undefined && contentOf(previous) !== contentOf(record)) record.meta = nextMeta(state, "User", previous);
  state.users.set(record.id, record);
  return record;
}

function userOut(state: State, user: Stored): Record<string, unknown> {
  if (!state.groupsEnabled) return clone(user);
  const groups = [...state.groups.values()]
    .filter((g) => Array.isArray(g.members) && g.members.some((m) => isRecord(m) && m.value === user.id))
    .map((g) => ({ value: g.id, display: g.displayName, type: "direct", $ref: `${state.origin}${BASE_PATH}/Groups/${g.id}` }));
  return { ...clone(user), ...(groups.length > 0 ? { groups } : {}) };
}

function groupOut(state: State, group: Stored): Record<string, unknown> {
  const out = clone(group);
  if (Array.isArray(out.members)) {
    out.members = out.members.filter(isRecord).map((m) => {
      const value = String(m.value);
      const user = state.users.get(value);
      const type = user ? "User" : "Group";
      const display = user ? (user.displayName ?? user.userName) : state.groups.get(value)?.displayName;
      return { value, type, ...(display === undefined ? {} : { display }), $ref: `${state.origin}${BASE_PATH}/${type}s/${value}` };
    });
  }
  return out;
}

// scimmy leaves filtering to egress. Its Filter.match() throws a TypeError on a sub-attribute
// filter (`emails.value eq "…"`, `name.familyName eq "…"`) as soon as ONE resource lacks the
// parent attribute, which scimmy turns into 400 invalidValue for the whole search; a real
// service just does not match that resource, so match one resource at a time.
function applyFilter(filter: SCIMMY.Types.Filter | undefined, resources: Record<string, unknown>[]): Record<string, unknown>[] {
  if (filter === undefined) return resources;
  return resources.filter((resource) => {
    try {
      return filter.match([resource]).length > 0;
    } catch {
      return false;
    }
  });
}

/**
 * A list as egress hands it to scimmy. scimmy coerces every resource egress returns and then
 * pages them, which for a directory of 10,000 users costs seconds a page. Unsorted, only the
 * page asked for is given, in an array as long as the whole list (scimmy skips the holes and
 * takes the length as totalResults, its documented way of paging in the handler); a sorted list
 * (or a start inside the first page, which scimmy would slice again) gets everything.
 */
function listed<T>(resource: SCIMMY.Types.Resource, all: T[], out: (item: T) => Record<string, unknown>): Record<string, unknown>[] {
  const matched = resource.filter === undefined ? all.map(out) : applyFilter(resource.filter, all.map(out));
  const { sortBy, startIndex = 1, count = 20 } = (resource.constraints ?? {}) as { sortBy?: string; startIndex?: number; count?: number };
  if (sortBy !== undefined || (startIndex > 1 && startIndex <= count)) return matched;
  const window = new Array<Record<string, unknown>>(matched.length);
  for (let i = startIndex - 1; i < Math.min(matched.length, startIndex - 1 + count); i++) window[i] = matched[i] as Record<string, unknown>;
  return window;
}

function stateOf(ctx: unknown): State {
  if (!isRecord(ctx) || !(ctx.users instanceof Map)) throw scimError(500, "SCIM test server: missing context");
  return ctx as unknown as State;
}

function declareOnce(): void {
  if (SCIMMY.Resources.declared(SCIMMY.Resources.User)) return;
  SCIMMY.Resources.declare(SCIMMY.Resources.User, {
    extensions: [{ schema: SCIMMY.Schemas.EnterpriseUser, required: false }],
    ingress: (resource: SCIMMY.Types.Resource, instance: unknown, ctx: unknown) => {
      const state = stateOf(ctx);
      return userOut(state, storeUser(state, toJson(instance), resource.id));
    },
    egress: (resource: SCIMMY.Types.Resource, ctx: unknown) => {
      const state = stateOf(ctx);
      if (resource.id !== undefined) {
        const user = state.users.get(resource.id);
        if (user === undefined) throw scimError(404, `Resource ${resource.id} not found`);
        return userOut(state, user);
      }
      return listed(resource, [...state.users.values()], (u) => userOut(state, u));
    },
    degress: (resource: SCIMMY.Types.Resource, ctx: unknown) => {
      const state = stateOf(ctx);
      const id = String(resource.id);
      if (!state.users.delete(id)) throw scimError(404, `Resource ${id} not found`);
      for (const group of state.groups.values()) {
        const members = Array.isArray(group.members) ? group.members : [];
        if (!members.some((m) => isRecord(m) && m.value === id)) continue;
        const kept = members.filter((m) => !isRecord(m) || m.value !== id);
        if (kept.length > 0) group.members = kept;
        else delete group.members;
        group.meta = nextMeta(state, "Group", group);
      }
    },
  });
  SCIMMY.Resources.declare(SCIMMY.Resources.Group, {
    ingress: (resource: SCIMMY.Types.Resource, instance: unknown, ctx: unknown) => {
      const state = stateOf(ctx);
      const id = resource.id;
      const previous = id === undefined ? undefined : state.groups.get(id);
      if (id !== undefined && previous === undefined) throw scimError(404, `Resource ${id} not found`);
      const { id: _id, meta: _meta, ...content } = toJson(instance);
      const members = Array.isArray(content.members) ? content.members.filter(isRecord) : [];
      for (const member of members) {
        const value = String(member.value);
        if (!state.users.has(value) && !state.groups.has(value)) {
          throw scimError(400, `Member '${value}' is not a known User or Group`, "invalidValue");
        }
      }
      if (members.length > 0) {
        // Store only the reference; display and $ref are computed on the way out.
        const unique = [...new Map(members.map((m) => [String(m.value), { value: String(m.value) }])).values()];
        content.members = unique;
      } else delete content.members;
      const record: Stored = { ...content, id: id ?? randomUUID(), meta: previous?.meta ?? nextMeta(state, "Group", undefined) };
      if (previous !== undefined && contentOf(previous) !== contentOf(record)) record.meta = nextMeta(state, "Group", previous);
      state.groups.set(record.id, record);
      return groupOut(state, record);
    },
    egress: (resource: SCIMMY.Types.Resource, ctx: unknown) => {
      const state = stateOf(ctx);
      if (resource.id !== undefined) {
        const group = state.groups.get(resource.id);
        if (group === undefined) throw scimError(404, `Resource ${resource.id} not found`);
        return groupOut(state, group);
      }
      return listed(resource, [...state.groups.values()], (g) => groupOut(state, g));
    },
    degress: (resource: SCIMMY.Types.Resource, ctx: unknown) => {
      const state = stateOf(ctx);
      const id = String(resource.id);
      if (!state.groups.delete(id)) throw scimError(404, `Resource ${id} not found`);
    },
  });
}

function configure(): void {
  // scimmy-routers' constructor sets patch, filter, sort and bulk on, and APPENDS its
  // authentication scheme to the global config on each construction: reset, then override.
  SCIMMY.Config.set({ authenticationSchemes: [] });
}

function reconfigure(): void {
  // Bulk off: the cloud PBX services we target do not offer /Bulk (scimmy-routers answers 501).
  SCIMMY.Config.set({ patch: true, filter: true, sort: true, etag: true, bulk: false, changePassword: false });
}

function resourceOfPath(path: string): { type: "User" | "Group"; id: string | undefined } | undefined {
  const match = /^\/(Users|Groups)(?:\/([^/]+))?\/?$/.exec(path);
  if (!match || match[2] === ".search") return undefined;
  return { type: match[1] === "Users" ? "User" : "Group", id: match[2] === undefined ? undefined : decodeURIComponent(match[2]) };
}

function absolutise(value: unknown, origin: string): void {
  if (Array.isArray(value)) {
    for (const item of value) absolutise(item, origin);
  } else if (isRecord(value)) {
    for (const [key, inner] of Object.entries(value)) {
      if ((key === "location" || key === "$ref") && typeof inner === "string" && inner.startsWith("/")) value[key] = origin + inner;
      else absolutise(inner, origin);
    }
  }
}

export async function startScimServer(options: ScimServerOptions = {}): Promise<ScimServer> {
  const token = options.token ?? `scim-${randomUUID()}`;
  const deleteAllowed = options.deleteAllowed ?? true;
  const groupsEnabled = options.groups ?? true;
  const maxResults = options.maxResults ?? 200;
  const state: State = { origin: "", groupsEnabled, users: new Map(), groups: new Map(), versionCounter: 0 };
  const calls: ScimCall[] = [];
  const writes: ScimWrite[] = [];
  let rateLimited = 0;
  let retryAfter = 1;
  let failing = 0;
  let failStatus = 503;
  let isDown = false;
  let downAt: number | undefined;

  declareOnce();
  configure();
  const isAuthorised = (req: Request): boolean => req.header("authorization") === `Bearer ${token}`;
  const router = new SCIMMYRouters({
    type: "bearer",
    handler: (req) => {
      if (!isAuthorised(req)) throw new Error("Bearer token missing or invalid");
      return "scim-client";
    },
    context: () => state,
  });
  reconfigure();

  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false); // only our own ETags (meta.version); express still answers 304 to If-None-Match on them

  const server: ScimServer = {
    url: "",
    token,
    latencyMs: 0,
    rateLimit(n, retryAfterSeconds) {
      rateLimited = n;
      retryAfter = retryAfterSeconds;
    },
    failNext(n, status = 503) {
      failing = n;
      failStatus = status;
    },
    down(value) {
      downAt = undefined;
      isDown = value;
    },
    downAfterWrites(n) {
      downAt = n;
    },
    calls,
    writes: () => clone(writes),
    users: () => [...state.users.values()].map((u) => served("User", userOut(state, u))),
    groups: () => [...state.groups.values()].map((g) => served("Group", groupOut(state, g))),
    addUser(resource) {
      const { externalId: _externalId, ...rest } = resource;
      const instance = new SCIMMY.Schemas.User({ schemas: [SCIMMY.Schemas.User.id], ...rest }, "in");
      return served("User", userOut(state, storeUser(state, toJson(instance), undefined)));
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        http.close((error) => (error ? reject(error) : resolve()));
        http.closeAllConnections();
      }),
  };

  function served(type: "User" | "Group", record: Record<string, unknown>): ScimJson {
    const Schema = type === "User" ? SCIMMY.Schemas.User : SCIMMY.Schemas.Group;
    const out = toJson(new Schema(record, "out", `${BASE_PATH}/${type}s`));
    absolutise(out, state.origin);
    return out as ScimJson;
  }

  // 1. Log every call, and reset the connection while down.
  app.use((req, res, next) => {
    const url = new URL(req.originalUrl, "http://localhost");
    const path = url.pathname.startsWith(BASE_PATH) ? url.pathname.slice(BASE_PATH.length) || "/" : url.pathname;
    const query: Record<string, string> = {};
    for (const [key, value] of url.searchParams) if (value !== token) query[key] = value;
    const call: ScimCall = { method: req.method, path, query, status: 0 };
    calls.push(call);
    if (isDown) {
      req.socket.resetAndDestroy();
      return;
    }
    res.on("finish", () => {
      call.status = res.statusCode;
    });
    next();
  });

  // 2. Latency, then the 429 and failure switches (before auth, as a front proxy would).
  app.use((_req, res, next) => {
    const go = () => {
      // Down while this request waited out the latency: it is dropped too.
      if (isDown) {
        res.socket?.resetAndDestroy();
        return;
      }
      if (rateLimited > 0) {
        rateLimited -= 1;
        res.setHeader("Retry-After", String(retryAfter));
        sendError(res, 429, `Too many requests: retry after ${retryAfter} s`);
      } else if (failing > 0) {
        failing -= 1;
        sendError(res, failStatus, `Injected failure ${failStatus}`);
      } else next();
    };
    if (server.latencyMs > 0) setTimeout(go, server.latencyMs);
    else go();
  });

  // 3. Bearer auth on every request (scimmy-routers checks too, but only inside its router).
  app.use((req, res, next) => {
    if (isAuthorised(req)) return next();
    res.setHeader("WWW-Authenticate", 'Bearer realm="scim"');
    sendError(res, 401, "Bearer token missing or invalid");
  });

  app.use(BASE_PATH, express.json({ type: ["application/scim+json", "application/json"], limit: JSON_LIMIT }));

  // 4. What the service adds around scimmy: switches, If-Match, page size, response rewrites.
  app.use(BASE_PATH, (req, res, next) => {
    const target = resourceOfPath(req.path);
    const isGroupsPath = /^\/Groups(\/|$)/.test(req.path);
    if (!groupsEnabled && (isGroupsPath || req.path === "/ResourceTypes/Group" || req.path === `/Schemas/${GROUP_SCHEMA}`)) {
      return sendError(res, 404, "Endpoint Not Found");
    }
    if (!deleteAllowed && req.method === "DELETE" && target?.type === "User") {
      // 405, not 403: the method is not offered on Users at all, whatever the token may do;
      // RFC 7644 3.12 keeps 403 for "not permitted based on the supplied authorization", which
      // would send a client looking for a permission problem. Such services (8x8's guide says
      // it never deletes a user) want PATCH active=false instead.
      res.setHeader("Allow", "GET, PUT, PATCH");
      return sendError(res, 405, "Users cannot be deleted here: deactivate them (active=false) instead");
    }
    const ifMatch = req.header("if-match");
    if (ifMatch !== undefined && target?.id !== undefined && ["PUT", "PATCH", "DELETE"].includes(req.method)) {
      const current = (target.type === "User" ? state.users : state.groups).get(target.id);
      const wanted = ifMatch.split(",").map((tag) => tag.trim());
      if (current !== undefined && !wanted.includes("*") && !wanted.includes(current.meta.version)) {
        return sendError(res, 412, `Resource ${target.id} has changed: version is ${current.meta.version}`);
      }
    }
    if (typeof req.query.filter === "string" && req.query.filter.trim() !== "") {
      // scimmy throws a plain TypeError (so 500) on some malformed filters, e.g. a bare
      // `filter=userName`; a service answers 400 invalidFilter (RFC 7644 3.4.2.2).
      try {
        new SCIMMY.Types.Filter(req.query.filter);
      } catch (error) {
        if (!(error instanceof SCIMMY.Types.Error)) return sendError(res, 400, `Invalid filter: ${String(error)}`, "invalidFilter");
      }
    }
    if (req.method === "GET" && target !== undefined && target.id === undefined) {
      // scimmy pages at count=20 when none is asked, and never caps count at maxResults.
      const asked = Number(req.query.count);
      req.query.count = String(Number.isInteger(asked) && req.query.count !== "" ? Math.min(Math.max(asked, 0), maxResults) : maxResults);
    }
    const bodyIn =
      req.body === undefined || (isRecord(req.body) && Object.keys(req.body).length === 0 && req.method === "DELETE")
        ? undefined
        : clone(req.body);
    let writtenId = target?.id;
    const json = res.json.bind(res);
    res.json = (body: unknown) => {
      const out = body === undefined ? body : (JSON.parse(JSON.stringify(body)) as unknown);
      if (isRecord(out)) {
        absolutise(out, state.origin);
        if (Array.isArray(out.schemas) && out.schemas.includes(LIST_SCHEMA) && Array.isArray(out.Resources)) {
          let resources: unknown[] = out.Resources;
          if (!groupsEnabled) {
            resources = resources.filter((r) => !isRecord(r) || (r.id !== "Group" && r.id !== GROUP_SCHEMA));
            out.totalResults = resources.length;
          }
          // scimmy quirks against RFC 7644 3.4.2: past the end it serves the first page again,
          // and itemsPerPage echoes the asked count instead of the number returned.
          if (Number(out.startIndex) > Number(out.totalResults)) resources = [];
          out.Resources = resources;
          out.itemsPerPage = resources.length;
        }
        if (req.path === "/ServiceProviderConfig" && isRecord(out.filter)) out.filter.maxResults = maxResults;
        const meta = out.meta;
        if (typeof out.id === "string" && isRecord(meta) && typeof meta.version === "string") {
          writtenId = out.id;
          if (target !== undefined) res.setHeader("ETag", meta.version);
        }
      }
      return json(out);
    };
    res.on("finish", () => {
      const method = req.method;
      if (target === undefined || res.statusCode < 200 || res.statusCode > 299 || writtenId === undefined) return;
      if (method === "POST" || method === "PUT" || method === "PATCH" || method === "DELETE") {
        writes.push({ method, resourceType: target.type, id: writtenId, body: method === "DELETE" ? undefined : bodyIn });
        if (downAt !== undefined && writes.length >= downAt) isDown = true;
      }
    });
    next();
  });

  app.use(BASE_PATH, router);
  app.use((_req, res) => sendError(res, 404, "Endpoint Not Found"));
  app.use(
    (
      error: { status?: number; statusCode?: number; type?: string; message?: string },
      _req: Request,
      res: Response,
      _next: NextFunction,
    ) => {
      if (res.headersSent) return; // scimmy-routers answers 5xx itself, then passes the error on
      const status = error.status ?? error.statusCode ?? 500;
      const scimType = status === 400 ? "invalidSyntax" : undefined;
      sendError(res, status, error.message ?? "Internal error", scimType);
    },
  );

  const http = app.listen(0, "127.0.0.1");
  await new Promise<void>((resolve, reject) => {
    http.once("listening", resolve);
    http.once("error", reject);
  });
  const { port } = http.address() as AddressInfo;
  state.origin = `http://127.0.0.1:${port}`;
  Object.assign(server, { url: `${state.origin}${BASE_PATH}` });
  return server;
}
