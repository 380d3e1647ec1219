// Directories of other shapes than the benchmark's flat one, each with the configuration a
// customer with such a directory would write: a deep OU tree mapped to departments, many
// groups mirrored as extension groups with nested membership, a scope filter that selects
// part of the users, a few users with large photos, and a directory where most users have no
// number. Deterministic, so the Samba fixture's cache (keyed by the LDIF text) provisions each
// shape and size once.
import { targetFor } from "../agent/src/ldap/test-support.ts";
import type { SyncConfig } from "../schema/generated/config.ts";
import type { SambaDcInfo } from "../test/support/samba-dc.ts";
import { benchDepartments, benchOu, type LdifAttributes, largeDirectoryLdif, writeLdif } from "./large-directory.ts";
import { configFor } from "./sync-path.ts";

const BASE = "DC=example,DC=com";
export const shapeNames = ["flat", "deep", "groups", "filter", "photos", "sparse"] as const;
export type ShapeName = (typeof shapeNames)[number];

export interface DirectoryShape {
  name: ShapeName;
  /** What it is, for the report. */
  about: string;
  /** Writes the LDIF for `users` users and returns its path. */
  ldif(users: number): string;
  config(dc: SambaDcInfo): SyncConfig;
}

type Attributes = LdifAttributes;
const writeShape = (name: string, users: number, fill: Parameters<typeof writeLdif>[1]) => writeLdif(`shape-${name}-${users}.ldif`, fill);

const ou = (add: (dn: string, a: Attributes) => void, dn: string) => add(dn, { objectClass: ["top", "organizationalUnit"] });

/** A user as the flat directory has them; `extra` adds or (with an empty list) drops attributes. */
function user(i: number, extra: Attributes = {}): Attributes {
  const n = String(i).padStart(6, "0");
  const attributes: Attributes = {
    objectClass: ["top", "person", "organizationalPerson", "user"],
    sAMAccountName: `user${n}`,
    userPrincipalName: `user${n}@example.com`,
    givenName: "User",
    sn: n,
    displayName: `User ${n}`,
    mail: `user${n}@example.com`,
    ipPhone: String(200000 + i),
    telephoneNumber: `+44 20 7946 ${String(i % 10000).padStart(4, "0")}`,
    title: "Bench Tester",
    description: "A user generated for benchmarks; the text is here to give the entry a realistic size.",
    // 0x20: no password required (deriving a password's keys costs Samba 20 ms a user).
    userAccountControl: String(512 | 0x20),
    ...extra,
  };
  for (const [k, v] of Object.entries(attributes)) if (Array.isArray(v) && v.length === 0) delete attributes[k];
  return attributes;
}

const connection = (dc: SambaDcInfo) => ({ ...targetFor(dc).connection, pageSize: 500, searchTimeoutSeconds: 120 });
const base = { deprovisioning: { whenOutOfScope: "delete", whenDisabled: "disable", whenDeleted: "delete" }, schedule: { mode: "manual" } };

const regions = ["EMEA", "Americas", "APAC", "Nordics"];
const companyOu = `OU=Company,${BASE}`;
const regionOu = (r: string) => `OU=${r},${companyOu}`;
/** Four regions of three countries of four sites: 48 leaf OUs, three levels under the company's. */
const deepLeaves = regions.flatMap((r) =>
  [0, 1, 2].flatMap((c) =>
    [0, 1, 2, 3].map((s) => ({ region: r, country: `OU=Country ${c},${regionOu(r)}`, dn: `OU=Site ${s},OU=Country ${c},${regionOu(r)}` })),
  ),
);

const groupsOu = `OU=Groups,${BASE}`;
const teams = 60;
const ringGroups = 12;
const teamDn = (t: number) => `CN=Team ${String(t).padStart(2, "0")},${groupsOu}`;
const ringDn = (g: number) => `CN=Ring ${String(g).padStart(2, "0")},${groupsOu}`;

const photoUsers = 20;
/** About 90 KB of bytes, as base64 (AD keeps thumbnailPhoto under 100 KB). */
const photo = (i: number) => Buffer.alloc(90_000, i % 251).toString("base64");

export const directoryShapes: Record<ShapeName, DirectoryShape> = {
  flat: {
    name: "flat",
    about: "8 OUs under one parent, departments and 8 extension groups mirrored (the benchmark's own)",
    ldif: (users) => largeDirectoryLdif(users),
    config: (dc) => configFor(dc, benchDepartments),
  },
  deep: {
    name: "deep",
    about: "48 leaf OUs three levels under 4 regional OUs, departments from the OU tree, the regions in scope",
    ldif: (users) =>
      writeShape("deep", users, (add) => {
        ou(add, companyOu);
        for (const r of regions) ou(add, regionOu(r));
        for (const country of new Set(deepLeaves.map((l) => l.country))) ou(add, country);
        for (const leaf of deepLeaves) ou(add, leaf.dn);
        for (let i = 0; i < users; i++) add(`CN=User ${String(i).padStart(6, "0")},${deepLeaves[i % deepLeaves.length]?.dn}`, user(i));
      }),
    config: (dc) =>
      ({
        connection: connection(dc),
        scope: { users: "ous", ous: regions.map((r) => ({ dn: regionOu(r) })) },
        extensionNumbers: { source: "attribute", attribute: "ipPhone" },
        organisation: { departments: { from: "ouTree" } },
        ...base,
      }) as SyncConfig,
  },
  groups: {
    name: "groups",
    about: `${teams} team groups, each user in 3; ${ringGroups} ring groups of 5 teams each, nested, mirrored as extension groups`,
    ldif: (users) =>
      writeShape("groups", users, (add) => {
        ou(add, benchOu);
        ou(add, groupsOu);
        const members = Array.from({ length: teams }, () => [] as string[]);
        for (let i = 0; i < users; i++) {
          const dn = `CN=User ${String(i).padStart(6, "0")},${benchOu}`;
          add(dn, user(i));
          for (const t of [i % teams, (i * 7 + 3) % teams, (i * 13 + 5) % teams]) members[t]?.push(dn);
        }
        for (let t = 0; t < teams; t++) add(teamDn(t), { objectClass: ["top", "group"], member: [...new Set(members[t])] });
        for (let g = 0; g < ringGroups; g++)
          add(ringDn(g), { objectClass: ["top", "group"], member: [0, 1, 2, 3, 4].map((k) => teamDn(g * 5 + k)) });
      }),
    config: (dc) =>
      ({
        connection: connection(dc),
        scope: { users: "ous", ous: [{ dn: benchOu }] },
        extensionNumbers: { source: "attribute", attribute: "ipPhone" },
        organisation: {
          extensionGroups: {
            from: "memberOf",
            groups: Array.from({ length: ringGroups }, (_, g) => ({ dn: ringDn(g), nested: true })),
            createMissing: true,
          },
        },
        ...base,
      }) as SyncConfig,
  },
  filter: {
    name: "filter",
    about: "everyone under one OU, a scope filter selecting the half with a desk phone (employeeType=voice)",
    ldif: (users) =>
      writeShape("filter", users, (add) => {
        ou(add, benchOu);
        for (let i = 0; i < users; i++)
          add(`CN=User ${String(i).padStart(6, "0")},${benchOu}`, user(i, { employeeType: i % 2 === 0 ? "voice" : "data" }));
      }),
    config: (dc) =>
      ({
        connection: connection(dc),
        scope: { users: "ous", ous: [{ dn: benchOu }], filter: "(employeeType=voice)" },
        extensionNumbers: { source: "attribute", attribute: "ipPhone" },
        ...base,
      }) as SyncConfig,
  },
  photos: {
    name: "photos",
    about: `everyone under one OU, ${photoUsers} of them with a 90 KB thumbnailPhoto, avatars synced`,
    ldif: (users) =>
      writeShape("photos", users, (add) => {
        ou(add, benchOu);
        for (let i = 0; i < users; i++)
          add(
            `CN=User ${String(i).padStart(6, "0")},${benchOu}`,
            user(i, i % Math.max(1, Math.floor(users / photoUsers)) === 0 ? { "thumbnailPhoto:": photo(i) } : {}),
          );
      }),
    config: (dc) =>
      ({
        connection: connection(dc),
        scope: { users: "ous", ous: [{ dn: benchOu }] },
        extensionNumbers: { source: "attribute", attribute: "ipPhone" },
        fields: { avatar: { attribute: "thumbnailPhoto", sync: true } },
        ...base,
      }) as SyncConfig,
  },
  sparse: {
    name: "sparse",
    about: "everyone under one OU, 9 in 10 without ipPhone: numbers from ipPhone, the others conflicts",
    ldif: (users) =>
      writeShape("sparse", users, (add) => {
        ou(add, benchOu);
        for (let i = 0; i < users; i++)
          add(`CN=User ${String(i).padStart(6, "0")},${benchOu}`, user(i, i % 10 === 0 ? {} : { ipPhone: [] }));
      }),
    config: (dc) =>
      ({
        connection: connection(dc),
        scope: { users: "ous", ous: [{ dn: benchOu }] },
        extensionNumbers: { source: "attribute", attribute: "ipPhone" },
        ...base,
      }) as SyncConfig,
  },
};
