// The directory read of a run: which searches the configuration needs, streamed page by page
// through an agent and staged in SQLite, never held whole in memory. Whether every search
// was complete decides whether the plan may disable or delete anything.
import type { SyncConfig } from "../schema/generated/config.ts";
import type { LdapTarget, SearchCompleteness, WireEntry } from "../schema/src/agent-protocol.ts";
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
  spec: { base: string; scope: "base" | "one" | "sub"; filter: string; attributes: string[]; binaryAttributes?: string[] },
  page: (entries: WireEntry[]) => Promise<void> | void,
) => Promise<SearchCompleteness>;

export interface StagedRead {
  complete: boolean;
  reason?: string;
  inScope: number;
  present: number;
  skipped: number;
}

export interface ReadStage {
  /** A mapped in-scope user, and the bytes of their photo when the avatar is synced. */
  user(guid: string, data: string, photo: Uint8Array | undefined): void;
  /** A known user the scope did not return, who still exists under the base DN. */
  present(guid: string, dn: string, name: string, disabled: boolean): void;
  progress(read: { inScope: number; present: number }): void;
  warn(message: string): void;
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
    users.push(mapUser(config, { guid: o.guid, dn: o.dn, disabled: o.disabled, attributes: { cn: [o.name] } }, false));
  }
  return { users, present };
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
  const baseDn = target.connection.baseDn;
  const result: StagedRead = { complete: true, inScope: 0, present: 0, skipped: 0 };
  const staged = new Set<string>();
  const account = (c: SearchCompleteness) => {
    if (!c.complete && result.complete) {
      result.complete = false;
      result.reason = c.reason ?? "a search did not finish";
    }
  };

  // Nested members of the groups mirrored as extension groups; memberOf shows direct ones only.
  const nestedMembers = new Map<string, Set<string>>();
  const mirrored = config.organisation?.extensionGroups;
  if (mirrored?.from === "memberOf") {
    for (const group of mirrored.groups ?? []) {
      if (group.nested !== true) continue;
      const members = new Set<string>();
      account(
        await search(
          {
            base: baseDn,
            scope: "sub",
            // USERS is a filter already; only the DN is a value to escape.
            filter: `(&${USERS}${filter`(memberOf:1.2.840.113556.1.4.1941:=${group.dn})`})`,
            attributes: ["objectGUID"],
          },
          (entries) => {
            for (const e of entries) {
              const guid = entryGuid(e);
              if (guid) members.add(guid);
            }
          },
        ),
      );
      nestedMembers.set(dnKey(group.dn), members);
    }
  }

  const avatar = fieldAttribute(config, "avatar");
  const avatarSynced = config.fields?.avatar?.sync !== false;
  const attributes = neededAttributes(config);
  for (const base of scopeBases(config.scope, baseDn)) {
    account(
      await search(
        { ...base, filter: scopeUserFilter(config.scope, "include"), attributes, binaryAttributes: avatarSynced ? [avatar] : [] },
        async (entries) => {
          for (const entry of entries) {
            const user = await directoryUserFromEntry(entry, avatar);
            if (!user) {
              result.skipped++;
              stage.warn(`${entry.dn} has no objectGUID and was skipped`);
              continue;
            }
            const mapped = mapUser(config, user, true, { nestedMembers });
            const photoValue = avatarSynced ? entry.attributes[avatar]?.[0] : undefined;
            stage.user(user.guid, JSON.stringify(mapped), photoValue === undefined ? undefined : bytesFromBase64(photoValue));
            staged.add(user.guid);
            result.inScope++;
          }
          stage.progress({ inScope: result.inScope, present: result.present });
        },
      ),
    );
  }

  // Synced users the scope did not return: deleted in AD, or still there but out of scope.
  // Only they need looking up, by objectGUID, which is far cheaper than reading everyone
  // under the base DN again; on a run where nobody left there is nothing to look up.
  const missing = [...known].filter((guid) => !staged.has(guid));
  for (let i = 0; i < missing.length; i += GUID_BATCH) {
    const guids = missing.slice(i, i + GUID_BATCH).map((g) => filter`(objectGUID=${bytesFromGuid(g)})`);
    account(
      await search(
        {
          base: baseDn,
          scope: "sub",
          filter: `(&${USERS}(|${guids.join("")}))`,
          attributes: ["objectGUID", "userAccountControl", "displayName", "cn"],
        },
        (entries) => {
          for (const e of entries) {
            const guid = entryGuid(e);
            if (!guid) continue;
            stage.present(guid, e.dn, e.attributes.displayName?.[0] ?? e.attributes.cn?.[0] ?? e.dn, entryDisabled(e));
            result.present++;
          }
          stage.progress({ inScope: result.inScope, present: result.present });
        },
      ),
    );
  }
  return result;
}
