import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { basename } from "node:path";
import { parseArgs } from "node:util";
import { CredentialStore, defaultStateDir, type StoredCredential } from "./enrollment/credential-store.ts";
import { EnrollmentRefused, enroll } from "./enrollment/enroll.ts";
import { searchPool } from "./ldap/search.ts";
import { ldifBackend } from "./ldif/ldif-backend.ts";
import { LdifDirectory } from "./ldif/ldif-directory.ts";
import { type DirectoryBackend, ldapBackend, runOperation } from "./operations.ts";
import { AttributePolicy } from "./policy/attribute-policy.ts";
import { type AllowedDc, ConnectionPolicy, type ConnectionPolicySettings, parseAllowedDc } from "./policy/connection-policy.ts";
import { guardedBackend } from "./policy/guarded-backend.ts";
import { Tunnel } from "./tunnel.ts";

const usage = `usage: adsync-agent --url URL [--token TOKEN] --dc HOST[:PORT]... [--id ID] [--state-dir DIR] [--config FILE]

  --url     the pbx-ad-sync worker, e.g. https://pbx.example.com   (or ADSYNC_URL)
  --token   the enrollment token from Agents > Add agent, for the first start only: the agent
            spends it (it is single-use, and expires) for a credential of its own, saved in
            the state directory; later starts need no token         (or ADSYNC_TOKEN)
  --state-dir DIR
            where the agent keeps its credential, in a file only its account can read
            (default: $STATE_DIRECTORY under systemd, /var/lib/pbx-ad-sync-agent as root,
            ~/.local/state/pbx-ad-sync-agent otherwise; %LOCALAPPDATA%\\pbx-ad-sync\\agent
            on Windows)                        (or ADSYNC_AGENT_STATE_DIR; stateDir in the config file)
  --id      this agent's id, chosen at enrollment; defaults to one derived from the host name
                                                                  (or ADSYNC_AGENT_ID)
  --config  a JSON file with any of { "url", "token", "id", "stateDir", "directoryFile", ... }
                                                                  (or ADSYNC_AGENT_CONFIG)
  --dc HOST[:PORT]
            a domain controller this agent may connect to; repeatable. Without a port, the
            standard LDAP ports (389, 636, 3268, 3269). The agent connects to no other host,
            whatever the sync configuration says      (or ADSYNC_DCS, comma-separated;
                                                       domainControllers in the config file)
  --domain NAME
            allow the domain controllers DNS names for the AD domain NAME
            (SRV _ldap._tcp.dc._msdcs.NAME)              (or ADSYNC_DOMAIN; domain in the config file)
  --allow-insecure-ldap
            let the sync configuration use plain LDAP or skip certificate verification;
            refused otherwise           (or ADSYNC_ALLOW_INSECURE_LDAP=1; allowInsecureLdap in the config file)
  --bind-password-file PATH
            the bind password, on the file's first line, for a configuration whose
            connection.bindPassword is { "source": "agent" }; keep the file readable by the
            agent's account only                 (or ADSYNC_BIND_PASSWORD with the password itself)
  --directory-file FILE
            answer from an LDIF export (ldifde or ldapsearch output) instead of a domain
            controller: for trying the product on sample data   (or ADSYNC_DIRECTORY_FILE)
  --deny-attribute NAME
            an attribute this agent never reads, besides the secrets it never reads anyway
            (passwords, LAPS, BitLocker recovery, gMSA); repeatable
                                  (or ADSYNC_DENY_ATTRIBUTES, comma-separated; denyAttributes in the config file)

The agent dials out to the worker and does read-only LDAP work for it; it needs no inbound port.
What it may touch is decided here, on its host: the domain controllers above, the secret
attributes it never reads, plain LDAP only when allowed, and the bind password it holds.`;

// The shipped single-file agent has its version built in (agent/build.ts); run from source,
// it reads the package's.
declare const __ADSYNC_AGENT_VERSION__: string | undefined;
const version: string =
  typeof __ADSYNC_AGENT_VERSION__ === "string"
    ? __ADSYNC_AGENT_VERSION__
    : JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")).version;

function log(line: string): void {
  process.stdout.write(`${new Date().toISOString()} ${line}\n`);
}

function fail(message: string): never {
  process.stderr.write(`adsync-agent: ${message}\n${usage}\n`);
  process.exit(2);
}

function settings(): {
  url: string;
  token: string | undefined;
  id: string;
  idChosen: boolean;
  stateDir: string;
  directoryFile: string | undefined;
  denyAttributes: string[];
  connections: ConnectionPolicySettings;
} {
  let args: ReturnType<typeof parseArgs<{ options: Record<string, { type: "string" | "boolean"; multiple?: boolean }> }>>["values"];
  try {
    args = parseArgs({
      options: {
        url: { type: "string" },
        token: { type: "string" },
        id: { type: "string" },
        "state-dir": { type: "string" },
        config: { type: "string" },
        "directory-file": { type: "string" },
        "deny-attribute": { type: "string", multiple: true },
        dc: { type: "string", multiple: true },
        domain: { type: "string", multiple: true },
        "allow-insecure-ldap": { type: "boolean" },
        "bind-password-file": { type: "string" },
        help: { type: "boolean" },
      },
      strict: true,
    }).values;
  } catch (e) {
    fail((e as Error).message);
  }
  if (args.help) {
    process.stdout.write(`${usage}\n`);
    process.exit(0);
  }
  let file: {
    url?: unknown;
    token?: unknown;
    id?: unknown;
    stateDir?: unknown;
    directoryFile?: unknown;
    denyAttributes?: unknown;
    domainControllers?: unknown;
    domain?: unknown;
    allowInsecureLdap?: unknown;
  } = {};
  const configPath = (args.config as string | undefined) ?? process.env.ADSYNC_AGENT_CONFIG;
  if (configPath) {
    try {
      file = JSON.parse(readFileSync(configPath, "utf8"));
    } catch (e) {
      fail(`cannot read ${configPath}: ${(e as Error).message}`);
    }
  }
  const pick = (flag: unknown, env: string | undefined, fromFile: unknown) =>
    [flag, env, fromFile].find((v): v is string => typeof v === "string" && v !== "");
  const url = pick(args.url, process.env.ADSYNC_URL, file.url);
  const token = pick(args.token, process.env.ADSYNC_TOKEN, file.token);
  if (!url) fail("no worker URL: pass --url, set ADSYNC_URL, or put url in the config file");
  try {
    const parsed = new URL(url);
    if (!["http:", "https:", "ws:", "wss:"].includes(parsed.protocol)) fail(`--url must be http(s) or ws(s), not ${parsed.protocol}`);
  } catch {
    fail(`--url is not a URL: ${url}`);
  }
  const host = hostname();
  const chosenId = pick(args.id, process.env.ADSYNC_AGENT_ID, file.id);
  const id =
    chosenId ?? `${host.replace(/[^A-Za-z0-9._-]/g, "-").slice(0, 40)}-${createHash("sha256").update(host).digest("hex").slice(0, 8)}`;
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(id)) fail(`--id: ${JSON.stringify(id)} must be 1 to 64 letters, digits, dots, underscores or dashes`);
  const stateDir = pick(args["state-dir"], process.env.ADSYNC_AGENT_STATE_DIR, file.stateDir) ?? defaultStateDir();
  const directoryFile = pick(args["directory-file"], process.env.ADSYNC_DIRECTORY_FILE, file.directoryFile);
  if (file.denyAttributes !== undefined && !(Array.isArray(file.denyAttributes) && file.denyAttributes.every((a) => typeof a === "string")))
    fail("denyAttributes in the config file must be a list of attribute names");
  const denyAttributes = [
    ...((args["deny-attribute"] as string[] | undefined) ?? []),
    ...(process.env.ADSYNC_DENY_ATTRIBUTES ?? "").split(","),
    ...((file.denyAttributes as string[] | undefined) ?? []),
  ]
    .map((a) => a.trim())
    .filter((a) => a !== "");
  for (const a of denyAttributes)
    if (!/^[A-Za-z][A-Za-z0-9-]*$/.test(a)) fail(`--deny-attribute: ${JSON.stringify(a)} is not an attribute name`);
  const list = (name: string, value: unknown): string[] => {
    if (value === undefined) return [];
    if (typeof value === "string") return [value];
    if (Array.isArray(value) && value.every((v) => typeof v === "string")) return value;
    fail(`${name} in the config file must be a string or a list of strings`);
  };
  const dcTexts = [
    ...((args.dc as string[] | undefined) ?? []),
    ...(process.env.ADSYNC_DCS ?? "").split(","),
    ...list("domainControllers", file.domainControllers),
  ].filter((d) => d.trim() !== "");
  const dcs: AllowedDc[] = [];
  for (const text of dcTexts) {
    try {
      dcs.push(parseAllowedDc(text));
    } catch (e) {
      fail(`--dc: ${(e as Error).message}`);
    }
  }
  const domains = [
    ...((args.domain as string[] | undefined) ?? []),
    ...(process.env.ADSYNC_DOMAIN ?? "").split(","),
    ...list("domain", file.domain),
  ]
    .map((d) => d.trim().toLowerCase())
    .filter((d) => d !== "");
  for (const d of domains) if (!/^[a-z0-9-]+(\.[a-z0-9-]+)+$/.test(d)) fail(`--domain: ${JSON.stringify(d)} is not a DNS domain name`);
  if (file.allowInsecureLdap !== undefined && typeof file.allowInsecureLdap !== "boolean")
    fail("allowInsecureLdap in the config file must be true or false");
  const allowInsecureLdap =
    args["allow-insecure-ldap"] === true ||
    ["1", "true", "yes"].includes((process.env.ADSYNC_ALLOW_INSECURE_LDAP ?? "").toLowerCase()) ||
    file.allowInsecureLdap === true;
  // The LDAP layer reads the agent's own bind password from its environment (resolveBindPassword).
  if (typeof args["bind-password-file"] === "string") process.env.ADSYNC_BIND_PASSWORD_FILE = args["bind-password-file"];
  return {
    url,
    token,
    id,
    idChosen: chosenId !== undefined,
    stateDir,
    directoryFile,
    denyAttributes,
    connections: { dcs, domains, allowInsecureLdap },
  };
}

/** Where operations are answered: the domain controllers this host allows, or a directory file. */
async function backendFor(file: string | undefined, connections: ConnectionPolicy): Promise<DirectoryBackend> {
  if (file === undefined) {
    if (connections.configured) log(`connects only to ${connections.describe()}`);
    else log("no domain controllers are allowed (--dc, --domain or ADSYNC_DCS): every directory request will be refused");
    return guardedBackend(ldapBackend, connections);
  }
  try {
    const directory = await LdifDirectory.fromFile(file);
    log(`answering from the directory file ${file} (${directory.size} entries), not from a domain controller`);
    return ldifBackend(directory, basename(file));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    fail(`cannot read the directory file ${file}: ${code === "ENOENT" ? "no such file" : (e as Error).message}`);
  }
}

/** A refusal that stays a refusal: exit 3, so a service manager shows it instead of a retry loop. */
function refused(message: string): never {
  process.stderr.write(`adsync-agent: ${message}\n`);
  process.exit(3);
}

/**
 * The credential this agent connects with: the saved one, or, at the first start, the one its
 * enrollment token buys, saved before it is used.
 */
async function credentialFor(s: ReturnType<typeof settings>, stopping: AbortSignal): Promise<{ agentId: string; credential: string }> {
  const store = new CredentialStore(s.stateDir);
  const worker = new URL(s.url).origin;
  let saved: StoredCredential | undefined;
  try {
    saved = store.read(log);
  } catch (e) {
    fail((e as Error).message);
  }
  if (saved) {
    if (saved.worker !== worker)
      fail(
        `${store.file} holds the credential of an agent enrolled with ${saved.worker}, not ${worker}; give this agent another --state-dir`,
      );
    if (s.idChosen && saved.agentId !== s.id)
      fail(`--id ${s.id}: this agent was enrolled as ${saved.agentId} (${store.file}); start it without --id, or with that id`);
    if (s.token !== undefined) log(`already enrolled as ${saved.agentId}: the enrollment token was not needed and is not used`);
    return saved;
  }
  if (s.token === undefined)
    fail(
      `this agent is not enrolled yet (no ${store.file}): start it once with --token (or ADSYNC_TOKEN), ` +
        "an enrollment token from Agents > Add agent",
    );
  try {
    store.ensureWritable();
  } catch (e) {
    fail(`cannot keep the agent's credential in ${store.dir} (${(e as Error).message}): give a writable --state-dir`);
  }
  log(`enrolling as ${s.id} with ${worker}`);
  try {
    const enrolled = await enroll({ url: s.url, token: s.token, agentId: s.id, hostname: hostname(), version, log, stopped: stopping });
    store.save({
      worker,
      tenant: enrolled.tenant,
      agentId: enrolled.agentId,
      credential: enrolled.credential,
      enrolledAt: new Date().toISOString(),
    });
    log(`enrolled as ${enrolled.agentId}; the credential is saved in ${store.file} and the token is spent`);
    return enrolled;
  } catch (e) {
    if (e instanceof EnrollmentRefused) refused(`enrollment refused (${e.code}): ${e.message}`);
    throw e;
  }
}

const s = settings();
const { url, directoryFile, denyAttributes, connections } = s;
const stopping = new AbortController();
let tunnel: Tunnel | undefined;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    log(`${signal}: stopping`);
    stopping.abort();
    tunnel?.stop();
    // Unbinds the connections kept for searches, as far as the moments before exit allow.
    void searchPool.close();
    setTimeout(() => process.exit(0), 200).unref();
  });
}
const backend = await backendFor(directoryFile, new ConnectionPolicy(connections));
const policy = new AttributePolicy(denyAttributes);
if (denyAttributes.length > 0) log(`never reads, besides the built-in secrets: ${denyAttributes.join(", ")}`);
log(`adsync-agent ${version} starting (worker ${new URL(url).origin}, state ${s.stateDir})`);
const { agentId, credential } = await credentialFor(s, stopping.signal);
const credentialFile = new CredentialStore(s.stateDir).file;
tunnel = new Tunnel({
  url,
  credential,
  agentId,
  hostname: hostname(),
  version,
  handle: (operation, context) => runOperation(operation, context, backend, policy),
  log,
  onRefused: (reason, code) =>
    refused(
      code === "replaced"
        ? reason
        : `${reason}\nTo enroll this host again: delete ${credentialFile}, make a token in Agents > Add agent, and start the agent with --token.`,
    ),
});
log(`connecting as ${agentId}`);
tunnel.start();
