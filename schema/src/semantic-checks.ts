import type { NumberRange, SyncConfig } from "../generated/config.ts";
import { isDnWithin, normalizeDn, parseDn } from "./dn.ts";
import { type FilterNode, parseFilterAst } from "./filter-ast.ts";
import { checkFilter } from "./ldap-filter.ts";
import type { Problem } from "./problem.ts";
import { isSecretAttribute } from "./secret-attributes.ts";

/**
 * Checks a JSON Schema cannot express. They run on documents that may also have schema
 * errors, so every read is defensive: a value of the wrong type is the schema's to report.
 */
export function semanticProblems(config: SyncConfig): Problem[] {
  const out: Problem[] = [];
  const error = (path: string, message: string) => out.push({ path, message, severity: "error" });
  const warning = (path: string, message: string) => out.push({ path, message, severity: "warning" });

  const baseDn = checkConnection(config, error, warning);
  checkScope(config, baseDn, error, warning);
  const ranges = checkNumbers(config, baseDn, error, warning);
  checkOrganisation(config, baseDn, ranges, error, warning);
  checkDeprovisioning(config, ranges, error, warning);
  checkSchedule(config, error, warning);
  checkSecretAttributes(config, warning);
  if (config.domainLogin?.enabled === true && config.connection?.security === "insecurePlainLdap") {
    error(
      "/domainLogin/enabled",
      "domain login sends users' Windows passwords to the domain controller: it needs connection.security ldaps or starttls",
    );
  }
  if (config.connection === undefined && config.metadata === undefined) {
    warning("", 'no "connection" yet: Test Connection, Preview and Sync need the domain controllers, bind account and base DN');
  }
  return out;
}

type Report = (path: string, message: string) => void;

/** Returns the base DN when it is usable for containment checks. */
function checkConnection(config: SyncConfig, error: Report, warning: Report): string | undefined {
  const c = config.connection;
  if (!isObject(c)) return undefined;
  let baseDn: string | undefined;
  if (typeof c.baseDn === "string") {
    const parsed = parseDn(c.baseDn);
    if (!parsed.ok) error("/connection/baseDn", `not a valid distinguished name: ${parsed.message}`);
    else if (parsed.dn.length === 0) error("/connection/baseDn", "must not be empty: name the domain, e.g. DC=example,DC=com");
    else baseDn = c.baseDn;
  }
  if (typeof c.bindUsername === "string") {
    const name = c.bindUsername;
    if (name.includes("=")) {
      const parsed = parseDn(name);
      if (!parsed.ok) error("/connection/bindUsername", `looks like a distinguished name but is not valid: ${parsed.message}`);
    } else if (!/^[^@\s\\]+@[^@\s]+\.[^@\s]+$/.test(name) && !/^[^\\\s]+\\[^\\\s]+$/.test(name)) {
      error(
        "/connection/bindUsername",
        "must be a distinguished name (CN=svc-pbx,OU=Service Accounts,DC=example,DC=com) or a user principal name (svc-pbx@example.com)",
      );
    }
  }
  const security = c.security ?? "ldaps";
  if (security === "insecurePlainLdap") {
    warning(
      "/connection/security",
      "plain LDAP sends the bind password in clear text, and hardened domain controllers refuse it: prefer ldaps or starttls",
    );
  }
  if (c.insecureSkipVerify === true) {
    if (security === "insecurePlainLdap")
      warning("/connection/insecureSkipVerify", "has no effect with plain LDAP: there is no certificate to verify");
    else
      warning(
        "/connection/insecureSkipVerify",
        "any certificate is accepted, so anyone on the path could read the bind password: provide caCertificate instead",
      );
    if (typeof c.caCertificate === "string") warning("/connection/caCertificate", "is not used while insecureSkipVerify is true");
  }
  if (typeof c.caCertificate === "string") {
    const begins = c.caCertificate.match(/-----BEGIN CERTIFICATE-----/g)?.length ?? 0;
    const ends = c.caCertificate.match(/-----END CERTIFICATE-----/g)?.length ?? 0;
    if (begins !== ends)
      error(
        "/connection/caCertificate",
        "a certificate is cut short: every -----BEGIN CERTIFICATE----- needs its -----END CERTIFICATE-----",
      );
  }
  if (Array.isArray(c.domainControllers)) {
    const seen = new Map<string, number>();
    c.domainControllers.forEach((dc, i) => {
      if (!isObject(dc) || typeof dc.host !== "string") return;
      const key = `${dc.host.toLowerCase()}:${String(dc.port ?? "")}`;
      const first = seen.get(key);
      if (first !== undefined) warning(`/connection/domainControllers/${i}`, `repeats domain controller ${first + 1}`);
      else seen.set(key, i);
      if (dc.port === 636 && security !== "ldaps")
        warning(`/connection/domainControllers/${i}/port`, `636 is the LDAPS port, but security is ${security}`);
      if (dc.port === 389 && security === "ldaps")
        warning(`/connection/domainControllers/${i}/port`, "389 is the plain LDAP / StartTLS port, but security is ldaps (usually 636)");
    });
  }
  return baseDn;
}

function checkScope(config: SyncConfig, baseDn: string | undefined, error: Report, warning: Report): void {
  const s = config.scope;
  if (!isObject(s)) return;
  const users = s.users ?? "all";
  if (Array.isArray(s.ous)) {
    checkDnList(
      s.ous.map((o) => (isObject(o) ? o.dn : undefined)),
      "/scope/ous",
      "/dn",
      "OU",
      baseDn,
      error,
      warning,
    );
    if (users !== "ous" && s.ous.length > 0) warning("/scope/ous", `is ignored while scope.users is "${users}"`);
    s.ous.forEach((o, i) => {
      if (!isObject(o) || typeof o.dn !== "string") return;
      s.ous?.forEach((other, j) => {
        if (i === j || !isObject(other) || typeof other.dn !== "string" || other.includeSubOus === false) return;
        if (normalized(o.dn) !== normalized(other.dn) && isDnWithin(o.dn, other.dn)) {
          warning(`/scope/ous/${i}/dn`, `is already inside OU ${j + 1} (${other.dn}), which includes its sub-OUs`);
        }
      });
    });
  }
  if (Array.isArray(s.groups)) {
    checkDnList(
      s.groups.map((g) => (isObject(g) ? g.dn : undefined)),
      "/scope/groups",
      "/dn",
      "group",
      baseDn,
      error,
      warning,
    );
    if (users !== "groups" && s.groups.length > 0) warning("/scope/groups", `is ignored while scope.users is "${users}"`);
  }
  if (typeof s.filter === "string") {
    const checked = checkFilter(s.filter);
    if (!checked.ok) error("/scope/filter", `not a valid LDAP filter: ${checked.message}`);
  }
  if (Array.isArray(s.exclude)) {
    s.exclude.forEach((rule, i) => {
      if (!isObject(rule) || typeof rule.pattern !== "string" || rule.match !== "regex") return;
      const message = regexError(rule.pattern);
      if (message) error(`/scope/exclude/${i}/pattern`, `not a valid regular expression: ${message}`);
    });
  }
}

interface PlacedRange {
  path: string;
  start: number;
  end: number;
  digits: number;
}

/** Returns every well-formed number range with where it stands, for the later overlap checks. */
function checkNumbers(config: SyncConfig, baseDn: string | undefined, error: Report, warning: Report): PlacedRange[] {
  const n = config.extensionNumbers;
  if (!isObject(n)) return [];
  const source = n.source ?? "sequential";
  const placed: PlacedRange[] = [];
  const collect = (ranges: unknown, path: string) => {
    if (!Array.isArray(ranges)) return;
    ranges.forEach((r: NumberRange, i) => {
      if (!isObject(r) || !isDigits(r.start) || !isDigits(r.end)) return;
      const at = `${path}/${i}`;
      if (r.start.length !== r.end.length) {
        error(at, `start ${r.start} and end ${r.end} must have the same number of digits`);
        return;
      }
      const start = Number(r.start);
      const end = Number(r.end);
      if (start > end) {
        error(`${at}/end`, `the range is empty: end ${r.end} is below start ${r.start}`);
        return;
      }
      placed.push({ path: at, start, end, digits: r.start.length });
    });
  };
  collect(n.ranges, "/extensionNumbers/ranges");
  if (Array.isArray(n.ouRanges)) {
    checkDnList(
      n.ouRanges.map((o) => (isObject(o) ? o.ou : undefined)),
      "/extensionNumbers/ouRanges",
      "/ou",
      "OU",
      baseDn,
      error,
      warning,
    );
    n.ouRanges.forEach((o, i) => {
      if (isObject(o)) collect(o.ranges, `/extensionNumbers/ouRanges/${i}/ranges`);
    });
  }
  for (let i = 0; i < placed.length; i++) {
    for (let j = i + 1; j < placed.length; j++) {
      const a = placed[i] as PlacedRange;
      const b = placed[j] as PlacedRange;
      if (a.digits === b.digits && a.start <= b.end && b.start <= a.end) {
        error(b.path, `overlaps the range at ${a.path} (${show(a)}): a number could be given twice`);
      }
    }
  }
  if (source === "attribute" && (n.ranges !== undefined || n.ouRanges !== undefined)) {
    warning(
      "/extensionNumbers/source",
      'the ranges are not used with source "attribute"; use "attributeThenSequential" to fall back on them',
    );
  }
  if (source === "sequential" && n.attribute !== undefined) {
    warning("/extensionNumbers/attribute", 'is not used with source "sequential"');
  }
  const pattern = n.normalize?.pattern;
  if (typeof pattern === "string") {
    const message = regexError(pattern);
    if (message) error("/extensionNumbers/normalize/pattern", `not a valid regular expression: ${message}`);
    else if (captureGroups(pattern) < 1)
      error("/extensionNumbers/normalize/pattern", "needs a capture group around the digits to keep, e.g. x(\\d+)$");
  }
  return placed;
}

function checkOrganisation(config: SyncConfig, baseDn: string | undefined, ranges: PlacedRange[], error: Report, warning: Report): void {
  const o = config.organisation;
  if (!isObject(o)) return;
  const groups = o.extensionGroups;
  if (isObject(groups) && Array.isArray(groups.groups)) {
    checkDnList(
      groups.groups.map((g) => (isObject(g) ? g.dn : undefined)),
      "/organisation/extensionGroups/groups",
      "/dn",
      "group",
      baseDn,
      error,
      warning,
    );
    if ((groups.from ?? "none") !== "memberOf" && groups.groups.length > 0) {
      warning("/organisation/extensionGroups/groups", 'is only used with from "memberOf"');
    }
  }
  if (Array.isArray(o.templateExtensions)) {
    checkDnList(
      o.templateExtensions.map((t) => (isObject(t) ? t.ou : undefined)),
      "/organisation/templateExtensions",
      "/ou",
      "OU",
      baseDn,
      error,
      warning,
    );
    o.templateExtensions.forEach((t, i) => {
      if (!isObject(t) || !isDigits(t.extension)) return;
      const inside = rangeContaining(ranges, t.extension);
      if (inside) {
        warning(
          `/organisation/templateExtensions/${i}/extension`,
          `is inside the sync range at ${inside.path} (${show(inside)}): that number can never be given to a user`,
        );
      }
    });
  }
}

function checkDeprovisioning(config: SyncConfig, ranges: PlacedRange[], error: Report, warning: Report): void {
  const d = config.deprovisioning;
  if (!isObject(d)) return;
  const archive = d.archive;
  if (isObject(archive) && isDigits(archive.extension)) {
    const inside = rangeContaining(ranges, archive.extension);
    if (inside) {
      error(
        "/deprovisioning/archive/extension",
        `is inside the sync range at ${inside.path} (${show(inside)}): the archive must be an extension sync never assigns or deletes`,
      );
    }
    const deletes = [d.whenDeleted, d.whenDisabled, d.whenOutOfScope].some((a) => a === "delete");
    if (!deletes) warning("/deprovisioning/archive", 'is only used when an extension is deleted, and no case is set to "delete"');
  }
}

function checkSchedule(config: SyncConfig, error: Report, warning: Report): void {
  const s = config.schedule;
  if (!isObject(s)) return;
  const mode = s.mode ?? "interval";
  if (typeof s.timeZone === "string" && !isTimeZone(s.timeZone)) {
    error("/schedule/timeZone", `"${s.timeZone}" is not an IANA time zone; write it like Europe/London, America/New_York or UTC`);
  }
  if (mode !== "daily" && s.time !== undefined) warning("/schedule/time", `is only used with mode "daily" (mode is "${mode}")`);
  if (mode !== "interval" && s.everyMinutes !== undefined)
    warning("/schedule/everyMinutes", `is only used with mode "interval" (mode is "${mode}")`);
}

/** Parses each DN, reports bad syntax, repeats, and DNs outside the base DN. */
function checkDnList(
  dns: unknown[],
  listPath: string,
  suffix: string,
  kind: "OU" | "group",
  baseDn: string | undefined,
  error: Report,
  warning: Report,
): void {
  const seen = new Map<string, number>();
  dns.forEach((dn, i) => {
    if (typeof dn !== "string") return;
    const at = `${listPath}/${i}${suffix}`;
    const parsed = parseDn(dn);
    if (!parsed.ok) {
      error(at, `not a valid distinguished name: ${parsed.message}`);
      return;
    }
    if (parsed.dn.length === 0) {
      error(at, `must name the ${kind}, e.g. ${kind === "OU" ? "OU=Sales,DC=example,DC=com" : "CN=Phone Users,DC=example,DC=com"}`);
      return;
    }
    const key = normalizeDn(parsed.dn);
    const first = seen.get(key);
    if (first !== undefined) warning(at, `repeats entry ${first + 1}`);
    else seen.set(key, i);
    if (baseDn !== undefined && !isDnWithin(dn, baseDn)) {
      error(at, `is not inside the base DN ${baseDn}: the directory search would never see it`);
    }
  });
}

function normalized(dn: string): string | undefined {
  const parsed = parseDn(dn);
  return parsed.ok ? normalizeDn(parsed.dn) : undefined;
}

function rangeContaining(ranges: PlacedRange[], extension: string): PlacedRange | undefined {
  const value = Number(extension);
  return ranges.find((r) => r.digits === extension.length && r.start <= value && value <= r.end);
}

function show(r: PlacedRange): string {
  return `${String(r.start).padStart(r.digits, "0")}-${String(r.end).padStart(r.digits, "0")}`;
}

function regexError(pattern: string): string | undefined {
  try {
    new RegExp(pattern, "u");
    return undefined;
  } catch (e) {
    return (e as Error).message.replace(/^Invalid regular expression: /, "");
  }
}

/** Counts capturing groups: the alternation with an empty match makes exec() report them all. */
function captureGroups(pattern: string): number {
  return (new RegExp(`${pattern}|`, "u").exec("")?.length ?? 1) - 1;
}

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

function isDigits(value: unknown): value is string {
  return typeof value === "string" && /^[0-9]{1,10}$/.test(value);
}

// biome-ignore lint/suspicious/noExplicitAny: narrows an unknown-shaped value before property reads
function isObject(value: unknown): value is Record<string, any> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Every place a configuration names an attribute to read; the agent refuses the secrets among them. */
function checkSecretAttributes(config: SyncConfig, warning: Report): void {
  const named: Array<[string, string | undefined]> = [];
  for (const [field, mapping] of Object.entries(config.fields ?? {}))
    named.push([`/fields/${field}/attribute`, (mapping as { attribute?: string } | undefined)?.attribute]);
  named.push(["/extensionNumbers/attribute", config.extensionNumbers?.attribute]);
  for (const [i, rule] of (config.scope?.exclude ?? []).entries()) named.push([`/scope/exclude/${i}/attribute`, rule.attribute]);
  named.push(["/organisation/departments/attribute", config.organisation?.departments?.attribute]);
  named.push(["/organisation/extensionGroups/attribute", config.organisation?.extensionGroups?.attribute]);
  for (const [path, attribute] of named) {
    if (typeof attribute === "string" && isSecretAttribute(attribute))
      warning(path, `${attribute} holds a secret: the connector agent never reads it, and a sync or Preview with it fails`);
  }
  // A filter on a secret is refused as well: its yes or no answers would reveal the value.
  if (typeof config.scope?.filter === "string" && checkFilter(config.scope.filter).ok) {
    const secret = filterAttributeNames(parseFilterAst(config.scope.filter)).find(isSecretAttribute);
    if (secret !== undefined)
      warning("/scope/filter", `filters on ${secret}, which holds a secret: the connector agent refuses such a search`);
  }
}

function filterAttributeNames(node: FilterNode): string[] {
  switch (node.kind) {
    case "and":
    case "or":
      return node.filters.flatMap(filterAttributeNames);
    case "not":
      return filterAttributeNames(node.filter);
    case "extensible":
      return node.attribute === undefined ? [] : [node.attribute];
    default:
      return [node.attribute];
  }
}
