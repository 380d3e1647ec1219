import { describe, expect, it } from "vitest";
import { isValid, validateConfig } from "./validate-config.ts";

/** A complete, valid configuration that each case below breaks in one place. */
function valid() {
  return {
    connection: {
      domainControllers: [{ host: "dc1.example.com" }, { host: "dc2.example.com", port: 636 }],
      security: "ldaps",
      bindUsername: "CN=svc-pbx,OU=Service Accounts,DC=example,DC=com",
      bindPassword: { source: "agent" },
      baseDn: "DC=example,DC=com",
    },
    scope: {
      users: "ous",
      ous: [{ dn: "OU=Sales,OU=Staff,DC=example,DC=com" }, { dn: "OU=Support,OU=Staff,DC=example,DC=com" }],
      filter: "(&(objectClass=user)(!(description=*shared*)))",
      exclude: [{ pattern: "svc-*" }, { attribute: "description", pattern: "^room\\b", match: "regex" }],
    },
    extensionNumbers: {
      source: "attributeThenSequential",
      attribute: "ipPhone",
      normalize: { pattern: "x(\\d+)$", digitsOnly: true },
      ranges: [{ start: "1000", end: "1999" }],
      ouRanges: [{ ou: "OU=Support,OU=Staff,DC=example,DC=com", ranges: [{ start: "2000", end: "2099" }] }],
    },
    organisation: {
      extensionGroups: { from: "memberOf", groups: [{ dn: "CN=Support (Tier 2),OU=Groups,DC=example,DC=com" }] },
      templateExtensions: [{ ou: "OU=Sales,OU=Staff,DC=example,DC=com", extension: "9000" }],
    },
    deprovisioning: { whenDeleted: "delete", archive: { extension: "9999" } },
    schedule: { mode: "daily", time: "02:30", timeZone: "Europe/London" },
    domainLogin: { enabled: true, allowedUpnSuffixes: ["example.com"] },
  };
}
type Config = ReturnType<typeof valid> & Record<string, unknown>;

describe("validateConfig", () => {
  it("finds nothing wrong with a complete, sensible configuration", () => {
    expect(validateConfig(valid())).toEqual([]);
  });

  it.each<[string, (c: Config) => void, string, RegExp]>([
    // Schema
    [
      "a plaintext password",
      (c) => Object.assign(c.connection, { bindPassword: { source: "stored", value: "hunter2" } }),
      "/connection/bindPassword/value",
      /unknown property "value": a configuration never holds a password/,
    ],
    ["a missing base DN", (c) => Reflect.deleteProperty(c.connection, "baseDn"), "/connection", /missing required property "baseDn"/],
    [
      "an unknown security mode",
      (c) => Object.assign(c.connection, { security: "tls" }),
      "/connection/security",
      /must be one of "ldaps", "starttls", "insecurePlainLdap"/,
    ],
    ["a page size above AD's limit", (c) => Object.assign(c.connection, { pageSize: 5000 }), "/connection/pageSize", /must be <= 1000/],
    [
      "the retired agentEnv, which named a variable for the agent to read",
      (c) => Object.assign(c.connection, { bindPassword: { source: "agentEnv", variable: "ADSYNC_TOKEN" } }),
      "/connection/bindPassword/source",
      /"agentEnv" is retired: write \{ "source": "agent" \} and set the password on the agent host \(--bind-password-file PATH, or ADSYNC_BIND_PASSWORD\)/,
    ],
    [
      "the retired agentFile, which named a file for the agent to read",
      (c) => Object.assign(c.connection, { bindPassword: { source: "agentFile", path: "/proc/self/environ" } }),
      "/connection/bindPassword/source",
      /"agentFile" is retired: write \{ "source": "agent" \}/,
    ],
    [
      "a variable beside source agent",
      (c) => Object.assign(c.connection, { bindPassword: { source: "agent", variable: "ADSYNC_TOKEN" } }),
      "/connection/bindPassword/variable",
      /unknown property "variable"/,
    ],
    ["users=ous without OUs", (c) => Object.assign(c, { scope: { users: "ous", ous: [] } }), "/scope/ous", /at least one/],
    [
      "sequential numbers without ranges",
      (c) => Object.assign(c, { extensionNumbers: { source: "sequential" } }),
      "/extensionNumbers",
      /needs one of "ranges" or "ouRanges"/,
    ],
    [
      "an extension number with letters",
      (c) => Object.assign(c.deprovisioning.archive, { extension: "99a" }),
      "/deprovisioning/archive/extension",
      /extension number of 2 to 10 digits/,
    ],
    [
      "a daily schedule without a time",
      (c) => Object.assign(c, { schedule: { mode: "daily" } }),
      "/schedule",
      /missing required property "time"/,
    ],
    ["a time of day out of range", (c) => Object.assign(c.schedule, { time: "24:10" }), "/schedule/time", /HH:MM/],
    // Semantics
    [
      "a base DN that is not a DN",
      (c) => Object.assign(c.connection, { baseDn: "example.com" }),
      "/connection/baseDn",
      /not a valid distinguished name/,
    ],
    [
      "a bind name that is neither DN nor UPN",
      (c) => Object.assign(c.connection, { bindUsername: "svc-pbx" }),
      "/connection/bindUsername",
      /distinguished name .* or a user principal name/,
    ],
    [
      "an OU outside the base DN",
      (c) => Object.assign(c.scope.ous[0] as object, { dn: "OU=Sales,DC=example,DC=community" }),
      "/scope/ous/0/dn",
      /not inside the base DN DC=example,DC=com/,
    ],
    [
      "an OU with broken DN syntax",
      (c) => Object.assign(c.scope.ous[1] as object, { dn: "OU=Support,,DC=example,DC=com" }),
      "/scope/ous/1/dn",
      /not a valid distinguished name/,
    ],
    [
      "a group outside the base DN",
      (c) => Object.assign(c.organisation.extensionGroups.groups[0] as object, { dn: "CN=Sales,DC=corp,DC=local" }),
      "/organisation/extensionGroups/groups/0/dn",
      /not inside the base DN/,
    ],
    [
      "an unbalanced filter",
      (c) => Object.assign(c.scope, { filter: "(&(objectClass=user)" }),
      "/scope/filter",
      /not a valid LDAP filter: unbalanced/,
    ],
    [
      "a filter with an unescaped parenthesis",
      (c) => Object.assign(c.scope, { filter: "(cn=Support (Tier 2))" }),
      "/scope/filter",
      /not a valid LDAP filter/,
    ],
    [
      "a broken exclusion regex",
      (c) => Object.assign(c.scope.exclude[1] as object, { pattern: "(room" }),
      "/scope/exclude/1/pattern",
      /not a valid regular expression/,
    ],
    [
      "a normalisation pattern without a capture group",
      (c) => Object.assign(c.extensionNumbers.normalize, { pattern: "x\\d+$" }),
      "/extensionNumbers/normalize/pattern",
      /needs a capture group/,
    ],
    [
      "an empty range",
      (c) => Object.assign(c.extensionNumbers, { ranges: [{ start: "1999", end: "1000" }] }),
      "/extensionNumbers/ranges/0/end",
      /the range is empty/,
    ],
    [
      "a range with mixed lengths",
      (c) => Object.assign(c.extensionNumbers, { ranges: [{ start: "100", end: "1999" }] }),
      "/extensionNumbers/ranges/0",
      /same number of digits/,
    ],
    [
      "overlapping ranges",
      (c) => Object.assign(c.extensionNumbers.ouRanges[0] as object, { ranges: [{ start: "1900", end: "2099" }] }),
      "/extensionNumbers/ouRanges/0/ranges/0",
      /overlaps the range at \/extensionNumbers\/ranges\/0 \(1000-1999\)/,
    ],
    [
      "the archive inside a sync range",
      (c) => Object.assign(c.deprovisioning.archive, { extension: "1500" }),
      "/deprovisioning/archive/extension",
      /inside the sync range/,
    ],
    ["an unknown time zone", (c) => Object.assign(c.schedule, { timeZone: "Europe/Londn" }), "/schedule/timeZone", /not an IANA time zone/],
    [
      "domain login over plain LDAP",
      (c) => Object.assign(c.connection, { security: "insecurePlainLdap" }),
      "/domainLogin/enabled",
      /needs connection.security ldaps or starttls/,
    ],
    [
      "a certificate cut short",
      (c) => Object.assign(c.connection, { caCertificate: "-----BEGIN CERTIFICATE-----\nMIIB" }),
      "/connection/caCertificate",
      /cut short/,
    ],
  ])("rejects %s", (_name, breakIt, path, message) => {
    const config = valid() as Config;
    breakIt(config);
    const problems = validateConfig(config);
    expect(isValid(problems)).toBe(false);
    expect(problems).toContainEqual({ path, message: expect.stringMatching(message), severity: "error" });
  });

  it.each<[string, (c: Config) => void, string, RegExp]>([
    [
      "plain LDAP",
      (c) => Object.assign(c, { domainLogin: { enabled: false } }, { connection: { ...c.connection, security: "insecurePlainLdap" } }),
      "/connection/security",
      /clear text/,
    ],
    [
      "skipping certificate checks",
      (c) => Object.assign(c.connection, { insecureSkipVerify: true }),
      "/connection/insecureSkipVerify",
      /anyone on the path/,
    ],
    [
      "the LDAPS port with StartTLS",
      (c) => Object.assign(c.connection, { security: "starttls" }),
      "/connection/domainControllers/1/port",
      /636 is the LDAPS port/,
    ],
    [
      "an OU inside another listed OU",
      (c) => c.scope.ous.push({ dn: "OU=EMEA,OU=Sales,OU=Staff,DC=example,DC=com" }),
      "/scope/ous/2/dn",
      /already inside OU 1/,
    ],
    [
      "the same OU twice, spelled differently",
      (c) => c.scope.ous.push({ dn: "ou=sales, ou=staff, dc=EXAMPLE, dc=com" }),
      "/scope/ous/2/dn",
      /repeats entry 1/,
    ],
    [
      "an archive nothing deletes into",
      (c) => Object.assign(c.deprovisioning, { whenDeleted: "disable" }),
      "/deprovisioning/archive",
      /no case is set to "delete"/,
    ],
    [
      "a template extension inside a sync range",
      (c) => Object.assign(c.organisation.templateExtensions[0] as object, { extension: "1001" }),
      "/organisation/templateExtensions/0/extension",
      /inside the sync range/,
    ],
    [
      "schedule fields the mode ignores",
      (c) => Object.assign(c.schedule, { everyMinutes: 30 }),
      "/schedule/everyMinutes",
      /only used with mode "interval"/,
    ],
    [
      "a field mapped to a secret attribute",
      (c) => Object.assign(c, { fields: { mobile: { attribute: "ms-Mcs-AdmPwd" } } }),
      "/fields/mobile/attribute",
      /ms-Mcs-AdmPwd holds a secret: the connector agent never reads it/,
    ],
    [
      "numbers from a secret attribute",
      (c) => Object.assign(c, { extensionNumbers: { source: "attribute", attribute: "msLAPS-Password" } }),
      "/extensionNumbers/attribute",
      /msLAPS-Password holds a secret/,
    ],
    [
      "an exclusion on a secret attribute",
      (c) => Object.assign(c.scope, { exclude: [{ pattern: "x*", attribute: "unicodePwd" }] }),
      "/scope/exclude/0/attribute",
      /unicodePwd holds a secret/,
    ],
    [
      "departments from a secret attribute",
      (c) => Object.assign(c, { organisation: { departments: { from: "attribute", attribute: "userPassword" } } }),
      "/organisation/departments/attribute",
      /userPassword holds a secret/,
    ],
    [
      "a scope filter on a secret attribute",
      (c) => Object.assign(c.scope, { filter: "(!(ms-Mcs-AdmPwd=*))" }),
      "/scope/filter",
      /filters on ms-Mcs-AdmPwd, which holds a secret/,
    ],
  ])("warns about %s but still accepts it", (_name, change, path, message) => {
    const config = valid() as Config;
    change(config);
    const problems = validateConfig(config);
    expect(problems).toContainEqual({ path, message: expect.stringMatching(message), severity: "warning" });
    expect(isValid(problems)).toBe(true);
  });

  it("reports every problem at once, not only the first", () => {
    const config = valid() as Config;
    Object.assign(config.connection, { baseDn: "nope", pageSize: 0 });
    Object.assign(config.schedule, { timeZone: "Nowhere/Atlantis" });
    const paths = validateConfig(config).map((p) => p.path);
    expect(paths).toEqual(expect.arrayContaining(["/connection/baseDn", "/connection/pageSize", "/schedule/timeZone"]));
  });

  it.each([null, 42, "config", [], [{}]])("rejects %j as a whole document", (doc) => {
    expect(validateConfig(doc)).toEqual([{ path: "", message: "must be an object", severity: "error" }]);
  });

  it("warns that a configuration without a connection cannot run, but accepts a template without one", () => {
    expect(validateConfig({ scope: { users: "all" } })).toEqual([expect.objectContaining({ path: "", severity: "warning" })]);
    expect(validateConfig({ metadata: { title: "T" }, scope: { users: "all" } })).toEqual([]);
  });
});
