/* Types of a sync configuration, generated from schema/config.schema.json by `adsync types`. Do not edit: change the schema and regenerate. */

/**
 * Which users are synchronised: everyone under the base DN, the users of some OUs, or the members of some groups; narrowed by an optional LDAP filter and exclusions.
 */
export type Scope = Scope1;
/**
 * How each user's extension number is chosen. A number, once given, stays with the user across runs unless its source attribute changes.
 */
export type ExtensionNumbers = ExtensionNumbers1;
/**
 * Ranges for sequential numbers, tried in order (the lowest free number of the first range with room), for users whose OU has no entry in ouRanges.
 *
 * @minItems 1
 */
export type NumberRanges = [NumberRange, ...NumberRange[]];
/**
 * The ranges for this OU's users, tried in order; the lowest free number of the first range with room is assigned.
 *
 * @minItems 1
 */
export type NumberRanges1 = [NumberRange, ...NumberRange[]];
/**
 * Which PBX extension groups (ring groups, pickup groups, contact groups) each extension is a member of.
 */
export type ExtensionGroups = {
  /**
   * memberOf: the user's AD groups, limited to the groups listed in groups. attribute: the values of the attribute below, each a group name. none: group membership is not managed by sync.
   */
  from?: "memberOf" | "attribute" | "none";
  /**
   * With from = attribute: a (possibly multi-valued) attribute whose values name the extension groups, e.g. extensionAttribute5.
   */
  attribute?: string;
  /**
   * With from = memberOf: the AD groups mirrored as extension groups. Leave it out to mirror every group of every synced user.
   */
  groups?: GroupMapping[];
  /**
   * Create an extension group on the PBX when it does not exist yet; when false, memberships of missing groups are reported and skipped.
   */
  createMissing?: boolean;
};
/**
 * What happens to the extension when its AD user no longer exists. delete: remove the extension (after the archive step, if configured); disable: keep the extension and its number, but it can no longer register or log in; keep: leave it as it is.
 */
export type DeprovisionAction = "delete" | "disable" | "keep";
/**
 * What happens to the extension when the AD account is disabled (and scope.includeDisabled is false); a re-enabled account gets its extension back. delete: remove the extension (after the archive step, if configured); disable: keep the extension and its number, but it can no longer register or log in; keep: leave it as it is.
 */
export type DeprovisionAction1 = "delete" | "disable" | "keep";
/**
 * What happens to the extension when its user still exists but is no longer in the scope (moved out of the OUs, removed from the groups, no longer matching the filter, or now excluded). delete: remove the extension (after the archive step, if configured); disable: keep the extension and its number, but it can no longer register or log in; keep: leave it as it is.
 */
export type DeprovisionAction2 = "delete" | "disable" | "keep";
/**
 * When sync runs by itself. Sync Now in the portal works whatever the schedule.
 */
export type Schedule = Schedule1;
/**
 * The phone system sync writes to. Absent: the built-in PBX directory.
 */
export type Pbx = PbxBuiltin | PbxYeastar | Pbx3Cx | PbxScim;

/**
 * pbx-ad-sync configuration: which Active Directory users become PBX extensions, how their numbers and fields are derived, and what happens when they leave.
 */
export interface SyncConfig {
  /**
   * The JSON Schema this document follows; lets VS Code and other editors validate and complete it.
   */
  $schema?: string;
  metadata?: TemplateMetadata;
  connection?: Connection;
  scope?: Scope;
  extensionNumbers?: ExtensionNumbers;
  fields?: FieldMappings;
  organisation?: Organisation;
  deprovisioning?: Deprovisioning;
  safety?: Safety;
  schedule?: Schedule;
  domainLogin?: DomainLogin;
  pbx?: Pbx;
  log?: LogSettings;
}
/**
 * Who made this configuration and what it is for. Partner templates must carry a title, description and author; the portal's template gallery shows them.
 */
export interface TemplateMetadata {
  /**
   * Short name shown in the template gallery, e.g. "Sales and Support OUs from ipPhone".
   */
  title: string;
  /**
   * What this configuration does and for which kind of directory, in a sentence or two.
   */
  description?: string;
  /**
   * The partner or administrator who wrote it.
   */
  author?: string;
  /**
   * Version of this template, e.g. "1.0" or "2.1.3".
   */
  version?: string;
  /**
   * Keywords for finding the template in the gallery, e.g. "sequential", "multi-site".
   */
  tags?: string[];
}
/**
 * How the connector agent reaches Active Directory: domain controllers, transport security, the read-only account it binds as, and where in the directory to look.
 */
export interface Connection {
  /**
   * Domain controllers in failover order: the agent uses the first one that answers.
   *
   * @minItems 1
   * @maxItems 16
   */
  domainControllers:
    | [DomainController]
    | [DomainController, DomainController]
    | [DomainController, DomainController, DomainController]
    | [DomainController, DomainController, DomainController, DomainController]
    | [DomainController, DomainController, DomainController, DomainController, DomainController]
    | [DomainController, DomainController, DomainController, DomainController, DomainController, DomainController]
    | [
        DomainController,
        DomainController,
        DomainController,
        DomainController,
        DomainController,
        DomainController,
        DomainController,
      ]
    | [
        DomainController,
        DomainController,
        DomainController,
        DomainController,
        DomainController,
        DomainController,
        DomainController,
        DomainController,
      ]
    | [
        DomainController,
        DomainController,
        DomainController,
        DomainController,
        DomainController,
        DomainController,
        DomainController,
        DomainController,
        DomainController,
      ]
    | [
        DomainController,
        DomainController,
        DomainController,
        DomainController,
        DomainController,
        DomainController,
        DomainController,
        DomainController,
        DomainController,
        DomainController,
      ]
    | [
        DomainController,
        DomainController,
        DomainController,
        DomainController,
        DomainController,
        DomainController,
        DomainController,
        DomainController,
        DomainController,
        DomainController,
        DomainController,
      ]
    | [
        DomainController,
        DomainController,
        DomainController,
        DomainController,
        DomainController,
        DomainController,
        DomainController,
        DomainController,
        DomainController,
        DomainController,
        DomainController,
        DomainController,
      ]
    | [
        DomainController,
        DomainController,
        DomainController,
        DomainController,
        DomainController,
        DomainController,
        DomainController,
        DomainController,
        DomainController,
        DomainController,
        DomainController,
        DomainController,
        DomainController,
      ]
    | [
        DomainController,
        DomainController,
        DomainController,
        DomainController,
        DomainController,
        DomainController,
        DomainController,
        DomainController,
        DomainController,
        DomainController,
        DomainController,
        DomainController,
        DomainController,
        DomainController,
      ]
    | [
        DomainController,
        DomainController,
        DomainController,
        DomainController,
        DomainController,
        DomainController,
        DomainController,
        DomainController,
        DomainController,
        DomainController,
        DomainController,
        DomainController,
        DomainController,
        DomainController,
        DomainController,
      ]
    | [
        DomainController,
        DomainController,
        DomainController,
        DomainController,
        DomainController,
        DomainController,
        DomainController,
        DomainController,
        DomainController,
        DomainController,
        DomainController,
        DomainController,
        DomainController,
        DomainController,
        DomainController,
        DomainController,
      ];
  /**
   * Transport security. ldaps: TLS from the first byte (port 636). starttls: plain LDAP upgraded to TLS before binding (port 389). insecurePlainLdap: no encryption, the bind password crosses the network in clear text; hardened domain controllers refuse it ("Strong(er) authentication required").
   */
  security?: "ldaps" | "starttls" | "insecurePlainLdap";
  /**
   * PEM of the certificate authority that issued the domain controllers' certificates (your enterprise CA), when it is not publicly trusted. Several certificates may be concatenated.
   */
  caCertificate?: string;
  /**
   * Accept any TLS certificate without checking who issued it or whom it names. Anyone on the path could then read the bind password; use caCertificate instead.
   */
  insecureSkipVerify?: boolean;
  /**
   * The read-only account the agent binds as: a distinguished name (CN=svc-pbx,OU=Service Accounts,DC=example,DC=com) or a user principal name (svc-pbx@example.com). It needs read access to users, groups and OUs in the scope, nothing more.
   */
  bindUsername: string;
  bindPassword: PasswordReference;
  /**
   * Where in the directory the sync looks, e.g. DC=example,DC=com. OUs and groups in the scope must be inside it.
   */
  baseDn: string;
  /**
   * How long to wait for a domain controller to accept the connection (and the TLS handshake) before trying the next one.
   */
  connectTimeoutSeconds?: number;
  /**
   * How long one page of a directory search may take. A search that runs out of time makes the read incomplete, and an incomplete read never deletes or disables anything.
   */
  searchTimeoutSeconds?: number;
  /**
   * Entries per page of a paged search. Active Directory returns at most 1000 per page (MaxPageSize).
   */
  pageSize?: number;
}
/**
 * One domain controller.
 */
export interface DomainController {
  /**
   * Host name or IP address of the domain controller as the agent reaches it inside the customer network, e.g. dc1.corp.example.com. With LDAPS or StartTLS it must match a name in the DC's certificate.
   */
  host: string;
  /**
   * TCP port. Leave it out for the usual one: 636 for LDAPS, 389 for StartTLS and plain LDAP.
   */
  port?: number;
}
/**
 * Where the bind password is kept. A configuration never contains the password itself, nor says where on the agent host it is: it is entered in the portal (stored encrypted), or the connector agent holds it, set on its own host.
 */
export interface PasswordReference {
  /**
   * stored: entered in the portal and kept encrypted by the PBX. agent: held by the connector agent, set on its host (--bind-password-file or ADSYNC_BIND_PASSWORD).
   */
  source: "stored" | "agent";
}
export interface Scope1 {
  /**
   * all: every user under the base DN. ous: users in the OUs listed in ous. groups: members of the groups listed in groups.
   */
  users?: "all" | "ous" | "groups";
  /**
   * With users = ous: the organizational units whose users are synchronised.
   */
  ous?: ScopeOu[];
  /**
   * With users = groups: the groups whose members are synchronised.
   */
  groups?: ScopeGroup[];
  /**
   * An extra LDAP filter (RFC 4515) every user must also match, e.g. (department=Sales) or (!(description=*shared*)). It is combined with the scope by AND.
   */
  filter?: string;
  /**
   * Count disabled AD accounts (userAccountControl bit 0x2) as in scope. When false, a disabled account is handled by deprovisioning.whenDisabled.
   */
  includeDisabled?: boolean;
  /**
   * Users to leave out even though they are in scope, e.g. test and service accounts.
   */
  exclude?: Exclusion[];
}
export interface ScopeOu {
  /**
   * The OU, e.g. OU=Sales,DC=example,DC=com. Must be inside the base DN.
   */
  dn: string;
  /**
   * Also take users from OUs below this one (a subtree search); false takes only its direct children.
   */
  includeSubOus?: boolean;
}
export interface ScopeGroup {
  /**
   * The group, e.g. CN=Phone Users,OU=Groups,DC=example,DC=com. Must be inside the base DN.
   */
  dn: string;
  /**
   * Also count members of groups inside this group, at any depth (AD's LDAP_MATCHING_RULE_IN_CHAIN).
   */
  nested?: boolean;
}
/**
 * Users whose attribute matches the pattern are left out of the sync (shown as excluded in Preview).
 */
export interface Exclusion {
  /**
   * The attribute compared with the pattern, e.g. sAMAccountName, displayName, description. A user without the attribute is never excluded by this rule.
   */
  attribute?: string;
  /**
   * With match glob: * stands for any run of characters and ? for one ("Test*", "svc-*"). With match regex: a JavaScript regular expression. Case-insensitive either way.
   */
  pattern: string;
  /**
   * How pattern is read: glob (wildcards * and ?) or regex (JavaScript regular expression).
   */
  match?: "glob" | "regex";
  /**
   * Why these users are excluded; shown next to each excluded user in Preview.
   */
  reason?: string;
}
export interface ExtensionNumbers1 {
  /**
   * attribute: from an AD attribute (users without a usable value are reported, not synced). sequential: the next free number in the ranges. attributeThenSequential: from the attribute, and from the ranges for users without a usable value.
   */
  source?: "attribute" | "sequential" | "attributeThenSequential";
  /**
   * The AD attribute holding the number, e.g. ipPhone, telephoneNumber, pager, otherTelephone or extensionAttribute1 to extensionAttribute15.
   */
  attribute?: string;
  normalize?: NumberNormalization;
  ranges?: NumberRanges;
  /**
   * Per-OU number ranges (e.g. one block per site); users outside every listed OU use ranges.
   */
  ouRanges?: OuNumberRanges[];
}
/**
 * How an attribute value becomes an extension number. The steps run in this order: pattern, stripPrefix, digitsOnly, lastDigits. A value that does not give 2 to 10 digits gives no number.
 */
export interface NumberNormalization {
  /**
   * A JavaScript regular expression with one capture group; the captured text is kept, e.g. "x(\\d+)$" takes the digits after an x in "+1 555 0100 x214". A value that does not match gives no number.
   */
  pattern?: string;
  /**
   * Removed from the start of the value when present, e.g. "+4420".
   */
  stripPrefix?: string;
  /**
   * Drop every character that is not a digit: "+44 (20) 7946-0123" becomes "442079460123".
   */
  digitsOnly?: boolean;
  /**
   * Keep only this many digits from the end, e.g. 3 turns "442079460123" into "123".
   */
  lastDigits?: number;
}
/**
 * An inclusive range of extension numbers, e.g. 1000 to 1999. Start and end have the same number of digits.
 */
export interface NumberRange {
  /**
   * First number of the range (inclusive).
   */
  start: string;
  /**
   * Last number of the range (inclusive); not below start.
   */
  end: string;
}
/**
 * Number ranges for the users of one OU (and the OUs below it), e.g. one range per site.
 */
export interface OuNumberRanges {
  /**
   * The OU whose users take numbers from these ranges. Where OUs nest, the deepest matching entry wins.
   */
  ou: string;
  ranges: NumberRanges1;
}
/**
 * Which AD attribute fills each PBX extension field. Fields whose sync is false are left for direct editing on the PBX.
 */
export interface FieldMappings {
  firstName?: FieldMapping;
  lastName?: FieldMapping1;
  displayName?: FieldMapping2;
  email?: FieldMapping3;
  mobile?: FieldMapping4;
  workPhone?: FieldMapping5;
  department?: FieldMapping6;
  jobTitle?: FieldMapping7;
  avatar?: FieldMapping8;
}
/**
 * First name; default from givenName.
 */
export interface FieldMapping {
  /**
   * The AD attribute the field is read from.
   */
  attribute?: string;
  /**
   * true: the field follows Active Directory at every run. false: sync never writes it, so it can be edited directly on the PBX.
   */
  sync?: boolean;
}
/**
 * Last name; default from sn (surname).
 */
export interface FieldMapping1 {
  /**
   * The AD attribute the field is read from.
   */
  attribute?: string;
  /**
   * true: the field follows Active Directory at every run. false: sync never writes it, so it can be edited directly on the PBX.
   */
  sync?: boolean;
}
/**
 * Caller ID name and directory name; default from displayName.
 */
export interface FieldMapping2 {
  /**
   * The AD attribute the field is read from.
   */
  attribute?: string;
  /**
   * true: the field follows Active Directory at every run. false: sync never writes it, so it can be edited directly on the PBX.
   */
  sync?: boolean;
}
/**
 * Email address for voicemail-to-email and the UC client invitation; default from mail.
 */
export interface FieldMapping3 {
  /**
   * The AD attribute the field is read from.
   */
  attribute?: string;
  /**
   * true: the field follows Active Directory at every run. false: sync never writes it, so it can be edited directly on the PBX.
   */
  sync?: boolean;
}
/**
 * Mobile number; default from mobile.
 */
export interface FieldMapping4 {
  /**
   * The AD attribute the field is read from.
   */
  attribute?: string;
  /**
   * true: the field follows Active Directory at every run. false: sync never writes it, so it can be edited directly on the PBX.
   */
  sync?: boolean;
}
/**
 * Work phone (direct dial); default from telephoneNumber.
 */
export interface FieldMapping5 {
  /**
   * The AD attribute the field is read from.
   */
  attribute?: string;
  /**
   * true: the field follows Active Directory at every run. false: sync never writes it, so it can be edited directly on the PBX.
   */
  sync?: boolean;
}
/**
 * Department text on the extension; default from department. PBX departments as an organisation tree are set under organisation.departments.
 */
export interface FieldMapping6 {
  /**
   * The AD attribute the field is read from.
   */
  attribute?: string;
  /**
   * true: the field follows Active Directory at every run. false: sync never writes it, so it can be edited directly on the PBX.
   */
  sync?: boolean;
}
/**
 * Job title; default from title.
 */
export interface FieldMapping7 {
  /**
   * The AD attribute the field is read from.
   */
  attribute?: string;
  /**
   * true: the field follows Active Directory at every run. false: sync never writes it, so it can be edited directly on the PBX.
   */
  sync?: boolean;
}
/**
 * Profile picture; default from thumbnailPhoto (JPEG bytes). Updated only when the photo changes.
 */
export interface FieldMapping8 {
  /**
   * The AD attribute the field is read from.
   */
  attribute?: string;
  /**
   * true: the field follows Active Directory at every run. false: sync never writes it, so it can be edited directly on the PBX.
   */
  sync?: boolean;
}
/**
 * How the directory's structure shows on the PBX: OUs as departments, AD groups as extension groups, and template extensions that new extensions copy their settings from.
 */
export interface Organisation {
  departments?: Departments;
  extensionGroups?: ExtensionGroups;
  /**
   * Per OU, an existing extension whose settings (call forwarding, voicemail, permissions, features) new extensions copy when they are created. Where OUs nest, the deepest matching entry wins.
   */
  templateExtensions?: TemplateExtension[];
}
/**
 * Which PBX department each extension belongs to.
 */
export interface Departments {
  /**
   * ouTree: the user's OU path below the base DN becomes a department tree (Staff > Sales). attribute: the value of the attribute below. none: departments are not managed by sync.
   */
  from?: "ouTree" | "attribute" | "none";
  /**
   * With from = attribute: the attribute naming the department.
   */
  attribute?: string;
}
export interface GroupMapping {
  /**
   * The AD group mirrored as an extension group, e.g. CN=Sales Team,OU=Groups,DC=example,DC=com.
   */
  dn: string;
  /**
   * Name of the PBX extension group; defaults to the AD group's name (its CN).
   */
  extensionGroup?: string;
  /**
   * Also count members of groups inside this group, at any depth.
   */
  nested?: boolean;
}
export interface TemplateExtension {
  /**
   * The OU whose new users get this template.
   */
  ou: string;
  /**
   * The existing PBX extension whose settings are copied.
   */
  extension: string;
}
/**
 * What happens to a synced extension when its user is deleted in AD, disabled in AD, or leaves the sync scope. Deletes are subject to the safety limits.
 */
export interface Deprovisioning {
  whenDeleted?: DeprovisionAction;
  whenDisabled?: DeprovisionAction1;
  whenOutOfScope?: DeprovisionAction2;
  archive?: Archive;
}
/**
 * Before an extension is deleted, move what it holds to an archive extension so nothing is lost.
 */
export interface Archive {
  /**
   * The archive extension (created by hand, outside every sync range) that receives the deleted extensions' data.
   */
  extension: string;
  /**
   * Move the voicemail messages of deleted extensions to the archive extension.
   */
  voicemail?: boolean;
  /**
   * Move the call recordings of deleted extensions to the archive extension.
   */
  recordings?: boolean;
}
/**
 * Limits that stop a run from deleting many extensions at once (for example after an OU was renamed or the bind account lost read rights). A run over either limit waits for an administrator's approval and deletes nothing meanwhile.
 */
export interface Safety {
  /**
   * Most extensions one run may delete without approval. 0: every delete needs approval.
   */
  maxDeletesPerRun?: number;
  /**
   * Most extensions one run may delete without approval, as a percentage of the synced extensions.
   */
  maxDeletePercent?: number;
}
export interface Schedule1 {
  /**
   * interval: every everyMinutes minutes. daily: once a day at time in timeZone. manual: only when Sync Now is clicked.
   */
  mode?: "interval" | "daily" | "manual";
  /**
   * With mode interval: minutes between runs (5 to 1440).
   */
  everyMinutes?: number;
  /**
   * With mode daily: the time of day, 24-hour HH:MM, e.g. 02:30.
   */
  time?: string;
  /**
   * With mode daily: the IANA time zone the time is in, e.g. Europe/London or America/New_York.
   */
  timeZone?: string;
  /**
   * Runs between full reads ask the domain controller only for what changed since the last read (uSNChanged), plus a sweep of the scope's objectGUIDs to find who left. false: every run reads the whole scope.
   */
  incremental?: boolean;
  /**
   * Hours between full reads of the whole scope (1 to 720), so that nothing an incremental read cannot see (an extension edited on the PBX) drifts for long.
   */
  fullReadEveryHours?: number;
}
/**
 * Synced users log in to the UC client with their AD account (user@example.com and their Windows password) instead of a separate PBX password.
 */
export interface DomainLogin {
  /**
   * Allow synced users to log in to the UC client with their AD credentials.
   */
  enabled?: boolean;
  /**
   * The web origins of a browser-based UC client allowed to call the login route (CORS), e.g. https://phone.example.com. Empty: no browser page may call it; native clients and back ends are not affected.
   *
   * @maxItems 20
   */
  allowedOrigins?:
    | []
    | [string]
    | [string, string]
    | [string, string, string]
    | [string, string, string, string]
    | [string, string, string, string, string]
    | [string, string, string, string, string, string]
    | [string, string, string, string, string, string, string]
    | [string, string, string, string, string, string, string, string]
    | [string, string, string, string, string, string, string, string, string]
    | [string, string, string, string, string, string, string, string, string, string]
    | [string, string, string, string, string, string, string, string, string, string, string]
    | [string, string, string, string, string, string, string, string, string, string, string, string]
    | [string, string, string, string, string, string, string, string, string, string, string, string, string]
    | [string, string, string, string, string, string, string, string, string, string, string, string, string, string]
    | [
        string,
        string,
        string,
        string,
        string,
        string,
        string,
        string,
        string,
        string,
        string,
        string,
        string,
        string,
        string,
      ]
    | [
        string,
        string,
        string,
        string,
        string,
        string,
        string,
        string,
        string,
        string,
        string,
        string,
        string,
        string,
        string,
        string,
      ]
    | [
        string,
        string,
        string,
        string,
        string,
        string,
        string,
        string,
        string,
        string,
        string,
        string,
        string,
        string,
        string,
        string,
        string,
      ]
    | [
        string,
        string,
        string,
        string,
        string,
        string,
        string,
        string,
        string,
        string,
        string,
        string,
        string,
        string,
        string,
        string,
        string,
        string,
      ]
    | [
        string,
        string,
        string,
        string,
        string,
        string,
        string,
        string,
        string,
        string,
        string,
        string,
        string,
        string,
        string,
        string,
        string,
        string,
        string,
      ]
    | [
        string,
        string,
        string,
        string,
        string,
        string,
        string,
        string,
        string,
        string,
        string,
        string,
        string,
        string,
        string,
        string,
        string,
        string,
        string,
        string,
      ];
  /**
   * The UPN suffixes accepted at login, e.g. example.com; a login as someone@other.com is refused before it reaches AD. Empty: every suffix of a synced user.
   */
  allowedUpnSuffixes?: string[];
  /**
   * Failed logins with one name within failureWindowMinutes before logins with that name are paused (whether or not anyone has it, so a pause reveals nothing). A ceiling: the worker never allows more than AD's lockout threshold minus two, and the agent reads each account's live bad-password count before binding, so a login here never locks a Windows account.
   */
  maxFailures?: number;
  /**
   * The window in which failures are counted.
   */
  failureWindowMinutes?: number;
  /**
   * How long logins for the account are paused after too many failures.
   */
  blockMinutes?: number;
  /**
   * Failed logins from one network address, over all accounts, within failureWindowMinutes before that address is paused for blockMinutes. It stops one client from trying many accounts; an office behind one NAT address shares it.
   */
  maxFailuresPerAddress?: number;
  /**
   * Lifetime of the session token a successful login returns. The UC client trades it for its own session; keep it short.
   */
  sessionMinutes?: number;
}
/**
 * The PBX directory built into this portal.
 */
export interface PbxBuiltin {
  /**
   * The built-in PBX directory.
   */
  kind: "builtin";
}
/**
 * A Yeastar P-Series PBX through its Open API (Integrations > API on the PBX).
 */
export interface PbxYeastar {
  /**
   * Yeastar P-Series Open API.
   */
  kind: "yeastar";
  /**
   * The PBX's address, e.g. https://acme.ras.yeastar.com (Cloud Edition) or https://pbx.example.com:8088 (Software Edition). HTTPS only (plain http only to this machine, for testing): the API's token travels in the query string.
   */
  baseUrl: string;
  /**
   * The Client ID of the API application made on the PBX (Integrations > API).
   */
  clientId: string;
  /**
   * Where the Client Secret is: stored encrypted in the portal (Connection > PBX > Secret), never in this document.
   */
  secret: {
    /**
     * Stored write-only with PUT …/config/pbx-secret; never returned or logged.
     */
    source: "stored";
  };
  /**
   * Open API calls in flight at once while a sync applies its plan. Yeastar does not document a rate limit; 4 keeps a large first sync quick without crowding the PBX.
   */
  concurrency?: number;
  /**
   * The user role (role_id) new extensions get; absent: the PBX's default role.
   */
  roleId?: number;
  /**
   * Mirror the department tree into Yeastar's organizations (Organization Management must be on when true: the PBX then requires one for every extension).
   */
  departments?: boolean;
  /**
   * On a first sync, take over hand-made extensions that match an AD user: by e-mail address, by number, or not at all (they stay untouched and a collision is a conflict).
   */
  adopt?: "none" | "email" | "number";
}
/**
 * A 3CX V20 through its Configuration API (XAPI); needs an Enterprise licence.
 */
export interface Pbx3Cx {
  /**
   * 3CX V20 Configuration API.
   */
  kind: "3cx";
  /**
   * The 3CX's address (its FQDN), e.g. https://acme.3cx.eu. HTTPS only (plain http only to this machine, for testing).
   */
  baseUrl: string;
  /**
   * The Client ID of the API client made in Admin > Integrations > API.
   */
  clientId: string;
  /**
   * Where the API key is: stored encrypted in the portal (Connection > PBX > Secret), never in this document.
   */
  secret: {
    /**
     * Stored write-only with PUT …/config/pbx-secret; never returned or logged.
     */
    source: "stored";
  };
  /**
   * The role synced users get in their department's group (Rights.RoleName).
   */
  role?: "users" | "receptionists" | "managers" | "group_admins" | "group_owners" | "system_admins" | "system_owners";
  /**
   * Put each user in the 3CX group (department) named by its department path, making the groups that are missing; false: new users go to the default group and groups are left alone.
   */
  departments?: boolean;
  /**
   * What a number change in AD does, since 3CX cannot change an extension's number: report a conflict, or delete the extension and create it again with the new number.
   */
  numberChange?: "conflict" | "recreate";
  /**
   * Configuration API calls in flight at once while a sync applies its plan. 3CX documents no rate limit.
   */
  concurrency?: number;
  /**
   * On a first sync, take over hand-made extensions that match an AD user: by e-mail address, by number, or not at all (they stay untouched and a collision is a conflict).
   */
  adopt?: "none" | "email" | "number";
}
/**
 * A phone system that takes user provisioning over SCIM 2.0 (RFC 7643, RFC 7644).
 */
export interface PbxScim {
  /**
   * A SCIM 2.0 service provider.
   */
  kind: "scim";
  /**
   * The service's SCIM base URL, the one that /Users is under, e.g. https://scim.example.com/scim/v2. HTTPS only (plain http only to this machine, for testing).
   */
  baseUrl: string;
  /**
   * Where the bearer token is: stored encrypted in the portal (Connection > PBX > Secret), never in this document.
   */
  secret: {
    /**
     * Stored write-only with PUT …/config/pbx-secret; never returned or logged.
     */
    source: "stored";
  };
  /**
   * Which SCIM attribute carries the extension number.
   */
  numberAttribute?:
    | 'phoneNumbers[type eq "work"].value'
    | 'phoneNumbers[type eq "other"].value'
    | "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber";
  /**
   * Whether the service takes DELETE /Users/{id}. Off for services that only deactivate (active: false): deprovisioning must then disable.
   */
  deleteUsers?: boolean;
  /**
   * Whether the service has /Groups: AD groups (organisation.extensionGroups) are then mirrored as SCIM groups with their members.
   */
  groups?: boolean;
  /**
   * How a changed user is written: PATCH with the changed attributes (RFC 7644 3.5.2), or PUT of the whole user for services without PATCH.
   */
  updateMethod?: "patch" | "put";
  /**
   * Users asked for per page (count) when the users are listed; the service may answer fewer.
   */
  pageSize?: number;
  /**
   * SCIM calls in flight at once while a sync applies its plan. Keep it low for services with tight rate limits (RingCentral: about 1,000 writes a minute).
   */
  concurrency?: number;
  /**
   * On a first sync, take over hand-made extensions that match an AD user: by e-mail address, by number, or not at all (they stay untouched and a collision is a conflict).
   */
  adopt?: "none" | "email" | "number";
}
/**
 * The sync log: runs, their events and domain login attempts.
 */
export interface LogSettings {
  /**
   * Runs and events older than this many days are removed from the log.
   */
  retentionDays?: number;
}
