// The searches of an incremental read: what changed since a DC's position, and who is in
// scope now. A changed user has a higher uSNChanged on the DC that applied the change, so
// (uSNChanged>=N+1) within the scope finds them; what it cannot find is who left: a deleted
// user is a tombstone the scope does not return, and a user moved out of the scope is not in
// it any more. So the read also sweeps the scope for objectGUIDs alone, and whoever was in
// scope and is not now is looked up. The sweep needs no right beyond reading users, where
// tombstones (the Show Deleted control) need the Deleted Objects container, which AD lets
// only administrators list.
import type { SyncConfig } from "../schema/generated/config.ts";
import type { LdapTarget } from "../schema/src/agent-protocol.ts";
import { isDnWithin } from "../schema/src/dn.ts";
import { filter } from "../schema/src/ldap-filter.ts";
import { scopeBases, scopeUserFilter } from "../schema/src/scope-filter.ts";
import { entryGuid } from "./directory-user.ts";
import { cnOf, dnKey } from "./map-user.ts";
import { groupsWithin, type ReadAccount, type SearchStream, usersInGroups } from "./read-directory.ts";

const USERS = "(&(objectCategory=person)(objectClass=user))";

/** The filter of what changed after a position: uSNChanged is a DC's own number, 64 bits wide. */
export function changedSince(usn: string): string {
  return filter`(uSNChanged>=${(BigInt(usn) + 1n).toString()})`;
}

/** The domain partition's Deleted Objects container, where AD keeps tombstones (MS-ADTS 3.1.1.5.5.2). */
export function deletedObjectsOf(domainNc: string): string {
  return `CN=Deleted Objects,${domainNc}`;
}

/**
 * Whether the service account may list tombstones: one is enough to tell. Without the
 * right AD answers an empty list, which cannot be told from a domain where nothing was ever
 * deleted; either way the sweep finds who left.
 */
export async function tombstonesVisible(search: SearchStream, domainNc: string): Promise<boolean> {
  let seen = false;
  await search(
    {
      base: deletedObjectsOf(domainNc),
      scope: "one",
      filter: "(isDeleted=TRUE)",
      attributes: ["1.1"],
      showDeleted: true,
      sizeLimit: 1,
    },
    (entries) => {
      if (entries.length > 0) seen = true;
    },
  );
  return seen;
}

/**
 * The OUs and containers under the base DN changed since `usn`. Renaming or moving one
 * changes the DN of every user in it without changing those users (their uSNChanged stays),
 * so after such a change only a full read sees where each user is.
 */
export async function changedContainers(search: SearchStream, baseDn: string, usn: string, account: ReadAccount): Promise<string[]> {
  const out: string[] = [];
  account.add(
    await search(
      {
        base: baseDn,
        scope: "sub",
        filter: `(&(|(objectClass=organizationalUnit)(objectClass=container))${changedSince(usn)})`,
        attributes: ["1.1"],
        position: true,
      },
      (entries) => {
        for (const e of entries) out.push(e.dn);
      },
    ),
  );
  return out;
}

/** The objectGUIDs of the users changed since `usn` anywhere in the domain: moved out of the base DN too. */
export async function changedUsers(search: SearchStream, domainNc: string, usn: string, account: ReadAccount): Promise<string[]> {
  const out: string[] = [];
  account.add(
    await search(
      // uSNChanged first: Samba takes an AND's terms in order, and with the user classes first
      // it walks every user through their index (twice the time); AD's optimizer ignores order.
      { base: domainNc, scope: "sub", filter: `(&${changedSince(usn)}${USERS})`, attributes: ["objectGUID"], position: true },
      (entries) => {
        for (const e of entries) {
          const guid = entryGuid(e);
          if (guid) out.push(guid);
        }
      },
    ),
  );
  return out;
}

/** The objectGUIDs of the users deleted since `usn`: their tombstones, under Deleted Objects. */
export async function deletedUsers(search: SearchStream, domainNc: string, usn: string, account: ReadAccount): Promise<string[]> {
  const out: string[] = [];
  account.add(
    await search(
      {
        base: deletedObjectsOf(domainNc),
        scope: "one",
        // A tombstone keeps objectClass, not objectCategory (MS-ADTS 3.1.1.5.5.1.1).
        filter: `(&(isDeleted=TRUE)(objectClass=user)${changedSince(usn)})`,
        attributes: ["objectGUID"],
        showDeleted: true,
        position: true,
      },
      (entries) => {
        for (const e of entries) {
          const guid = entryGuid(e);
          if (guid) out.push(guid);
        }
      },
    ),
  );
  return out;
}

/** The objectGUIDs of every user the scope selects, page by page to `take`. */
export async function sweepScope(
  config: SyncConfig,
  target: LdapTarget,
  search: SearchStream,
  account: ReadAccount,
  take: (guids: string[]) => void,
): Promise<void> {
  for (const base of scopeBases(config.scope, target.connection.baseDn)) {
    account.add(
      await search({ ...base, filter: scopeUserFilter(config.scope, "include"), attributes: ["objectGUID"], position: true }, (entries) => {
        const guids: string[] = [];
        for (const e of entries) {
          const guid = entryGuid(e);
          if (guid) guids.push(guid);
        }
        take(guids);
      }),
    );
  }
}

/** An extension group whose AD membership may have changed, with its members now. */
export interface GroupMembership {
  /** The extension group's name, as mapped users carry it. */
  name: string;
  members: Set<string>;
}

/**
 * The extension groups mapped from memberOf whose membership may have changed since `usn`.
 * Adding a user to a group changes the group (its member attribute), not the user: memberOf
 * is a back link, and the user's uSNChanged stays as it was. So the groups are asked
 * instead. A nested group's members change with any group inside it, which its own
 * uSNChanged does not show, so a nested group is always read again.
 */
export async function changedGroupMemberships(
  config: SyncConfig,
  target: LdapTarget,
  usn: string,
  search: SearchStream,
  account: ReadAccount,
  /** The groups inside each nested group, read already for mapping (nestedGroupSets). */
  nestedGroups: Map<string, Set<string>>,
): Promise<GroupMembership[]> {
  const settings = config.organisation?.extensionGroups;
  if (settings?.from !== "memberOf") return [];
  const changed: Array<{ dn: string; name: string; nested: boolean }> = [];
  if (settings.groups === undefined) {
    // Every group a user is in becomes an extension group of its name: any changed group may matter.
    account.add(
      await search(
        {
          base: target.connection.baseDn,
          scope: "sub",
          filter: `(&(objectClass=group)${changedSince(usn)})`,
          attributes: ["objectGUID"],
          position: true,
        },
        (entries) => {
          for (const e of entries) changed.push({ dn: e.dn, name: cnOf(e.dn), nested: false });
        },
      ),
    );
  } else {
    const asked: typeof changed = [];
    for (const group of settings.groups) {
      const entry = { dn: group.dn, name: group.extensionGroup ?? cnOf(group.dn), nested: group.nested === true };
      // A group outside the base DN is not searched for changes: read like a nested one.
      if (entry.nested || !isDnWithin(group.dn, target.connection.baseDn)) changed.push(entry);
      else asked.push(entry);
    }
    if (asked.length > 0) {
      // One search for all of them, under the base DN: a group deleted since is simply not found.
      const found = new Set<string>();
      account.add(
        await search(
          {
            base: target.connection.baseDn,
            scope: "sub",
            filter: `(&(objectClass=group)${changedSince(usn)}(|${asked.map((g) => filter`(distinguishedName=${g.dn})`).join("")}))`,
            attributes: ["objectGUID"],
            position: true,
          },
          (entries) => {
            for (const e of entries) found.add(dnKey(e.dn));
          },
        ),
      );
      for (const g of asked) if (found.has(dnKey(g.dn))) changed.push(g);
    }
  }
  const out: GroupMembership[] = [];
  for (const group of changed) {
    if (group.nested) {
      // The users directly in the group or any group inside it: the groups were read for mapping.
      const inside = nestedGroups.get(dnKey(group.dn)) ?? (await groupsWithin(group.dn, target, search, account));
      add(out, group.name, await usersInGroups(inside, target, search, account));
      continue;
    }
    const members = new Set<string>();
    const rule = filter`(memberOf=${group.dn})`;
    account.add(
      await search(
        { base: target.connection.baseDn, scope: "sub", filter: `(&${USERS}${rule})`, attributes: ["objectGUID"], position: true },
        (entries) => {
          for (const e of entries) {
            const guid = entryGuid(e);
            if (guid) members.add(guid);
          }
        },
      ),
    );
    add(out, group.name, members);
  }
  return out;
}

/** Two groups of one name are one extension group: members of either are in it. */
function add(out: GroupMembership[], name: string, members: Set<string>): void {
  const same = out.find((g) => g.name === name);
  if (same) for (const m of members) same.members.add(m);
  else out.push({ name, members });
}
