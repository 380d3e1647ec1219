// The directory read of a run: which searches the configuration needs, streamed page by page
// through an agent and staged in SQLite, never held whole in memory. Whether every search
// was complete decides whether the plan may disable or delete anything.
import type { SyncConfig } from "../../../schema/generated/config.ts";
import type { LdapTarget, SearchCompleteness, WireEntry } from "../../../schema/src/agent-protocol.ts";
import { filter } from "../../../schema/src/ldap-filter.ts";
import { scopeBases, scopeUserFilter } from "../../../schema/src/scope-filter.ts";
import { bytesFromBase64, directoryUserFromEntry, entryDisabled, entryGuid } from "./directory-user.ts";
import { dnKey, fieldAttribute, mapUser } from "./map-user.ts";
import { extensionFields } from "./pbx-port.ts";

const USERS = "(&(objectCategory=person)(objectClass=user))";

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
  /** A user that exists under the base DN, in scope or not. */
  present(guid: string, dn: string, name: string, disabled: boolean): void;
  progress(read: { inScope: number; present: number }): void;
  warn(message: string): void;
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

export async function readDirectory(config: SyncConfig, target: LdapTarget, search: SearchStream, stage: ReadStage): Promise<StagedRead> {
  const baseDn = target.connection.baseDn;
  const result: StagedRead = { complete: true, inScope: 0, present: 0, skipped: 0 };
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
            filter: filter`(&${USERS}(memberOf:1.2.840.113556.1.4.1941:=${group.dn}))`,
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
            result.inScope++;
          }
          stage.progress({ inScope: result.inScope, present: result.present });
        },
      ),
    );
  }

  // Everyone under the base DN: tells a deleted user from one who left the scope.
  account(
    await search(
      { base: baseDn, scope: "sub", filter: USERS, attributes: ["objectGUID", "userAccountControl", "displayName", "cn"] },
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
  return result;
}
