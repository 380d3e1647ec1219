// The Yeastar P-Series simulator refuses what the real Open API refuses (and, where Yeastar's
// guide is silent, the stricter thing), so adapter tests against it cannot pass by accident.
// Plain fetch against the simulator; node:http only where fetch would add a header itself.
import { request } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { startYeastarSimulator, type YeastarSimulator, type YeastarSimulatorOptions } from "./support/yeastar-simulator.ts";

// biome-ignore lint/suspicious/noExplicitAny: the tests read Yeastar's JSON answers field by field.
type Json = any;

interface Answer {
  status: number;
  headers: Headers;
  body: Json;
  text: string;
}

const UA = "pbx-ad-sync-test/1.0";
const PASSWORD = "Kq7mZt9pWx";

let sims: YeastarSimulator[] = [];
afterEach(async () => {
  await Promise.all(sims.map((s) => s.close()));
  sims = [];
});
const start = async (options: YeastarSimulatorOptions = {}) => {
  const sim = await startYeastarSimulator(options);
  sims.push(sim);
  return sim;
};

interface CallOptions {
  token?: string;
  body?: unknown;
  query?: Record<string, string>;
  headers?: Record<string, string>;
}

async function call(sim: YeastarSimulator, method: string, endpoint: string, o: CallOptions = {}): Promise<Answer> {
  const q = new URLSearchParams(o.query);
  if (o.token !== undefined) q.set("access_token", o.token);
  const qs = q.toString();
  const headers: Record<string, string> = { "User-Agent": UA, ...o.headers };
  if (o.body !== undefined && headers["Content-Type"] === undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(`${sim.url}/openapi/v1.0/${endpoint}${qs ? `?${qs}` : ""}`, {
    method,
    headers,
    ...(o.body === undefined ? {} : { body: typeof o.body === "string" ? o.body : JSON.stringify(o.body) }),
  });
  const text = await res.text();
  let body: Json = null;
  try {
    body = JSON.parse(text);
  } catch {
    body = null;
  }
  return { status: res.status, headers: res.headers, body, text };
}

const login = async (sim: YeastarSimulator) => {
  const a = await call(sim, "POST", "get_token", { body: { username: sim.clientId, password: sim.clientSecret } });
  expect(a.body.errcode).toBe(0);
  return a.body as { access_token: string; refresh_token: string };
};

const extensionBody = (number: string, over: Record<string, unknown> = {}) => ({
  type: "SIP",
  number,
  first_name: "Ada",
  last_name: "Lovelace",
  email_addr: `ada.${number}@example.com`,
  user_password: PASSWORD,
  reg_name: number,
  reg_password: "Rg7Tx2pQ9z",
  concurrent_registrations: 1,
  presence_status: "available",
  ...over,
});

const createExtension = async (sim: YeastarSimulator, token: string, number: string, over: Record<string, unknown> = {}) =>
  call(sim, "POST", "extension/create", { token, body: extensionBody(number, over) });

/** A request with exactly these headers: fetch would add its own User-Agent. */
function rawGet(sim: YeastarSimulator, path: string, headers: Record<string, string>): Promise<{ status: number; body: Json }> {
  return new Promise((resolve, reject) => {
    const req = request(`${sim.url}${path}`, { method: "GET", headers, setHost: true }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => {
        text += c;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("requests Yeastar does not take", () => {
  it("refuses a call without a User-Agent, with an empty one, and with Node's bare default", async () => {
    const sim = await start();
    const { access_token } = await login(sim);
    const path = `/openapi/v1.0/extension/list?access_token=${access_token}`;
    expect(await rawGet(sim, path, {})).toEqual({ status: 403, body: { errcode: 10005, errmsg: "ACCESS DENIED" } });
    expect((await rawGet(sim, path, { "User-Agent": "  " })).status).toBe(403);
    const bare = await fetch(`${sim.url}${path}`);
    expect(bare.status).toBe(403);
    expect((await rawGet(sim, path, { "User-Agent": "OpenAPI" })).body).toMatchObject({ errcode: 0 });
    // get_token needs one too.
    const res = await fetch(`${sim.url}/openapi/v1.0/get_token`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ username: sim.clientId, password: sim.clientSecret }),
    });
    expect(res.status).toBe(403);
    expect(sim.liveAccessTokens()).toBe(1);
  });

  it("refuses the wrong HTTP method for each kind of endpoint", async () => {
    const sim = await start();
    const { access_token: token } = await login(sim);
    const getToken = await call(sim, "GET", "get_token", { query: { username: sim.clientId, password: sim.clientSecret } });
    expect(getToken.status).toBe(405);
    expect(getToken.headers.get("allow")).toBe("POST");
    expect(getToken.body).toMatchObject({ errcode: 10001 });
    expect((await call(sim, "POST", "extension/list", { token, body: {} })).status).toBe(405);
    expect((await call(sim, "GET", "extension/create", { token, query: { number: "1001" } })).status).toBe(405);
    const del = await call(sim, "POST", "extension/delete", { token, body: { id: 1 } });
    expect(del.status).toBe(405);
    expect(del.headers.get("allow")).toBe("GET");
    expect((await call(sim, "DELETE", "organization/delete", { token, query: { id: "2" } })).status).toBe(405);
    expect((await call(sim, "POST", "del_token", { token, body: {} })).status).toBe(405);
    expect(sim.writes()).toEqual([]);
  });

  it("answers an unknown endpoint with 10001 and another API version with 10003", async () => {
    const sim = await start();
    const { access_token: token } = await login(sim);
    expect((await call(sim, "GET", "extension/disable", { token })).body).toMatchObject({
      errcode: 10001,
      errmsg: "INTERFACE NOT EXISTED",
    });
    const v2 = await fetch(`${sim.url}/openapi/v9.9/extension/list?access_token=${token}`, { headers: { "User-Agent": UA } });
    expect(await v2.json()).toMatchObject({ errcode: 10003 });
  });

  it("takes POST bodies only as application/json objects", async () => {
    const sim = await start();
    // Node's fetch labels a string body text/plain unless told otherwise.
    const plain = await call(sim, "POST", "get_token", {
      body: JSON.stringify({ username: sim.clientId, password: sim.clientSecret }),
      headers: { "Content-Type": "text/plain;charset=UTF-8" },
    });
    expect(plain.body).toMatchObject({ errcode: 40001, errmsg: "PARAMETER SYNTAX ERROR" });
    expect((await call(sim, "POST", "get_token", { body: "{nope" })).body).toMatchObject({ errcode: 40001 });
    expect((await call(sim, "POST", "get_token", { body: "[]" })).body).toMatchObject({ errcode: 40001 });
  });
});

describe("tokens", () => {
  it("gets a token pair with the guide's field names", async () => {
    const sim = await start();
    const a = await call(sim, "POST", "get_token", { body: { username: sim.clientId, password: sim.clientSecret } });
    expect(a.status).toBe(200);
    expect(a.body).toEqual({
      errcode: 0,
      errmsg: "SUCCESS",
      access_token_expire_time: 1800,
      access_token: expect.stringMatching(/^[\w-]{32}$/),
      refresh_token_expire_time: 86400,
      refresh_token: expect.stringMatching(/^[\w-]{32}$/),
    });
  });

  it("refuses bad credentials with errcode -1 and the guide's invalid_param_list", async () => {
    const sim = await start({ clientId: "id-1", clientSecret: "secret-1" });
    const wrong = await call(sim, "POST", "get_token", { body: { username: "id-1", password: "secret-2" } });
    expect(wrong.status).toBe(200);
    expect(wrong.body).toEqual({ errcode: -1, errmsg: "FAILURE", invalid_param_list: [{ field: "username or password", value: "error" }] });
    expect((await call(sim, "POST", "get_token", { body: { username: "id-2", password: "secret-1" } })).body.errcode).toBe(-1);
    // The documented names are username/password, not OAuth's client_id/client_secret.
    const oauth = await call(sim, "POST", "get_token", { body: { client_id: "id-1", client_secret: "secret-1" } });
    expect(oauth.body).toMatchObject({
      errcode: 40002,
      invalid_param_list: [{ field: "username", validation_type: "required" }, { field: "password" }],
    });
    expect(sim.liveAccessTokens()).toBe(0);
  });

  it("refuses a missing or unknown access token with 10005", async () => {
    const sim = await start();
    expect((await call(sim, "GET", "extension/list")).body).toEqual({ errcode: 10005, errmsg: "ACCESS DENIED" });
    expect((await call(sim, "GET", "extension/list", { token: "x".repeat(32) })).body.errcode).toBe(10005);
    // Yeastar takes the token in the query only, not as a bearer header.
    const { access_token } = await login(sim);
    expect((await call(sim, "GET", "extension/list", { headers: { Authorization: `Bearer ${access_token}` } })).body.errcode).toBe(10005);
  });

  it("answers 10004 for an expired access token, by the switch and by the clock", async () => {
    const sim = await start({ accessTokenSeconds: 1 });
    const first = await login(sim);
    expect((await call(sim, "GET", "extension/list", { token: first.access_token })).body.errcode).toBe(0);
    sim.expireAccessTokens();
    expect((await call(sim, "GET", "extension/list", { token: first.access_token })).body).toEqual({
      errcode: 10004,
      errmsg: "TOKEN EXPIRED",
    });
    const second = await login(sim);
    await new Promise((r) => setTimeout(r, 1100));
    expect((await call(sim, "GET", "extension/list", { token: second.access_token })).body.errcode).toBe(10004);
    // The refresh token outlives the access token.
    const refreshed = await call(sim, "POST", "refresh_token", { body: { refresh_token: second.refresh_token } });
    expect(refreshed.body).toMatchObject({ errcode: 0, access_token_expire_time: 1, refresh_token_expire_time: 86400 });
  });

  it("refuses a get_token past the cap of live tokens instead of dropping the oldest", async () => {
    const sim = await start({ maxTokens: 3 });
    const tokens = [await login(sim), await login(sim), await login(sim)];
    const fourth = await call(sim, "POST", "get_token", { body: { username: sim.clientId, password: sim.clientSecret } });
    expect(fourth.body).toEqual({ errcode: 60002, errmsg: "MAX LIMITATION EXCEEDED" });
    // None of the three was pushed out.
    for (const t of tokens) expect((await call(sim, "GET", "extension/list", { token: t.access_token })).body.errcode).toBe(0);
    // Revoking one frees a place; a revoked token is then unknown.
    const first = tokens[0]?.access_token ?? "";
    expect((await call(sim, "GET", "del_token", { token: first })).body).toEqual({ errcode: 0, errmsg: "SUCCESS" });
    expect((await call(sim, "GET", "extension/list", { token: first })).body.errcode).toBe(10005);
    await login(sim);
    expect((await call(sim, "POST", "get_token", { body: { username: sim.clientId, password: sim.clientSecret } })).body.errcode).toBe(
      60002,
    );
    // Expired tokens do not count.
    sim.expireAccessTokens();
    expect(sim.liveAccessTokens()).toBe(0);
    await login(sim);
  });

  it("defaults to the guide's cap of 8", async () => {
    const sim = await start();
    for (let i = 0; i < 8; i++) await login(sim);
    expect((await call(sim, "POST", "get_token", { body: { username: sim.clientId, password: sim.clientSecret } })).body.errcode).toBe(
      60002,
    );
  });

  it("refreshes into a new pair and retires the old one", async () => {
    const sim = await start({ maxTokens: 1 });
    const old = await login(sim);
    const fresh = await call(sim, "POST", "refresh_token", { body: { refresh_token: old.refresh_token } });
    expect(fresh.body).toMatchObject({ errcode: 0, access_token: expect.any(String), refresh_token: expect.any(String) });
    expect(fresh.body.access_token).not.toBe(old.access_token);
    expect((await call(sim, "GET", "extension/list", { token: old.access_token })).body.errcode).toBe(10005);
    expect((await call(sim, "GET", "extension/list", { token: fresh.body.access_token })).body.errcode).toBe(0);
    const again = await call(sim, "POST", "refresh_token", { body: { refresh_token: old.refresh_token } });
    expect(again.body).toEqual({ errcode: -1, errmsg: "FAILURE", invalid_param_list: [{ field: "refresh_token", value: "error" }] });
    expect(sim.liveAccessTokens()).toBe(1);
  });

  it("answers 10004 for an expired refresh token", async () => {
    const sim = await start({ refreshTokenSeconds: 1 });
    const pair = await login(sim);
    await new Promise((r) => setTimeout(r, 1100));
    expect((await call(sim, "POST", "refresh_token", { body: { refresh_token: pair.refresh_token } })).body.errcode).toBe(10004);
  });
});

describe("extensions", () => {
  it("creates an extension, answers no id, and never gives its password back", async () => {
    const sim = await start();
    const { access_token: token } = await login(sim);
    const created = await createExtension(sim, token, "1001");
    expect(created.body).toEqual({ errcode: 0, errmsg: "SUCCESS" });
    const found = await call(sim, "GET", "extension/search", { token, query: { search_value: "1001" } });
    expect(found.body).toMatchObject({ errcode: 0, total_number: 1, data: [{ number: "1001", caller_id_name: "Ada Lovelace" }] });
    const id = found.body.data[0].id as number;
    expect(typeof id).toBe("number");
    const detail = await call(sim, "GET", "extension/get", { token, query: { id: String(id) } });
    expect(detail.body.data).toMatchObject({ id, number: "1001", type: "SIP", first_name: "Ada", organization_list: [{ value: "1" }] });
    expect(detail.text).not.toContain(PASSWORD);
    expect(detail.text).not.toMatch(/user_password|reg_password/);
    expect(JSON.stringify(sim.extensions())).not.toContain(PASSWORD);
    expect(JSON.stringify(sim.writes())).not.toContain(PASSWORD);
    expect(sim.writes()[0]?.fields.user_password).toBe("[redacted]");
    expect(sim.userPasswordMatches(id, PASSWORD)).toBe(true);
    expect(sim.userPasswordMatches(id, "Something9Else")).toBe(false);
    const many = await call(sim, "GET", "extension/query", { token, query: { ids: String(id) } });
    expect(many.body.data).toHaveLength(1);
    expect((await call(sim, "GET", "extension/query", { token, query: { ids: `${id},999` } })).body.errcode).toBe(60001);
  });

  it("requires the guide's required fields and names every one missing", async () => {
    const sim = await start();
    const { access_token: token } = await login(sim);
    const a = await call(sim, "POST", "extension/create", { token, body: { number: "1001", first_name: "Ada" } });
    expect(a.body.errcode).toBe(40002);
    expect(a.body.errmsg).toBe("PARAMETER ERROR");
    const missing = (a.body.invalid_param_list as Json[]).filter((p) => p.validation_type === "required").map((p) => p.field);
    expect(missing.sort()).toEqual(["concurrent_registrations", "presence_status", "reg_name", "reg_password", "type", "user_password"]);
    expect(sim.extensions()).toEqual([]);
  });

  it.each([
    ["shorter than 10", "Ab3xYz9q", "min_length"],
    ["longer than 63", `Ab3${"x".repeat(61)}`, "max_length"],
    ["without an upper-case letter", "kq7mzt9pwx", "password_mix"],
    ["without a lower-case letter", "KQ7MZT9PWX", "password_mix"],
    ["without a digit", "KqmZtpWxyz", "password_mix"],
    ["with four ascending digits", "Kq1234mZtW", "password_consecutive_digits"],
    ["with four descending digits", "Kq9876mZtW", "password_consecutive_digits"],
    ["with four same digits", "Kq7777mZtW", "password_same_digits"],
    ["containing the extension number", "Kq5806mZtW", "password_contains_number"],
    ["containing the first name", "Xy7adaZt9W", "password_contains_name"],
    ["containing the last name (any case)", "LOVELACEz9", "password_contains_name"],
  ])("refuses a user password %s", async (_what, password, rule) => {
    const sim = await start();
    const { access_token: token } = await login(sim);
    const a = await createExtension(sim, token, "5806", { user_password: password });
    expect(a.body.errcode).toBe(40002);
    expect(a.body.invalid_param_list).toContainEqual({ field: "user_password", validation_type: rule });
    expect(a.text).not.toContain(password);
    expect(sim.extensions()).toEqual([]);
  });

  it("checks a new password on update against the extension's number and names", async () => {
    const sim = await start();
    const { access_token: token } = await login(sim);
    const e = sim.addExtension({ number: "2002", first_name: "Grace", last_name: "Hopper" });
    const a = await call(sim, "POST", "extension/update", { token, body: { id: e.id, user_password: "Zq2002xYwv" } });
    expect(a.body.invalid_param_list).toContainEqual({ field: "user_password", validation_type: "password_contains_number" });
    const b = await call(sim, "POST", "extension/update", { token, body: { id: e.id, user_password: "Grace7xYwQ" } });
    expect(b.body.invalid_param_list).toContainEqual({ field: "user_password", validation_type: "password_contains_name" });
    expect((await call(sim, "POST", "extension/update", { token, body: { id: e.id, user_password: PASSWORD } })).body.errcode).toBe(0);
    expect(sim.userPasswordMatches(e.id, PASSWORD)).toBe(true);
  });

  it("refuses a duplicate number and a duplicate email with 40003 and duplicate_field_list", async () => {
    const sim = await start();
    const { access_token: token } = await login(sim);
    expect((await createExtension(sim, token, "1001")).body.errcode).toBe(0);
    const dupNumber = await createExtension(sim, token, "1001", { email_addr: "other@example.com" });
    expect(dupNumber.body).toEqual({
      errcode: 40003,
      errmsg: "DUPLICATE KEY VALUE",
      submsg: "Extension create fail for duplicate fields",
      duplicate_field_list: [{ field: "number", value: "1001", external_source: "extension", external_source_name: "1001" }],
    });
    const dupEmail = await createExtension(sim, token, "1002", { email_addr: "ADA.1001@example.com" });
    expect(dupEmail.body.duplicate_field_list).toEqual([
      { field: "email_addr", value: "ADA.1001@example.com", external_source: "extension", external_source_name: "1001" },
    ]);
    // A hand-made extension in the console holds its number too.
    sim.addExtension({ number: "3003" });
    expect((await createExtension(sim, token, "3003")).body.errcode).toBe(40003);
    expect(sim.extensions().map((e) => e.number)).toEqual(["1001", "3003"]);
  });

  it("refuses to renumber, to change the type, or to take a field the guide does not have", async () => {
    const sim = await start();
    const { access_token: token } = await login(sim);
    sim.addExtension({ number: "1001" });
    const e = sim.addExtension({ number: "1002", email_addr: "b@example.com" });
    const renumber = await call(sim, "POST", "extension/update", { token, body: { id: e.id, number: "1001" } });
    expect(renumber.body).toEqual({
      errcode: 40002,
      errmsg: "PARAMETER ERROR",
      invalid_param_list: [{ field: "number", validation_type: "not_editable" }],
    });
    expect((await call(sim, "POST", "extension/update", { token, body: { id: e.id, number: "1009" } })).body.errcode).toBe(40002);
    expect((await call(sim, "POST", "extension/update", { token, body: { id: e.id, type: "SIP" } })).body.errcode).toBe(40002);
    // No disable switch is documented: one made up is refused, not silently ignored.
    const disable = await call(sim, "POST", "extension/update", { token, body: { id: e.id, enabled: false } });
    expect(disable.body.invalid_param_list).toEqual([{ field: "enabled", validation_type: "unknown" }]);
    expect((await createExtension(sim, token, "1003", { disabled: true })).body.errcode).toBe(40002);
    expect(sim.extensions().find((x) => x.id === e.id)?.number).toBe("1002");
    // A documented change goes through; a duplicate email on update does not.
    expect(
      (await call(sim, "POST", "extension/update", { token, body: { id: e.id, first_name: "Bea", presence_status: "off_work" } })).body
        .errcode,
    ).toBe(0);
    sim.addExtension({ number: "1004", email_addr: "d@example.com" });
    expect((await call(sim, "POST", "extension/update", { token, body: { id: e.id, email_addr: "d@example.com" } })).body.errcode).toBe(
      40003,
    );
    expect((await call(sim, "POST", "extension/update", { token, body: { id: 999, first_name: "X" } })).body.errcode).toBe(60001);
    expect(sim.writes().map((w) => w.endpoint)).toEqual(["extension/update"]);
  });

  it("requires organization_list when Organization Management is on", async () => {
    const sim = await start({ organizationManagement: true });
    const { access_token: token } = await login(sim);
    const none = await createExtension(sim, token, "1001");
    expect(none.body.invalid_param_list).toEqual([{ field: "organization_list", validation_type: "required" }]);
    expect((await createExtension(sim, token, "1001", { organization_list: [] })).body.errcode).toBe(40002);
    expect((await createExtension(sim, token, "1001", { organization_list: [{ value: "77" }] })).body.errcode).toBe(60001);
    expect((await createExtension(sim, token, "1001", { organization_list: [1] })).body.errcode).toBe(40002);
    const sales = await call(sim, "POST", "organization/create", { token, body: { name: "Sales", parent_id: 1 } });
    const ok = await createExtension(sim, token, "1001", { organization_list: [{ value: String(sales.body.id) }] });
    expect(ok.body.errcode).toBe(0);
    const e = sim.extensions()[0];
    expect(e?.organization_ids).toEqual([sales.body.id]);
    // An update must carry it too while the feature is on.
    expect((await call(sim, "POST", "extension/update", { token, body: { id: e?.id, title: "Rep" } })).body.errcode).toBe(40002);
    const moved = await call(sim, "POST", "extension/update", {
      token,
      body: { id: e?.id, title: "Rep", organization_list: [{ value: "1" }] },
    });
    expect(moved.body.errcode).toBe(0);
  });

  it("keeps organization_list optional when Organization Management is off", async () => {
    const sim = await start();
    const { access_token: token } = await login(sim);
    expect((await createExtension(sim, token, "1001")).body.errcode).toBe(0);
    expect(sim.extensions()[0]?.organization_ids).toEqual([1]);
  });

  it("pages the list with total_number, page_size and sorting, and refuses a page too large", async () => {
    const sim = await start();
    const { access_token: token } = await login(sim);
    for (let i = 0; i < 25; i++) sim.addExtension({ number: String(1100 + i), first_name: `User${i}` });
    const pages = [];
    for (const p of ["1", "2", "3", "4"]) {
      pages.push((await call(sim, "GET", "extension/list", { token, query: { page: p, page_size: "10" } })).body);
    }
    expect(pages.map((p) => p.total_number)).toEqual([25, 25, 25, 25]);
    expect(pages.map((p) => p.data.length)).toEqual([10, 10, 5, 0]);
    expect(new Set(pages.flatMap((p) => p.data.map((e: Json) => e.number))).size).toBe(25);
    expect(Object.keys(pages[0].data[0]).sort()).toEqual(
      ["caller_id_name", "email_addr", "id", "mobile_number", "number", "online_status", "presence_status", "role_name"].sort(),
    );
    const byDefault = await call(sim, "GET", "extension/list", { token });
    expect(byDefault.body.total_number).toBe(25);
    expect(byDefault.body.data).toHaveLength(20);
    const desc = await call(sim, "GET", "extension/list", { token, query: { sort_by: "number", order_by: "desc", page_size: "1" } });
    expect(desc.body.data[0].number).toBe("1124");
    const tooBig = await call(sim, "GET", "extension/list", { token, query: { page_size: "101" } });
    expect(tooBig.body).toMatchObject({ errcode: 40002, invalid_param_list: [{ field: "page_size", validation_type: "max" }] });
    expect((await call(sim, "GET", "extension/list", { token, query: { page: "0" } })).body.errcode).toBe(40002);
    expect((await call(sim, "GET", "extension/list", { token, query: { sort_by: "first_name" } })).body.errcode).toBe(40002);
    expect((await call(sim, "GET", "extension/list", { token, query: { order_by: "up" } })).body.errcode).toBe(40002);
    const search = await call(sim, "GET", "extension/search", { token, query: { search_value: "user1", page_size: "5" } });
    expect(search.body.total_number).toBe(11); // User1 and User10..User19
    expect(search.body.data).toHaveLength(5);
  });

  it("answers 60001 for an unknown id on delete and get, and deletes a known one everywhere", async () => {
    const sim = await start();
    const { access_token: token } = await login(sim);
    expect((await call(sim, "GET", "extension/delete", { token, query: { id: "42" } })).body).toEqual({
      errcode: 60001,
      errmsg: "DATA NOT FOUND",
      invalid_param_list: [{ field: "id", value: "42" }],
    });
    expect((await call(sim, "GET", "extension/get", { token, query: { id: "42" } })).body.errcode).toBe(60001);
    expect((await call(sim, "GET", "extension/delete", { token })).body.errcode).toBe(40002);
    const e = sim.addExtension({ number: "1001" });
    await call(sim, "POST", "extensiongroup/create", {
      token,
      body: { name: "Ops", member_select: "sel_specific", members: [{ ext_id: e.id }] },
    });
    expect((await call(sim, "GET", "extension/delete", { token, query: { id: String(e.id) } })).body.errcode).toBe(0);
    expect(sim.extensions()).toEqual([]);
    expect(sim.groups().find((g) => g.name === "Ops")?.members).toEqual([]);
    expect((await call(sim, "GET", "extension/delete", { token, query: { id: String(e.id) } })).body.errcode).toBe(60001);
  });

  it("shows a hand-made extension through the API like any other", async () => {
    const sim = await start();
    const { access_token: token } = await login(sim);
    const e = sim.addExtension({ number: "4004", first_name: "Front", last_name: "Desk" });
    expect(e.handMade).toBe(true);
    const list = await call(sim, "GET", "extension/list", { token });
    expect(list.body.data).toEqual([expect.objectContaining({ id: e.id, number: "4004", caller_id_name: "Front Desk" })]);
    expect(list.text).not.toContain("handMade");
  });
});

describe("organizations", () => {
  it("starts with the root, builds a tree by parent_id, and lists it by is_all", async () => {
    const sim = await start();
    const { access_token: token } = await login(sim);
    const sales = await call(sim, "POST", "organization/create", { token, body: { name: "Sales", parent_id: 1 } });
    expect(sales.body).toEqual({ errcode: 0, errmsg: "SUCCESS", id: expect.any(Number) });
    const east = await call(sim, "POST", "organization/create", { token, body: { name: "East", parent_id: sales.body.id } });
    const e = sim.addExtension({ number: "1001", organization_ids: [east.body.id] });
    const full = await call(sim, "GET", "organization/list", { token, query: { is_all: "1" } });
    expect(full.body.organization_list).toEqual([
      {
        id: 1,
        name: "Yeastar",
        parent_id: 0,
        order: 1,
        ext_number: 0,
        ext_list: [],
        children: [
          {
            id: sales.body.id,
            name: "Sales",
            parent_id: "1",
            order: "1",
            ext_number: "0",
            ext_list: [],
            children: [
              {
                id: east.body.id,
                name: "East",
                parent_id: String(sales.body.id),
                order: "1",
                ext_number: "1",
                ext_list: [e.id],
                children: [],
              },
            ],
          },
        ],
      },
    ]);
    const bare = await call(sim, "GET", "organization/list", { token, query: { is_all: "2" } });
    expect(bare.body.organization_list[0]).not.toHaveProperty("ext_number");
    expect((await call(sim, "GET", "organization/list", { token, query: { is_all: "3" } })).body.errcode).toBe(40002);
    const got = await call(sim, "GET", "organization/get", { token, query: { id: String(east.body.id) } });
    expect(got.body.organization_info).toEqual({ id: east.body.id, name: "East", parent_id: sales.body.id, order: 1 });
  });

  it("refuses a duplicate name under the same parent, but not under another", async () => {
    const sim = await start();
    const { access_token: token } = await login(sim);
    const a = await call(sim, "POST", "organization/create", { token, body: { name: "Sales", parent_id: 1 } });
    const dup = await call(sim, "POST", "organization/create", { token, body: { name: "Sales", parent_id: 1 } });
    expect(dup.body).toMatchObject({ errcode: 40003, duplicate_field_list: [{ field: "name", value: "Sales" }] });
    expect((await call(sim, "POST", "organization/create", { token, body: { name: "Sales", parent_id: a.body.id } })).body.errcode).toBe(0);
    const b = await call(sim, "POST", "organization/create", { token, body: { name: "Support", parent_id: 1 } });
    expect((await call(sim, "POST", "organization/update", { token, body: { id: b.body.id, name: "Sales" } })).body.errcode).toBe(40003);
    expect((await call(sim, "POST", "organization/create", { token, body: { name: "X", parent_id: 99 } })).body.errcode).toBe(60001);
    expect((await call(sim, "POST", "organization/create", { token, body: { name: "X" } })).body.errcode).toBe(40002);
  });

  it("refuses to touch the root, to make a cycle, or to delete a department still in use", async () => {
    const sim = await start();
    const { access_token: token } = await login(sim);
    expect((await call(sim, "POST", "organization/update", { token, body: { id: 1, name: "Acme" } })).body.errcode).toBe(40002);
    expect((await call(sim, "GET", "organization/delete", { token, query: { id: "1" } })).body.errcode).toBe(40002);
    const a = (await call(sim, "POST", "organization/create", { token, body: { name: "A", parent_id: 1 } })).body.id as number;
    const b = (await call(sim, "POST", "organization/create", { token, body: { name: "B", parent_id: a } })).body.id as number;
    expect((await call(sim, "POST", "organization/update", { token, body: { id: a, parent_id: b } })).body.errcode).toBe(40002);
    expect((await call(sim, "GET", "organization/delete", { token, query: { id: String(a) } })).body.errcode).toBe(70091);
    const e = sim.addExtension({ number: "1001", organization_ids: [b] });
    expect((await call(sim, "GET", "organization/delete", { token, query: { id: String(b) } })).body.errcode).toBe(70091);
    await call(sim, "GET", "extension/delete", { token, query: { id: String(e.id) } });
    expect((await call(sim, "GET", "organization/delete", { token, query: { id: String(b) } })).body.errcode).toBe(0);
    expect((await call(sim, "GET", "organization/delete", { token, query: { id: String(b) } })).body.errcode).toBe(60001);
    expect((await call(sim, "POST", "organization/update", { token, body: { id: a, name: "A2", parent_id: 1 } })).body.errcode).toBe(0);
    expect(sim.organizations()).toEqual([
      { id: 1, name: "Yeastar", parent_id: 0 },
      { id: a, name: "A2", parent_id: 1 },
    ]);
  });
});

describe("extension groups", () => {
  it("has the built-in group and creates one in the guide's shape", async () => {
    const sim = await start();
    const { access_token: token } = await login(sim);
    const e1 = sim.addExtension({ number: "1001" });
    const e2 = sim.addExtension({ number: "1002" });
    const created = await call(sim, "POST", "extensiongroup/create", {
      token,
      body: {
        name: "Sales",
        member_select: "sel_specific",
        members: [{ ext_id: e1.id, user_type: "manager" }, { ext_id: e2.id }],
        mgr_enb_monitor: 1,
      },
    });
    expect(created.body).toEqual({ errcode: 0, errmsg: "SUCCESS" });
    const list = await call(sim, "GET", "extensiongroup/list", { token, query: { sort_by: "name" } });
    expect(list.body).toEqual({
      errcode: 0,
      errmsg: "SUCCESS",
      total_number: 2,
      data: [
        { id: 1, name: "Default_All_Extensions", member_select: "sel_all_ext", total_extensions: 2 },
        { id: expect.any(Number), name: "Sales", member_select: "sel_specific", total_extensions: 2 },
      ],
    });
    const id = list.body.data[1].id as number;
    const got = await call(sim, "GET", "extensiongroup/get", { token, query: { id: String(id) } });
    expect(got.body.data).toEqual({
      id,
      name: "Sales",
      member_select: "sel_specific",
      members: [
        { ext_id: e1.id, user_type: "manager" },
        { ext_id: e2.id, user_type: "user" },
      ],
      mgr_enb_monitor: 1,
    });
    const found = await call(sim, "GET", "extensiongroup/search", { token, query: { search_value: "sal" } });
    expect(found.body.data.map((g: Json) => g.name)).toEqual(["Sales"]);
  });

  it("refuses missing members, unknown extensions, odd member shapes and a duplicate name", async () => {
    const sim = await start();
    const { access_token: token } = await login(sim);
    const e = sim.addExtension({ number: "1001" });
    const create = (body: Json) => call(sim, "POST", "extensiongroup/create", { token, body });
    expect((await create({ name: "A", member_select: "sel_specific" })).body.invalid_param_list).toEqual([
      { field: "members", validation_type: "required" },
    ]);
    expect((await create({ name: "A" })).body.invalid_param_list).toEqual([{ field: "member_select", validation_type: "required" }]);
    expect((await create({ name: "A", member_select: "everyone" })).body.errcode).toBe(40002);
    expect((await create({ name: "A", member_select: "sel_specific", members: [{ ext_id: 99 }] })).body.errcode).toBe(60001);
    expect((await create({ name: "A", member_select: "sel_specific", members: ["1001"] })).body.errcode).toBe(40002);
    expect((await create({ name: "A", member_select: "sel_specific", members: [{ number: "1001" }] })).body.errcode).toBe(40002);
    expect(
      (await create({ name: "A", member_select: "sel_specific", members: [{ ext_id: e.id, user_type: "custom" }] })).body.errcode,
    ).toBe(40002);
    expect((await create({ name: "A", member_select: "sel_specific", members: [{ ext_id: e.id }, { ext_id: e.id }] })).body.errcode).toBe(
      40002,
    );
    expect((await create({ name: "Default_All_Extensions", member_select: "sel_all_ext" })).body.errcode).toBe(40003);
    expect(sim.groups()).toHaveLength(1);
  });

  it("updates members by id, refuses a rename, and deletes", async () => {
    const sim = await start();
    const { access_token: token } = await login(sim);
    const e1 = sim.addExtension({ number: "1001" });
    const e2 = sim.addExtension({ number: "1002" });
    await call(sim, "POST", "extensiongroup/create", {
      token,
      body: { name: "Ops", member_select: "sel_specific", members: [{ ext_id: e1.id }] },
    });
    const id = sim.groups().find((g) => g.name === "Ops")?.id ?? 0;
    expect((await call(sim, "POST", "extensiongroup/update", { token, body: { id, members: [{ ext_id: e2.id }] } })).body.errcode).toBe(0);
    expect(sim.groups().find((g) => g.id === id)?.members).toEqual([{ ext_id: e2.id, user_type: "user" }]);
    const rename = await call(sim, "POST", "extensiongroup/update", { token, body: { id, name: "Ops2" } });
    expect(rename.body.invalid_param_list).toEqual([{ field: "name", validation_type: "not_editable" }]);
    expect((await call(sim, "POST", "extensiongroup/update", { token, body: { id: 99, members: [] } })).body.errcode).toBe(60001);
    expect((await call(sim, "GET", "extensiongroup/delete", { token, query: { id: String(id) } })).body.errcode).toBe(0);
    expect((await call(sim, "GET", "extensiongroup/delete", { token, query: { id: String(id) } })).body.errcode).toBe(60001);
    expect(sim.writes().map((w) => w.endpoint)).toEqual(["extensiongroup/create", "extensiongroup/update", "extensiongroup/delete"]);
  });
});

describe("test switches", () => {
  it("answers 429 with Retry-After for the next n calls, then normally", async () => {
    const sim = await start();
    const { access_token: token } = await login(sim);
    sim.rateLimit(2, 7);
    for (let i = 0; i < 2; i++) {
      const a = await call(sim, "GET", "extension/list", { token });
      expect(a.status).toBe(429);
      expect(a.headers.get("retry-after")).toBe("7");
      expect(a.body).toBeNull(); // not JSON: look at the status first
    }
    expect((await call(sim, "GET", "extension/list", { token })).status).toBe(200);
    expect(sim.calls.slice(-3).map((c) => [c.status, c.errcode])).toEqual([
      [429, null],
      [429, null],
      [200, 0],
    ]);
  });

  it("answers the chosen 5xx for the next n calls and writes nothing meanwhile", async () => {
    const sim = await start();
    const { access_token: token } = await login(sim);
    sim.failNext(1, 502);
    const failed = await createExtension(sim, token, "1001");
    expect(failed.status).toBe(502);
    expect(failed.body).toBeNull();
    expect(sim.extensions()).toEqual([]);
    sim.failNext(2);
    expect((await call(sim, "GET", "extension/list", { token })).status).toBe(503);
    expect((await call(sim, "GET", "extension/list", { token })).status).toBe(503);
    expect((await createExtension(sim, token, "1001")).body.errcode).toBe(0);
    expect(() => sim.failNext(1, 404)).toThrow(/5xx/);
  });

  it("delays every answer by latencyMs", async () => {
    const sim = await start();
    const { access_token: token } = await login(sim);
    sim.latencyMs = 150;
    const t0 = performance.now();
    await call(sim, "GET", "extension/list", { token });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(140);
    sim.latencyMs = 0;
  });

  it("resets connections while down, and serves again when back up", async () => {
    const sim = await start();
    const { access_token: token } = await login(sim);
    sim.down(true);
    await expect(call(sim, "GET", "extension/list", { token })).rejects.toThrow();
    sim.down(false);
    expect((await call(sim, "GET", "extension/list", { token })).body.errcode).toBe(0);
  });
});

describe("what the simulator records", () => {
  it("keeps every call without the token's value, and closes each connection", async () => {
    const sim = await start();
    const { access_token: token } = await login(sim);
    const a = await call(sim, "GET", "extension/list", { token, query: { page: "1" } });
    expect(a.headers.get("connection")).toBe("close");
    expect(sim.calls).toEqual([
      { method: "POST", endpoint: "get_token", query: {}, status: 200, errcode: 0 },
      { method: "GET", endpoint: "extension/list", query: { page: "1", access_token: "[redacted]" }, status: 200, errcode: 0 },
    ]);
    expect(JSON.stringify(sim.calls)).not.toContain(token);
    expect(JSON.stringify(sim.calls)).not.toContain(sim.clientSecret);
  });

  it("hands out copies, so a test cannot change the PBX by accident", async () => {
    const sim = await start();
    const e = sim.addExtension({ number: "1001" });
    e.number = "9999";
    const snapshot = sim.extensions();
    (snapshot[0] as { number: string }).number = "8888";
    expect(sim.extensions()[0]?.number).toBe("1001");
    expect(sim.extensions()[0]).not.toHaveProperty("passwordHash");
  });
});
