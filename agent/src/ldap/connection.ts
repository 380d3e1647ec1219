// A bound LDAP connection to the first domain controller that answers: DNS, TCP and TLS
// are done here, step by step and timed, and the finished socket is handed to ldapts, so
// Test Connection can report each step and failover can tell "unreachable" (try the next
// DC) from "refused the password" (stop: the next DC would refuse it too, and every retry
// brings the account closer to lockout).
import dns from "node:dns/promises";
import { readFile } from "node:fs/promises";
import net from "node:net";
import tls from "node:tls";
import { Client } from "ldapts";
import type { Connection } from "../../../schema/generated/config.ts";
import type { LdapTarget } from "../../../schema/src/agent-protocol.ts";
import { type CertificateInfo, certificateProblems, describeCertificate, type TlsProblem } from "./certificate.ts";
import { BindError, BindPasswordError, ConnectError, type DirectoryError, TlsError, toDirectoryError } from "./errors.ts";

export type Security = "ldaps" | "starttls" | "insecurePlainLdap";

export interface Endpoint {
  host: string;
  port: number;
  /** host:port, as shown to administrators. */
  server: string;
}

/** A connection config with the schema's defaults applied. */
export interface ConnectionSettings {
  security: Security;
  endpoints: Endpoint[];
  baseDn: string;
  bindUsername: string;
  /** PEM certificates to trust; undefined: the bundled and the operating system's CAs. */
  ca: string[] | undefined;
  insecureSkipVerify: boolean;
  /** TCP connect plus TLS handshake, per domain controller. */
  connectTimeoutMs: number;
  /** Client-side limit for one request (bind, one page of a search). */
  operationTimeoutMs: number;
  /** Server-side time limit of each search request (RFC 4511 section 4.5.1.5). */
  timeLimitSeconds: number;
  pageSize: number;
}

export function connectionSettings(connection: Connection): ConnectionSettings {
  const security = connection.security ?? "ldaps";
  const defaultPort = security === "ldaps" ? 636 : 389;
  const searchSeconds = connection.searchTimeoutSeconds ?? 120;
  return {
    security,
    endpoints: connection.domainControllers.map((dc) => {
      const port = dc.port ?? defaultPort;
      return { host: dc.host, port, server: `${net.isIPv6(dc.host) ? `[${dc.host}]` : dc.host}:${port}` };
    }),
    baseDn: connection.baseDn,
    bindUsername: connection.bindUsername,
    ca: connection.caCertificate === undefined ? undefined : [connection.caCertificate],
    insecureSkipVerify: connection.insecureSkipVerify === true,
    connectTimeoutMs: (connection.connectTimeoutSeconds ?? 10) * 1000,
    // A little longer than the server's own time limit, so the DC's timeLimitExceeded answer
    // (a clean result) arrives before the client gives up on the socket.
    operationTimeoutMs: (searchSeconds + 5) * 1000,
    timeLimitSeconds: searchSeconds,
    // AD never returns more than MaxPageSize (1000) entries per page, whatever is asked.
    pageSize: Math.min(connection.pageSize ?? 500, 1000),
  };
}

export interface ReachInfo {
  /** The IP address the host name resolved to (or the address itself). */
  address: string;
  lookupMs: number;
  connectMs: number;
}

export interface TlsInfo {
  protocol: string | null;
  cipher: string;
  handshakeMs: number;
  certificate: CertificateInfo | undefined;
  /** Why the certificate would not be trusted; non-empty only with insecureSkipVerify. */
  problems: TlsProblem[];
}

export interface DirectoryConnection {
  readonly client: Client;
  readonly endpoint: Endpoint;
  /** host:port of the domain controller that answered. */
  readonly server: string;
  readonly settings: ConnectionSettings;
  readonly reach: ReachInfo;
  /** Undefined for insecurePlainLdap. */
  readonly tls: TlsInfo | undefined;
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------
// The bind password

/**
 * The bind password: from the request for source "stored"; for source "agent", from this
 * agent's own settings, never from anything the request names: the first line of the file
 * ADSYNC_BIND_PASSWORD_FILE names (the agent's --bind-password-file sets it), else
 * ADSYNC_BIND_PASSWORD. Errors name the setting, never the value.
 */
export async function resolveBindPassword(target: LdapTarget, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const ref = target.connection.bindPassword;
  let password: string | undefined;
  let where: string;
  if (ref.source === "agent") {
    const file = env.ADSYNC_BIND_PASSWORD_FILE;
    if (file !== undefined && file !== "") {
      where = `file ${file}`;
      let text: string;
      try {
        text = await readFile(file, "utf8");
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        throw new BindPasswordError(
          code === "ENOENT" ? "bind_password_missing" : "bind_password_unreadable",
          code === "ENOENT"
            ? `the bind password should be in the ${where} (--bind-password-file), which does not exist on the agent host`
            : `the agent cannot read the bind password ${where} (${code ?? "error"})`,
          { fix: `Create ${file} with the password on its first line, readable by the agent's account only.` },
        );
      }
      // Notepad starts UTF-8 files with a byte order mark; it is not part of the password.
      password = text.replace(/^\uFEFF/, "").split(/\r?\n/)[0] ?? "";
    } else {
      where = "environment variable ADSYNC_BIND_PASSWORD";
      password = env.ADSYNC_BIND_PASSWORD;
      if (password === undefined) {
        throw new BindPasswordError(
          "bind_password_missing",
          "the configuration says the agent holds the bind password, but this agent was given none",
          {
            fix: "On the agent host, start the agent with --bind-password-file PATH (a file readable by the agent's account only) or set ADSYNC_BIND_PASSWORD, then restart it.",
          },
        );
      }
    }
  } else {
    where = "portal";
    password = target.bindPassword;
    if (password === undefined) {
      throw new BindPasswordError("bind_password_missing", "the bind password is stored in the portal but did not come with the request", {
        fix: "Enter the bind password again in the Connection form.",
      });
    }
  }
  if (password === "") throw emptyBindPassword(where);
  return password;
}

function emptyBindPassword(where: string): BindPasswordError {
  return new BindPasswordError("bind_password_empty", `the bind password (${where}) is empty`, {
    fix: "Set the bind account's password; with an empty one the bind would be anonymous (RFC 4513 section 5.1.2).",
  });
}

// ---------------------------------------------------------------------------------------
// Reaching a domain controller

/** DNS lookup and TCP connect, timed; the socket is closed again. */
export async function probeReachable(endpoint: Endpoint, timeoutMs: number): Promise<ReachInfo> {
  const { socket, reach } = await connectTcp(endpoint, timeoutMs);
  socket.destroy();
  return reach;
}

async function connectTcp(endpoint: Endpoint, timeoutMs: number): Promise<{ socket: net.Socket; reach: ReachInfo }> {
  const context = { phase: "connect", server: endpoint.server } as const;
  const started = performance.now();
  let address = endpoint.host;
  if (net.isIP(endpoint.host) === 0) {
    try {
      address = (await withTimeout(dns.lookup(endpoint.host), timeoutMs, () => timeoutError(endpoint, "resolving its name"))).address;
    } catch (error) {
      throw toDirectoryError(error, context);
    }
  }
  const resolved = performance.now();
  const socket = net.connect({ host: address, port: endpoint.port });
  try {
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        socket.once("connect", resolve);
        socket.once("error", reject);
      }),
      Math.max(1, timeoutMs - (resolved - started)),
      () => timeoutError(endpoint, "connecting"),
    );
  } catch (error) {
    socket.destroy();
    throw toDirectoryError(error, context);
  }
  socket.removeAllListeners("error");
  return { socket, reach: { address, lookupMs: ms(resolved - started), connectMs: ms(performance.now() - resolved) } };
}

function timeoutError(endpoint: Endpoint, doing: string): ConnectError {
  return new ConnectError("connect_timeout", `the domain controller (${endpoint.server}) did not answer in time while ${doing}`, {
    server: endpoint.server,
    fix: "Check that the host is up and that a firewall lets the agent host reach this port; raise connection.connectTimeoutSeconds for a slow link.",
  });
}

/**
 * A connection to one domain controller with TLS set up as configured, not yet bound.
 * Throws ConnectError (try another DC) or TlsError (also worth another DC).
 */
export async function openTransport(settings: ConnectionSettings, endpoint: Endpoint): Promise<DirectoryConnection> {
  const started = performance.now();
  const { socket, reach } = await connectTcp(endpoint, settings.connectTimeoutMs);
  const remaining = () => Math.max(1, settings.connectTimeoutMs - (performance.now() - started));
  const url = `${settings.security === "ldaps" ? "ldaps" : "ldap"}://${endpoint.server}`;
  let client: Client;
  let tlsInfo: TlsInfo | undefined;
  // Every socket in play, innermost first, so close() frees them even if ldapts never used
  // them. They are destroyed outermost first: destroying the TCP socket under a live
  // TLSSocket crashes Node 24 (a segfault in TLSWrap reading from the freed stream).
  const sockets: net.Socket[] = [socket];
  const destroyAll = () => {
    for (const s of [...sockets].reverse()) s.destroy();
  };
  try {
    if (settings.security === "ldaps") {
      const handshakeStarted = performance.now();
      const secure = await handshake(settings, endpoint, socket, remaining());
      sockets.push(secure);
      tlsInfo = inspect(secure, settings, endpoint, performance.now() - handshakeStarted);
      client = new Client({
        url,
        timeout: settings.operationTimeoutMs,
        createSecureConnection: handOver(secure, endpoint),
      });
    } else {
      let upgraded: tls.TLSSocket | undefined;
      client = new Client({
        url,
        timeout: settings.operationTimeoutMs,
        createConnection: handOver(socket, endpoint),
        // ldapts calls this with the plain socket in the options for StartTLS.
        createSecureConnection: ((options: tls.ConnectionOptions) => {
          upgraded = tls.connect(options);
          sockets.push(upgraded);
          return upgraded;
        }) as unknown as typeof tls.connect,
      });
      if (settings.security === "starttls") {
        const handshakeStarted = performance.now();
        await startTls(client, settings, endpoint, remaining());
        if (upgraded === undefined)
          throw new TlsError("tls_handshake", "StartTLS did not produce a TLS connection", { server: endpoint.server });
        tlsInfo = inspect(upgraded, settings, endpoint, performance.now() - handshakeStarted);
      }
    }
  } catch (error) {
    destroyAll();
    const failure = toDirectoryError(error, { phase: "tls", server: endpoint.server });
    throw failure instanceof TlsError && isCertificateFailure(failure) ? await withCertificate(failure, settings, endpoint) : failure;
  }
  const opened = client;
  return {
    client: opened,
    endpoint,
    server: endpoint.server,
    settings,
    reach,
    tls: tlsInfo,
    close: async () => {
      await opened.unbind().catch(() => {});
      destroyAll();
    },
  };
}

// ldapts calls the factory on every (re)connect; the socket we made serves the first only,
// so a dropped connection fails the next request instead of quietly reconnecting unbound.
function handOver<T extends net.Socket>(socket: T, endpoint: Endpoint): typeof tls.connect & typeof net.connect {
  let used = false;
  return (() => {
    if (used) throw new ConnectError("connection_closed", `the connection to ${endpoint.server} was closed`, { server: endpoint.server });
    used = true;
    return socket;
  }) as unknown as typeof tls.connect & typeof net.connect;
}

function tlsOptions(settings: ConnectionSettings, endpoint: Endpoint): tls.ConnectionOptions {
  const options: tls.ConnectionOptions = {
    // The name checked against the certificate (tls.checkServerIdentity): an IP address is
    // matched against IP SANs. SNI takes host names only.
    host: endpoint.host,
    rejectUnauthorized: !settings.insecureSkipVerify,
  };
  const ca = settings.ca ?? defaultCas();
  if (ca !== undefined) options.ca = ca;
  if (net.isIP(endpoint.host) === 0) options.servername = endpoint.host;
  return options;
}

let cachedCas: string[] | undefined;

// Without caCertificate, trust the operating system's store as well as Node's bundled roots:
// a domain controller's certificate usually comes from an enterprise CA that group policy
// has put into the Windows store of every domain member, the agent host included.
function defaultCas(): string[] | undefined {
  if (cachedCas === undefined) {
    try {
      cachedCas = [...new Set([...tls.getCACertificates("default"), ...tls.getCACertificates("system")])];
    } catch {
      return undefined;
    }
  }
  return cachedCas;
}

async function handshake(settings: ConnectionSettings, endpoint: Endpoint, socket: net.Socket, timeoutMs: number): Promise<tls.TLSSocket> {
  const secure = tls.connect({ ...tlsOptions(settings, endpoint), socket });
  try {
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        secure.once("secureConnect", resolve);
        secure.once("error", reject);
      }),
      timeoutMs,
      () =>
        new TlsError("tls_handshake", `the TLS handshake with ${endpoint.server} did not finish in time`, {
          server: endpoint.server,
          fix: 'Check that this port speaks LDAPS (636); port 389 needs security "starttls".',
        }),
    );
  } catch (error) {
    secure.destroy();
    throw classifyTlsFailure(error, endpoint);
  }
  secure.removeAllListeners("error");
  return secure;
}

async function startTls(client: Client, settings: ConnectionSettings, endpoint: Endpoint, timeoutMs: number): Promise<void> {
  try {
    await withTimeout(client.startTLS(tlsOptions(settings, endpoint)), timeoutMs, () => {
      return new TlsError("tls_handshake", `StartTLS with ${endpoint.server} did not finish in time`, { server: endpoint.server });
    });
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (typeof code === "number") {
      // An LDAP result to the StartTLS extended operation (RFC 4511 section 4.14.2).
      throw new TlsError("starttls_refused", `${endpoint.server} refused StartTLS: ${(error as Error).message}`, {
        server: endpoint.server,
        resultCode: code,
        cause: error,
        fix: "The domain controller has no usable certificate for LDAP: install one (it also enables LDAPS), or check that this port is its LDAP port (389).",
      });
    }
    throw classifyTlsFailure(error, endpoint);
  }
}

// Node's verification errors carry OpenSSL's X509_V_ERR names, or ERR_TLS_CERT_ALTNAME_INVALID.
function classifyTlsFailure(error: unknown, endpoint: Endpoint): DirectoryError {
  const code = (error as NodeJS.ErrnoException | undefined)?.code ?? "";
  const message = error instanceof Error ? error.message : String(error);
  const options = { server: endpoint.server, cause: error };
  if (code === "ERR_TLS_CERT_ALTNAME_INVALID") {
    return new TlsError(
      "tls_hostname_mismatch",
      `the certificate of ${endpoint.server} is not for "${endpoint.host}": ${message}`,
      options,
    );
  }
  if (code === "CERT_HAS_EXPIRED") return new TlsError("tls_expired", `the certificate of ${endpoint.server} has expired`, options);
  if (code === "CERT_NOT_YET_VALID")
    return new TlsError("tls_not_yet_valid", `the certificate of ${endpoint.server} is not valid yet`, options);
  if (/CERT|SIGNATURE|ISSUER|SELF_SIGNED|VERIFY/.test(code)) {
    return new TlsError("tls_untrusted", `the certificate of ${endpoint.server} is not trusted (${code})`, options);
  }
  return toDirectoryError(error, { phase: "tls", server: endpoint.server });
}

function isCertificateFailure(error: TlsError): boolean {
  return (
    error.code === "tls_untrusted" ||
    error.code === "tls_hostname_mismatch" ||
    error.code === "tls_expired" ||
    error.code === "tls_not_yet_valid"
  );
}

/**
 * Node refuses an untrusted certificate without showing it, so look once more without
 * verification (no credentials are sent on this connection, and nothing but StartTLS) to
 * tell the administrator whose certificate it was and why it is refused.
 */
async function withCertificate(failure: TlsError, settings: ConnectionSettings, endpoint: Endpoint): Promise<TlsError> {
  const peek = { ...settings, insecureSkipVerify: true };
  let connection: DirectoryConnection | undefined;
  try {
    connection = await openTransport(peek, endpoint);
  } catch {
    return failure;
  } finally {
    await connection?.close();
  }
  const problem = connection.tls?.problems.find((p) => p.code === failure.code) ?? connection.tls?.problems[0];
  const options: ConstructorParameters<typeof TlsError>[2] = { server: endpoint.server, cause: failure };
  if (connection.tls?.certificate !== undefined) options.certificate = connection.tls.certificate;
  options.fix = problem?.fix ?? failure.fix ?? "Check the domain controller's certificate.";
  return new TlsError(problem?.code ?? failure.code, `${endpoint.server}: ${problem?.message ?? failure.message}`, options);
}

function inspect(socket: tls.TLSSocket, settings: ConnectionSettings, endpoint: Endpoint, handshakeMs: number): TlsInfo {
  return {
    protocol: socket.getProtocol(),
    cipher: socket.getCipher()?.name ?? "",
    handshakeMs: ms(handshakeMs),
    certificate: describeCertificate(socket),
    // Verification already passed unless it was switched off; then say what it would have found.
    problems: settings.insecureSkipVerify ? certificateProblems(socket, endpoint.host) : [],
  };
}

// ---------------------------------------------------------------------------------------
// Binding

/**
 * Simple bind (RFC 4513 section 5.1.3) on `connection`. Refuses an empty password before
 * anything is sent: with a name and no password the bind would succeed anonymously
 * (section 5.1.2) and look like a login.
 */
export async function bindConnection(connection: DirectoryConnection, username: string, password: string): Promise<void> {
  if (password === "") {
    throw new BindError("empty_password", "an empty password was refused before it reached the directory (it would bind anonymously)", {
      reason: "invalid_credentials",
      fix: "Enter the password.",
    });
  }
  try {
    await connection.client.bind(username, password);
  } catch (error) {
    throw toDirectoryError(error, { phase: "bind", server: connection.server });
  }
}

/**
 * A connection bound as the configured service account to the first domain controller, in
 * the configured order, that can be reached over the configured security. The password is
 * the request's or the agent's (resolveBindPassword), and an empty one is refused first.
 */
export async function openConnection(target: LdapTarget): Promise<DirectoryConnection> {
  const bindPassword = await resolveBindPassword(target);
  const settings = connectionSettings(target.connection);
  const failures: DirectoryError[] = [];
  for (const endpoint of settings.endpoints) {
    let connection: DirectoryConnection;
    try {
      connection = await openTransport(settings, endpoint);
    } catch (error) {
      failures.push(toDirectoryError(error, { phase: "connect", server: endpoint.server }));
      continue;
    }
    try {
      await bindConnection(connection, settings.bindUsername, bindPassword);
      return connection;
    } catch (error) {
      await connection.close();
      const failure = toDirectoryError(error, { phase: "bind", server: endpoint.server });
      // A DC that stopped answering is worth skipping; a refused bind would be refused everywhere.
      if (!(failure instanceof ConnectError)) throw failure;
      failures.push(failure);
    }
  }
  throw allFailed(failures);
}

function allFailed(failures: DirectoryError[]): DirectoryError {
  const first = failures[0];
  if (first === undefined) return new ConnectError("host_unreachable", "no domain controller is configured");
  if (failures.length > 1) {
    first.message = `no domain controller could be used: ${failures.map((f) => f.message).join("; ")}`;
  }
  return first;
}

// ---------------------------------------------------------------------------------------

function ms(value: number): number {
  return Math.round(value);
}

async function withTimeout<T>(promise: Promise<T>, timeoutMs: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(onTimeout()), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
