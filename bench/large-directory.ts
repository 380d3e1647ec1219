// A generated directory of a chosen size for benchmarks: the service account the agent binds
// as, departments as OUs, users with the attributes a sync reads, and groups. Deterministic,
// so the Samba fixture's cache (keyed by the LDIF text) provisions it once per size.
import { mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const BASE = "DC=example,DC=com";
export const benchDepartments = ["Sales", "Support", "Engineering", "Finance", "Operations", "Marketing", "Legal", "Logistics"] as const;

export const benchOu = `OU=Bench,${BASE}`;

/**
 * Users (the first ones) that get a password: the domain-login part logs in as 200 of the first
 * 1,600. Deriving a password's keys costs Samba some 20 ms a user, so the others have none and
 * are marked as not needing one (userAccountControl 0x20), which sync reads like any account.
 */
export const benchUsersWithPassword = 2000;

export type LdifAttributes = Record<string, string | string[]>;

/**
 * Writes an LDIF file of the service account the agent binds as and what `fill` adds (a key
 * ending in ":" gives a base64 value), to the benchmarks' directory; returns its path.
 */
export function writeLdif(fileName: string, fill: (add: (dn: string, attributes: LdifAttributes) => void) => void): string {
  const out: string[] = ["version: 1", ""];
  const add = (dn: string, attributes: LdifAttributes) => {
    out.push(`dn: ${dn}`);
    for (const [name, value] of Object.entries(attributes)) for (const v of [value].flat()) out.push(`${name}: ${v}`);
    out.push("");
  };
  add(`OU=Service Accounts,${BASE}`, { objectClass: ["top", "organizationalUnit"] });
  add(`CN=svc-pbx,OU=Service Accounts,${BASE}`, {
    objectClass: ["top", "person", "organizationalPerson", "user"],
    sAMAccountName: "svc-pbx",
    userPrincipalName: "svc-pbx@example.com",
    userAccountControl: "66048",
  });
  fill(add);
  const dir = join(tmpdir(), "pbx-ad-sync-bench");
  mkdirSync(dir, { recursive: true });
  const path = join(dir, fileName);
  writeFileSync(path, out.join("\n"));
  return path;
}

/** Writes the LDIF for `users` users and returns its path. */
export function largeDirectoryLdif(users: number): string {
  return writeLdif(`directory-${users}.ldif`, (add) => {
    add(benchOu, { objectClass: ["top", "organizationalUnit"] });
    for (const d of benchDepartments) add(`OU=${d},${benchOu}`, { objectClass: ["top", "organizationalUnit"] });
    const members = new Map<string, string[]>(benchDepartments.map((d) => [d, []]));
    for (let i = 0; i < users; i++) {
      const department = benchDepartments[i % benchDepartments.length] as string;
      const n = String(i).padStart(5, "0");
      const dn = `CN=User ${n},OU=${department},${benchOu}`;
      members.get(department)?.push(dn);
      add(dn, {
        objectClass: ["top", "person", "organizationalPerson", "user"],
        sAMAccountName: `user${n}`,
        userPrincipalName: `user${n}@example.com`,
        givenName: "User",
        sn: n,
        displayName: `User ${n}`,
        mail: `user${n}@example.com`,
        ipPhone: String(20000 + i),
        telephoneNumber: `+44 20 7946 ${String(i % 10000).padStart(4, "0")}`,
        mobile: `+44 7700 9${String(i % 100000).padStart(5, "0")}`,
        department,
        title: "Bench Tester",
        description: "A user generated for benchmarks; the text is here to give the entry a realistic size.",
        // 0x2: disabled; 0x20: no password required (see benchUsersWithPassword).
        userAccountControl: String((i % 50 === 49 ? 514 : 512) | (i < benchUsersWithPassword ? 0 : 0x20)),
      });
    }
    for (const d of benchDepartments) add(`CN=${d} Team,${benchOu}`, { objectClass: ["top", "group"], member: members.get(d) ?? [] });
  });
}
