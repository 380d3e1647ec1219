// A sync scope as LDAP searches: which subtrees to search and with which filter. Shared by
// Test Connection on the agent, which counts with it, and the sync read the worker builds,
// so both see the same users.
import type { Scope } from "../generated/config.ts";
import { isDnWithin } from "./dn.ts";
import { filter } from "./ldap-filter.ts";

export interface ScopeBase {
  base: string;
  scope: "base" | "one" | "sub";
}

// objectCategory=person leaves out computer accounts, which are objectClass=user too.
const USERS = "(&(objectCategory=person)(objectClass=user))";
// LDAP_MATCHING_RULE_BIT_AND on userAccountControl; bit 0x2 is ACCOUNTDISABLE.
const DISABLED = "(userAccountControl:1.2.840.113556.1.4.803:=2)";

/**
 * The subtrees whose users are in scope. OUs are searched one by one; an OU inside another
 * listed OU whose sub-OUs are included is dropped, so no user is found twice.
 */
export function scopeBases(scope: Scope | undefined, baseDn: string): ScopeBase[] {
  if (scope?.users !== "ous") return [{ base: baseDn, scope: "sub" }];
  const ous = (scope.ous ?? []).map((ou) => ({ dn: ou.dn, sub: ou.includeSubOus !== false }));
  const kept: ScopeBase[] = [];
  ous.forEach((ou, i) => {
    const covered = ous.some(
      (other, j) =>
        j !== i &&
        other.sub &&
        isDnWithin(ou.dn, other.dn) &&
        // The same OU listed twice as a subtree: the first listing stays.
        !(ou.sub && j > i && isDnWithin(other.dn, ou.dn)),
    );
    if (!covered) kept.push({ base: ou.dn, scope: ou.sub ? "sub" : "one" });
  });
  return kept;
}

export type DisabledUsers = "include" | "exclude" | "only";

/** The filter for users in scope: person users, group membership, the extra filter, disabled or not. */
export function scopeUserFilter(scope: Scope | undefined, disabled: DisabledUsers): string {
  const parts = [USERS];
  if (scope?.users === "groups") parts.push(membership(scope));
  if (scope?.filter !== undefined) parts.push(scope.filter);
  if (disabled === "exclude") parts.push(`(!${DISABLED})`);
  if (disabled === "only") parts.push(DISABLED);
  return `(&${parts.join("")})`;
}

/** Groups in scope: the listed groups and, where nested, the groups inside them. */
export function scopeGroupFilter(scope: Scope | undefined): string {
  if (scope?.users !== "groups") return "(objectClass=group)";
  const either = (scope.groups ?? []).map((g) =>
    g.nested === false
      ? filter`(distinguishedName=${g.dn})`
      : filter`(|(distinguishedName=${g.dn})(memberOf:1.2.840.113556.1.4.1941:=${g.dn}))`,
  );
  return `(&(objectClass=group)(|${either.join("")}))`;
}

// 1.2.840.113556.1.4.1941 is LDAP_MATCHING_RULE_IN_CHAIN: membership through nested groups.
function membership(scope: Scope): string {
  const groups = (scope.groups ?? []).map((g) =>
    g.nested === false ? filter`(memberOf=${g.dn})` : filter`(memberOf:1.2.840.113556.1.4.1941:=${g.dn})`,
  );
  // Every entry has an objectClass: an empty group list selects nobody.
  if (groups.length === 0) return "(!(objectClass=*))";
  return groups.length === 1 ? (groups[0] ?? "") : `(|${groups.join("")})`;
}

/**
 * Why an incremental read of this scope must sweep it for objectGUIDs, or undefined when
 * the users changed since a position and the tombstones say everything: a scope of group
 * members, or a filter on memberOf, changes with the groups (a back link), which no user's
 * uSNChanged shows.
 */
export function sweepNeeded(scope: Scope | undefined): string | undefined {
  if (scope?.users === "groups") return "the scope is the members of groups, whose changes no user's uSNChanged shows";
  if (scope?.filter !== undefined && /memberof/i.test(scope.filter))
    return "the scope filter names memberOf, whose changes no user's uSNChanged shows";
  return undefined;
}
