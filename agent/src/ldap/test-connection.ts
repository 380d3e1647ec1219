// Test Connection: the checks an administrator would make by hand, in order (can the DCs be
// reached, is TLS trustworthy, does the bind work, is the base DN there, what does the
// scope hold), each timed and explained, stopping at the first failure. The worker puts its
// own "agent" step in front.

import type { Scope } from "../../../schema/generated/config.ts";
import type { ConnectionStep, LdapTarget, ScopeCounts, TestConnectionResult } from "../../../schema/src/agent-protocol.ts";
import { scopeBases, scopeGroupFilter, scopeUserFilter, sweepNeeded } from "../../../schema/src/scope-filter.ts";
import type { CertificateInfo } from "./certificate.ts";
import {
  bindConnection,
  type ConnectionSettings,
  connectionSettings,
  type DirectoryConnection,
  type Endpoint,
  openTransport,
  probeReachable,
  type ReachInfo,
  resolveBindPassword,
} from "./connection.ts";
import { BindError, DirectoryError, SearchError, TlsError, toDirectoryError } from "./errors.ts";
import { type PagedSearch, type SearchSpec, searchPages } from "./search.ts";

export type StepId = Exclude<ConnectionStep["id"], "agent" | "policy" | "domainLogin" | "pbxReachable" | "pbxAuth" | "pbxAccess">;

export const stepTitles: Record<StepId, string> = {
  reachable: "Domain controllers reachable",
  tls: "Secure connection (TLS)",
  bind: "Sign-in of the bind account",
  baseDn: "Base DN readable",
  scope: "Users, OUs and groups in scope",
};

const ORDER: StepId[] = ["reachable", "tls", "bind", "baseDn", "scope"];

// Certificates closer than this to expiry turn the TLS step into a warning.
const EXPIRY_WARNING_DAYS = 30;

export interface StepOutcome {
  status: "ok" | "failed" | "warning";
  detail: string;
  fix?: string | undefined;
  code?: string | undefined;
}

export async function testConnection(target: LdapTarget, scope?: Scope): Promise<TestConnectionResult> {
  const settings = connectionSettings(target.connection);
  const steps: ConnectionStep[] = [];
  const result: TestConnectionResult = { ok: false, steps };
  let connection: DirectoryConnection | undefined;

  const run = async (id: StepId, body: () => Promise<StepOutcome>): Promise<boolean> => {
    const started = performance.now();
    let outcome: StepOutcome;
    try {
      outcome = await body();
    } catch (error) {
      outcome = failed(
        toDirectoryError(error, { phase: id === "bind" ? "bind" : "search", ...(connection ? { server: connection.server } : {}) }),
      );
    }
    steps.push(connectionStep(id, outcome, performance.now() - started));
    return outcome.status !== "failed";
  };

  try {
    let reachable: Endpoint[] = [];
    const passed =
      (await run("reachable", async () => {
        const outcome = await checkReachable(settings);
        reachable = outcome.reachable;
        return outcome;
      })) &&
      (await run("tls", async () => {
        const outcome = await checkTls(settings, reachable);
        connection = outcome.connection;
        if (connection !== undefined) result.server = connection.server;
        return outcome;
      })) &&
      (await run("bind", () => checkBind(target, settings, required(connection)))) &&
      (await run("baseDn", () => checkBaseDn(settings.baseDn, pagesOf(required(connection)), required(connection).server))) &&
      (await run("scope", async () => {
        const outcome = await checkScope(settings.baseDn, pagesOf(required(connection)), scope);
        if (outcome.counts !== undefined) result.counts = outcome.counts;
        if (outcome.status === "ok") outcome.detail += await incrementalNote(pagesOf(required(connection)), scope);
        return outcome;
      }));
    result.ok = passed;
  } finally {
    await connection?.close();
  }
  for (const id of ORDER.slice(steps.length)) {
    steps.push(connectionStep(id, { status: "skipped", detail: "Not checked: an earlier step failed." }, 0));
  }
  return result;
}

/** A step of the result, from what its check found. */
export function connectionStep(id: StepId, outcome: StepOutcome | { status: "skipped"; detail: string }, ms: number): ConnectionStep {
  const step: ConnectionStep = { id, title: stepTitles[id], status: outcome.status, durationMs: Math.round(ms), detail: outcome.detail };
  if ("fix" in outcome && outcome.fix !== undefined) step.fix = outcome.fix;
  if ("code" in outcome && outcome.code !== undefined) step.code = outcome.code;
  return step;
}

const pagesOf =
  (connection: DirectoryConnection): PagedSearch =>
  (spec) =>
    searchPages(connection, spec);

function required(connection: DirectoryConnection | undefined): DirectoryConnection {
  if (connection === undefined) throw new Error("no connection to the domain controller");
  return connection;
}

function failed(error: DirectoryError, prefix = ""): StepOutcome {
  return { status: "failed", detail: capitalize(`${prefix}${error.message}`), fix: error.fix, code: error.code };
}

// ---------------------------------------------------------------------------------------

async function checkReachable(settings: ConnectionSettings): Promise<StepOutcome & { reachable: Endpoint[] }> {
  // All at once, reported in the configured order: a few dead DCs should not add up their timeouts.
  const probes = await Promise.allSettled(settings.endpoints.map((e) => probeReachable(e, settings.connectTimeoutMs)));
  const reachable: Endpoint[] = [];
  const lines: string[] = [];
  let firstFailure: DirectoryError | undefined;
  probes.forEach((probe, i) => {
    const endpoint = settings.endpoints[i] as Endpoint;
    if (probe.status === "fulfilled") {
      reachable.push(endpoint);
      lines.push(describeReach(endpoint, probe.value));
    } else {
      const error = toDirectoryError(probe.reason, { phase: "connect", server: endpoint.server });
      firstFailure ??= error;
      lines.push(`${endpoint.server}: ${error.message.replace(` (${endpoint.server})`, "")}.`);
    }
  });
  const detail = lines.join(" ");
  if (firstFailure === undefined) return { status: "ok", detail, reachable };
  if (reachable.length === 0) return { status: "failed", detail, fix: firstFailure.fix, code: firstFailure.code, reachable };
  return {
    status: "warning",
    detail: `${detail} The agent uses the first domain controller that answers.`,
    fix: firstFailure.fix,
    code: firstFailure.code,
    reachable,
  };
}

function describeReach(endpoint: Endpoint, reach: ReachInfo): string {
  const resolved = reach.address === endpoint.host ? "" : `resolved to ${reach.address} in ${reach.lookupMs} ms, `;
  return `${endpoint.server}: ${resolved}connected in ${reach.connectMs} ms.`;
}

async function checkTls(settings: ConnectionSettings, reachable: Endpoint[]): Promise<StepOutcome & { connection?: DirectoryConnection }> {
  const failures: TlsError[] = [];
  for (const endpoint of reachable) {
    let connection: DirectoryConnection;
    try {
      connection = await openTransport(settings, endpoint);
    } catch (error) {
      const failure = toDirectoryError(error, { phase: "tls", server: endpoint.server });
      // A DC that went away between the two steps: like unreachable, try the next.
      if (failure instanceof TlsError) failures.push(failure);
      else if (reachable.length === 1) return failed(failure);
      continue;
    }
    const earlier = failures.map((f) => `${f.message}${certificateText(f.certificate)}`).join(" ");
    const outcome = describeTls(settings, connection);
    if (failures.length === 0) return { ...outcome, connection };
    return {
      status: "warning",
      detail: `${outcome.detail} But: ${earlier}`,
      fix: failures[0]?.fix,
      code: failures[0]?.code,
      connection,
    };
  }
  const first = failures[0];
  if (first === undefined) {
    return { status: "failed", detail: "No domain controller could be connected to.", code: "connection_closed" };
  }
  return {
    status: "failed",
    detail: capitalize(`${failures.map((f) => `${f.message}${certificateText(f.certificate)}`).join(" ")}`),
    fix: first.fix,
    code: first.code,
  };
}

function describeTls(settings: ConnectionSettings, connection: DirectoryConnection): StepOutcome {
  const tls = connection.tls;
  if (tls === undefined) {
    return {
      status: "warning",
      detail: `No encryption: connected to ${connection.server} over plain LDAP, so the bind password and all directory data cross the network in clear text.`,
      fix: 'Use security "ldaps" (port 636) or "starttls" (port 389).',
      code: "no_encryption",
    };
  }
  const how = settings.security === "starttls" ? "StartTLS" : "LDAPS";
  const base = `${how} to ${connection.server} with ${tls.protocol ?? "TLS"} in ${tls.handshakeMs} ms.${certificateText(tls.certificate)}`;
  const problem = tls.problems[0];
  if (problem !== undefined) {
    return {
      status: "warning",
      detail: `${base} The certificate was NOT checked (insecureSkipVerify), and would have been refused: ${problem.message}.`,
      fix: `${problem.fix} Then turn insecureSkipVerify off.`,
      code: problem.code,
    };
  }
  if (settings.insecureSkipVerify) {
    return {
      status: "warning",
      detail: `${base} The certificate would be trusted; insecureSkipVerify is not needed.`,
      fix: "Turn insecureSkipVerify off.",
      code: "tls_verification_skipped",
    };
  }
  const daysLeft =
    tls.certificate === undefined ? Number.POSITIVE_INFINITY : Math.floor((Date.parse(tls.certificate.validTo) - Date.now()) / 86_400_000);
  if (daysLeft < EXPIRY_WARNING_DAYS) {
    return {
      status: "warning",
      detail: `${base} Trusted, but it expires in ${daysLeft} day${daysLeft === 1 ? "" : "s"}.`,
      fix: "Renew the domain controller's certificate before it expires; the sync stops when it does.",
      code: "tls_expires_soon",
    };
  }
  return { status: "ok", detail: `${base} Trusted.` };
}

function certificateText(certificate: CertificateInfo | undefined): string {
  if (certificate === undefined) return "";
  const names = certificate.subjectAltNames.length > 0 ? `, for ${certificate.subjectAltNames.join(", ")}` : "";
  return ` Certificate: ${certificate.subject}, issued by ${certificate.issuer}${names}, valid until ${certificate.validTo.slice(0, 10)}.`;
}

async function checkBind(target: LdapTarget, settings: ConnectionSettings, connection: DirectoryConnection): Promise<StepOutcome> {
  let password: string;
  try {
    password = await resolveBindPassword(target);
  } catch (error) {
    return failed(toDirectoryError(error, { phase: "bind" }));
  }
  try {
    await bindConnection(connection, settings.bindUsername, password);
  } catch (error) {
    const failure = toDirectoryError(error, { phase: "bind", server: connection.server });
    const who = `Signing in as ${settings.bindUsername} failed: `;
    if (failure instanceof BindError && failure.adCode !== undefined) {
      return { ...failed(failure, who), detail: `${who}${failure.message} (AD code ${failure.adCode}).` };
    }
    return failed(failure, who);
  }
  return { status: "ok", detail: `Signed in as ${settings.bindUsername} on ${connection.server}.` };
}

/** The base DN step, on any paged search (a DC's, or a directory file's); `server` names it in messages. */
export async function checkBaseDn(baseDn: string, search: PagedSearch, server: string): Promise<StepOutcome> {
  const rootDse = await readOne(search, {
    base: "",
    scope: "base",
    filter: "(objectClass=*)",
    attributes: ["defaultNamingContext", "namingContexts"],
  });
  const domain = rootDse?.defaultNamingContext?.[0];
  try {
    const entry = await readOne(search, {
      base: baseDn,
      scope: "base",
      filter: "(objectClass=*)",
      attributes: ["objectClass"],
    });
    if (entry === undefined) throw new SearchError("no_such_object", "the base DN cannot be read");
  } catch (error) {
    const failure = toDirectoryError(error, { phase: "search", server, base: baseDn });
    if (failure instanceof SearchError && (failure.code === "no_such_object" || failure.code === "referral")) {
      return {
        status: "failed",
        detail: `The base DN "${baseDn}" does not exist on ${server}${domain === undefined ? "" : ` (its domain is ${domain})`}.`,
        fix:
          domain === undefined
            ? "Copy the DN of the domain or OU from Active Directory (attribute distinguishedName)."
            : `Use the domain's DN, ${domain}, or the DN of an OU inside it.`,
        code: "no_such_object",
      };
    }
    return failed(failure);
  }
  return { status: "ok", detail: `${baseDn} can be read${domain === undefined ? "" : ` (domain ${domain})`}.` };
}

/** The scope step: every OU and group named exists, and what the scope holds. */
export async function checkScope(
  baseDn: string,
  search: PagedSearch,
  scope: Scope | undefined,
): Promise<StepOutcome & { counts?: ScopeCounts }> {
  // Every OU and group the scope names must exist; AD would just match nobody otherwise.
  for (const ou of scope?.users === "ous" ? (scope.ous ?? []) : []) {
    if (!(await exists(search, ou.dn, "(objectClass=organizationalUnit)"))) {
      return {
        status: "failed",
        detail: `The OU "${ou.dn}" in scope.ous does not exist.`,
        fix: "Correct or remove it in scope.ous.",
        code: "scope_ou_not_found",
      };
    }
  }
  for (const group of scope?.users === "groups" ? (scope.groups ?? []) : []) {
    if (!(await exists(search, group.dn, "(objectClass=group)"))) {
      return {
        status: "failed",
        detail: `The group "${group.dn}" in scope.groups does not exist.`,
        fix: "Correct or remove it in scope.groups.",
        code: "scope_group_not_found",
      };
    }
  }
  const bases = scopeBases(scope, baseDn);
  const includeDisabled = scope?.includeDisabled === true;
  const ouBases =
    scope?.users === "ous"
      ? bases.map((b) => ({ base: b.base, scope: b.scope === "sub" ? ("sub" as const) : ("base" as const) }))
      : [{ base: baseDn, scope: "sub" as const }];
  const tallies = {
    users: await count(search, bases, scopeUserFilter(scope, includeDisabled ? "include" : "exclude")),
    disabled: await count(search, bases, scopeUserFilter(scope, "only")),
    ous: await count(search, ouBases, "(objectClass=organizationalUnit)"),
    groups: await count(search, [{ base: baseDn, scope: "sub" }], scopeGroupFilter(scope)),
  };
  const counts: ScopeCounts = {
    usersInScope: tallies.users.total,
    disabledUsers: tallies.disabled.total,
    ous: tallies.ous.total,
    groups: tallies.groups.total,
  };
  const { usersInScope: users, disabledUsers: disabled, ous, groups } = counts;
  const disabledText =
    disabled === 0
      ? ""
      : includeDisabled
        ? ` (${disabled} of them disabled)`
        : ` (${disabled} disabled account${disabled === 1 ? "" : "s"} left out)`;
  const detail = `${plural(users, "user")} in scope${disabledText}, ${plural(ous, "OU")}, ${plural(groups, "group")}.`;
  const incomplete = Object.values(tallies).find((t) => t.incomplete !== undefined)?.incomplete;
  if (incomplete !== undefined) {
    return {
      status: "warning",
      detail: `${detail} These counts may be low: ${incomplete}. A sync reading this scope would be incomplete, so it would never delete or disable anyone.`,
      fix: "Set the base DN (or the scope's OUs) to a part of the directory this domain controller holds in full.",
      code: "scope_incomplete",
      counts,
    };
  }
  if (users === 0) {
    return {
      status: "warning",
      detail: `${detail} Nobody would be synchronised.`,
      fix: "Check the base DN, the OUs or groups and the filter of the scope.",
      code: "scope_empty",
      counts,
    };
  }
  return { status: "ok", detail, counts };
}

/**
 * How incremental runs of this scope will find who left, as the scope step says it: from the
 * tombstones of deleted users when this account may list them (one is enough to tell), else
 * by reading the scope's objectGUIDs again, with the grant that would spare that.
 */
async function incrementalNote(search: PagedSearch, scope: Scope | undefined): Promise<string> {
  const why = sweepNeeded(scope);
  if (why !== undefined) return ` Incremental runs find who left by reading the scope's objectGUIDs again: ${why}.`;
  try {
    const root = await readOne(search, { base: "", scope: "base", filter: "(objectClass=*)", attributes: ["defaultNamingContext"] });
    const domain = root?.defaultNamingContext?.[0];
    if (domain === undefined) return "";
    const container = `CN=Deleted Objects,${domain}`;
    const tombstone = await readOne(search, {
      base: container,
      scope: "one",
      filter: "(isDeleted=TRUE)",
      attributes: ["1.1"],
      showDeleted: true,
      sizeLimit: 1,
    });
    return tombstone !== undefined
      ? " Incremental runs find deleted users from their tombstones and read only what changed."
      : ` Incremental runs find who left by reading the scope's objectGUIDs again, as this account may not list deleted objects; to let them read only what changed, grant it List Contents and Read Property on ${container} (dsacls "${container}" /G DOMAIN\\account:LCRP).`;
  } catch (error) {
    if (error instanceof DirectoryError) return "";
    throw error;
  }
}

function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}

async function readOne(search: PagedSearch, spec: SearchSpec): Promise<Record<string, string[]> | undefined> {
  for await (const page of search(spec)) return page[0]?.attributes;
  return undefined;
}

async function exists(search: PagedSearch, dn: string, objectFilter: string): Promise<boolean> {
  try {
    return (await readOne(search, { base: dn, scope: "base", filter: objectFilter, attributes: ["1.1"] })) !== undefined;
  } catch (error) {
    if (error instanceof SearchError && error.code === "no_such_object") return false;
    throw error;
  }
}

interface Count {
  total: number;
  /** Why the count may be short: the same would make a sync's read incomplete. */
  incomplete?: string;
}

async function count(search: PagedSearch, bases: { base: string; scope: SearchSpec["scope"] }[], filter: string): Promise<Count> {
  const result: Count = { total: 0 };
  for (const { base, scope } of bases) {
    const pages = search({ base, scope, filter, attributes: ["1.1"] });
    for (let step = await pages.next(); ; step = await pages.next()) {
      if (step.done) {
        if (!step.value.complete) result.incomplete ??= step.value.reason ?? "the directory read was incomplete";
        break;
      }
      result.total += step.value.length;
    }
  }
  return result;
}

function capitalize(text: string): string {
  const sentence = text.endsWith(".") ? text : `${text}.`;
  return sentence.charAt(0).toUpperCase() + sentence.slice(1);
}
