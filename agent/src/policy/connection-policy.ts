// Which domain controllers this agent connects to, and whether it may do so insecurely. It is
// the agent host's decision, made with flags, the environment or the agent's config file; a
// cloud configuration or a draft that names any other host or port is refused before any
// socket opens, so whoever can edit the configuration cannot point the agent at an internal
// host of their choice, probe its ports, or collect passwords sent to a server of theirs.
import { resolveSrv } from "node:dns/promises";
import type { LdapTarget } from "../../../schema/src/agent-protocol.ts";
import { DirectoryError } from "../ldap/errors.ts";

export interface AllowedDc {
  host: string;
  /** Undefined: the standard LDAP ports (389, 636, 3268, 3269). */
  port?: number;
}

export interface ConnectionPolicySettings {
  dcs: AllowedDc[];
  /** DNS domains whose DCs (SRV _ldap._tcp.dc._msdcs.NAME) are allowed. */
  domains: string[];
  allowInsecureLdap: boolean;
}

const standardPorts = new Set([389, 636, 3268, 3269]);
const srvCacheMs = 60_000;
const hostPattern =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$|^\[?[0-9A-Fa-f:.]+\]?$/;

/** `HOST` or `HOST:PORT` as given on the agent host; throws with what is wrong. */
export function parseAllowedDc(text: string): AllowedDc {
  const trimmed = text.trim();
  const match = /^(\[[^\]]+\]|[^:]+)(?::(\d{1,5}))?$/.exec(trimmed);
  const host = match?.[1]?.replace(/^\[|\]$/g, "");
  if (!match || host === undefined || !hostPattern.test(host)) throw new Error(`${JSON.stringify(text)} is not HOST or HOST:PORT`);
  if (match[2] === undefined) return { host: host.toLowerCase() };
  const port = Number(match[2]);
  if (port < 1 || port > 65535) throw new Error(`${JSON.stringify(text)} has no valid port`);
  return { host: host.toLowerCase(), port };
}

export class ConnectionPolicy {
  readonly #settings: ConnectionPolicySettings;
  readonly #lookup: typeof resolveSrv;
  #srv: { at: number; hosts: Set<string> } | undefined;

  constructor(settings: ConnectionPolicySettings, lookup: typeof resolveSrv = resolveSrv) {
    this.#settings = settings;
    this.#lookup = lookup;
  }

  get configured(): boolean {
    return this.#settings.dcs.length > 0 || this.#settings.domains.length > 0;
  }

  describe(): string {
    const parts = [
      ...this.#settings.dcs.map((d) => (d.port === undefined ? d.host : `${d.host}:${d.port}`)),
      ...this.#settings.domains.map((d) => `the DCs of ${d}`),
    ];
    return parts.length === 0 ? "no domain controller" : parts.join(", ");
  }

  /** Refuses, before any connection, a target this agent host did not allow. */
  async check(target: LdapTarget): Promise<void> {
    const c = target.connection;
    if (!this.configured) {
      throw new DirectoryError(
        "dc_not_allowed",
        "This agent has no list of domain controllers it may connect to, so it connects to none.",
        {
          fix: "On the agent host, start the agent with --dc HOST[:PORT] for each domain controller (or --domain your AD DNS domain), or set ADSYNC_DCS.",
        },
      );
    }
    if (c.security === "insecurePlainLdap" && !this.#settings.allowInsecureLdap) {
      throw new DirectoryError(
        "insecure_not_allowed",
        "This agent does not use plain LDAP: passwords would cross the network in clear text.",
        {
          fix: "Use LDAPS or StartTLS (connection.security). Only if the agent host's administrator accepts plain LDAP, start the agent with --allow-insecure-ldap.",
        },
      );
    }
    if (c.insecureSkipVerify === true && !this.#settings.allowInsecureLdap) {
      throw new DirectoryError("insecure_not_allowed", "This agent verifies every domain controller's certificate.", {
        fix: "Give the CA that signed the DCs' certificates (connection.caCertificate) instead of connection.insecureSkipVerify, or start the agent with --allow-insecure-ldap.",
      });
    }
    const defaultPort = c.security === "ldaps" || c.security === undefined ? 636 : 389;
    for (const dc of c.domainControllers) {
      const host = dc.host.toLowerCase();
      const port = dc.port ?? defaultPort;
      if (this.#allows(host, port) || (await this.#inDomain(host, port))) continue;
      throw new DirectoryError("dc_not_allowed", `This agent does not connect to ${dc.host}:${port}: its host allows ${this.describe()}.`, {
        fix: `Name ${dc.host}${dc.port === undefined ? "" : `:${dc.port}`} with --dc (or ADSYNC_DCS) on the agent host if it is one of your domain controllers, or correct connection.domainControllers.`,
        server: `${dc.host}:${port}`,
      });
    }
  }

  #allows(host: string, port: number): boolean {
    return this.#settings.dcs.some((d) => d.host === host && (d.port === undefined ? standardPorts.has(port) : d.port === port));
  }

  async #inDomain(host: string, port: number): Promise<boolean> {
    if (this.#settings.domains.length === 0 || !standardPorts.has(port)) return false;
    if (this.#srv === undefined || Date.now() - this.#srv.at > srvCacheMs) {
      const hosts = new Set<string>();
      for (const domain of this.#settings.domains) {
        try {
          for (const record of await this.#lookup(`_ldap._tcp.dc._msdcs.${domain}`))
            hosts.add(record.name.toLowerCase().replace(/\.$/, ""));
        } catch {
          // A domain DNS does not answer for allows nothing; the refusal names the settings.
        }
      }
      this.#srv = { at: Date.now(), hosts };
    }
    return this.#srv.hosts.has(host);
  }
}
