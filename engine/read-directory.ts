// The directory read of a run: which searches the configuration needs, streamed page by page
// through an agent and staged in SQLite, never held whole in memory. Whether every search
// was complete decides whether the plan may disable or delete anything.
import type { SyncConfig } from "../schema/generated/config.ts";
import type { DirectoryPosition, LdapTarget, SearchCompleteness, WireEntry } from "../schema/src/agent-protocol.ts";
import { domainOfDn } from "../schema/src/dn.ts";
import { filter } from "../schema/src/ldap-filter.ts";
import { scopeBases, scopeUserFilter } from "../schema/src/scope-filter.ts";
import { bytesFromBase64, bytesFromGuid, directoryUserFromEntry, entryDisabled, entryGuid } from "./directory-user.ts";
import { type DesiredUser, dnKey, fieldAttribute, mapUser } from "./map-user.ts";
import { extensionFields } from "./pbx/pbx-port.ts";

const USERS = "(&(objectCategory=person)(objectClass=user))";
// objectGUIDs per lookup filter: short enough for any DC's filter limits, few enough searches.
const GUID_BATCH = 100;

/** Streams one search to `page`; what AgentLink.stream does, for a run. */
export type SearchStream = (
  spec: {
    base: string;
    scope: "base" | "one" | "sub";
    filter: string;
    attributes: string[];
    binaryAttributes?: string[];
    position?: boolean;
    showDeleted?: boolean;
    sizeLimit?: number;
  },
  page: (entries: WireEntry[]) => Promise<void> | void,
) => Promise<SearchCompleteness>;

/**
 * What the searches of one read add up to: whether every one was complete, and where the DC
 * stood. Each search asks for the position of the DC that serves it; the read's position is
 * the first one's (taken before any page), and it is only good when every search came from
 * that same DC with that same database.
 */
export class ReadAccount {
  complete = true;
  reason: string | undefined;
  position: DirectoryPosition | undefined;
  positionProblem: string | undefined;

  add(c: SearchCompleteness): SearchCompleteness {
    if (!c.complete && this.complete) {
      this.complete = false;
      this.reason = c.reason ?? "a search did not finish";
    }
    if (this.positionProblem !== undefined) return c;
    if (c.position === undefined)
      this.positionProblem =
        c.positionUnavailable ?? "the agent does not say which domain controller answered (an agent older than this server)";
    else if (this.position === undefined) this.position = c.position;
    else if (c.position.dsServiceName !== this.position.dsServiceName)
      this.positionProblem = `the read was answered by two domain controllers (${this.position.server} and ${c.position.server})`;
    else if (c.position.invocationId !== this.position.invocationId)
      this.positionProblem = `the domain controller ${c.position.server} was restored during the read (its invocationId changed)`;
    return c;
  }

  result(counts: { inScope: number; present: number; skipped: number }): StagedRead {
    const read: StagedRead = { complete: this.complete, ...counts };
    if (this.reason !== undefined && !this.complete) read.reason = this.reason;
    if (this.positionProblem !== undefined) read.positionProblem = this.positionProblem;
    else if (this.position !== undefined) read.position = this.position;
    return read;
  }
}

export interface StagedRead {
  complete: boolean;
  reason?: string;
  inScope: number;
  present: number;
  skipped: number;
  /** Where the DC stood before the read, when every search came from it. */
  position?: DirectoryPosition;
  /** Why the read has no position: the next run then reads everything again. */
  positionProblem?: string;
}

export interface ReadStage {
  /**
   * A mapped in-scope user, `data` its JSON, and the bytes of their photo when the avatar is
   * synced.
   */
  user(user: DesiredUser, data: string, photo: Uint8Array | undefined): void;
  /** A known user the scope did not return, who still exists under the base DN. */
  present(guid: string, dn: string, name: string, disabled: boolean): void;
  /** After each page's users and present users: what was staged before it may be written in one go. */
  progress(read: { inScope: number; present: number }): void;
  warn(message: string): void;
  /**
   * Of these objectGUIDs, those not staged as in scope: asked once the scope is read, a batch
   * at a time, so that the read keeps no set of everyone it staged.
   */
  notStaged(guids: string[]): string[];
}

/** A synced user the scope did not return, found still in AD. */
export interface OutsideUser {
  guid: string;
  dn: string;
  name: string;
  disabled: boolean;
}

/**
 * What the planner takes from a read: the mapped users in scope, plus those outside it mapped
 * as out of scope; `present` is everyone AD still has (anyone else synced is gone from AD).
 */
export function usersForPlan(
  config: SyncConfig,
  inScope: DesiredUser[],
  outside: Iterable<OutsideUser>,
): { users: DesiredUser[]; present: Set<string> } {
  const users = [...inScope];
  const present = new Set(users.map((u) => u.guid));
  for (const o of outside) {
    if (present.has(o.guid)) continue;
    present.add(o.guid);
    users.push(outsideUser(config, o));
  }
  return { users, present };
}

/** A synced user found outside the scope, mapped as out of it (or disabled). */
export function outsideUser(config: SyncConfig, o: OutsideUser): DesiredUser {
  return mapUser(config, { guid: o.guid, dn: o.dn, disabled: o.disabled, attributes: { cn: [o.name] } }, false);
}

/** The attributes the configuration reads, besides those every run needs. */
export function neededAttributes(config: SyncConfig): string[] {
  const names = new Set(["objectGUID", "userAccountControl", "cn", "sAMAccountName", "userPrincipalName", "displayName"]);
  for (const f of extensionFields) names.add(fieldAttribute(config, f));
  if (config.fields?.avatar?.sync !== false) names.add(fieldAttribute(config, "avatar"));
  if (config.extensionNumbers?.attribute) names.add(config.extensionNumbers.attribute);
  for (const rule of config.scope?.exclude ?? []) names.add(rule.attribute ?? "sAMAccountName");
  if (config.organisation?.departments?.from === "attribute") names.add(config.organisation.departments.attribute ?? "department");
  const groups = config.organisation?.extensionGroups;
  if (groups?.from === "memberOf") names.add("memberOf");
  if (groups?.from === "attribute" && groups.attribute) names.add(groups.attribute);
  return [...names];
}

/**
 * Reads the users in scope into `stage`, and of the `known` users (the objectGUIDs of the
 * extensions sync made earlier) those the scope did not return but AD still has.
 */
export async function readDirectory(
  config: SyncConfig,
  target: LdapTarget,
  known: Iterable<string>,
  search: SearchStream,
  stage: ReadStage,
): Promise<StagedRead> {
  const account = new ReadAccount();
  const counts = { inScope: 0, present: 0, skipped: 0 };
  const nestedGroups = await nestedGroupSets(config, target, search, account);
  await readScope({ config, target, search, account, counts, nestedGroups, take: stage.user, stage });
  // Synced users the scope did not return: deleted in AD, or still there but out of scope.
  // Only they need looking up, by objectGUID, which is far cheaper than reading everyone
  // under the base DN again; on a run where nobody left there is nothing to look up.
  const all = [...known];
  const leftOut: string[] = [];
  for (let i = 0; i < all.length; i += 1000) leftOut.push(...stage.notStaged(all.slice(i, i + 1000)));
  await lookUpOutside(leftOut, target, search, account, counts, stage);
  return account.result(counts);
}

/**
 * The groups inside each group mirrored as a nested extension group, at any depth (its dnKey
 * -> theirs and its own): a user's memberOf names their direct groups only, and a user is in
 * the nested group when any of those is one of these. Not by LDAP_MATCHING_RULE_IN_CHAIN
 * (1.2.840.113556.1.4.1941): Samba evaluates it entry by entry, walking each user's groups
 * (5 s a group at 10,000 users), and Microsoft warns of its cost on large directories too.
 * Groups are few next to users, and memberOf equality among groups is cheap.
 */
export async function nestedGroupSets(
  config: SyncConfig,
  target: LdapTarget,
  search: SearchStream,
  account: ReadAccount,
): Promise<Map<string, Set<string>>> {
  const nestedGroups = new Map<string, Set<string>>();
  const mirrored = config.organisation?.extensionGroups;
  if (mirrored?.from !== "memberOf") return nestedGroups;
  // Each nested group's walk is a search a level, a round trip through the agent each; the
  // walks are independent, so they go out together.
  const nested = (mirrored.groups ?? []).filter((group) => group.nested === true);
  const walks = await Promise.all(nested.map((group) => groupsWithin(group.dn, target, search, account)));
  nested.forEach((group, i) => {
    nestedGroups.set(dnKey(group.dn), new Set((walks[i] ?? []).map(dnKey)));
  });
  return nestedGroups;
}

/** Groups a search names at once, in an OR of memberOf terms. */
const GROUP_BATCH = 50;

/**
 * The objectGUIDs of the users under the base DN directly in any of `groups` (DNs or dnKeys):
 * what an incremental read compares a nested group's membership by, where a full read maps
 * each user's own memberOf.
 */
export async function usersInGroups(
  groupDns: Iterable<string>,
  target: LdapTarget,
  search: SearchStream,
  account: ReadAccount,
): Promise<Set<string>> {
  const groups = [...groupDns];
  const members = new Set<string>();
  for (let i = 0; i < groups.length; i += GROUP_BATCH) {
    const terms = groups.slice(i, i + GROUP_BATCH).map((g) => filter`(memberOf=${g})`);
    account.add(
      await search(
        {
          base: target.connection.baseDn,
          scope: "sub",
          filter: `(&${USERS}(|${terms.join("")}))`,
          attributes: ["objectGUID"],
          position: true,
        },
        (entries) => {
          for (const e of entries) {
            const guid = entryGuid(e);
            if (guid) members.add(guid);
          }
        },
      ),
    );
  }
  return members;
}

/**
 * `groupDn` and every group nested in it, level by level (a group seen already ends its
 * branch: AD allows cycles). Searched from the domain's root, since a group inside may lie
 * outside the base DN, as the group itself may.
 */
export async function groupsWithin(groupDn: string, target: LdapTarget, search: SearchStream, account: ReadAccount): Promise<string[]> {
  const root = domainOfDn(target.connection.baseDn)?.dn ?? target.connection.baseDn;
  const seen = new Map<string, string>([[dnKey(groupDn), groupDn]]);
  let level = [groupDn];
  while (level.length > 0) {
    const next: string[] = [];
    for (let i = 0; i < level.length; i += GROUP_BATCH) {
      const terms = level.slice(i, i + GROUP_BATCH).map((g) => filter`(memberOf=${g})`);
      account.add(
        await search(
          { base: root, scope: "sub", filter: `(&(objectClass=group)(|${terms.join("")}))`, attributes: ["objectGUID"], position: true },
          (entries) => {
            for (const e of entries) {
              const key = dnKey(e.dn);
              if (seen.has(key)) continue;
              seen.set(key, e.dn);
              next.push(e.dn);
            }
          },
        ),
      );
    }
    level = next;
  }
  return [...seen.values()];
}

export type StageUser = (user: DesiredUser, data: string, photo: Uint8Array | undefined) => void;

/** What the searches of users in one read share: where they go, how users are mapped, where they are staged. */
export interface ScopeReader {
  config: SyncConfig;
  target: LdapTarget;
  search: SearchStream;
  account: ReadAccount;
  counts: { inScope: number; present: number; skipped: number };
  /** The groups inside each nested extension group (nestedGroupSets). */
  nestedGroups: Map<string, Set<string>>;
  take: StageUser;
  stage: Pick<ReadStage, "progress" | "warn">;
}

/**
 * The users the scope selects, mapped, to `take`: all of them, or with `extra` those the
 * extra filter also selects (changed since a USN, or a batch of objectGUIDs).
 */
export async function readScope(reader: ScopeReader, extra?: string): Promise<void> {
  const { config, target, search, account, counts, nestedGroups, take, stage } = reader;
  const avatar = fieldAttribute(config, "avatar");
  const avatarSynced = config.fields?.avatar?.sync !== false;
  const attributes = neededAttributes(config);
  const scopeFilter = scopeUserFilter(config.scope, "include");
  for (const base of scopeBases(config.scope, target.connection.baseDn)) {
    account.add(
      await search(
        {
          ...base,
          // The narrower term first: Samba takes an AND's terms in order (AD's optimizer does not).
          filter: extra === undefined ? scopeFilter : `(&${extra}${scopeFilter})`,
          attributes,
          binaryAttributes: avatarSynced ? [avatar] : [],
          position: true,
        },
        async (entries) => {
          for (const entry of entries) {
            const user = await directoryUserFromEntry(entry, avatar);
            if (!user) {
              counts.skipped++;
              stage.warn(`${entry.dn} has no objectGUID and was skipped`);
              continue;
            }
            const mapped = mapUser(config, user, true, { nestedGroups });
            const photoValue = avatarSynced ? entry.attributes[avatar]?.[0] : undefined;
            take(mapped, JSON.stringify(mapped), photoValue === undefined ? undefined : bytesFromBase64(photoValue));
            counts.inScope++;
          }
          stage.progress({ inScope: counts.inScope, present: counts.present });
        },
      ),
    );
  }
}

/** The users of `guids` the scope selects, read whole, GUID_BATCH a search. */
export async function readScopeUsers(reader: ScopeReader, guids: string[]): Promise<void> {
  for (let i = 0; i < guids.length; i += GUID_BATCH) {
    const batch = guids.slice(i, i + GUID_BATCH).map((g) => filter`(objectGUID=${bytesFromGuid(g)})`);
    await readScope(reader, `(|${batch.join("")})`);
  }
}

/** Of `guids` (synced users the scope did not return), those AD still has, to `stage.present`. */
export async function lookUpOutside(
  guids: string[],
  target: LdapTarget,
  search: SearchStream,
  account: ReadAccount,
  counts: { inScope: number; present: number; skipped: number },
  stage: Pick<ReadStage, "present" | "progress">,
): Promise<void> {
  for (let i = 0; i < guids.length; i += GUID_BATCH) {
    const batch = guids.slice(i, i + GUID_BATCH).map((g) => filter`(objectGUID=${bytesFromGuid(g)})`);
    account.add(
      await search(
        {
          base: target.connection.baseDn,
          scope: "sub",
          filter: `(&${USERS}(|${batch.join("")}))`,
          attributes: ["objectGUID", "userAccountControl", "displayName", "cn"],
          position: true,
        },
        (entries) => {
          for (const e of entries) {
            const guid = entryGuid(e);
            if (!guid) continue;
            stage.present(guid, e.dn, e.attributes.displayName?.[0] ?? e.attributes.cn?.[0] ?? e.dn, entryDisabled(e));
            counts.present++;
          }
          stage.progress({ inScope: counts.inScope, present: counts.present });
        },
      ),
    );
  }
}
