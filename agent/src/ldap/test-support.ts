// Shared by the tests of this directory: targets for the Samba DC of the test run, what the
// seeded LDIF implies, accounts made (and removed) on a private DC, and stand-in TLS servers
// with certificates that are wrong in one chosen way.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import tls from "node:tls";
import { fileURLToPath } from "node:url";
import { Attribute, Change, Client } from "ldapts";
import type { Connection } from "../../../schema/generated/config.ts";
import type { LdapTarget, SearchCompleteness, WireEntry } from "../../../schema/src/agent-protocol.ts";
import { isDnWithin } from "../../../schema/src/dn.ts";
import { type LdifEntry, parseLdif, type SambaDcInfo } from "../../../test/support/samba-dc.ts";
import { forEachPage } from "./search.ts";

/**
 * A target bound as the seeded service account over LDAPS, trusting the DC's CA; with
 * `bindPassword` null the request carries no password.
 */
export function targetFor(
  dc: SambaDcInfo,
  connection: Partial<Connection> = {},
  bindPassword: string | null = dc.servicePassword,
): LdapTarget {
  const target: LdapTarget = {
    connection: {
      domainControllers: [{ host: dc.ip }],
      security: "ldaps",
      caCertificate: dc.caPem,
      bindUsername: dc.serviceUpn,
      bindPassword: { source: "stored" },
      baseDn: dc.baseDn,
      connectTimeoutSeconds: 5,
      searchTimeoutSeconds: 10,
      ...connection,
    },
  };
  if (bindPassword !== null) target.bindPassword = bindPassword;
  return target;
}

/** Every page of a paged read, and how complete it was. */
export async function collect(
  pages: AsyncGenerator<WireEntry[], SearchCompleteness, undefined>,
): Promise<{ pages: WireEntry[][]; result: SearchCompleteness }> {
  const out: WireEntry[][] = [];
  const result = await forEachPage(pages, (page) => {
    out.push(page);
  });
  return { pages: out, result };
}

// ---------------------------------------------------------------------------------------
// The seeded directory

export const seed: LdifEntry[] = parseLdif(
  readFileSync(fileURLToPath(new URL("../../../test/fixtures/directory.ldif", import.meta.url)), "utf8"),
);

function classes(entry: LdifEntry): string[] {
  return (entry.attributes.objectClass ?? []).map((c) => String(c).toLowerCase());
}

export const seededUsers = seed.filter((e) => classes(e).includes("user"));
export const seededOus = seed.filter((e) => classes(e).includes("organizationalunit"));
export const seededGroups = seed.filter((e) => classes(e).includes("group"));

export function isDisabled(entry: LdifEntry): boolean {
  return (Number(entry.attributes.userAccountControl?.[0] ?? 0) & 0x2) !== 0;
}

export function sam(entry: LdifEntry): string {
  return String(entry.attributes.sAMAccountName?.[0]);
}

export function usersUnder(base: string, direct = false): LdifEntry[] {
  return seededUsers.filter((u) => isDnWithin(u.dn, base) && (!direct || parentOf(u.dn).toLowerCase() === base.toLowerCase()));
}

function parentOf(dn: string): string {
  const match = /^(?:[^\\,]|\\.)*,(.*)$/.exec(dn);
  return match?.[1] ?? "";
}

/** DNs of the members of a seeded group (groups too); with nested, also of member groups, at any depth. */
export function membersOf(groupDn: string, nested: boolean): string[] {
  const byDn = new Map(seededGroups.map((g) => [g.dn.toLowerCase(), g]));
  const out = new Set<string>();
  const visit = (dn: string) => {
    for (const member of byDn.get(dn.toLowerCase())?.attributes.member ?? []) {
      const memberDn = String(member);
      if (out.has(memberDn)) continue;
      out.add(memberDn);
      if (nested && byDn.has(memberDn.toLowerCase())) visit(memberDn);
    }
  };
  visit(groupDn);
  return [...out];
}

/** Accounts samba-tool provisioning creates besides the seed; Guest and krbtgt are disabled. */
export const BUILT_IN_USERS = ["Administrator", "Guest", "krbtgt", "dns-dc1"];
export const BUILT_IN_DISABLED = ["Guest", "krbtgt"];
/** The OU provisioning creates. */
export const BUILT_IN_OUS = ["OU=Domain Controllers,DC=example,DC=com"];

// ---------------------------------------------------------------------------------------
// Accounts on a private DC

export async function adminClient(dc: SambaDcInfo): Promise<Client> {
  const client = new Client({ url: dc.ldapsUrl, tlsOptions: { ca: [dc.caPem] }, timeout: 10_000 });
  await client.bind(dc.adminUpn, dc.adminPassword);
  return client;
}

/** Windows FILETIME (100 ns since 1601) for a Date. */
export function fileTime(date: Date): string {
  return String((BigInt(date.getTime()) + 11_644_473_600_000n) * 10_000n);
}

/**
 * Adds an enabled user with the seed's user password under `ou`, then applies `changes`
 * (replace; an empty list deletes) one by one, as an administrator would set them afterwards. Returns its DN.
 */
export async function addUser(
  admin: Client,
  dc: SambaDcInfo,
  ou: string,
  sam: string,
  changes: Record<string, Array<string | Buffer>> = {},
): Promise<string> {
  const dn = `CN=${sam},${ou}`;
  await admin.add(dn, [
    new Attribute({ type: "objectClass", values: ["top", "person", "organizationalPerson", "user"] }),
    new Attribute({ type: "sAMAccountName", values: [sam] }),
    new Attribute({ type: "userPrincipalName", values: [`${sam}@example.com`] }),
    // AD takes a password only as the UTF-16LE of the quoted password, over TLS.
    new Attribute({ type: "unicodePwd", values: [Buffer.from(`"${dc.userPassword}"`, "utf16le")] }),
    new Attribute({ type: "userAccountControl", values: ["512"] }),
  ]);
  for (const [type, values] of Object.entries(changes)) {
    const buffers = values.map((v) => (typeof v === "string" ? Buffer.from(v, "utf8") : v));
    // An empty list removes the attribute; Samba refuses that as a replace.
    const operation = buffers.length === 0 ? "delete" : "replace";
    await admin.modify(dn, new Change({ operation, modification: new Attribute({ type, values: buffers }) }));
  }
  return dn;
}

// ---------------------------------------------------------------------------------------
// Stand-in TLS servers

export interface TlsStandIn {
  host: string;
  port: number;
  caPem: string;
  close(): Promise<void>;
}

/**
 * A TLS server on 127.0.0.1 that completes handshakes and says nothing, with a certificate
 * from its own CA: `names` become its subject alternative names, `days` its validity (-1:
 * expired yesterday). Enough for the TLS step, which fails before any LDAP is spoken.
 */
export async function tlsStandIn(names: string, days: number): Promise<TlsStandIn> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "ldap-tls-standin-"));
  const file = (name: string) => path.join(dir, name);
  const openssl = (args: string[]) => execFileSync("openssl", args, { stdio: "ignore" });
  try {
    openssl([
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-subj",
      "/CN=Stand-in CA",
      "-days",
      "2",
      "-keyout",
      file("ca.key"),
      "-out",
      file("ca.pem"),
    ]);
    openssl(["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=stand-in", "-keyout", file("key.pem"), "-out", file("req.pem")]);
    execFileSync("sh", ["-c", `printf 'subjectAltName=%s\\n' "$1" > "$2"`, "sh", names, file("ext.cnf")]);
    openssl([
      "x509",
      "-req",
      "-in",
      file("req.pem"),
      "-CA",
      file("ca.pem"),
      "-CAkey",
      file("ca.key"),
      "-days",
      String(days),
      "-extfile",
      file("ext.cnf"),
      "-out",
      file("cert.pem"),
    ]);
    const caPem = readFileSync(file("ca.pem"), "utf8");
    const sockets = new Set<tls.TLSSocket>();
    const server = tls.createServer({ key: readFileSync(file("key.pem")), cert: readFileSync(file("cert.pem")) }, (socket) => {
      socket.on("error", () => {});
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
    });
    server.on("tlsClientError", () => {});
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    const port = typeof address === "object" && address !== null ? address.port : 0;
    return {
      host: "127.0.0.1",
      port,
      caPem,
      close: () =>
        new Promise<void>((resolve) => {
          for (const socket of sockets) socket.destroy();
          server.close(() => resolve());
        }),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
