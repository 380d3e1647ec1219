// The reference for the pbx benchmark, run as a process of its own (as the worker is): a bare
// client that makes only the calls a first sync of `count` users needs on one target (its
// token, its listing, its departments, one create each) at the same concurrency, with nothing
// between them. Prints {"ms": …, "calls": …} on stdout.
//
// node bench/pbx-reference-client.ts KIND URL CLIENT_ID SECRET CONCURRENCY COUNT DEPARTMENTS
import { yeastarPassword } from "../worker/src/pbx/yeastar/yeastar-password.ts";

const [kind, url, clientId, secret, concurrencyText, countText, departmentsText] = process.argv.slice(2);
const concurrency = Number(concurrencyText);
const count = Number(countText);
const departments = String(departmentsText).split(",");
let calls = 0;

async function call(target: string, init: RequestInit & { ok?: number[] } = {}): Promise<Record<string, unknown>> {
  calls++;
  const res = await fetch(target, { ...init, headers: { "User-Agent": "pbx-ad-sync-bench", ...(init.headers as Record<string, string>) } });
  const text = await res.text();
  if (!res.ok)
    throw new Error(`${init.method ?? "GET"} ${target.replace(/access_token=[^&]+/, "access_token=…")}: HTTP ${res.status} ${text}`);
  return text === "" ? {} : (JSON.parse(text) as Record<string, unknown>);
}

/** Runs `each(i)` for every i below `n`, `concurrency` at a time, one after another in each lane. */
async function lanes(n: number, each: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) await each(next++);
    }),
  );
}

const person = (i: number) => ({ number: String(20000 + i), n: String(i).padStart(5, "0") });
const json = (body: unknown): RequestInit => ({
  method: "POST",
  headers: { "Content-Type": "application/json" },
  body: JSON.stringify(body),
});

async function yeastar(): Promise<void> {
  const api = `${url}/openapi/v1.0`;
  const token = String((await call(`${api}/get_token`, json({ username: clientId, password: secret }))).access_token);
  const q = `access_token=${token}`;
  await Promise.all([call(`${api}/extension/list?page=1&page_size=100&${q}`), call(`${api}/organization/list?is_all=2&${q}`)]);
  const root = Number((await call(`${api}/organization/create?${q}`, json({ name: "Bench", parent_id: 1 }))).id);
  const orgs = await Promise.all(departments.map((name) => call(`${api}/organization/create?${q}`, json({ name, parent_id: root }))));
  await lanes(count, async (i) => {
    const { number, n } = person(i);
    await call(
      `${api}/extension/create?${q}`,
      json({
        number,
        type: "SIP",
        user_password: yeastarPassword(number, ["User", n]),
        reg_name: number,
        reg_password: yeastarPassword(number, ["User", n]),
        concurrent_registrations: 1,
        presence_status: "available",
        first_name: "User",
        last_name: n,
        email_addr: `user${n}@example.com`,
        mobile_number: `+447700${String(900000 + i)}`,
        title: "Bench Tester",
        organization_list: [{ value: String(orgs[i % orgs.length]?.id) }],
      }),
    );
  });
}

async function threeCx(): Promise<void> {
  const form = new URLSearchParams({ client_id: clientId as string, client_secret: secret as string, grant_type: "client_credentials" });
  const token = String(
    (
      await call(`${url}/connect/token`, {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: form.toString(),
      })
    ).access_token,
  );
  const auth = { Authorization: `Bearer ${token}` };
  const api = `${url}/xapi/v1`;
  const [, groups] = await Promise.all([
    call(`${api}/Users?$top=100&$skip=0&$count=true`, { headers: auth }),
    call(`${api}/Groups?$top=100&$skip=0&$count=true`, { headers: auth }),
  ]);
  const defaultId = (groups.value as Array<{ Id: number; IsDefault?: boolean }>).find((g) => g.IsDefault)?.Id;
  const made = await Promise.all(
    ["Bench", ...departments.map((d) => `Bench > ${d}`)].map((Name) =>
      call(`${api}/Groups`, { ...json({ Name }), headers: { ...auth, "Content-Type": "application/json" } }),
    ),
  );
  const ids = made.slice(1).map((g) => Number(g.Id));
  await lanes(count, async (i) => {
    const { number, n } = person(i);
    await call(`${api}/Users`, {
      ...json({
        Number: number,
        FirstName: "User",
        LastName: n,
        DisplayName: `User ${n}`,
        EmailAddress: `user${n}@example.com`,
        Mobile: `+447700${String(900000 + i)}`,
        Groups: [{ GroupId: ids[i % ids.length] ?? defaultId, Rights: { RoleName: "users" } }],
      }),
      headers: { ...auth, "Content-Type": "application/json" },
    });
  });
}

async function scim(): Promise<void> {
  const auth = { Authorization: `Bearer ${secret}`, "Content-Type": "application/scim+json" };
  await call(`${url}/Users?startIndex=1&count=100`, { headers: auth });
  await lanes(count, async (i) => {
    const { number, n } = person(i);
    await call(`${url}/Users`, {
      method: "POST",
      headers: auth,
      body: JSON.stringify({
        schemas: ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        externalId: `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`,
        userName: `user${n}@example.com`,
        name: { givenName: "User", familyName: n },
        displayName: `User ${n}`,
        emails: [{ value: `user${n}@example.com`, type: "work", primary: true }],
        phoneNumbers: [
          { value: number, type: "work" },
          { value: `+44 7700 9${String(i).padStart(5, "0")}`, type: "mobile" },
        ],
        title: "Bench Tester",
        active: true,
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": { department: departments[i % departments.length] },
      }),
    });
  });
}

const started = performance.now();
await (kind === "yeastar" ? yeastar() : kind === "3cx" ? threeCx() : scim());
process.stdout.write(`${JSON.stringify({ ms: performance.now() - started, calls })}\n`);
