// The reference for the Yeastar benchmark, run as a process of its own (as the worker is): a
// bare client that makes only the calls a first sync of `count` users needs (a token, the
// listing, the organizations, one create each) at the same concurrency, with nothing between
// them. Prints {"ms": …, "calls": …} on stdout.
//
// node bench/yeastar-reference-client.ts URL CLIENT_ID SECRET CONCURRENCY COUNT DEPARTMENTS
import { yeastarPassword } from "../worker/src/pbx/yeastar/yeastar-password.ts";

const [url, clientId, secret, concurrencyText, countText, departmentsText] = process.argv.slice(2);
const concurrency = Number(concurrencyText);
const count = Number(countText);
const departments = String(departmentsText).split(",");
const api = `${url}/openapi/v1.0`;
const headers = { "User-Agent": "pbx-ad-sync-bench", "Content-Type": "application/json" };
let calls = 0;

async function call(method: "GET" | "POST", endpoint: string, token: string | null, body?: unknown): Promise<Record<string, unknown>> {
  calls++;
  const res = await fetch(`${api}/${endpoint}${token === null ? "" : `${endpoint.includes("?") ? "&" : "?"}access_token=${token}`}`, {
    method,
    headers,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const answer = (await res.json()) as Record<string, unknown>;
  if (answer.errcode !== 0) throw new Error(`${endpoint}: ${JSON.stringify(answer)}`);
  return answer;
}

const started = performance.now();
const token = String((await call("POST", "get_token", null, { username: clientId, password: secret })).access_token);
await Promise.all([call("GET", "extension/list?page=1&page_size=100", token), call("GET", "organization/list?is_all=2", token)]);
const root = Number((await call("POST", "organization/create", token, { name: "Bench", parent_id: 1 })).id);
const orgs = await Promise.all(departments.map((name) => call("POST", "organization/create", token, { name, parent_id: root })));
let next = 0;
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (next < count) {
      const i = next++;
      const number = String(20000 + i);
      const n = String(i).padStart(5, "0");
      await call("POST", "extension/create", token, {
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
      });
    }
  }),
);
process.stdout.write(`${JSON.stringify({ ms: performance.now() - started, calls })}\n`);
