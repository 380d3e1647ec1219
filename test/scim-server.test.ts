// The SCIM test service (scimmy + scimmy-routers around an in-memory store) behaves like a SCIM
// 2.0 service provider: RFC 7644 auth, CRUD, filters, PATCH, paging, errors, and the failure
// switches our adapter's tests rely on. Plain fetch only, nothing of ours in between.
import { afterEach, describe, expect, it } from "vitest";
import { type ScimServer, type ScimServerOptions, startScimServer } from "./support/scim-server.ts";

// biome-ignore lint/suspicious/noExplicitAny: the tests read SCIM JSON answers field by field.
type Json = any;

interface Answer {
  status: number;
  headers: Headers;
  body: Json;
}

const USER = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group";
const ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const ERROR = "urn:ietf:params:scim:api:messages:2.0:Error";
const LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

let servers: ScimServer[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});
const start = async (options: ScimServerOptions = {}) => {
  const server = await startScimServer(options);
  servers.push(server);
  return server;
};

async function call(
  server: ScimServer,
  method: string,
  path: string,
  o: { body?: unknown; token?: string | null; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const headers: Record<string, string> = { accept: "application/scim+json", ...o.headers };
  if (o.token !== null) headers.authorization = `Bearer ${o.token ?? server.token}`;
  if (o.body !== undefined) headers["content-type"] = "application/scim+json";
  const res = await fetch(`${server.url}${path}`, { method, headers, ...(o.body === undefined ? {} : { body: JSON.stringify(o.body) }) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text === "" ? undefined : JSON.parse(text) };
}

const alice = (overrides: Record<string, unknown> = {}) => ({
  schemas: [USER, ENTERPRISE],
  externalId: "ad-guid-0001",
  userName: "alice@example.com",
  name: { givenName: "Alice", familyName: "Archer" },
  displayName: "Alice Archer",
  emails: [{ value: "alice@example.com", type: "work", primary: true }],
  phoneNumbers: [{ value: "+49 30 1234 100", type: "work" }],
  title: "Head of Sales",
  active: true,
  [ENTERPRISE]: { department: "Sales" },
  ...overrides,
});
const patch = (...Operations: Json[]) => ({ schemas: [PATCH_OP], Operations });
const filterBy = (expression: string) => `filter=${encodeURIComponent(expression)}`;

describe("SCIM test service", () => {
  it("refuses requests without the bearer token, with a SCIM 401 and no token in the call log", async () => {
    const server = await start({ token: "s3cret-token" });
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/scim\/v2$/);
    for (const token of [null, "wrong"]) {
      const res = await call(server, "GET", "/Users", { token });
      expect(res.status).toBe(401);
      expect(res.headers.get("www-authenticate")).toMatch(/^Bearer/);
      expect(res.body).toMatchObject({ schemas: [ERROR], status: "401" });
    }
    const post = await call(server, "POST", "/Users", { token: null, body: alice() });
    expect(post.status).toBe(401);
    expect(server.users()).toEqual([]);
    expect((await call(server, "GET", "/ServiceProviderConfig", { token: null })).status).toBe(401);
    expect((await call(server, "GET", "/Users")).status).toBe(200);
    expect(JSON.stringify(server.calls)).not.toContain("s3cret-token");
    expect(server.calls.map((c) => c.status)).toEqual([401, 401, 401, 401, 200]);
  });

  it("creates a user with id and meta, finds it by externalId, refuses a duplicate userName", async () => {
    const server = await start();
    const created = await call(server, "POST", "/Users", { body: alice() });
    expect(created.status).toBe(201);
    const user = created.body;
    expect(user.id).toEqual(expect.any(String));
    expect(user.meta).toMatchObject({ resourceType: "User", location: `${server.url}/Users/${user.id}`, version: expect.any(String) });
    expect(Date.parse(user.meta.created)).not.toBeNaN();
    expect(created.headers.get("etag")).toBe(user.meta.version);
    expect(user).toMatchObject({
      schemas: expect.arrayContaining([USER, ENTERPRISE]),
      externalId: "ad-guid-0001",
      userName: "alice@example.com",
      name: { givenName: "Alice", familyName: "Archer" },
      displayName: "Alice Archer",
      emails: [{ value: "alice@example.com", type: "work", primary: true }],
      phoneNumbers: [{ value: "+49 30 1234 100", type: "work" }],
      title: "Head of Sales",
      active: true,
      [ENTERPRISE]: { department: "Sales" },
    });

    const found = await call(server, "GET", `/Users?${filterBy('externalId eq "ad-guid-0001"')}`);
    expect(found.status).toBe(200);
    expect(found.body).toMatchObject({ schemas: [LIST], totalResults: 1, startIndex: 1, itemsPerPage: 1 });
    expect(found.body.Resources[0].id).toBe(user.id);
    const none = await call(server, "GET", `/Users?${filterBy('externalId eq "ad-guid-9999"')}`);
    expect(none.body).toMatchObject({ totalResults: 0, Resources: [] });

    const byId = await call(server, "GET", `/Users/${user.id}`);
    expect(byId.status).toBe(200);
    expect(byId.body).toEqual(user);
    expect(server.users()).toEqual([user]);

    // userName is unique and caseExact false (RFC 7643 4.1.1, RFC 7644 3.3: 409 uniqueness).
    for (const userName of ["alice@example.com", "ALICE@example.com"]) {
      const dup = await call(server, "POST", "/Users", { body: alice({ externalId: "ad-guid-0002", userName }) });
      expect(dup.status).toBe(409);
      expect(dup.body).toEqual({ schemas: [ERROR], status: "409", scimType: "uniqueness", detail: expect.any(String) });
    }
    expect(server.users()).toHaveLength(1);
    expect((await call(server, "GET", "/Users/no-such-id")).body).toMatchObject({ schemas: [ERROR], status: "404" });
  });

  it("PATCHes (replace name.familyName, active false, enterprise department), PUTs, then DELETEs", async () => {
    const server = await start();
    const { body: user } = await call(server, "POST", "/Users", { body: alice() });
    const url = `/Users/${user.id}`;

    const patched = await call(server, "PATCH", url, {
      body: patch(
        { op: "replace", path: "name.familyName", value: "Xander" },
        { op: "replace", path: 'phoneNumbers[type eq "work"].value', value: "+49 30 1234 200" },
        { op: "replace", path: `${ENTERPRISE}:department`, value: "Support" },
      ),
    });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({
      name: { givenName: "Alice", familyName: "Xander" },
      phoneNumbers: [{ value: "+49 30 1234 200", type: "work" }],
      [ENTERPRISE]: { department: "Support" },
    });
    expect(patched.body.meta.version).not.toBe(user.meta.version);
    expect(patched.body.meta.created).toBe(user.meta.created);

    const deactivated = await call(server, "PATCH", url, { body: patch({ op: "replace", path: "active", value: false }) });
    expect(deactivated.status).toBe(200);
    expect(deactivated.body.active).toBe(false);
    // A PATCH that changes nothing answers 204 with no body (scimmy-routers).
    const same = await call(server, "PATCH", url, { body: patch({ op: "replace", path: "active", value: false }) });
    expect(same.status).toBe(204);
    expect(same.body).toBeUndefined();
    expect((await call(server, "PATCH", url, { body: patch({ op: "replace", path: "nosuch", value: 1 }) })).body).toMatchObject({
      status: "400",
      scimType: "invalidPath",
    });

    // If-Match with a stale version is refused; the current one is accepted.
    const stale = await call(server, "PUT", url, { body: alice(), headers: { "if-match": user.meta.version } });
    expect(stale.status).toBe(412);
    const put = await call(server, "PUT", url, {
      body: alice({ displayName: "Alice A. Archer", title: "VP Sales", phoneNumbers: undefined }),
      headers: { "if-match": deactivated.body.meta.version },
    });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ id: user.id, displayName: "Alice A. Archer", title: "VP Sales", active: true });
    expect(put.body.phoneNumbers).toBeUndefined();
    expect(server.users()[0]).toEqual(put.body);

    const deleted = await call(server, "DELETE", url);
    expect(deleted.status).toBe(204);
    expect(server.users()).toEqual([]);
    expect((await call(server, "GET", url)).status).toBe(404);
    expect((await call(server, "DELETE", url)).status).toBe(404);
  });

  it("refuses DELETE /Users when deleteAllowed is false: deactivation only", async () => {
    const server = await start({ deleteAllowed: false });
    const { body: user } = await call(server, "POST", "/Users", { body: alice() });
    const refused = await call(server, "DELETE", `/Users/${user.id}`);
    expect(refused.status).toBe(405);
    expect(refused.headers.get("allow")).toBe("GET, PUT, PATCH");
    expect(refused.body).toMatchObject({ schemas: [ERROR], status: "405" });
    expect(server.users()).toHaveLength(1);
    expect(
      (await call(server, "PATCH", `/Users/${user.id}`, { body: patch({ op: "replace", path: "active", value: false }) })).status,
    ).toBe(200);
    expect(server.users()[0]?.active).toBe(false);
    expect(server.writes().map((w) => w.method)).toEqual(["POST", "PATCH"]);
  });

  it("creates groups and adds and removes members with PATCH", async () => {
    const server = await start();
    const { body: a } = await call(server, "POST", "/Users", { body: alice() });
    const { body: b } = await call(server, "POST", "/Users", { body: alice({ externalId: "ad-guid-0002", userName: "bob@example.com" }) });
    const created = await call(server, "POST", "/Groups", {
      body: { schemas: [GROUP], externalId: "ad-grp-1", displayName: "Sales", members: [{ value: a.id }] },
    });
    expect(created.status).toBe(201);
    const group = created.body;
    expect(group).toMatchObject({ displayName: "Sales", meta: { resourceType: "Group" }, members: [{ value: a.id, type: "User" }] });
    const url = `/Groups/${group.id}`;

    const added = await call(server, "PATCH", url, { body: patch({ op: "add", path: "members", value: [{ value: b.id }] }) });
    expect(added.status).toBe(200);
    expect(added.body.members.map((m: Json) => m.value)).toEqual([a.id, b.id]);
    expect((await call(server, "GET", `/Users/${b.id}`)).body.groups).toEqual([
      expect.objectContaining({ value: group.id, display: "Sales" }),
    ]);

    const removed = await call(server, "PATCH", url, { body: patch({ op: "remove", path: `members[value eq "${a.id}"]` }) });
    expect(removed.status).toBe(200);
    expect(removed.body.members.map((m: Json) => m.value)).toEqual([b.id]);
    // The Entra ID form: remove with a value list.
    const emptied = await call(server, "PATCH", url, { body: patch({ op: "remove", path: "members", value: [{ value: b.id }] }) });
    expect(emptied.body.members).toBeUndefined();
    const unknown = await call(server, "PATCH", url, { body: patch({ op: "add", path: "members", value: [{ value: "no-such-user" }] }) });
    expect(unknown.body).toMatchObject({ status: "400", scimType: "invalidValue" });

    expect((await call(server, "GET", `/Groups?${filterBy('displayName eq "Sales"')}`)).body.totalResults).toBe(1);
    expect(server.groups()).toHaveLength(1);
    expect((await call(server, "DELETE", url)).status).toBe(204);
    expect(server.groups()).toEqual([]);
  });

  it("answers 404 on /Groups and hides Group from ResourceTypes when groups is false", async () => {
    const server = await start({ groups: false });
    const res = await call(server, "POST", "/Groups", { body: { schemas: [GROUP], displayName: "Sales" } });
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject({ schemas: [ERROR], status: "404" });
    expect((await call(server, "GET", "/Groups")).status).toBe(404);
    const types = await call(server, "GET", "/ResourceTypes");
    expect(types.body.Resources.map((r: Json) => r.id)).toEqual(["User"]);
    expect((await call(server, "GET", "/ResourceTypes/Group")).status).toBe(404);
    const config = await call(server, "GET", "/ServiceProviderConfig");
    expect(config.body).toMatchObject({
      patch: { supported: true },
      filter: { supported: true, maxResults: 200 },
      bulk: { supported: false },
    });
    expect(config.body.authenticationSchemes).toEqual([expect.objectContaining({ type: "oauthbearertoken" })]);
  });

  it("pages with startIndex and count, capped at maxResults", async () => {
    const server = await start({ maxResults: 3 });
    for (let i = 1; i <= 7; i++) {
      const res = await call(server, "POST", "/Users", {
        body: { schemas: [USER], externalId: `ad-${i}`, userName: `user${i}@example.com` },
      });
      expect(res.status).toBe(201);
    }
    const page = async (query: string) => (await call(server, "GET", `/Users?${query}`)).body;
    const names = (body: Json) => body.Resources.map((r: Json) => r.userName);

    expect(await page("startIndex=3&count=2")).toMatchObject({ totalResults: 7, startIndex: 3, itemsPerPage: 2 });
    expect(names(await page("startIndex=3&count=2"))).toEqual(["user3@example.com", "user4@example.com"]);
    expect(names(await page("startIndex=6&count=3"))).toEqual(["user6@example.com", "user7@example.com"]);
    expect(await page("startIndex=6&count=3")).toMatchObject({ itemsPerPage: 2, totalResults: 7 });
    expect(await page("startIndex=20&count=3")).toMatchObject({ Resources: [], itemsPerPage: 0, totalResults: 7 });
    expect(names(await page("count=50"))).toHaveLength(3); // capped at maxResults
    expect(names(await page(""))).toHaveLength(3); // no count: maxResults
    expect(await page("count=0")).toMatchObject({ Resources: [], totalResults: 7 });
    expect((await call(server, "GET", "/ServiceProviderConfig")).body.filter.maxResults).toBe(3);

    // Walking every page finds every user exactly once.
    const seen: string[] = [];
    for (let start = 1; ; start += 3) {
      const body = await page(`startIndex=${start}&count=3`);
      seen.push(...names(body));
      if (start + body.itemsPerPage > body.totalResults) break;
    }
    expect(seen).toEqual(Array.from({ length: 7 }, (_, i) => `user${i + 1}@example.com`));
  });

  it("answers 429 with Retry-After, injected failures, and latency when told to", async () => {
    const server = await start();
    server.rateLimit(2, 7);
    for (let i = 0; i < 2; i++) {
      const res = await call(server, "GET", "/Users");
      expect(res.status).toBe(429);
      expect(res.headers.get("retry-after")).toBe("7");
      expect(res.body).toEqual({ schemas: [ERROR], status: "429", detail: expect.any(String) });
    }
    expect((await call(server, "GET", "/Users")).status).toBe(200);

    server.failNext(1);
    const failed = await call(server, "POST", "/Users", { body: alice() });
    expect(failed.status).toBe(503);
    expect(failed.body).toEqual({ schemas: [ERROR], status: "503", detail: expect.any(String) });
    server.failNext(1, 500);
    expect((await call(server, "GET", "/Users")).status).toBe(500);
    expect(server.users()).toEqual([]);
    expect(server.writes()).toEqual([]);

    server.latencyMs = 150;
    const t0 = performance.now();
    expect((await call(server, "GET", "/Users")).status).toBe(200);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(140);
  });

  it("resets every connection while down, then serves again", async () => {
    const server = await start();
    expect((await call(server, "GET", "/Users")).status).toBe(200); // a keep-alive connection now exists
    server.down(true);
    for (let i = 0; i < 2; i++) {
      const error = await call(server, "GET", "/Users").then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(TypeError); // fetch failed
      expect((error as { cause?: { code?: string } }).cause?.code).toBe("ECONNRESET");
    }
    server.down(false);
    expect((await call(server, "GET", "/Users")).status).toBe(200);
    expect(server.calls.map((c) => c.status)).toEqual([200, 0, 0, 200]);
  });

  it("logs calls and successful writes; addUser makes a hand-made user without externalId", async () => {
    const server = await start();
    const manual = server.addUser({ userName: "reception@example.com", displayName: "Reception", externalId: "should-be-dropped" });
    expect(manual.externalId).toBeUndefined();
    expect(manual.meta.location).toBe(`${server.url}/Users/${manual.id}`);
    expect((await call(server, "POST", "/Users", { body: alice({ userName: "reception@example.com" }) })).status).toBe(409);

    const body = alice();
    const { body: user } = await call(server, "POST", "/Users", { body });
    const ops = patch({ op: "replace", path: "title", value: "CEO" });
    await call(server, "PATCH", `/Users/${user.id}`, { body: ops });
    await call(server, "PATCH", `/Users/does-not-exist`, { body: ops });
    await call(server, "GET", `/Users?${filterBy('externalId eq "ad-guid-0001"')}&count=10`);
    await call(server, "DELETE", `/Users/${user.id}`);

    expect(server.writes()).toEqual([
      { method: "POST", resourceType: "User", id: user.id, body },
      { method: "PATCH", resourceType: "User", id: user.id, body: ops },
      { method: "DELETE", resourceType: "User", id: user.id, body: undefined },
    ]);
    expect(server.calls).toEqual([
      { method: "POST", path: "/Users", query: {}, status: 409 },
      { method: "POST", path: "/Users", query: {}, status: 201 },
      { method: "PATCH", path: `/Users/${user.id}`, query: {}, status: 200 },
      { method: "PATCH", path: "/Users/does-not-exist", query: {}, status: 404 },
      { method: "GET", path: "/Users", query: { filter: 'externalId eq "ad-guid-0001"', count: "10" }, status: 200 },
      { method: "DELETE", path: `/Users/${user.id}`, query: {}, status: 204 },
    ]);
    expect(server.users().map((u) => u.userName)).toEqual(["reception@example.com"]);
  });

  it("keeps two servers apart although scimmy is a process-wide singleton", async () => {
    const [one, two] = await Promise.all([start(), start({ maxResults: 5 })]);
    await call(one, "POST", "/Users", { body: alice() });
    expect(one.users()).toHaveLength(1);
    expect(two.users()).toEqual([]);
    expect((await call(two, "GET", "/Users")).body.totalResults).toBe(0);
    expect((await call(one, "GET", "/Users", { token: two.token })).status).toBe(401);
    expect((await call(one, "GET", "/ServiceProviderConfig")).body.filter.maxResults).toBe(200);
    expect((await call(two, "GET", "/ServiceProviderConfig")).body.filter.maxResults).toBe(5);
  });

  it("answers SCIM errors for bad JSON, bad filters, and unknown endpoints", async () => {
    const server = await start();
    const bad = await fetch(`${server.url}/Users`, {
      method: "POST",
      headers: { authorization: `Bearer ${server.token}`, "content-type": "application/scim+json" },
      body: "{not json",
    });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ schemas: [ERROR], status: "400", scimType: "invalidSyntax" });
    expect((await call(server, "GET", "/Users?filter=nonsense")).body).toMatchObject({ status: "400", scimType: "invalidFilter" });
    expect((await call(server, "GET", "/Nope")).body).toMatchObject({ schemas: [ERROR], status: "404" });
    expect(
      (await call(server, "POST", "/Users", { body: { schemas: [USER], userName: "x", phoneNumbers: [{ value: "1", type: "Work" }] } }))
        .body,
    ).toMatchObject({
      status: "400",
      scimType: "invalidValue",
    });
    const big = await call(server, "POST", "/Users", { body: { schemas: [USER], userName: "big", title: "x".repeat(1_100_000) } });
    expect(big.status).toBe(413);
  });
});
