// The 3CX XAPI simulator refuses what the real Configuration API refuses (and, where 3CX's material
// is silent, the stricter thing), so adapter tests against it cannot pass by accident.
// Plain fetch against the simulator.
import { afterEach, describe, expect, it } from "vitest";
import { startThreeCxSimulator, type ThreeCxSimulator, type ThreeCxSimulatorOptions } from "./support/threecx-simulator.ts";

// biome-ignore lint/suspicious/noExplicitAny: the tests read 3CX's JSON answers field by field.
type Json = any;

interface Answer {
  status: number;
  headers: Headers;
  body: Json;
  text: string;
}

let sims: ThreeCxSimulator[] = [];
afterEach(async () => {
  await Promise.all(sims.map((s) => s.close()));
  sims = [];
});
const start = async (options: ThreeCxSimulatorOptions = {}) => {
  const sim = await startThreeCxSimulator(options);
  sims.push(sim);
  return sim;
};

const read = async (res: Response): Promise<Answer> => {
  const text = await res.text();
  let body: Json = null;
  try {
    body = JSON.parse(text);
  } catch {
    body = null;
  }
  return { status: res.status, headers: res.headers, body, text };
};

const requestToken = async (sim: ThreeCxSimulator, fields: Record<string, string> = {}) =>
  read(
    await fetch(`${sim.url}/connect/token`, {
      method: "POST",
      body: new URLSearchParams({ client_id: sim.clientId, client_secret: sim.clientSecret, grant_type: "client_credentials", ...fields }),
    }),
  );

const login = async (sim: ThreeCxSimulator): Promise<string> => {
  const a = await requestToken(sim);
  expect(a.status).toBe(200);
  return a.body.access_token as string;
};

interface CallOptions {
  token?: string;
  body?: unknown;
  query?: Record<string, string>;
  headers?: Record<string, string>;
}

async function call(sim: ThreeCxSimulator, method: string, path: string, o: CallOptions = {}): Promise<Answer> {
  const qs = new URLSearchParams(o.query).toString();
  const headers: Record<string, string> = { ...o.headers };
  if (o.token !== undefined) headers.Authorization = `Bearer ${o.token}`;
  if (o.body !== undefined && headers["Content-Type"] === undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(`${sim.url}/xapi/v1/${path}${qs ? `?${qs}` : ""}`, {
    method,
    headers,
    ...(o.body === undefined ? {} : { body: typeof o.body === "string" ? o.body : JSON.stringify(o.body) }),
  });
  return read(res);
}

const userBody = (number: string, over: Record<string, unknown> = {}) => ({
  Id: 0,
  Number: number,
  FirstName: "Ada",
  LastName: "Lovelace",
  EmailAddress: `ada.${number}@example.com`,
  ...over,
});

const createUser = async (sim: ThreeCxSimulator, token: string, number: string, over: Record<string, unknown> = {}) =>
  call(sim, "POST", "Users", { token, body: userBody(number, over) });

/** 3CX's validation answer for one problem. */
const warning = (target: string, message: string) => ({
  error: { code: "", message: `${target}:\n${message}`, details: [{ code: "", message, target }] },
});
const notValid = (parameter: string) => ({
  error: { code: "", message: `The input was not valid.\n\n${parameter}:\nThe ${parameter} field is required.` },
});

describe("tokens", () => {
  it("gives a Bearer token whose expires_in is in seconds, and no refresh token", async () => {
    const sim = await start();
    const a = await requestToken(sim);
    expect(a.status).toBe(200);
    expect(a.body).toEqual({ token_type: "Bearer", expires_in: 3600, access_token: expect.any(String), refresh_token: null });
    expect(a.headers.get("cache-control")).toBe("no-store");
    expect((await call(sim, "GET", "Users", { token: a.body.access_token })).status).toBe(200);
    // The tutorial's auth.ts sends a FormData (multipart): that is taken too.
    const form = new FormData();
    form.append("client_id", sim.clientId);
    form.append("client_secret", sim.clientSecret);
    form.append("grant_type", "client_credentials");
    const multipart = await read(await fetch(`${sim.url}/connect/token`, { method: "POST", body: form }));
    expect(multipart.status).toBe(200);
  });

  it("refuses a wrong secret, a wrong client and a missing secret with 401 and the documented body", async () => {
    const sim = await start({ clientId: "900", clientSecret: "right-secret" });
    const documented = { error: "unauthorized", error_description: "The request requires valid user authentication." };
    const wrongSecret = await requestToken(sim, { client_secret: "wrong-secret" });
    expect(wrongSecret.status).toBe(401);
    expect(wrongSecret.body).toEqual(documented);
    expect((await requestToken(sim, { client_id: "901" })).status).toBe(401);
    expect((await requestToken(sim, { client_secret: "" })).body).toEqual(documented);
    expect(sim.liveAccessTokens()).toBe(0);
  });

  it("takes only POST, form fields and grant_type client_credentials", async () => {
    const sim = await start();
    const password = await requestToken(sim, { grant_type: "password" });
    expect(password.status).toBe(400);
    expect(password.body.error).toBe("unsupported_grant_type");
    const asJson = await read(
      await fetch(`${sim.url}/connect/token`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ client_id: sim.clientId, client_secret: sim.clientSecret, grant_type: "client_credentials" }),
      }),
    );
    expect(asJson.status).toBe(400);
    expect(asJson.body.error).toBe("invalid_request");
    const get = await fetch(`${sim.url}/connect/token`);
    expect(get.status).toBe(405);
    expect(get.headers.get("allow")).toBe("POST");
    expect(sim.liveAccessTokens()).toBe(0);
  });

  it("answers 401 without a token, with a made-up one, and with one in the query instead of the header", async () => {
    const sim = await start();
    const none = await call(sim, "GET", "Users");
    expect(none.status).toBe(401);
    expect(none.headers.get("www-authenticate")).toBe("Bearer");
    const madeUp = await call(sim, "GET", "Users", { token: "eyJhbGciOiJSUzI1NiJ9.e30.x" });
    expect(madeUp.status).toBe(401);
    expect(madeUp.headers.get("www-authenticate")).toBe('Bearer error="invalid_token"');
    const token = await login(sim);
    expect((await call(sim, "GET", "Users", { query: { access_token: token } })).status).toBe(401);
    // Not even a route is given away without a token.
    expect((await call(sim, "GET", "NoSuchThing")).status).toBe(401);
  });

  it("answers 401 for an expired token, by the switch and by the clock", async () => {
    const sim = await start({ accessTokenSeconds: 1 });
    const first = await login(sim);
    expect((await call(sim, "GET", "Users", { token: first })).status).toBe(200);
    sim.expireAccessTokens();
    expect(sim.liveAccessTokens()).toBe(0);
    expect((await call(sim, "GET", "Users", { token: first })).status).toBe(401);
    const second = await requestToken(sim);
    expect(second.body.expires_in).toBe(1);
    await new Promise((r) => setTimeout(r, 1100));
    expect((await call(sim, "GET", "Users", { token: second.body.access_token })).status).toBe(401);
    // Nothing to refresh with: a new client_credentials request is the way back.
    expect((await call(sim, "GET", "Users", { token: await login(sim) })).status).toBe(200);
  });

  it("keeps one live token per client: a new token retires the previous one", async () => {
    const sim = await start();
    const first = await login(sim);
    const second = await login(sim);
    expect(second).not.toBe(first);
    expect(sim.liveAccessTokens()).toBe(1);
    expect((await call(sim, "GET", "Users", { token: first })).status).toBe(401);
    expect((await call(sim, "GET", "Users", { token: second })).status).toBe(200);
  });
});

describe("users", () => {
  it("creates a user (201 with the entity and its Id) in DEFAULT with role users, and finds it by Id and by Number", async () => {
    const sim = await start();
    const token = await login(sim);
    const created = await createUser(sim, token, "101", { VMPIN: "4711", Mobile: "+441234567" });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      "@odata.context": `${sim.url}/xapi/v1/$metadata#Users/$entity`,
      Id: expect.any(Number),
      Number: "101",
      FirstName: "Ada",
      DisplayName: "Ada Lovelace",
      EmailAddress: "ada.101@example.com",
      Enabled: true,
    });
    expect(created.body).not.toHaveProperty("Groups"); // a navigation property: only with $expand
    const id = created.body.Id as number;
    expect(created.headers.get("location")).toBe(`${sim.url}/xapi/v1/Users(${id})`);
    const defaultGroup = sim.groups().find((g) => g.IsDefault);
    expect(defaultGroup).toMatchObject({ Name: "DEFAULT", Number: "GRP0000" });
    expect(sim.users()).toEqual([
      expect.objectContaining({
        Id: id,
        Number: "101",
        VMPIN: "4711",
        PrimaryGroupId: defaultGroup?.Id,
        Groups: [{ GroupId: defaultGroup?.Id, GroupName: "DEFAULT", RoleName: "users" }],
        handMade: false,
      }),
    ]);
    const byId = await call(sim, "GET", `Users(${id})`, { token });
    expect(byId.body).toMatchObject({ "@odata.context": `${sim.url}/xapi/v1/$metadata#Users/$entity`, Id: id, Number: "101" });
    const byNumber = await call(sim, "GET", "Users(Number='101')", { token });
    expect(byNumber.body.Id).toBe(id);
    expect((await call(sim, "GET", "Users(Number=101)", { token })).status).toBe(404);
    expect((await call(sim, "GET", "Users(Number='999')", { token })).status).toBe(404);
    expect((await call(sim, "GET", "Users(999)", { token })).status).toBe(404);
    expect(sim.writes()).toEqual([
      {
        method: "POST",
        path: "/xapi/v1/Users",
        id,
        fields: expect.objectContaining({ Number: "101", VMPIN: "[redacted]" }),
      },
    ]);
  });

  it("refuses a create without Number with WARNINGS.XAPI.REQUIRED, and a Number that is not digits", async () => {
    const sim = await start();
    const token = await login(sim);
    const none = await call(sim, "POST", "Users", { token, body: { FirstName: "Ada", EmailAddress: "ada@example.com" } });
    expect(none.status).toBe(400);
    expect(none.body).toEqual(warning("Number", "WARNINGS.XAPI.REQUIRED"));
    expect((await call(sim, "POST", "Users", { token, body: {} })).body).toEqual(warning("Number", "WARNINGS.XAPI.REQUIRED"));
    expect((await createUser(sim, token, "")).body).toEqual(warning("Number", "WARNINGS.XAPI.REQUIRED"));
    expect((await createUser(sim, token, "10a")).body).toEqual(warning("Number", "WARNINGS.INVALID"));
    expect(sim.users()).toEqual([]);
    expect(sim.writes()).toEqual([]);
  });

  it("refuses a taken Number and a taken EmailAddress with WARNINGS.XAPI.ALREADY_IN_USE on the field", async () => {
    const sim = await start();
    const token = await login(sim);
    expect((await createUser(sim, token, "101")).status).toBe(201);
    const number = await createUser(sim, token, "101", { EmailAddress: "other@example.com" });
    expect(number.status).toBe(400);
    expect(number.body).toEqual({
      error: {
        code: "",
        message: "Number:\nWARNINGS.XAPI.ALREADY_IN_USE",
        details: [{ code: "", message: "WARNINGS.XAPI.ALREADY_IN_USE", target: "Number" }],
      },
    });
    // E-mail addresses clash whatever their case.
    const email = await createUser(sim, token, "102", { EmailAddress: "ADA.101@Example.com" });
    expect(email.body).toEqual(warning("EmailAddress", "WARNINGS.XAPI.ALREADY_IN_USE"));
    const both = await createUser(sim, token, "101", { EmailAddress: "ada.101@example.com" });
    expect(both.body.error.details.map((d: Json) => d.target)).toEqual(["Number", "EmailAddress"]);
    // A hand-made user in the console holds its number and address too.
    sim.addUser({ Number: "200", EmailAddress: "desk@example.com" });
    expect((await createUser(sim, token, "200", { EmailAddress: "x@example.com" })).body).toEqual(
      warning("Number", "WARNINGS.XAPI.ALREADY_IN_USE"),
    );
    expect((await createUser(sim, token, "201", { EmailAddress: "desk@example.com" })).status).toBe(400);
    // No address is no clash.
    expect((await createUser(sim, token, "202", { EmailAddress: "" })).status).toBe(201);
    expect((await createUser(sim, token, "203", { EmailAddress: "" })).status).toBe(201);
    expect(sim.users().map((u) => u.Number)).toEqual(["101", "200", "202", "203"]);
  });

  it("refuses a PATCH that changes the Number, takes one that repeats it, and answers 204", async () => {
    const sim = await start();
    const token = await login(sim);
    const u = sim.addUser({ Number: "101", FirstName: "Grace" });
    sim.addUser({ Number: "102" });
    const renumber = await call(sim, "PATCH", `Users(${u.Id})`, { token, body: { Number: "109" } });
    expect(renumber.status).toBe(400);
    expect(renumber.body).toEqual(warning("Number", "WARNINGS.XAPI.FORBIDDEN_CHANGE"));
    expect((await call(sim, "PATCH", `Users(${u.Id})`, { token, body: { Number: "102" } })).status).toBe(400);
    const same = await call(sim, "PATCH", `Users(${u.Id})`, {
      token,
      body: { Id: u.Id, Number: "101", LastName: "Hopper", Enabled: false },
    });
    expect(same.status).toBe(204);
    expect(same.text).toBe("");
    expect(sim.users()[0]).toMatchObject({
      Number: "101",
      FirstName: "Grace",
      LastName: "Hopper",
      DisplayName: "Grace Hopper",
      Enabled: false,
    });
    const otherId = await call(sim, "PATCH", `Users(${u.Id})`, { token, body: { Id: u.Id + 100, FirstName: "X" } });
    expect(otherId.body).toEqual(warning("Id", "WARNINGS.XAPI.FORBIDDEN_CHANGE"));
    expect((await call(sim, "PATCH", "Users(999)", { token, body: { FirstName: "X" } })).status).toBe(404);
    expect(sim.writes().map((w) => [w.method, w.path])).toEqual([["PATCH", `/xapi/v1/Users(${u.Id})`]]);
  });

  it("refuses a body with a property the schema does not have, in another case, or of the wrong type", async () => {
    const sim = await start();
    const token = await login(sim);
    const invented = await createUser(sim, token, "101", { Department: "Sales" });
    expect(invented.status).toBe(400);
    expect(invented.body).toEqual(notValid("user"));
    expect((await createUser(sim, token, "101", { firstName: "Ada" })).body).toEqual(notValid("user"));
    expect((await createUser(sim, token, "101", { Enabled: "yes" })).body).toEqual(notValid("user"));
    expect((await createUser(sim, token, "101", { VMEmailOptions: "Sometimes" })).body).toEqual(notValid("user"));
    expect((await call(sim, "POST", "Users", { token, body: "{not json" })).body).toEqual(notValid("user"));
    const u = sim.addUser({ Number: "102" });
    const patch = await call(sim, "PATCH", `Users(${u.Id})`, { token, body: { Disabled: true } });
    expect(patch.status).toBe(400);
    expect(patch.body).toEqual(notValid("delta"));
    expect((await call(sim, "PATCH", `Users(${u.Id})`, { token, body: { Phones: [] } })).body).toEqual(notValid("delta"));
    expect(sim.writes()).toEqual([]);
    expect(sim.users()).toHaveLength(1);
  });

  it("checks addresses, phone numbers, PINs and lengths, naming every field refused", async () => {
    const sim = await start();
    const token = await login(sim);
    const a = await createUser(sim, token, "101", {
      EmailAddress: "not-an-address",
      Mobile: "+44 1234 567",
      OutboundCallerID: "12-34",
      VMPIN: "12",
      FirstName: "x".repeat(256),
    });
    expect(a.status).toBe(400);
    expect(a.body.error.details).toEqual([
      { code: "", message: "WARNINGS.LENGTH_NOT_MORE_255_CHARS", target: "FirstName" },
      { code: "", message: "WARNINGS.INVALID", target: "EmailAddress" },
      { code: "", message: "WARNINGS.INVALID", target: "Mobile" },
      { code: "", message: "WARNINGS.INVALID", target: "OutboundCallerID" },
      { code: "", message: "WARNINGS.XAPI.INVALID_PIN_NUMBER", target: "VMPIN" },
    ]);
    expect(a.body.error.message).toContain("EmailAddress:\nWARNINGS.INVALID");
    expect(sim.users()).toEqual([]);
  });

  it("deletes a user with 204, then answers 404, and will not delete the department operator", async () => {
    const sim = await start();
    const token = await login(sim);
    const u = sim.addUser({ Number: "101" });
    const operator = sim.addUser({ Number: "100", operator: true });
    expect((await call(sim, "DELETE", `Users(${u.Id})`, { token })).status).toBe(204);
    expect((await call(sim, "DELETE", `Users(${u.Id})`, { token })).status).toBe(404);
    const refused = await call(sim, "DELETE", `Users(${operator.Id})`, { token });
    expect(refused.status).toBe(400);
    expect(refused.body.error.message).toBe("WARNINGS.OPERATOR_CANNOT_BE_DELETED");
    expect(sim.users().map((x) => x.Number)).toEqual(["100"]);
  });

  it("batch-deletes what it can and reports the rest per user in value[]", async () => {
    const sim = await start();
    const token = await login(sim);
    const a = sim.addUser({ Number: "101" });
    const b = sim.addUser({ Number: "102" });
    const operator = sim.addUser({ Number: "100", operator: true });
    const answer = await call(sim, "POST", "Users/Pbx.BatchDelete", { token, body: { ids: [a.Id, 999, operator.Id, b.Id] } });
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({
      "@odata.context": `${sim.url}/xapi/v1/$metadata#Collection(Pbx.UserDeleteError)`,
      value: [
        { Error: "WARNINGS.XAPI.NOT_FOUND", ExtensionNumber: null },
        { Error: "WARNINGS.OPERATOR_CANNOT_BE_DELETED", ExtensionNumber: "100" },
      ],
    });
    expect(sim.users().map((u) => u.Number)).toEqual(["100"]);
    expect(sim.writes().map((w) => w.id)).toEqual([a.Id, b.Id]);
    // The parameter is "ids", as the swagger spells it.
    const capital = await call(sim, "POST", "Users/Pbx.BatchDelete", { token, body: { Ids: [operator.Id] } });
    expect(capital.body).toEqual(notValid("parameters"));
    expect((await call(sim, "POST", "Users/Pbx.BatchDelete", { token, body: { ids: ["1"] } })).status).toBe(400);
    expect((await call(sim, "POST", "Users/Pbx.BatchDelete", { token, body: { ids: [] } })).body.value).toEqual([]);
  });

  it("names the first free extension number", async () => {
    const sim = await start();
    const token = await login(sim);
    sim.addUser({ Number: "100" });
    sim.addUser({ Number: "101" });
    sim.addUser({ Number: "103" });
    const a = await call(sim, "GET", "Users/Pbx.GetFirstAvailableExtensionNumber()", { token });
    expect(a.body).toEqual({ "@odata.context": `${sim.url}/xapi/v1/$metadata#Pbx.FirstAvailableNumber`, Number: "102" });
    expect((await call(sim, "POST", "Users/Pbx.GetFirstAvailableExtensionNumber()", { token, body: {} })).status).toBe(405);
  });

  it("shows a hand-made user through the API like any other, without the flag", async () => {
    const sim = await start();
    const token = await login(sim);
    const u = sim.addUser({ Number: "300", FirstName: "Front", LastName: "Desk" });
    expect(u.handMade).toBe(true);
    const list = await call(sim, "GET", "Users", { token });
    expect(list.body.value).toEqual([expect.objectContaining({ Id: u.Id, Number: "300", DisplayName: "Front Desk" })]);
    expect(list.text).not.toContain("handMade");
    expect(list.text).not.toContain("AccessPassword");
  });
});

describe("groups", () => {
  it("has DEFAULT, creates a department with {Name}, finds it by Name, and refuses a taken or missing Name", async () => {
    const sim = await start();
    const token = await login(sim);
    const created = await call(sim, "POST", "Groups", { token, body: { Name: "Sales" } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ Id: expect.any(Number), Name: "Sales", Number: "GRP0001", IsDefault: false, HasMembers: false });
    const found = await call(sim, "GET", "Groups", { token, query: { $filter: "Name eq 'Sales'" } });
    expect(found.body).toEqual({
      "@odata.context": `${sim.url}/xapi/v1/$metadata#Groups`,
      value: [expect.objectContaining({ Id: created.body.Id, Name: "Sales" })],
    });
    const missing = await call(sim, "GET", "Groups", { token, query: { $filter: "Name eq '3CX Test'" } });
    expect(missing.body.value).toEqual([]);
    expect((await call(sim, "POST", "Groups", { token, body: { Name: "sales" } })).body).toEqual(
      warning("Name", "WARNINGS.XAPI.ALREADY_IN_USE"),
    );
    expect((await call(sim, "POST", "Groups", { token, body: { Name: "DEFAULT" } })).status).toBe(400);
    expect((await call(sim, "POST", "Groups", { token, body: {} })).body).toEqual(warning("Name", "WARNINGS.XAPI.REQUIRED"));
    expect((await call(sim, "POST", "Groups", { token, body: { Name: "  " } })).body).toEqual(warning("Name", "WARNINGS.XAPI.REQUIRED"));
    expect((await call(sim, "POST", "Groups", { token, body: { Name: "Ops", Manager: "x" } })).body).toEqual(notValid("group"));
    expect(sim.groups().map((g) => g.Name)).toEqual(["DEFAULT", "Sales"]);
  });

  it("sets membership from the user side, shows it through both sides, and removes it with Groups: []", async () => {
    const sim = await start();
    const token = await login(sim);
    const sales = sim.addGroup("Sales");
    const u = sim.addUser({ Number: "101", FirstName: "Ada", LastName: "Lovelace" });
    const patch = await call(sim, "PATCH", `Users(${u.Id})`, {
      token,
      body: { Groups: [{ GroupId: sales.Id, Rights: { RoleName: "managers" } }] },
    });
    expect(patch.status).toBe(204);
    expect(sim.users()[0]).toMatchObject({
      PrimaryGroupId: sales.Id,
      Groups: [{ GroupId: sales.Id, GroupName: "Sales", RoleName: "managers" }],
    });
    // Groups and their Rights are navigation properties: only $expand shows them.
    const plain = await call(sim, "GET", `Users(${u.Id})`, { token, query: { $expand: "Groups" } });
    expect(plain.body.Groups).toEqual([
      {
        Id: expect.any(Number),
        GroupId: sales.Id,
        Name: "Sales",
        Number: "101",
        MemberName: "Ada Lovelace",
        Type: "Extension",
        CanDelete: true,
      },
    ]);
    const withRights = await call(sim, "GET", "Users", { token, query: { $expand: "Groups($expand=Rights)", $select: "Id,Number" } });
    expect(withRights.body.value).toEqual([
      { Id: u.Id, Number: "101", Groups: [expect.objectContaining({ GroupId: sales.Id, Rights: { RoleName: "managers" } })] },
    ]);
    const members = await call(sim, "GET", `Groups(${sales.Id})/Members`, { token });
    expect(members.body).toMatchObject({
      "@odata.context": `${sim.url}/xapi/v1/$metadata#Groups(${sales.Id})/Members`,
      value: [{ GroupId: sales.Id, Number: "101" }],
    });
    expect((await call(sim, "GET", `Groups(${sales.Id})`, { token })).body.HasMembers).toBe(true);
    expect((await call(sim, "PATCH", `Users(${u.Id})`, { token, body: { Groups: [] } })).status).toBe(204);
    expect(sim.users()[0]).toMatchObject({ Groups: [], PrimaryGroupId: null });
    expect((await call(sim, "GET", `Groups(${sales.Id})/Members`, { token })).body.value).toEqual([]);
  });

  it("refuses an unknown group, an unknown or missing role, the same group twice, and a primary group the user is not in", async () => {
    const sim = await start();
    const token = await login(sim);
    const sales = sim.addGroup("Sales");
    const u = sim.addUser({ Number: "101" });
    const patch = (body: Json) => call(sim, "PATCH", `Users(${u.Id})`, { token, body });
    expect((await patch({ Groups: [{ GroupId: 999, Rights: { RoleName: "users" } }] })).body).toEqual(
      warning("GroupId", "WARNINGS.XAPI.NOT_FOUND"),
    );
    expect((await patch({ Groups: [{ GroupId: sales.Id, Rights: { RoleName: "boss" } }] })).body).toEqual(
      warning("RoleName", "WARNINGS.XAPI.NOT_FOUND"),
    );
    expect((await patch({ Groups: [{ GroupId: sales.Id }] })).body).toEqual(warning("RoleName", "WARNINGS.XAPI.REQUIRED"));
    const twice = [
      { GroupId: sales.Id, Rights: { RoleName: "users" } },
      { GroupId: sales.Id, Rights: { RoleName: "managers" } },
    ];
    expect((await patch({ Groups: twice })).body).toEqual(warning("Groups", "WARNINGS.XAPI.DUPLICATE"));
    expect((await patch({ PrimaryGroupId: sales.Id })).body).toEqual(warning("PrimaryGroupId", "WARNINGS.XAPI.NOT_FOUND"));
    expect((await patch({ Groups: [{ GroupId: sales.Id, Rights: { RoleName: "users", Boss: true } }] })).body).toEqual(notValid("delta"));
    // Every role the docs name is taken.
    for (const role of ["users", "receptionists", "managers", "group_admins", "group_owners", "system_admins", "system_owners"]) {
      expect((await patch({ Groups: [{ GroupId: sales.Id, Rights: { RoleName: role } }] })).status).toBe(204);
    }
    expect(sim.writes()).toHaveLength(7);
  });

  it("sets members from the group side and refuses a number no user has", async () => {
    const sim = await start();
    const token = await login(sim);
    const sales = sim.addGroup("Sales");
    sim.addUser({ Number: "101" });
    sim.addUser({ Number: "102" });
    const set = (Members: Json) => call(sim, "PATCH", `Groups(${sales.Id})`, { token, body: { Members } });
    expect((await set([{ Number: "101", Rights: { RoleName: "users" } }])).status).toBe(204);
    expect((await set([{ Number: "102", Rights: { RoleName: "managers" } }])).status).toBe(204);
    const inSales = sim.users().filter((u) => u.Groups.some((g) => g.GroupId === sales.Id));
    expect(inSales.map((u) => [u.Number, u.Groups.find((g) => g.GroupId === sales.Id)?.RoleName])).toEqual([["102", "managers"]]);
    expect((await set([{ Number: "777", Rights: { RoleName: "users" } }])).body).toEqual(
      warning("Members", "WARNINGS.XAPI.NON_EXISTENT_EXT_NUMBER"),
    );
  });

  it("renames, refuses a new Number, and deletes only an empty department that is not DEFAULT", async () => {
    const sim = await start();
    const token = await login(sim);
    const ops = sim.addGroup("Ops");
    expect((await call(sim, "PATCH", `Groups(${ops.Id})`, { token, body: { Number: "GRP0100" } })).body).toEqual(
      warning("Number", "WARNINGS.XAPI.FORBIDDEN_CHANGE"),
    );
    expect((await call(sim, "PATCH", `Groups(${ops.Id})`, { token, body: { Number: ops.Number, Name: "Operations" } })).status).toBe(204);
    expect(sim.groups().find((g) => g.Id === ops.Id)?.Name).toBe("Operations");
    const u = sim.addUser({ Number: "101", Groups: [{ GroupId: ops.Id, RoleName: "users" }] });
    const busy = await call(sim, "DELETE", `Groups(${ops.Id})`, { token });
    expect(busy.status).toBe(400);
    expect(busy.body.error.message).toBe("WARNINGS.GROUP_WITH_MEMBERS_CANNOT_BE_DELETED");
    const defaultGroup = sim.groups().find((g) => g.IsDefault);
    expect((await call(sim, "DELETE", `Groups(${defaultGroup?.Id})`, { token })).body.error.message).toBe(
      "WARNINGS.GROUP_CANNOT_BE_DELETED",
    );
    await call(sim, "PATCH", `Users(${u.Id})`, { token, body: { Groups: [{ GroupId: defaultGroup?.Id, Rights: { RoleName: "users" } }] } });
    expect((await call(sim, "DELETE", `Groups(${ops.Id})`, { token })).status).toBe(204);
    expect((await call(sim, "DELETE", `Groups(${ops.Id})`, { token })).status).toBe(404);
    const other = sim.addGroup("Other");
    expect((await call(sim, "POST", "Groups/Pbx.DeleteCompanyById", { token, body: { id: other.Id } })).status).toBe(204);
    expect(sim.groups().map((g) => g.Name)).toEqual(["DEFAULT"]);
  });
});

describe("paging and filters", () => {
  it("pages with $top and $skip, counts with $count=true, and orders with $orderby", async () => {
    const sim = await start();
    const token = await login(sim);
    for (let i = 0; i < 25; i++) sim.addUser({ Number: String(1100 + i), FirstName: `User${i}` });
    const pages = [];
    for (const skip of [0, 10, 20, 30]) {
      pages.push((await call(sim, "GET", "Users", { token, query: { $top: "10", $skip: String(skip), $count: "true" } })).body);
    }
    expect(pages.map((p) => p["@odata.count"])).toEqual([25, 25, 25, 25]);
    expect(pages.map((p) => p.value.length)).toEqual([10, 10, 5, 0]);
    expect(new Set(pages.flatMap((p) => p.value.map((u: Json) => u.Number))).size).toBe(25);
    expect(pages[0]).not.toHaveProperty("@odata.nextLink");
    const noCount = await call(sim, "GET", "Users", { token, query: { $top: "1" } });
    expect(noCount.body).not.toHaveProperty("@odata.count");
    const desc = await call(sim, "GET", "Users", { token, query: { $orderby: "Number desc", $top: "2", $select: "Number" } });
    expect(desc.body).toEqual({
      "@odata.context": `${sim.url}/xapi/v1/$metadata#Users(Number)`,
      value: [{ Number: "1124" }, { Number: "1123" }],
    });
  });

  it("refuses a $top above the page size and cuts a list without $top there with @odata.nextLink", async () => {
    const sim = await start({ maxPageSize: 10 });
    const token = await login(sim);
    for (let i = 0; i < 15; i++) sim.addUser({ Number: String(200 + i) });
    const tooBig = await call(sim, "GET", "Users", { token, query: { $top: "11" } });
    expect(tooBig.status).toBe(400);
    expect(tooBig.body.error.message).toBe(
      "The query specified in the URI is not valid. The limit of '10' for Top query has been exceeded. The value from the incoming request is '11'.",
    );
    const first = await call(sim, "GET", "Users", { token, query: { $count: "true" } });
    expect(first.body["@odata.count"]).toBe(15);
    expect(first.body.value).toHaveLength(10);
    const next = first.body["@odata.nextLink"] as string;
    expect(next.startsWith(`${sim.url}/xapi/v1/Users?`)).toBe(true);
    const second = await read(await fetch(next, { headers: { Authorization: `Bearer ${token}` } }));
    expect(second.body.value.map((u: Json) => u.Number)).toEqual(["210", "211", "212", "213", "214"]);
    expect(second.body).not.toHaveProperty("@odata.nextLink");
  });

  it("filters by Number, Name and EmailAddress with eq, and, or, tolower and contains", async () => {
    const sim = await start();
    const token = await login(sim);
    sim.addUser({ Number: "101", FirstName: "Ada", EmailAddress: "Ada@Example.com" });
    sim.addUser({ Number: "102", FirstName: "Grace", EmailAddress: "grace@example.com" });
    sim.addUser({ Number: "103", FirstName: "Ada", EmailAddress: "ada2@example.com" });
    const numbers = async (filter: string) =>
      ((await call(sim, "GET", "Users", { token, query: { $filter: filter } })).body.value as Json[]).map((u) => u.Number);
    expect(await numbers("Number eq '102'")).toEqual(["102"]);
    expect(await numbers("FirstName eq 'Ada' and Number ne '101'")).toEqual(["103"]);
    expect(await numbers("Number eq '101' or Number eq '103'")).toEqual(["101", "103"]);
    // eq is exact; tolower makes it case-blind, as the docs look up addresses.
    expect(await numbers("EmailAddress eq 'ada@example.com'")).toEqual([]);
    expect(await numbers("tolower(EmailAddress) eq 'ada@example.com'")).toEqual(["101"]);
    expect(await numbers("contains(EmailAddress,'grace')")).toEqual(["102"]);
    expect(await numbers("not (FirstName eq 'Ada')")).toEqual(["102"]);
    expect(await numbers("Number ge '102'")).toEqual(["102", "103"]);
    expect(await numbers("FirstName eq 'O''Brien'")).toEqual([]);
  });

  it("refuses a filter on a string compared with a number, on an unknown property, or that does not parse", async () => {
    const sim = await start();
    const token = await login(sim);
    const unquoted = await call(sim, "GET", "Users", { token, query: { $filter: "Number eq 101" } });
    expect(unquoted.status).toBe(400);
    expect(unquoted.body.error.message).toContain("incompatible types");
    const unknown = await call(sim, "GET", "Users", { token, query: { $filter: "Department eq 'Sales'" } });
    expect(unknown.body.error.message).toBe(
      "The query specified in the URI is not valid. Could not find a property named 'Department' on type 'Pbx.User'.",
    );
    expect((await call(sim, "GET", "Users", { token, query: { $filter: "Number eq '101" } })).status).toBe(400);
    expect((await call(sim, "GET", "Users", { token, query: { $filter: "Number eq" } })).status).toBe(400);
    expect((await call(sim, "GET", "Users", { token, query: { $filter: "Number" } })).status).toBe(400);
    expect((await call(sim, "GET", "Groups", { token, query: { $filter: "Groups/any(g: g/GroupId eq 1)" } })).status).toBe(400);
  });

  it("refuses query options it does not know, bad values, and collection options on one entity", async () => {
    const sim = await start();
    const token = await login(sim);
    const u = sim.addUser({ Number: "101" });
    const status = async (path: string, query: Record<string, string>) => (await call(sim, "GET", path, { token, query })).status;
    expect(await status("Users", { $select: "Id,Department" })).toBe(400);
    expect(await status("Users", { $expand: "Department" })).toBe(400);
    expect(await status("Users", { $expand: "FirstName" })).toBe(400);
    expect(await status("Users", { $orderby: "Department" })).toBe(400);
    expect(await status("Users", { $top: "-1" })).toBe(400);
    expect(await status("Users", { $skip: "x" })).toBe(400);
    expect(await status("Users", { $count: "yes" })).toBe(400);
    expect(await status("Users", { $search: "Ada" })).toBe(400);
    expect(await status("Users", { $format: "json" })).toBe(400);
    expect(await status(`Users(${u.Id})`, { $top: "1" })).toBe(400);
    expect(await status(`Users(${u.Id})`, { $select: "Number", $expand: "Groups($expand=Rights)" })).toBe(200);
    const selected = await call(sim, "GET", `Users(${u.Id})`, { token, query: { $select: "Number,Mobile" } });
    expect(selected.body).toEqual({
      "@odata.context": `${sim.url}/xapi/v1/$metadata#Users(Number,Mobile)/$entity`,
      Number: "101",
      Mobile: "",
    });
  });
});

describe("errors and switches", () => {
  it("answers 405 with Allow for a method the route does not take, and 404 for routes it does not have", async () => {
    const sim = await start();
    const token = await login(sim);
    const u = sim.addUser({ Number: "101" });
    const put = await call(sim, "PUT", `Users(${u.Id})`, { token, body: { Number: "101" } });
    expect(put.status).toBe(405);
    expect(put.headers.get("allow")).toBe("GET, PATCH, DELETE");
    expect((await call(sim, "DELETE", "Users", { token })).status).toBe(405);
    expect((await call(sim, "GET", "Users/Pbx.BatchDelete", { token })).status).toBe(405);
    expect((await call(sim, "PATCH", "Groups", { token, body: {} })).status).toBe(405);
    expect((await call(sim, "GET", "Extensions", { token })).status).toBe(404);
    expect((await call(sim, "GET", "Users/", { token })).status).toBe(404);
    expect((await call(sim, "GET", "Users('101')", { token })).status).toBe(404);
    expect((await read(await fetch(`${sim.url}/xapi/v2/Users`, { headers: { Authorization: `Bearer ${token}` } }))).status).toBe(404);
    expect(sim.writes()).toEqual([]);
  });

  it("wants JSON bodies: another Content-Type is 415", async () => {
    const sim = await start();
    const token = await login(sim);
    const plain = await call(sim, "POST", "Users", {
      token,
      body: JSON.stringify(userBody("101")),
      headers: { "Content-Type": "text/plain" },
    });
    expect(plain.status).toBe(415);
    expect(sim.users()).toEqual([]);
  });

  it("answers 429 with Retry-After for the next n calls, then normally", async () => {
    const sim = await start();
    const token = await login(sim);
    sim.rateLimit(2, 7);
    for (let i = 0; i < 2; i++) {
      const a = await call(sim, "GET", "Users", { token });
      expect(a.status).toBe(429);
      expect(a.headers.get("retry-after")).toBe("7");
      expect(a.body).toBeNull(); // not JSON: look at the status first
    }
    expect((await call(sim, "GET", "Users", { token })).status).toBe(200);
    expect(sim.calls.slice(-3).map((c) => c.status)).toEqual([429, 429, 200]);
    // The token endpoint is behind the same switch.
    sim.rateLimit(1, 1);
    expect((await requestToken(sim)).status).toBe(429);
  });

  it("answers the chosen 5xx for the next n calls and writes nothing meanwhile", async () => {
    const sim = await start();
    const token = await login(sim);
    sim.failNext(1, 502);
    const failed = await createUser(sim, token, "101");
    expect(failed.status).toBe(502);
    expect(failed.body).toBeNull();
    expect(sim.users()).toEqual([]);
    sim.failNext(2);
    expect((await call(sim, "GET", "Users", { token })).status).toBe(503);
    expect((await call(sim, "GET", "Users", { token })).status).toBe(503);
    expect((await createUser(sim, token, "101")).status).toBe(201);
    expect(() => sim.failNext(1, 404)).toThrow(/5xx/);
  });

  it("delays every answer by latencyMs", async () => {
    const sim = await start();
    const token = await login(sim);
    sim.latencyMs = 150;
    const t0 = performance.now();
    await call(sim, "GET", "Users", { token });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(140);
    sim.latencyMs = 0;
  });

  it("resets connections while down, and serves again when back up", async () => {
    const sim = await start();
    const token = await login(sim);
    sim.down(true);
    await expect(call(sim, "GET", "Users", { token })).rejects.toThrow();
    await expect(requestToken(sim)).rejects.toThrow();
    sim.down(false);
    expect((await call(sim, "GET", "Users", { token })).status).toBe(200);
  });

  it("records every call without the token or the secret, and writes with secrets redacted", async () => {
    const sim = await start();
    const token = await login(sim);
    await createUser(sim, token, "101", { VMPIN: "4711", AuthPassword: "sip-pass-1", AccessPassword: "web-pass-1" });
    await call(sim, "GET", "Users", { token, query: { $top: "5" } });
    expect(sim.calls).toEqual([
      { method: "POST", path: "/connect/token", query: {}, status: 200 },
      { method: "POST", path: "/xapi/v1/Users", query: {}, status: 201 },
      { method: "GET", path: "/xapi/v1/Users", query: { $top: "5" }, status: 200 },
    ]);
    const logged = JSON.stringify([sim.calls, sim.writes()]);
    expect(logged).not.toContain(token);
    expect(logged).not.toContain(sim.clientSecret);
    for (const secret of ["4711", "sip-pass-1", "web-pass-1"]) expect(logged).not.toContain(secret);
    expect(sim.writes()[0]?.fields).toMatchObject({ VMPIN: "[redacted]", AuthPassword: "[redacted]", AccessPassword: "[redacted]" });
    // The web client password is never kept, so never answered.
    expect(JSON.stringify(sim.users())).not.toContain("web-pass-1");
    expect((await call(sim, "GET", "Users", { token })).text).not.toContain("web-pass-1");
  });

  it("hands out copies, so a test cannot change the PBX by accident", async () => {
    const sim = await start();
    const u = sim.addUser({ Number: "101" });
    u.Number = "999";
    const snapshot = sim.users();
    (snapshot[0] as { Groups: unknown[] }).Groups.length = 0;
    expect(sim.users()[0]).toMatchObject({ Number: "101", Groups: [expect.objectContaining({ RoleName: "users" })] });
  });
});
