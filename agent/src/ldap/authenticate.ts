// Domain login: is this the password of this AD user? The service account finds the user
// (the name goes into the filter escaped, once, by the filter tag) and reads, on the same DC,
// the user's bad-password count and the lockout policy that applies to them; only when the
// entry is the synced user's and one more failure cannot lock the account does a second
// connection bind, with the DN the directory returned, never one built from what was typed.
import type { AuthenticateResult, LdapTarget } from "../../../schema/src/agent-protocol.ts";
import { domainOfDn } from "../../../schema/src/dn.ts";
import { type LoginName, parseLoginName } from "../../../schema/src/domain-login.ts";
import { filter } from "../../../schema/src/ldap-filter.ts";
import {
  bindConnection,
  connectionSettings,
  type DirectoryConnection,
  type Endpoint,
  openConnection,
  openTransport,
} from "./connection.ts";
import { BindError, toDirectoryError } from "./errors.ts";
import { fileTimeToMs, intervalToMs, type LockoutPolicy, lockoutVerdict } from "./lockout-guard.ts";
import { searchPages } from "./search.ts";

/** Where a login's connections come from: fresh ones each time, or a LoginPool's. */
export interface LoginConnections {
  /** Runs `use` on a connection bound as the service account. */
  service<T>(target: LdapTarget, use: (connection: DirectoryConnection) => Promise<T>): Promise<T>;
  /** Runs `use` on an unbound (or re-bindable) connection to `endpoint`, for the user's own bind. */
  binder<T>(target: LdapTarget, endpoint: Endpoint, use: (connection: DirectoryConnection) => Promise<T>): Promise<T>;
  /** The domain's DNS and NetBIOS names, which do not change while a pool is open. */
  domainNames(target: LdapTarget, connection: DirectoryConnection): Promise<DomainNames>;
}

/** What a login needs to know of the domain; it changes rarely, so a LoginPool keeps it a while. */
export interface DomainNames {
  netbios?: string;
  dns?: string;
  /** The domain's DN (defaultNamingContext), where its lockout policy is kept. */
  domainDn?: string;
}

/** A new service connection and a new user connection per login, closed after it. */
export const freshConnections: LoginConnections = {
  async service(target, use) {
    const connection = await openConnection(target);
    try {
      return await use(connection);
    } finally {
      await connection.close();
    }
  },
  async binder(target, endpoint, use) {
    const connection = await openTransport(connectionSettings(target.connection), endpoint);
    try {
      return await use(connection);
    } finally {
      await connection.close();
    }
  },
  domainNames: (_target, connection) => domainNames(connection),
};

/**
 * Checks `password` for the user `username` (a UPN or DOMAIN\sAMAccountName) under the
 * target's base DN. Returns why it failed, with AD's sub-code for the log; show a person
 * only endUserReason(reason). Throws a DirectoryError when the directory cannot be asked
 * at all (service account connection, bind or search failing): that is the operator's
 * problem, not the user's, and its code and message belong in the admin log.
 */
export async function authenticate(
  target: LdapTarget,
  username: string,
  password: string,
  connections: LoginConnections = freshConnections,
  options: { objectGuid?: string; now?: () => number } = {},
): Promise<AuthenticateResult> {
  // RFC 4513 section 5.1.2: a bind with a name and an empty password succeeds, anonymously.
  if (password === "") return { ok: false, reason: "invalid_credentials" };
  const name = parseLoginName(username);
  if (name === undefined) return { ok: false, reason: "no_such_user" };

  const lookup = await connections.service(target, async (service) => {
    const domain = await connections.domainNames(target, service);
    const found = await findUser(service, name, domain);
    const only = found.length === 1 ? (found[0] as FoundUser) : undefined;
    // Read at every login, not cached with the names: a policy tightened a minute ago applies now.
    const domainPolicy = domain.domainDn === undefined ? undefined : await readDomainPolicy(service, domain.domainDn);
    // The winning fine-grained policy, if any, read as the service account: by default only
    // Domain Admins may read Password Settings Objects, so it may not be readable.
    const fineGrained = only?.resultantPso === undefined ? undefined : await readPso(service, only.resultantPso);
    return { found, domainPolicy, fineGrained, endpoint: service.endpoint };
  });
  if (lookup.found.length === 0) return { ok: false, reason: "no_such_user" };
  // Two accounts answer to this name: never guess which one is meant.
  if (lookup.found.length > 1) return { ok: false, reason: "not_permitted" };
  const user = lookup.found[0] as FoundUser;
  if (options.objectGuid !== undefined && user.objectGuid !== options.objectGuid)
    return { ok: false, reason: "account_changed", detail: `AD resolves the name to ${user.dn}, which is not the synced account.` };

  const policy = user.resultantPso === undefined ? lookup.domainPolicy : lookup.fineGrained;
  if (policy === undefined) {
    return user.resultantPso === undefined
      ? {
          ok: false,
          reason: "lockout_policy_unreadable",
          detail:
            "The domain's lockout policy (lockoutThreshold on the domain object) could not be read, so a bind could lock the account.",
        }
      : {
          ok: false,
          reason: "lockout_policy_unreadable",
          detail:
            `The fine-grained password policy ${user.resultantPso} applies to this user, and the service account cannot read its ` +
            "lockout settings, so a bind could lock the account. Grant the service account Read on the Password Settings Container.",
        };
  }
  const verdict = lockoutVerdict(policy, user.badPassword, (options.now ?? Date.now)());
  const lockout = {
    threshold: policy.threshold,
    observationWindowMs: policy.observationWindowMs,
    badPwdCount: verdict.effectiveCount,
    source: policy.source,
  };
  if (!verdict.bind) return { ok: false, reason: verdict.reason, detail: verdict.detail, lockout };

  // The same DC that found the user, so a just-created account or new password is there too.
  const refused = await connections.binder(target, lookup.endpoint, async (connection) => {
    try {
      await bindConnection(connection, user.dn, password);
      return undefined;
    } catch (error) {
      const failure = toDirectoryError(error, { phase: "bind", server: connection.server });
      if (!(failure instanceof BindError)) throw failure;
      return failure;
    }
  });
  if (refused !== undefined) {
    const result: AuthenticateResult = { ok: false, reason: refused.reason, lockout };
    if (refused.adCode !== undefined) result.adCode = refused.adCode;
    return result;
  }
  const result: AuthenticateResult = { ok: true, dn: user.dn, lockout };
  if (user.objectGuid !== undefined) result.objectGuid = user.objectGuid;
  if (user.upn !== undefined) result.upn = user.upn;
  if (user.displayName !== undefined) result.displayName = user.displayName;
  return result;
}

interface FoundUser {
  dn: string;
  objectGuid?: string;
  upn?: string;
  displayName?: string;
  resultantPso?: string;
  badPassword: { badPwdCount: number; badPasswordTime: number; lockedNow: boolean };
}

/** UF_LOCKOUT in msDS-User-Account-Control-Computed, which AD computes with lockoutDuration in mind. */
const UF_LOCKOUT = 0x10;

async function findUser(connection: DirectoryConnection, name: LoginName, domain: DomainNames): Promise<FoundUser[]> {
  if (name.kind === "downLevel") {
    // A NetBIOS domain that is not ours (OTHER\user) names a user of another domain.
    if (domain.netbios !== undefined && !sameText(name.domain, domain.netbios) && !sameText(name.domain, domain.dns ?? "")) return [];
    return lookUp(connection, filter`(&(objectCategory=person)(objectClass=user)(sAMAccountName=${name.sam}))`);
  }
  const byUpn = await lookUp(connection, filter`(&(objectCategory=person)(objectClass=user)(userPrincipalName=${name.upn}))`);
  if (byUpn.length > 0 || domain.dns === undefined || !sameText(name.suffix, domain.dns)) return byUpn;
  // Windows also accepts the implicit UPN, sAMAccountName@dns-domain, for accounts whose
  // userPrincipalName is unset or different.
  return lookUp(connection, filter`(&(objectCategory=person)(objectClass=user)(sAMAccountName=${name.local}))`);
}

async function lookUp(connection: DirectoryConnection, userFilter: string): Promise<FoundUser[]> {
  const found: FoundUser[] = [];
  const spec = {
    base: connection.settings.baseDn,
    scope: "sub" as const,
    filter: userFilter,
    // badPwdCount and badPasswordTime are per DC: read on the DC the bind will go to.
    attributes: [
      "objectGUID",
      "userPrincipalName",
      "displayName",
      "badPwdCount",
      "badPasswordTime",
      "msDS-User-Account-Control-Computed",
      "msDS-ResultantPSO",
    ],
    // Two are enough to know the name is ambiguous.
    sizeLimit: 2,
  };
  for await (const page of searchPages(connection, spec)) {
    for (const entry of page) {
      const computed = Number(entry.attributes["msDS-User-Account-Control-Computed"]?.[0] ?? 0);
      const user: FoundUser = {
        dn: entry.dn,
        badPassword: {
          badPwdCount: Number(entry.attributes.badPwdCount?.[0] ?? 0) || 0,
          badPasswordTime: fileTimeToMs(entry.attributes.badPasswordTime?.[0]),
          lockedNow: (computed & UF_LOCKOUT) !== 0,
        },
      };
      const pso = entry.attributes["msDS-ResultantPSO"]?.[0];
      if (pso !== undefined && pso !== "") user.resultantPso = pso;
      const guid = entry.attributes.objectGUID?.[0];
      if (guid !== undefined) user.objectGuid = guid;
      const upn = entry.attributes.userPrincipalName?.[0];
      const displayName = entry.attributes.displayName?.[0];
      if (upn !== undefined) user.upn = upn;
      if (displayName !== undefined) user.displayName = displayName;
      found.push(user);
    }
  }
  return found;
}

async function domainNames(connection: DirectoryConnection): Promise<DomainNames> {
  const root = await firstEntry(connection, "", "(objectClass=*)", ["defaultNamingContext", "configurationNamingContext"]);
  const domainDn = root?.defaultNamingContext?.[0];
  const configuration = root?.configurationNamingContext?.[0];
  const names: DomainNames = {};
  if (domainDn === undefined) return names;
  names.domainDn = domainDn;
  const dns = domainOfDn(domainDn)?.dns;
  if (dns !== undefined) names.dns = dns;
  if (configuration === undefined) return names;
  // The domain's crossRef in the Partitions container holds its NetBIOS name.
  const crossRef = await firstEntry(
    connection,
    `CN=Partitions,${configuration}`,
    filter`(&(objectClass=crossRef)(nCName=${domainDn}))`,
    ["nETBIOSName", "dnsRoot"],
    "one",
  ).catch(() => undefined);
  const netbios = crossRef?.nETBIOSName?.[0];
  const dnsRoot = crossRef?.dnsRoot?.[0];
  if (netbios !== undefined) names.netbios = netbios;
  if (dnsRoot !== undefined) names.dns = dnsRoot;
  return names;
}

async function readDomainPolicy(connection: DirectoryConnection, domainDn: string): Promise<LockoutPolicy | undefined> {
  const policy = await firstEntry(connection, domainDn, "(objectClass=*)", ["lockoutThreshold", "lockOutObservationWindow"]).catch(
    () => undefined,
  );
  const threshold = policy?.lockoutThreshold?.[0];
  if (threshold === undefined) return undefined;
  return { threshold: Number(threshold), observationWindowMs: intervalToMs(policy?.lockOutObservationWindow?.[0]), source: "domain" };
}

async function readPso(connection: DirectoryConnection, dn: string): Promise<LockoutPolicy | undefined> {
  const pso = await firstEntry(connection, dn, "(objectClass=*)", ["msDS-LockoutThreshold", "msDS-LockoutObservationWindow"]).catch(
    () => undefined,
  );
  const threshold = pso?.["msDS-LockoutThreshold"]?.[0];
  if (threshold === undefined) return undefined;
  return {
    threshold: Number(threshold),
    observationWindowMs: intervalToMs(pso?.["msDS-LockoutObservationWindow"]?.[0]),
    source: "fine-grained",
  };
}

async function firstEntry(
  connection: DirectoryConnection,
  base: string,
  entryFilter: string,
  attributes: string[],
  scope: "base" | "one" = "base",
): Promise<Record<string, string[]> | undefined> {
  for await (const page of searchPages(connection, { base, scope, filter: entryFilter, attributes })) return page[0]?.attributes;
  return undefined;
}

function sameText(a: string, b: string): boolean {
  return a.localeCompare(b, "en", { sensitivity: "accent" }) === 0;
}
