// Domain login through the whole path (HTTP to the bundled worker in workerd, the tenant's
// Durable Object, the WebSocket to a real agent process, the agent's lookup and bind on the
// DC) against the reference: a direct LDAPS bind by the same user, as a UC server doing its
// own LDAP authentication would do it (TCP connect, TLS handshake, simple bind), measured
// in the same run, interleaved. Also logins per second at 200 concurrent, where the target
// is no error, and how long refused logins take against successful ones.
import { Client } from "ldapts";
import { targetFor } from "../agent/src/ldap/test-support.ts";
import type { SyncConfig } from "../schema/generated/config.ts";
import type { SambaDcInfo } from "../test/support/samba-dc.ts";
import { startStack } from "../test/support/stack.ts";
import { benchOu } from "./large-directory.ts";
import { median } from "./ldapsearch.ts";

export interface DomainLoginResult {
  users: number;
  samples: number;
  directBindMedianMs: number;
  directBindP95Ms: number;
  /** A bind alone, on an LDAPS connection already open: the DC's own share of any login. */
  openConnectionBindMedianMs: number;
  loginMedianMs: number;
  loginP95Ms: number;
  /** (login - direct bind) / direct bind. Target: median under 1.5. */
  addedMedianRatio: number;
  addedP95Ratio: number;
  /** (login - bind alone) / bind alone: the stricter view, when connections are kept open on both sides. */
  addedOverOpenBindMedianRatio: number;
  concurrent: number;
  concurrentErrors: number;
  loginsPerSecond: number;
  /** Median time of a refused login (unknown user; wrong password) / median of a successful one: near 1 hides why. */
  unknownUserTimeRatio: number;
  wrongPasswordTimeRatio: number;
}

const DEPARTMENT = "Finance";
const ratio = (a: number, b: number) => Math.round((a / b) * 100) / 100;
const percentile = (values: number[], p: number) =>
  [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(values.length * p))] as number;

async function directBind(dc: SambaDcInfo, upn: string, password: string): Promise<number> {
  const started = performance.now();
  const client = new Client({ url: dc.ldapsUrl, tlsOptions: { ca: [dc.caPem] }, timeout: 10_000 });
  try {
    await client.bind(upn, password);
  } finally {
    await client.unbind().catch(() => {});
  }
  return performance.now() - started;
}

export async function benchDomainLogin(dc: SambaDcInfo, totalUsers: number, log: (line: string) => void): Promise<DomainLoginResult> {
  const config = {
    connection: { ...targetFor(dc).connection, pageSize: 500 },
    scope: { users: "ous", ous: [{ dn: `OU=${DEPARTMENT},${benchOu}` }] },
    extensionNumbers: { source: "attribute", attribute: "ipPhone" },
    schedule: { mode: "manual" },
    // Limits far above what the benchmark does, which logs in from one address.
    domainLogin: { enabled: true, maxFailures: 50, maxFailuresPerAddress: 10000 },
  } as SyncConfig;
  const stack = await startStack(dc, { tenant: "bench-login", config: config as Record<string, unknown> });
  try {
    const started = await stack.api("POST", "/sync");
    if (started.status !== 202) throw new Error(`sync: HTTP ${started.status} ${started.text}`);
    const run = await stack.finished(started.body.id, 10 * 60_000);
    if (run.status !== "succeeded") throw new Error(`the sync for the login benchmark ended ${run.status}: ${run.error}`);
    // Every 8th generated user is in this department; every 50th is disabled.
    const users: string[] = [];
    for (let i = 3; i < totalUsers && users.length < 200; i += 8)
      if (i % 50 !== 49) users.push(`user${String(i).padStart(5, "0")}@example.com`);

    const login = async (username: string, password: string, source = "203.0.113.7") => {
      const t = performance.now();
      const res = await fetch(`${stack.base}/api/v1/tenants/bench-login/auth/domain-login`, {
        method: "POST",
        headers: { "Content-Type": "application/json", "CF-Connecting-IP": source },
        body: JSON.stringify({ username, password }),
      });
      await res.arrayBuffer();
      return { status: res.status, ms: performance.now() - t };
    };

    // Warm up: TLS session paths, the agent's login connections, the worker's isolate.
    for (const u of users.slice(0, 10)) {
      await directBind(dc, u, dc.userPassword);
      const r = await login(u, dc.userPassword);
      if (r.status !== 200) throw new Error(`warm-up login of ${u}: HTTP ${r.status}`);
    }

    const open = new Client({ url: dc.ldapsUrl, tlsOptions: { ca: [dc.caPem] }, timeout: 10_000 });
    const direct: number[] = [];
    const openBinds: number[] = [];
    const logins: number[] = [];
    for (const u of users) {
      direct.push(await directBind(dc, u, dc.userPassword));
      const b = performance.now();
      await open.bind(u, dc.userPassword);
      openBinds.push(performance.now() - b);
      const r = await login(u, dc.userPassword);
      if (r.status !== 200) throw new Error(`login of ${u}: HTTP ${r.status}`);
      logins.push(r.ms);
    }
    await open.unbind().catch(() => {});
    const o50 = median(openBinds);
    const d50 = median(direct);
    const d95 = percentile(direct, 0.95);
    const l50 = median(logins);
    const l95 = percentile(logins, 0.95);
    log(
      `domain login: direct LDAPS bind median ${d50.toFixed(1)} ms (p95 ${d95.toFixed(1)}), ` +
        `a bind alone on an open connection ${o50.toFixed(1)} ms, login through worker and agent median ${l50.toFixed(1)} ms (p95 ${l95.toFixed(1)}), ${users.length} users`,
    );

    // Refused logins against successful ones, interleaved.
    const unknown: number[] = [];
    const wrong: number[] = [];
    const good: number[] = [];
    for (let i = 0; i < 40; i++) {
      const u = users[i % users.length] as string;
      good.push((await login(u, dc.userPassword)).ms);
      unknown.push((await login(`nobody${i}@example.com`, dc.userPassword)).ms);
      wrong.push((await login(u, `wrong-${i}`)).ms);
      // Clear the wrong password's failure with a success, as the user would.
      await login(u, dc.userPassword);
    }

    const concurrent = 200;
    const burst = Array.from({ length: concurrent }, (_, i) => users[i % users.length] as string);
    const t0 = performance.now();
    const answers = await Promise.all(burst.map((u) => login(u, dc.userPassword).catch(() => ({ status: 0, ms: 0 }))));
    const seconds = (performance.now() - t0) / 1000;
    const errors = answers.filter((a) => a.status !== 200).length;

    const result: DomainLoginResult = {
      users: users.length,
      samples: logins.length,
      directBindMedianMs: Math.round(d50 * 10) / 10,
      directBindP95Ms: Math.round(d95 * 10) / 10,
      openConnectionBindMedianMs: Math.round(o50 * 10) / 10,
      loginMedianMs: Math.round(l50 * 10) / 10,
      loginP95Ms: Math.round(l95 * 10) / 10,
      addedMedianRatio: ratio(l50 - d50, d50),
      addedP95Ratio: ratio(l95 - d95, d95),
      addedOverOpenBindMedianRatio: ratio(l50 - o50, o50),
      concurrent,
      concurrentErrors: errors,
      loginsPerSecond: Math.round(concurrent / seconds),
      unknownUserTimeRatio: ratio(median(unknown), median(good)),
      wrongPasswordTimeRatio: ratio(median(wrong), median(good)),
    };
    log(
      `domain login: added latency over a direct bind ${result.addedMedianRatio}x (median), ${result.addedP95Ratio}x (p95), ` +
        `over a bind alone ${result.addedOverOpenBindMedianRatio}x (median); ` +
        `${concurrent} concurrent logins: ${errors} errors, ${result.loginsPerSecond} logins/s; ` +
        `refused/successful time: unknown user ${result.unknownUserTimeRatio}, wrong password ${result.wrongPasswordTimeRatio}`,
    );
    return result;
  } finally {
    await stack.stop();
  }
}
