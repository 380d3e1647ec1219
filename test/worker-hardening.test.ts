// What the worker refuses before it does any work, as the bundle runs in workerd: bodies over
// a route's limit (declared or streamed), numeric query parameters that are not whole numbers
// in range, administrator tokens with the wrong audience, issuer or lifetime; and what its
// CSV exports hand a spreadsheet.
import { connect } from "node:net";
import { sign } from "hono/jwt";
import type { Miniflare } from "miniflare";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { devToken } from "../cli/dev-token.ts";
import { readCsv } from "./support/read-csv.ts";
import { adminToken } from "./support/stack.ts";
import { bundleWorker, startWorker, testSecrets } from "./support/worker-bundle.ts";

const MiB = 1024 * 1024;
const now = () => Math.floor(Date.now() / 1000);

interface Sent {
  /** 0: the worker closed the connection without an answer this client could read. */
  status: number;
  body: { error?: { code: string; message: string; details?: Record<string, unknown> } } | null;
  /** How much of the body had been written when the answer came. */
  sent: number;
  ms: number;
}

/**
 * Sends `total` bytes of body over a raw socket, with Content-Length when `headers` has one
 * and chunked otherwise, and stops writing as soon as the worker answers. `hold` leaves the
 * request open after the bytes are written, as a client still uploading would: the answer must
 * come without the rest. A raw socket, because a worker that answers mid-upload closes the
 * connection, and node:http then reports the broken pipe rather than the answer. Even so, a
 * client still writing when the connection closes may lose the answer to the reset (status 0).
 */
function send(url: URL, method: string, headers: Record<string, string>, total: number, hold = false): Promise<Sent> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const chunked = !Object.keys(headers).some((h) => h.toLowerCase() === "content-length");
    const head = [
      `${method} ${url.pathname}${url.search} HTTP/1.1`,
      `Host: ${url.host}`,
      ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
      ...(chunked ? ["Transfer-Encoding: chunked"] : []),
      "",
      "",
    ].join("\r\n");
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    const socket = connect(Number(url.port), url.hostname);
    let sent = 0;
    let sentAtAnswer: number | undefined;
    let received = Buffer.alloc(0);
    const answer = () => {
      const text = received.toString("utf8");
      const end = text.indexOf("\r\n\r\n");
      const status = /^HTTP\/1\.1 (\d{3})/.exec(text)?.[1];
      if (end < 0 || status === undefined) return undefined;
      const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(text.slice(0, end))?.[1] ?? Number.NaN);
      const body = Buffer.from(text.slice(end + 4));
      if (!(body.length >= length)) return undefined;
      const json = body.subarray(0, length).toString("utf8");
      return { status: Number(status), body: json ? JSON.parse(json) : null };
    };
    const finish = () => {
      const got = answer();
      socket.destroy();
      if (got) resolve({ ...got, sent: sentAtAnswer ?? sent, ms: Date.now() - started });
      else if (received.length === 0) resolve({ status: 0, body: null, sent, ms: Date.now() - started });
      else reject(new Error(`no answer after ${sent} bytes: ${JSON.stringify(received.toString("utf8").slice(0, 200))}`));
    };
    socket.on("data", (data: Buffer) => {
      sentAtAnswer ??= sent;
      received = Buffer.concat([received, data]);
      if (answer()) finish();
    });
    // The worker closing the connection mid-upload is expected: what it answered decides.
    socket.on("error", () => undefined);
    socket.on("close", finish);
    const pump = () => {
      while (sentAtAnswer === undefined && !socket.destroyed && sent < total) {
        const n = Math.min(chunk.length, total - sent);
        sent += n;
        const data = n === chunk.length ? chunk : chunk.subarray(0, n);
        const framed = chunked ? Buffer.concat([Buffer.from(`${n.toString(16)}\r\n`), data, Buffer.from("\r\n")]) : data;
        if (!socket.write(framed)) {
          socket.once("drain", pump);
          return;
        }
      }
      if (sentAtAnswer === undefined && !socket.destroyed && !hold && chunked) socket.write("0\r\n\r\n");
    };
    socket.once("connect", () => {
      socket.write(head);
      pump();
    });
  });
}

describe("the worker's limits in workerd", () => {
  let mf: Miniflare;
  let base: URL;
  let token: string;
  let script: string;

  beforeAll(async () => {
    ({ script } = await bundleWorker());
    mf = await startWorker(script, { port: 0 });
    base = await mf.ready;
    token = await adminToken("acme");
  });
  afterAll(async () => {
    await mf?.dispose();
  });

  const api = async (method: string, path: string, init: { body?: string; headers?: Record<string, string>; as?: string } = {}) => {
    const res = await fetch(new URL(path, base), {
      method,
      headers: { Authorization: `Bearer ${init.as ?? token}`, "Content-Type": "application/json", ...init.headers },
      ...(init.body === undefined ? {} : { body: init.body }),
    });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      // CSV stays text.
    }
    return { status: res.status, headers: res.headers, body: body as Sent["body"], text };
  };

  // Every route that reads a body, with its limit.
  const bodyRoutes: Array<[method: string, path: string, limit: number]> = [
    ["PUT", "/api/v1/tenants/acme/config", MiB],
    ["POST", "/api/v1/config/validate", MiB],
    ["POST", "/api/v1/tenants/acme/test-connection", MiB],
    ["PUT", "/api/v1/tenants/acme/config/bind-password", 64 * 1024],
    ["POST", "/api/v1/tenants/acme/extensions", 64 * 1024],
    ["POST", "/api/v1/tenants/acme/agents/enrollment-tokens", 64 * 1024],
  ];
  const headers = () => ({ Authorization: `Bearer ${token}`, "Content-Type": "application/json" });

  it("refuses a 50 MB body with Content-Length at once, with 413 body_too_large", async () => {
    const url = new URL("/api/v1/tenants/acme/config", base);
    const declared = { ...headers(), "Content-Length": String(50 * MiB) };
    // The first 64 KiB, then the client waits: the answer comes from the Content-Length.
    const res = await send(url, "PUT", declared, 64 * 1024, true);
    expect(res).toMatchObject({ status: 413, body: { error: { code: "body_too_large", details: { maxBytes: MiB } } } });
    expect(res.ms).toBeLessThan(2000);
    // Sent at full speed, the upload is stopped long before its end (answered, or cut off).
    const full = await send(url, "PUT", declared, 50 * MiB);
    expect([413, 0]).toContain(full.status);
    expect(full.sent).toBeLessThan(20 * MiB);
    expect(full.ms).toBeLessThan(5000);
  });

  it.each(bodyRoutes)("answers %s %s from the Content-Length alone, before the body is sent", async (method, path, limit) => {
    // The client declares one byte over the limit and sends 1 KB of it, then waits.
    const res = await send(new URL(path, base), method, { ...headers(), "Content-Length": String(limit + 1) }, 1024, true);
    expect(res).toMatchObject({ status: 413, body: { error: { code: "body_too_large", details: { maxBytes: limit } } } });
  });

  it.each(bodyRoutes)("stops a chunked body without Content-Length on %s %s once it passes the limit", async (method, path, limit) => {
    // Twice the limit, then the upload stays open: only a worker that counts while reading answers.
    const res = await send(new URL(path, base), method, headers(), 2 * limit + 64 * 1024, true);
    expect(res).toMatchObject({ status: 413, body: { error: { code: "body_too_large", details: { maxBytes: limit } } } });
  });

  it("stops a 50 MB chunked upload long before its end", async () => {
    // At full speed: answered 413, or cut off while the client still writes (see send).
    const res = await send(new URL("/api/v1/tenants/acme/config", base), "PUT", headers(), 50 * MiB);
    expect([413, 0]).toContain(res.status);
    expect(res.sent).toBeLessThan(20 * MiB);
  });

  it("counts a body's bytes, not its characters", async () => {
    // 30,000 characters of three bytes each: within the limit as characters, not as bytes.
    const body = JSON.stringify({ password: "€".repeat(30_000) });
    expect(body.length).toBeLessThan(64 * 1024);
    const res = await api("PUT", "/api/v1/tenants/acme/config/bind-password", { body });
    expect(res).toMatchObject({ status: 413, body: { error: { code: "body_too_large" } } });
  });

  it.each(bodyRoutes)("still takes a body just under the limit on %s %s", async (method, path, limit) => {
    // A JSON object padded to a little under the limit: the route answers on its merits.
    const padding = "x".repeat(limit - 1024);
    const body =
      path.endsWith("/extensions") || path.endsWith("/enrollment-tokens") || path.endsWith("/bind-password")
        ? JSON.stringify({ number: "1234", displayName: "Padded", label: "padded", password: padding, note: padding.slice(0, 10) })
        : JSON.stringify({ scope: { users: "all" }, padding });
    expect(Buffer.byteLength(body)).toBeLessThanOrEqual(limit);
    const res = await api(method, path, { body });
    expect(res.status).not.toBe(413);
    expect(res.body?.error?.code).not.toBe("internal_error");
  });

  const invalidNumbers = ["abc", "-1", "1.5", "1e20", "NaN", "Infinity", "0x10", "", " 5", "99999999999999999999"];
  const queryRoutes: Array<[method: string, path: string, parameter: string, tooBig: string]> = [
    ["GET", "/api/v1/tenants/acme/extensions", "limit", "1001"],
    ["GET", "/api/v1/tenants/acme/extensions", "offset", "1000001"],
    ["GET", "/api/v1/tenants/acme/runs", "limit", "1001"],
    ["GET", "/api/v1/tenants/acme/runs", "offset", "1000001"],
    ["GET", "/api/v1/tenants/acme/runs/some-run/items", "limit", "1001"],
    ["GET", "/api/v1/tenants/acme/runs/some-run/items", "offset", "1000001"],
    ["POST", "/api/v1/tenants/acme/preview", "limit", "1001"],
    ["GET", "/api/v1/tenants/acme/auth/attempts", "limit", "1001"],
    ["GET", "/api/v1/tenants/acme/auth/attempts", "offset", "1000001"],
    ["GET", "/api/v1/tenants/acme/agents/events", "limit", "1001"],
    ["GET", "/api/v1/tenants/acme/directory/groups", "limit", "1001"],
  ];

  it.each(queryRoutes)(
    "answers %s %s?%s=… with 400 invalid_query naming it, for anything but a whole number in range",
    async (method, path, parameter, tooBig) => {
      for (const value of [...invalidNumbers, tooBig]) {
        const res = await api(method, `${path}?${parameter}=${encodeURIComponent(value)}`);
        expect({ value, status: res.status, code: res.body?.error?.code }).toEqual({ value, status: 400, code: "invalid_query" });
        expect(res.body?.error).toMatchObject({
          message: expect.stringMatching(new RegExp(`^${parameter} is a whole number`)),
          details: { parameter },
        });
      }
    },
  );

  it("still answers pages asked for with whole numbers in range", async () => {
    for (const path of [
      "/extensions?limit=10&offset=0",
      "/runs?limit=1000&offset=1000000",
      "/auth/attempts?limit=1&offset=5",
      "/agents/events?limit=1",
    ]) {
      expect({ path, status: (await api("GET", `/api/v1/tenants/acme${path}`)).status }).toEqual({ path, status: 200 });
    }
  });

  describe("administrator sessions", () => {
    it("takes the tokens the tools mint: npm start's 12 hours, adsync dev-token's default, the tests' hour", async () => {
      for (const as of [
        await devToken({ tenant: "acme", hours: 12 }, testSecrets.ADMIN_JWT_SECRET),
        await devToken({ tenant: "acme" }, testSecrets.ADMIN_JWT_SECRET),
        await adminToken("acme"),
      ]) {
        expect((await api("GET", "/api/v1/tenants/acme/config", { as })).status).toBe(200);
      }
    });

    it("refuses a token valid until 2100, or for more than 24 hours", async () => {
      for (const claims of [{ exp: Date.UTC(2100, 0, 1) / 1000 }, { iat: now(), exp: now() + 25 * 3600 }]) {
        const as = await sign({ sub: "x", tenant: "acme", role: "admin", ...claims }, testSecrets.ADMIN_JWT_SECRET);
        expect(await api("GET", "/api/v1/tenants/acme/config", { as })).toMatchObject({
          status: 401,
          body: { error: { code: "session_lifetime_too_long" } },
        });
      }
    });

    it("checks audience, issuer and lifetime as ADMIN_JWT_AUDIENCE, ADMIN_JWT_ISSUER and ADMIN_JWT_MAX_LIFETIME_SECONDS say", async () => {
      const strict = await startWorker(script, {
        port: 0,
        bindings: {
          ADMIN_JWT_AUDIENCE: "pbx-ad-sync",
          ADMIN_JWT_ISSUER: "https://portal.example.com",
          ADMIN_JWT_MAX_LIFETIME_SECONDS: "7200",
        },
      });
      try {
        const call = async (claims: Record<string, unknown>) => {
          const as = await sign(
            { sub: "x", tenant: "acme", role: "admin", iat: now(), exp: now() + 3600, ...claims },
            testSecrets.ADMIN_JWT_SECRET,
          );
          const res = await strict.dispatchFetch("http://localhost/api/v1/tenants/acme/config", {
            headers: { Authorization: `Bearer ${as}` },
          });
          const body = (await res.json()) as Sent["body"];
          return { status: res.status, code: body?.error?.code };
        };
        const good = { aud: "pbx-ad-sync", iss: "https://portal.example.com" };
        expect(await call(good)).toEqual({ status: 200, code: undefined });
        expect(await call({ ...good, aud: ["uc-client", "pbx-ad-sync"] })).toEqual({ status: 200, code: undefined });
        expect(await call({ iss: good.iss })).toEqual({ status: 401, code: "invalid_audience" });
        expect(await call({ ...good, aud: "uc-client" })).toEqual({ status: 401, code: "invalid_audience" });
        expect(await call({ aud: good.aud })).toEqual({ status: 401, code: "invalid_issuer" });
        expect(await call({ ...good, iss: "https://evil.example.com" })).toEqual({ status: 401, code: "invalid_issuer" });
        expect(await call({ ...good, exp: now() + 3 * 3600 })).toEqual({ status: 401, code: "session_lifetime_too_long" });
      } finally {
        await strict.dispose();
      }
    });

    it("fails closed when ADMIN_JWT_MAX_LIFETIME_SECONDS is not a number of seconds", async () => {
      const broken = await startWorker(script, { port: 0, bindings: { ADMIN_JWT_MAX_LIFETIME_SECONDS: "2h" } });
      try {
        const res = await broken.dispatchFetch("http://localhost/api/v1/tenants/acme/config", {
          headers: { Authorization: `Bearer ${token}` },
        });
        expect(res.status).toBe(500);
        expect(((await res.json()) as Sent["body"])?.error?.code).toBe("misconfigured");
      } finally {
        await broken.dispose();
      }
    });
  });

  it("exports domain-login attempts as CSV a spreadsheet reads without formulas, with , or ; as separator", async () => {
    const names = ["x;=2*21;@SUM(1)@example.com", " =1+1@example.com", "-2+3@example.com", "@SUM(1)@example.com", "a,=1+1@example.com"];
    const config = {
      connection: {
        domainControllers: [{ host: "dc1.example.com" }],
        security: "ldaps",
        bindUsername: "svc-pbx@example.com",
        bindPassword: { source: "agent" },
        baseDn: "DC=example,DC=com",
      },
      scope: { users: "all" },
      domainLogin: { enabled: true },
    };
    expect((await api("PUT", "/api/v1/tenants/acme/config", { body: JSON.stringify(config) })).status).toBe(200);
    for (const [i, username] of names.entries()) {
      // Refused (no such synced user, or no agent to ask), and logged either way.
      const res = await api("POST", "/api/v1/tenants/acme/auth/domain-login", {
        body: JSON.stringify({ username, password: "not-this-one" }),
        headers: { "CF-Connecting-IP": i === 0 ? "=1+1;@x" : "192.0.2.1" },
      });
      expect([401, 503]).toContain(res.status);
    }
    const exported = await api("GET", "/api/v1/tenants/acme/auth/attempts?format=csv");
    expect(exported.headers.get("content-type")).toMatch(/text\/csv/);
    expect(exported.text.split("\r\n")[0]).toMatch(/^"Time","Username",/);
    for (const separator of [",", ";"]) {
      const cells = readCsv(exported.text, separator).flat();
      // Trimmed of spaces, as spreadsheets read a cell.
      expect(cells.filter((c) => /^[=+\-@\t\r]/.test(c.replace(/^ +/, "")))).toEqual([]);
    }
    const usernames = readCsv(exported.text)
      .slice(1)
      .map((row) => (row[1] as string).replace(/'/g, ""));
    expect(usernames).toEqual(expect.arrayContaining(names));
  });
});
