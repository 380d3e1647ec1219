// A real Samba AD domain controller on a loopback address, for integration tests.
//
//   const dc = await startSambaDc({ ip: "127.0.0.11" });
//   ... new Client({ url: dc.ldapsUrl, tlsOptions: { ca: [dc.caPem] } }) ...
//   await dc.stop();   // and dc.start() again: same data
//   await dc.destroy(); // stop and delete dc.dir
//
// Provisioning and seeding a domain takes several seconds, so the provisioned and seeded
// tree is cached under os.tmpdir()/pbx-ad-sync-samba-cache/<hash>, keyed by the seed LDIF,
// the provisioning recipe below and the Samba version, and each start copies it. The
// cached tree holds no IP address (only smb.conf names paths and the interface, and it is
// written per instance), so DCs on several loopback addresses copied from one cache entry
// are the same domain with the same objectGUIDs, like two DCs of one real domain. Each
// instance gets its own server certificate for its IP, signed by the CA kept in the cache
// entry, so one caPem trusts them all.
//
// Needs root and the Debian packages samba, samba-ad-dc, samba-ad-provision and openssl.

import { type ChildProcess, execFile, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { closeSync, existsSync, openSync, readFileSync, statSync } from "node:fs";
import fs from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { Attribute, Client } from "ldapts";
import { type LdifEntry, parseLdif } from "../../agent/src/ldif/parse-ldif.ts";

// The seed's reader is the product's, so tests that inspect the seed read it the way the
// offline directory does.
export { type LdifEntry, parseLdif };

const execFileAsync = promisify(execFile);

/** Everything a test needs to reach the DC; plain JSON, so vitest's provide() can carry it. */
export interface SambaDcInfo {
  ip: string;
  /** The DC's DNS name (dnsHostName, and in the certificate's SAN); not in any resolver. */
  hostname: string;
  realm: string;
  domain: string;
  baseDn: string;
  ldapUrl: string;
  ldapsUrl: string;
  /** PEM of the CA that signed the LDAPS certificate (whose SAN has ip and hostname). */
  caPem: string;
  caPath: string;
  adminDn: string;
  adminUpn: string;
  adminPassword: string;
  /** The read-only bind account (svc-pbx) seeded from the LDIF. */
  serviceDn: string;
  serviceUpn: string;
  servicePassword: string;
  /** The password every other seeded user has. */
  userPassword: string;
  /** The DC's state directory. */
  dir: string;
  /** samba's own output (stdout and stderr, appended across restarts). */
  logPath: string;
}

export interface SambaDc extends SambaDcInfo {
  readonly info: SambaDcInfo;
  /** Stops samba and waits until no process of it is left. The data stays in dir. */
  stop(): Promise<void>;
  /** Starts samba again on the same data, after stop(). */
  start(): Promise<void>;
  /** stop(), then delete dir. */
  destroy(): Promise<void>;
}

export interface StartSambaDcOptions {
  /** A loopback address (127.x.y.z), one DC per address. */
  ip: string;
  /** Where the DC's state goes; must not exist or be empty. Default: a new temporary directory. */
  dir?: string;
  /** The LDIF seeded into the domain. Default: test/fixtures/directory.ldif. */
  seedLdif?: string;
  /** Sets "ldap server require strong auth = no", so simple binds over plain ldap:// work. */
  allowPlainLdapBinds?: boolean;
  /** Progress lines of the fixture (not samba's output, which goes to logPath). */
  log?: (line: string) => void;
  /**
   * Adds the seed with Samba's own library before samba starts, in one transaction, instead of
   * over LDAPS: no round trip, TLS record or commit per entry. Most of a large seed's time is
   * Samba's, though: key derivation for a password takes some 20 ms a user, so only the first
   * `passwords` users without one in the LDIF (in its order) get the user password, and the
   * rest get none (their userAccountControl must say a password is not required, 0x20). A
   * password costs Samba some 20 ms to derive its keys; an add without one, about 1 ms.
   * The service account always gets its own password.
   */
  seedOffline?: { passwords: number };
}

// Bump when the provisioning recipe changes in a way the cache key does not see.
const RECIPE_VERSION = 2;
const REALM = "EXAMPLE.COM";
const DOMAIN = "EXAMPLE";
const DNS_DOMAIN = "example.com";
const BASE_DN = "DC=example,DC=com";
// One host name for every instance: it is baked into the provisioned database (the DC's
// computer account), which all instances copy. The IP is what tells instances apart.
const HOST = "dc1";
const HOSTNAME = `${HOST}.${DNS_DOMAIN}`;
// All three satisfy AD's default complexity rule, which also rejects a password containing
// the account's sAMAccountName or any 3+ letter token of its displayName.
const ADMIN_PASSWORD = "Adm1n-Passw0rd!";
const SERVICE_PASSWORD = "Read-Only-Bind-42!";
const USER_PASSWORD = "User-Passw0rd!";
const ADMIN_DN = `CN=Administrator,CN=Users,${BASE_DN}`;
const ADMIN_UPN = `Administrator@${DNS_DOMAIN}`;
const SERVICE_DN = `CN=svc-pbx,OU=Service Accounts,${BASE_DN}`;
const SERVICE_UPN = `svc-pbx@${DNS_DOMAIN}`;
// ldap for 389/636/3268/3269, cldap for the DC locator, kdc for Kerberos. Left out: smbd
// and winbindd (s3fs, winbindd: separate processes), NetBIOS and WINS (nbt, wrepl: they
// bind the 127.255.255.255 broadcast address, which two DCs would fight over), DNS
// (provisioned without), replication (drepl, kcc) and rpc.
const SERVER_SERVICES = "ldap, cldap, kdc";
const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 15_000;

export const seedLdifPath = fileURLToPath(new URL("../fixtures/directory.ldif", import.meta.url));
const TEMP_PREFIX = "pbx-ad-sync-samba-";
const CACHE_ROOT = path.join(os.tmpdir(), "pbx-ad-sync-samba-cache");
// pid and dir of the samba serving each IP, so that a DC orphaned by a killed test run is stopped
// by the next start on that IP instead of making it fail with "address in use".
const PID_ROOT = path.join(os.tmpdir(), "pbx-ad-sync-samba-run");

export async function startSambaDc(options: StartSambaDcOptions): Promise<SambaDc> {
  const log = options.log ?? (() => {});
  const ip = checkLoopbackIp(options.ip);
  const tools = await preflight();
  const seedPath = path.resolve(options.seedLdif ?? seedLdifPath);
  const ldifText = await fs.readFile(seedPath, "utf8");
  // Parse now so a broken LDIF fails before any provisioning.
  const entries = parseLdif(ldifText);

  const key = createHash("sha256")
    .update(
      JSON.stringify({
        RECIPE_VERSION,
        samba: tools.version,
        REALM,
        DOMAIN,
        HOST,
        ADMIN_PASSWORD,
        SERVICE_PASSWORD,
        USER_PASSWORD,
        SERVICE_DN,
        seedOffline: options.seedOffline ?? null,
        ldifText,
      }),
    )
    .digest("hex")
    .slice(0, 16);
  const cached = path.join(CACHE_ROOT, key);
  if (!(await isProvisioned(cached))) {
    // Only a finished tree is ever renamed into place, so a partial one was damaged by hand.
    await fs.rm(cached, { recursive: true, force: true });
    const started = Date.now();
    log(`provisioning a new domain from ${path.basename(seedPath)} (first run, ~5 s)…`);
    await provisionIntoCache(cached, ip, entries, tools, log, options.seedOffline);
    log(`provisioned and cached in ${seconds(started)} s: ${cached}`);
  }

  const dir = await prepareDir(options.dir, ip);
  let server: SambaProcess;
  try {
    await copyTree(cached, dir);
    await writeInstanceConfig(dir, ip, options.allowPlainLdapBinds === true, tools);
    server = new SambaProcess(makeInfo(ip, dir), tools);
    await server.start();
  } catch (error) {
    // The error already carries the tail of samba's log.
    if (options.dir === undefined) await fs.rm(dir, { recursive: true, force: true });
    throw error;
  }
  return handleOf(makeInfo(ip, dir), server);
}

/**
 * Gives a stopped DC's data the identity a restore from a backup gives a DC: a new
 * invocationId. With `serverName`, its server object is renamed too, so that it answers as
 * another DC of the same domain (rootDSE dsServiceName) holding the same objects. start()
 * the DC afterwards.
 */
export async function changeDcIdentity(dc: SambaDcInfo, options: { serverName?: string } = {}): Promise<void> {
  const tools = await preflight();
  const script = fileURLToPath(new URL("./samba-dc-identity.py", import.meta.url));
  await run(await sambaPython(tools), [
    script,
    path.join(dc.dir, "etc", "smb.conf"),
    path.join(dc.dir, "private", "sam.ldb"),
    ...(options.serverName === undefined ? [] : [options.serverName]),
  ]);
}

/**
 * Lets `accountDn` list the tombstones of a stopped DC's domain (List Contents and Read
 * Property on CN=Deleted Objects, by default the Administrators' alone). start() the DC
 * afterwards.
 */
export async function grantDeletedObjectsListing(dc: SambaDcInfo, accountDn: string): Promise<void> {
  const tools = await preflight();
  const script = fileURLToPath(new URL("./samba-grant-deleted-objects.py", import.meta.url));
  await run(await sambaPython(tools), [script, path.join(dc.dir, "etc", "smb.conf"), path.join(dc.dir, "private", "sam.ldb"), accountDn]);
}

/**
 * A second DC of `source`'s domain on `ip`: a copy of its database as it is now, under the
 * server name `serverName` and with an invocationId of its own, as another DC that has
 * replicated everything would be. `source` is stopped for the copy and started again.
 */
export async function startDcCopy(source: SambaDc, ip: string, serverName: string): Promise<SambaDc> {
  const tools = await preflight();
  const dir = await prepareDir(undefined, checkLoopbackIp(ip));
  await source.stop();
  try {
    await copyTree(source.dir, dir);
  } finally {
    await source.start();
  }
  for (const stale of ["run", "log", "tls"]) await fs.rm(path.join(dir, stale), { recursive: true, force: true });
  await writeInstanceConfig(dir, ip, false, tools);
  const info = makeInfo(ip, dir);
  await changeDcIdentity(info, { serverName });
  const server = new SambaProcess(info, tools);
  await server.start();
  return handleOf(info, server);
}

/** The DC as a test holds it: its info, and samba to stop, start again or remove with its data. */
function handleOf(info: SambaDcInfo, server: SambaProcess): SambaDc {
  return {
    ...info,
    info,
    stop: () => server.stop(),
    start: () => server.start(),
    destroy: async () => {
      await server.stop();
      await fs.rm(info.dir, { recursive: true, force: true });
    },
  };
}

function makeInfo(ip: string, dir: string): SambaDcInfo {
  const caPath = path.join(dir, "ca", "ca.pem");
  return {
    ip,
    hostname: HOSTNAME,
    realm: REALM,
    domain: DOMAIN,
    baseDn: BASE_DN,
    ldapUrl: `ldap://${ip}:389`,
    ldapsUrl: `ldaps://${ip}:636`,
    caPem: readFileSync(caPath, "utf8"),
    caPath,
    adminDn: ADMIN_DN,
    adminUpn: ADMIN_UPN,
    adminPassword: ADMIN_PASSWORD,
    serviceDn: SERVICE_DN,
    serviceUpn: SERVICE_UPN,
    servicePassword: SERVICE_PASSWORD,
    userPassword: USER_PASSWORD,
    dir,
    logPath: path.join(dir, "samba.log"),
  };
}

// ---------------------------------------------------------------------------------------
// Preconditions

interface Tools {
  samba: string;
  sambaTool: string;
  openssl: string;
  version: string;
}

const INSTALL_HINT = "install the Debian packages: apt-get install --no-install-recommends samba samba-ad-dc samba-ad-provision openssl";

async function preflight(): Promise<Tools> {
  if (process.platform !== "linux") {
    throw new Error(`the Samba AD DC test fixture runs on Linux only (this is ${process.platform})`);
  }
  if (process.getuid?.() !== 0) {
    throw new Error(
      "the Samba AD DC test fixture needs root: samba binds ports below 1024 (LDAP 389, LDAPS 636, " +
        "Kerberos 88) and keeps NT ACLs in security.* extended attributes; run the tests as root",
    );
  }
  // samba lives in /usr/sbin, which is not on every non-login PATH.
  const samba = findExecutable("samba");
  const sambaTool = findExecutable("samba-tool");
  const openssl = findExecutable("openssl");
  if (!samba || !sambaTool) {
    throw new Error(`Samba AD DC not found (no ${samba ? "samba-tool" : "samba"} executable): ${INSTALL_HINT}`);
  }
  if (!openssl) {
    throw new Error(`openssl not found: ${INSTALL_HINT}`);
  }
  const { stdout: version } = await execFileAsync(samba, ["--version"]);
  // samba-tool provision reads the AD schema from SETUPDIR, which Debian ships separately
  // in samba-ad-provision (only a Recommends of samba-ad-dc, so --no-install-recommends
  // leaves it out and provisioning dies with a Python traceback).
  const { stdout: build } = await execFileAsync(samba, ["-b"], { maxBuffer: 4 << 20 });
  const setupDir = /SETUPDIR:\s*(\S+)/.exec(build)?.[1] ?? "/usr/share/samba/setup";
  if (!existsSync(path.join(setupDir, "ad-schema"))) {
    throw new Error(`Samba's AD schema files are missing (${setupDir}/ad-schema): ${INSTALL_HINT}`);
  }
  return { samba, sambaTool, openssl, version: version.trim() };
}

function findExecutable(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? "").split(":"), "/usr/sbin", "/usr/bin", "/sbin", "/usr/local/sbin"];
  for (const d of dirs) {
    if (!d) continue;
    const candidate = path.join(d, name);
    try {
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

function checkLoopbackIp(ip: string): string {
  const octets = ip.split(".").map(Number);
  const valid = net.isIPv4(ip) && octets[0] === 127 && !(octets[1] === 0 && octets[2] === 0 && octets[3] === 0) && ip !== "127.255.255.255";
  if (!valid) {
    throw new Error(`startSambaDc: ip must be a loopback address like 127.0.0.11, not ${JSON.stringify(ip)}`);
  }
  return ip;
}

async function prepareDir(dir: string | undefined, ip: string): Promise<string> {
  if (dir === undefined) {
    return fs.mkdtemp(path.join(os.tmpdir(), `${TEMP_PREFIX}${ip}-`));
  }
  const resolved = path.resolve(dir);
  await fs.mkdir(resolved, { recursive: true });
  if ((await fs.readdir(resolved)).length > 0) {
    throw new Error(`startSambaDc: dir ${resolved} is not empty; give a new or empty directory`);
  }
  return resolved;
}

// ---------------------------------------------------------------------------------------
// Provisioning (into the cache)

async function isProvisioned(tree: string): Promise<boolean> {
  return existsSync(path.join(tree, "private", "sam.ldb")) && existsSync(path.join(tree, "ca", "ca.pem"));
}

async function provisionIntoCache(
  target: string,
  ip: string,
  entries: LdifEntry[],
  tools: Tools,
  log: (line: string) => void,
  offline: StartSambaDcOptions["seedOffline"],
): Promise<void> {
  await fs.mkdir(CACHE_ROOT, { recursive: true });
  // Built beside the target and renamed into place, so a concurrent run never sees half a
  // tree and two runs provisioning at once just keep whichever lands first.
  const work = `${target}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
  try {
    await run(tools.sambaTool, [
      "domain",
      "provision",
      `--targetdir=${work}`,
      `--realm=${REALM}`,
      `--domain=${DOMAIN}`,
      "--server-role=dc",
      // LMDB, not TDB: its indexes are ordered, so (uSNChanged>=N), what an incremental run
      // asks, is an index range as on AD (0 ms at 20,000 users) instead of a scan of every
      // object (90 ms there, about 3 s at 100,000).
      "--backend-store=mdb",
      "--dns-backend=NONE",
      `--host-name=${HOST}`,
      `--adminpass=${ADMIN_PASSWORD}`,
      `--option=interfaces=${interfaceFor(ip)}`,
      "--option=bind interfaces only=yes",
    ]);
    // Left at the defaults (42 days max, 1 day min), a cache entry older than six weeks
    // would hand out expired passwords (bind error 532), and a test could not change a
    // password it had just set.
    await run(tools.sambaTool, [
      "domain",
      "passwordsettings",
      "set",
      "--max-pwd-age=0",
      "--min-pwd-age=0",
      `-H`,
      `tdb://${path.join(work, "private", "sam.ldb")}`,
      `--configfile=${path.join(work, "etc", "smb.conf")}`,
    ]);
    await makeCa(path.join(work, "ca"), tools);
    await writeInstanceConfig(work, ip, false, tools);

    const info = makeInfo(ip, work);
    if (offline !== undefined) {
      const started = Date.now();
      log(`adding ${entries.length} entries to the database before samba starts…`);
      await seedOffline(info, entries, offline.passwords, tools, log);
      log(`added in ${seconds(started)} s`);
    } else log("seeding the directory over LDAPS…");
    const server = new SambaProcess(info, tools);
    await server.start();
    try {
      if (offline === undefined) await seed(info, entries);
      await checkServiceAccount(info);
    } finally {
      await server.stop();
    }
    // Only what every instance shares stays in the cache; each gets its own config,
    // certificate and log.
    for (const transient of ["tls", "run", "log", "samba.log", "etc/smb.conf", "msg.lock", "msg.sock", "names.tdb"]) {
      await fs.rm(path.join(work, transient), { recursive: true, force: true });
    }
    try {
      await fs.rename(work, target);
    } catch (error) {
      if (!(await isProvisioned(target))) throw error;
    }
  } finally {
    await fs.rm(work, { recursive: true, force: true });
  }
}

function interfaceFor(ip: string): string {
  // Samba accepts a bare address in "interfaces" only if some interface carries exactly
  // that address; 127.0.0.11 is routed to lo without being configured on it, so the DC
  // would start listening on nothing. The address/length form is taken as given.
  return `${ip}/8`;
}

async function seed(info: SambaDcInfo, entries: LdifEntry[]): Promise<void> {
  const client = new Client({ url: info.ldapsUrl, tlsOptions: { ca: [info.caPem] }, timeout: 30_000 });
  try {
    await client.bind(info.adminUpn, info.adminPassword);
    for (const entry of entries) {
      const attributes = Object.entries(entry.attributes).map(
        ([type, values]) => new Attribute({ type, values: values.map((v) => (typeof v === "string" ? Buffer.from(v, "utf8") : v)) }),
      );
      const hasPassword = Object.keys(entry.attributes).some((k) => /^(unicodePwd|userPassword)$/i.test(k));
      if (isUserEntry(entry) && !hasPassword) {
        const password = sameDn(entry.dn, info.serviceDn) ? info.servicePassword : info.userPassword;
        attributes.push(new Attribute({ type: "unicodePwd", values: [encodeUnicodePwd(password)] }));
      }
      try {
        await client.add(entry.dn, attributes);
      } catch (error) {
        throw new Error(`seeding the Samba DC failed at ${entry.dn}: ${messageOf(error)}`, { cause: error });
      }
    }
  } finally {
    await client.unbind().catch(() => {});
  }
}

/** The entries as LDIF with every DN and value in base64 (RFC 2849), the default passwords added. */
async function seedOffline(
  info: SambaDcInfo,
  entries: LdifEntry[],
  passwords: number,
  tools: Tools,
  log: (line: string) => void,
): Promise<void> {
  const b64 = (v: string | Buffer) => (typeof v === "string" ? Buffer.from(v, "utf8") : v).toString("base64");
  const lines: string[] = [];
  let given = 0;
  for (const entry of entries) {
    lines.push(`dn:: ${b64(entry.dn)}`);
    for (const [type, values] of Object.entries(entry.attributes)) for (const v of values) lines.push(`${type}:: ${b64(v)}`);
    const hasPassword = Object.keys(entry.attributes).some((k) => /^(unicodePwd|userPassword)$/i.test(k));
    if (isUserEntry(entry) && !hasPassword) {
      const service = sameDn(entry.dn, info.serviceDn);
      if (service || given < passwords) {
        lines.push(`unicodePwd:: ${encodeUnicodePwd(service ? info.servicePassword : info.userPassword).toString("base64")}`);
        if (!service) given++;
      }
    }
    lines.push("");
  }
  const ldif = path.join(info.dir, "seed.ldif");
  await fs.writeFile(ldif, lines.join("\n"), { mode: 0o600 });
  try {
    const script = fileURLToPath(new URL("./samba-offline-seed.py", import.meta.url));
    await runWithProgress(
      await sambaPython(tools),
      [script, path.join(info.dir, "etc", "smb.conf"), path.join(info.dir, "private", "sam.ldb"), ldif],
      log,
    );
  } finally {
    await fs.rm(ldif, { force: true });
  }
}

/** The Python samba-tool runs on (its #! line): the one with Samba's bindings. */
async function sambaPython(tools: Tools): Promise<string> {
  const first = (await fs.readFile(tools.sambaTool, "utf8")).split("\n", 1)[0] ?? "";
  const interpreter = /^#!\s*(\S+)/.exec(first)?.[1];
  if (interpreter === undefined) throw new Error(`cannot tell which Python ${tools.sambaTool} runs on`);
  return interpreter;
}

async function checkServiceAccount(info: SambaDcInfo): Promise<void> {
  try {
    await ldapsBind(info, info.serviceUpn, info.servicePassword);
  } catch (error) {
    throw new Error(
      `the seed LDIF must create the service account ${info.serviceDn} (bind as ${info.serviceUpn} failed: ${messageOf(error)})`,
    );
  }
}

function isUserEntry(entry: LdifEntry): boolean {
  const classes = (entry.attributes[attributeKey(entry, "objectClass") ?? ""] ?? []).map((v) => String(v).toLowerCase());
  return (classes.includes("user") || classes.includes("inetorgperson")) && !classes.includes("computer");
}

function attributeKey(entry: LdifEntry, name: string): string | undefined {
  return Object.keys(entry.attributes).find((k) => k.toLowerCase() === name.toLowerCase());
}

function sameDn(a: string, b: string): boolean {
  const norm = (dn: string) => dn.toLowerCase().replace(/\s*,\s*/g, ",");
  return norm(a) === norm(b);
}

// AD takes a new password only as unicodePwd: the UTF-16LE bytes of the password in
// double quotes, and only over an encrypted connection.
function encodeUnicodePwd(password: string): Buffer {
  return Buffer.from(`"${password}"`, "utf16le");
}

// ---------------------------------------------------------------------------------------
// Per-instance files

async function copyTree(from: string, to: string): Promise<void> {
  // cp -a keeps the sysvol's NT ACLs, which Samba stores in security.* extended attributes.
  await run("cp", ["-a", "--reflink=auto", `${from}/.`, to]);
}

async function writeInstanceConfig(dir: string, ip: string, allowPlainLdapBinds: boolean, tools: Tools): Promise<void> {
  const tlsDir = path.join(dir, "tls");
  await fs.rm(tlsDir, { recursive: true, force: true });
  await makeServerCert(tlsDir, path.join(dir, "ca"), ip, tools);
  for (const sub of ["etc", "run", "log", "cache", "bind-dns"]) {
    await fs.mkdir(path.join(dir, sub), { recursive: true });
  }
  const p = (...parts: string[]) => path.join(dir, ...parts);
  // Every path is set, because the defaults (/run/samba, /var/lib/samba, /var/log/samba)
  // are shared: a second DC would find the first one's pid file and refuse to start.
  const conf = `# Written by test/support/samba-dc.ts for a test DC on ${ip}.
[global]
\tnetbios name = ${HOST.toUpperCase()}
\trealm = ${REALM}
\tworkgroup = ${DOMAIN}
\tserver role = active directory domain controller
\tserver services = ${SERVER_SERVICES}
\tinterfaces = ${interfaceFor(ip)}
\tbind interfaces only = yes
\tprivate dir = ${p("private")}
\tlock directory = ${dir}
\tstate directory = ${p("state")}
\tcache directory = ${p("cache")}
\tbinddns dir = ${p("bind-dns")}
\tpid directory = ${p("run")}
\tncalrpc dir = ${p("run", "ncalrpc")}
\twinbindd socket directory = ${p("run", "winbindd")}
\tntp signd socket directory = ${p("run", "ntp_signd")}
\tlog file = ${p("log", "log.%m")}
\tlog level = 1
\ttls enabled = yes
\ttls keyfile = ${p("tls", "key.pem")}
\ttls certfile = ${p("tls", "cert.pem")}
\ttls cafile = ${p("ca", "ca.pem")}
\tldap server require strong auth = ${allowPlainLdapBinds ? "no" : "yes"}

[sysvol]
\tpath = ${p("state", "sysvol")}
\tread only = no

[netlogon]
\tpath = ${p("state", "sysvol", DNS_DOMAIN, "scripts")}
\tread only = no
`;
  await fs.writeFile(p("etc", "smb.conf"), conf);
}

async function makeCa(caDir: string, tools: Tools): Promise<void> {
  await selfSigned(
    tools,
    caDir,
    "pbx-ad-sync test CA",
    ["basicConstraints = critical, CA:TRUE", "keyUsage = critical, keyCertSign, cRLSign"],
    {
      key: path.join(caDir, "ca.key"),
      cert: path.join(caDir, "ca.pem"),
    },
  );
}

async function makeServerCert(tlsDir: string, caDir: string, ip: string, tools: Tools): Promise<void> {
  await selfSigned(
    tools,
    tlsDir,
    HOSTNAME,
    [
      "basicConstraints = critical, CA:FALSE",
      "keyUsage = critical, digitalSignature, keyEncipherment",
      "extendedKeyUsage = serverAuth",
      `subjectAltName = IP:${ip}, DNS:${HOSTNAME}`,
      "authorityKeyIdentifier = keyid",
    ],
    { key: path.join(tlsDir, "key.pem"), cert: path.join(tlsDir, "cert.pem") },
    { cert: path.join(caDir, "ca.pem"), key: path.join(caDir, "ca.key") },
  );
}

/** A new RSA key and a certificate for it (`openssl req -x509`), signed by `issuer` or by itself. */
async function selfSigned(
  tools: Tools,
  dir: string,
  commonName: string,
  extensions: string[],
  out: { key: string; cert: string },
  issuer?: { key: string; cert: string },
): Promise<void> {
  await fs.mkdir(dir, { recursive: true });
  const config = path.join(dir, "openssl.cnf");
  const lines = [
    "[req]",
    "distinguished_name = dn",
    "prompt = no",
    "[dn]",
    `CN = ${commonName}`,
    "[ext]",
    ...extensions,
    "subjectKeyIdentifier = hash",
  ];
  await fs.writeFile(config, `${lines.join("\n")}\n`);
  await run(tools.openssl, [
    "req",
    "-x509",
    "-config",
    config,
    "-extensions",
    "ext",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    out.key,
    "-out",
    out.cert,
    ...(issuer ? ["-CA", issuer.cert, "-CAkey", issuer.key] : []),
    "-days",
    "3650",
  ]);
  // Samba refuses a TLS key file that anyone but its owner can read.
  await fs.chmod(out.key, 0o600);
  await fs.rm(config);
}

// ---------------------------------------------------------------------------------------
// The samba process

class SambaProcess {
  private readonly info: SambaDcInfo;
  private readonly tools: Tools;
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private readonly killOnExit = () => {
    if (this.child?.pid !== undefined) killGroup(this.child.pid, "SIGKILL");
  };

  constructor(info: SambaDcInfo, tools: Tools) {
    this.info = info;
    this.tools = tools;
  }

  async start(): Promise<void> {
    if (this.child) return;
    await stopOrphan(this.info.ip);
    await assertPortsFree(this.info.ip);

    const conf = path.join(this.info.dir, "etc", "smb.conf");
    const fd = openSync(this.info.logPath, "a");
    let child: ChildProcess;
    try {
      // Own process group (detached), so stop() can signal samba and anything it forked;
      // output straight into the log file, so nothing depends on this process draining a pipe.
      child = spawn(this.tools.samba, ["-s", conf, "-i", "-M", "single"], {
        cwd: this.info.dir,
        detached: true,
        stdio: ["ignore", fd, fd],
      });
    } finally {
      closeSync(fd);
    }
    const pid = child.pid;
    if (pid === undefined) {
      await new Promise((resolve) => child.once("error", resolve));
      throw new Error(`could not start ${this.tools.samba}\n${this.logTail()}`);
    }
    const state: { exit?: string } = {};
    this.exited = new Promise((resolve) => {
      child.once("exit", (code, signal) => {
        state.exit = signal ?? String(code);
        resolve();
      });
    });
    this.child = child;
    process.once("exit", this.killOnExit);
    await fs.mkdir(PID_ROOT, { recursive: true });
    await fs.writeFile(path.join(PID_ROOT, `${this.info.ip}.json`), JSON.stringify({ pid, dir: this.info.dir, owner: process.pid }));

    const deadline = Date.now() + READY_TIMEOUT_MS;
    let lastError = "";
    for (;;) {
      if (state.exit !== undefined) {
        await this.stop();
        throw new Error(`samba exited (${state.exit}) before it served LDAPS on ${this.info.ip}\n${this.logTail()}`);
      }
      try {
        await ldapsBind(this.info, this.info.adminUpn, this.info.adminPassword);
        return;
      } catch (error) {
        lastError = messageOf(error);
      }
      if (Date.now() > deadline) {
        await this.stop();
        throw new Error(
          `samba did not accept an LDAPS bind on ${this.info.ldapsUrl} within ${READY_TIMEOUT_MS / 1000} s ` +
            `(last error: ${lastError})\n${this.logTail()}`,
        );
      }
      await sleep(150);
    }
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.pid === undefined) return;
    const pid = child.pid;
    killGroup(pid, "SIGTERM");
    let timer: NodeJS.Timeout | undefined;
    const exited = await Promise.race([
      this.exited.then(() => true),
      new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), STOP_TIMEOUT_MS);
      }),
    ]);
    clearTimeout(timer);
    if (!exited) killGroup(pid, "SIGKILL");
    // The group outlives samba itself while anything it forked is still running.
    const deadline = Date.now() + STOP_TIMEOUT_MS;
    while (groupAlive(pid)) {
      if (Date.now() > deadline) {
        throw new Error(`samba's process group ${pid} would not die`);
      }
      killGroup(pid, "SIGKILL");
      await sleep(50);
    }
    await this.exited;
    this.child = undefined;
    process.removeListener("exit", this.killOnExit);
    await fs.rm(path.join(PID_ROOT, `${this.info.ip}.json`), { force: true });
  }

  private logTail(lines = 40): string {
    let text = "";
    try {
      text = readFileSync(this.info.logPath, "utf8");
    } catch {
      return `(no samba log at ${this.info.logPath})`;
    }
    const tail = text.trimEnd().split("\n").slice(-lines).join("\n");
    return `--- last ${lines} lines of ${this.info.logPath} ---\n${tail}`;
  }
}

async function stopOrphan(ip: string): Promise<void> {
  const pidFile = path.join(PID_ROOT, `${ip}.json`);
  let recorded: { pid?: unknown; dir?: unknown; owner?: unknown };
  try {
    recorded = JSON.parse(await fs.readFile(pidFile, "utf8")) as typeof recorded;
  } catch {
    return;
  }
  const { pid, dir, owner } = recorded;
  // A DC whose starter is still running belongs to someone: leave it, and let the port
  // check below say the address is taken.
  if (typeof owner === "number" && processAlive(owner)) return;
  // samba rewrites its command line ("samba: root process") and with it its environment,
  // but keeps the working directory it was started in, which is the DC's dir: that is how
  // a recycled pid is told apart from the samba we left behind.
  const cwd = await fs.readlink(`/proc/${String(pid)}/cwd`).catch(() => "");
  if (typeof pid === "number" && pid > 1 && typeof dir === "string" && cwd === dir) {
    killGroup(pid, "SIGKILL");
    const deadline = Date.now() + STOP_TIMEOUT_MS;
    while (groupAlive(pid) && Date.now() < deadline) await sleep(50);
    if (path.basename(dir).startsWith(TEMP_PREFIX) && path.dirname(dir) === os.tmpdir()) {
      await fs.rm(dir, { recursive: true, force: true });
    }
  }
  await fs.rm(pidFile, { force: true });
}

async function assertPortsFree(ip: string): Promise<void> {
  for (const port of [389, 636]) {
    await new Promise<void>((resolve, reject) => {
      const probe = net.createServer();
      probe.once("error", (error: NodeJS.ErrnoException) => {
        reject(
          new Error(
            error.code === "EADDRINUSE"
              ? `${ip}:${port} is already in use (another DC on this address? \`pgrep -a samba\`, \`ss -ltnp\`)`
              : `cannot listen on ${ip}:${port}: ${error.message}`,
          ),
        );
      });
      probe.listen({ host: ip, port, exclusive: true }, () => probe.close(() => resolve()));
    });
  }
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function ldapsBind(info: SambaDcInfo, who: string, password: string): Promise<void> {
  const client = new Client({
    url: info.ldapsUrl,
    tlsOptions: { ca: [info.caPem] },
    connectTimeout: 2_000,
    timeout: 5_000,
  });
  try {
    await client.bind(who, password);
  } finally {
    await client.unbind().catch(() => {});
  }
}

// ---------------------------------------------------------------------------------------

async function run(command: string, args: string[]): Promise<void> {
  try {
    await execFileAsync(command, args, { maxBuffer: 16 << 20 });
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    const output = `${e.stdout ?? ""}${e.stderr ?? ""}`.trimEnd().split("\n").slice(-30).join("\n");
    throw new Error(`${path.basename(command)} ${args[0] ?? ""} ${args[1] ?? ""} failed: ${e.message}\n${output}`, {
      cause: error,
    });
  }
}

/** Like run, with each line the command prints passed on as it comes: progress on a long seed. */
async function runWithProgress(command: string, args: string[], log: (line: string) => void): Promise<void> {
  const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
  const tail: string[] = [];
  const keep = (chunk: Buffer, print: boolean) => {
    for (const line of chunk
      .toString("utf8")
      .split("\n")
      .filter((l) => l.trim() !== "")) {
      if (print) log(line);
      tail.push(line);
      if (tail.length > 30) tail.shift();
    }
  };
  child.stdout.on("data", (chunk: Buffer) => keep(chunk, true));
  child.stderr.on("data", (chunk: Buffer) => keep(chunk, false));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", resolve);
  });
  if (code !== 0) throw new Error(`${path.basename(command)} ${path.basename(args[0] ?? "")} failed (exit ${code}):\n${tail.join("\n")}`);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function seconds(since: number): string {
  return ((Date.now() - since) / 1000).toFixed(1);
}
