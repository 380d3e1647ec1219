// The tenant's PBX target, as its configuration names it (`pbx.kind`; the built-in directory
// when absent). This is the one place a kind becomes an implementation: everything else sees
// a PbxDirectory and its declared capabilities.
import { capabilityProblems } from "../../../engine/pbx/capability-problems.ts";
import { fullCapabilities, type PbxCapabilities } from "../../../engine/pbx/pbx-capabilities.ts";
import type {
  ArchiveTarget,
  CreateExtension,
  Extension,
  ExtensionMatches,
  ExtensionQuery,
  ExtensionUpdate,
  PbxDirectory,
} from "../../../engine/pbx/pbx-port.ts";
import type { Pbx3Cx, PbxScim, PbxYeastar, SyncConfig } from "../../../schema/generated/config.ts";
import type { ConnectionStep } from "../../../schema/src/agent-protocol.ts";
import type { Problem } from "../../../schema/src/problem.ts";
import { secretBox } from "../secret-box.ts";
import type { Sql } from "../sql.ts";
import type { BuiltinPbx } from "./builtin/builtin-pbx.ts";
import { scimSteps } from "./scim/scim-check.ts";
import { ScimClient } from "./scim/scim-client.ts";
import { ScimPbx, scimCapabilities } from "./scim/scim-pbx.ts";
import { sealedTokenStore } from "./sealed-token-store.ts";
import { threeCxSteps } from "./threecx/threecx-check.ts";
import { ThreeCxClient, type ThreeCxToken } from "./threecx/threecx-client.ts";
import { ThreeCxPbx, threeCxCapabilities } from "./threecx/threecx-pbx.ts";
import { yeastarSteps } from "./yeastar/yeastar-check.ts";
import { YeastarClient, type YeastarTokens } from "./yeastar/yeastar-client.ts";
import { YeastarPbx, yeastarCapabilities } from "./yeastar/yeastar-pbx.ts";

/**
 * Test Connection's PBX steps for the target `config` names: none for the built-in directory.
 * The check signs in with a token of its own and gives it back, so it never uses up one of the
 * application's live tokens.
 */
export async function pbxSteps(config: SyncConfig, secret: () => Promise<string>, fetchImpl?: typeof fetch): Promise<ConnectionStep[]> {
  const settings = config.pbx;
  if (settings === undefined || settings.kind === "builtin") return [];
  if (settings.kind === "scim")
    return scimSteps(
      new ScimClient({
        baseUrl: settings.baseUrl,
        token: secret,
        retries: 1,
        timeoutMs: 10_000,
        ...(fetchImpl === undefined ? {} : { fetch: fetchImpl }),
      }),
      settings,
    );
  if (settings.kind === "3cx") {
    let token: ThreeCxToken | undefined;
    // A check's token of its own: 3CX keeps one per client, so this one replaces the run's,
    // which then fetches another at its next call (a 401 is retried once with a new token).
    const client = new ThreeCxClient({
      baseUrl: settings.baseUrl,
      clientId: settings.clientId,
      secret,
      tokens: {
        load: async () => token,
        save: async (t) => {
          token = t;
        },
      },
      retries: 1,
      timeoutMs: 10_000,
      ...(fetchImpl === undefined ? {} : { fetch: fetchImpl }),
    });
    return threeCxSteps(client, settings);
  }
  let held: YeastarTokens | undefined;
  const client = new YeastarClient({
    baseUrl: settings.baseUrl,
    clientId: settings.clientId,
    secret,
    tokens: {
      load: async () => held,
      save: async (tokens) => {
        held = tokens;
      },
    },
    // A check answers in seconds: no long retries.
    retries: 1,
    timeoutMs: 10_000,
    ...(fetchImpl === undefined ? {} : { fetch: fetchImpl }),
  });
  try {
    return await yeastarSteps(client, settings);
  } finally {
    await client.release();
  }
}

/** What the target a configuration names declares it can do, without reaching it. */
export function targetCapabilities(config: SyncConfig): PbxCapabilities {
  const settings = config.pbx;
  if (settings === undefined || settings.kind === "builtin") return fullCapabilities;
  if (settings.kind === "scim") return scimCapabilities(settings);
  if (settings.kind === "3cx") return threeCxCapabilities(settings);
  return yeastarCapabilities(settings);
}

/** What the configuration asks of its target that the target cannot do. */
export function targetProblems(config: SyncConfig): Problem[] {
  return capabilityProblems(config, targetCapabilities(config));
}

/** A target domain login can ask for synced users by login name. */
export interface LoginDirectory {
  findByLogin(name: { upn?: string; sam?: string }): Extension[];
}

export interface PbxTargetDeps {
  sql: Sql;
  builtin: BuiltinPbx;
  config(): SyncConfig | null;
  tenantName(): string;
  pbxSecret(tenant: string): Promise<string>;
  encryptionKey: string | undefined;
  /** For tests: how the targets reach their APIs. */
  fetch?: typeof fetch;
}

/**
 * Resolves the target at every call from the saved configuration, so a configuration saved
 * between two runs takes effect at the next one; a vendor target is kept while its settings
 * stay the same (its client holds the API token).
 */
export class ConfiguredPbx implements PbxDirectory, LoginDirectory {
  readonly #deps: PbxTargetDeps;
  #vendor: { key: string; target: YeastarPbx | ScimPbx | ThreeCxPbx } | undefined;

  constructor(deps: PbxTargetDeps) {
    this.#deps = deps;
  }

  current(): PbxDirectory & LoginDirectory {
    const settings = this.#deps.config()?.pbx;
    if (settings === undefined || settings.kind === "builtin") return this.#deps.builtin;
    const key = JSON.stringify(settings);
    if (this.#vendor?.key !== key)
      this.#vendor = {
        key,
        target:
          settings.kind === "scim" ? this.#scim(settings) : settings.kind === "3cx" ? this.#threeCx(settings) : this.#yeastar(settings),
      };
    return this.#vendor.target;
  }

  /** The vendor target, or undefined for the built-in directory. */
  vendor(): (PbxDirectory & LoginDirectory) | undefined {
    const current = this.current();
    return current === this.#deps.builtin ? undefined : current;
  }

  get capabilities(): PbxCapabilities {
    return this.current().capabilities;
  }

  get concurrency(): number {
    return this.current().concurrency;
  }

  get requestsPerOperation(): number {
    return this.current().requestsPerOperation;
  }

  findByLogin(name: { upn?: string; sam?: string }): Extension[] {
    return this.current().findByLogin(name);
  }
  listExtensions(): Promise<Extension[]> {
    return this.current().listExtensions();
  }
  listExtensionPages(size: number): AsyncIterable<Extension[]> {
    return this.current().listExtensionPages(size);
  }
  syncedGuids(): Promise<string[]> {
    return this.current().syncedGuids();
  }
  findExtensions(query: ExtensionQuery): Promise<ExtensionMatches> {
    return this.current().findExtensions(query);
  }
  listDepartments(): Promise<string[]> {
    return this.current().listDepartments();
  }
  listExtensionGroups(): Promise<string[]> {
    return this.current().listExtensionGroups();
  }
  createDepartment(path: string): Promise<void> {
    return this.current().createDepartment(path);
  }
  createExtensionGroup(name: string): Promise<void> {
    return this.current().createExtensionGroup(name);
  }
  createExtension(extension: CreateExtension, photo?: Uint8Array): Promise<void> {
    return this.current().createExtension(extension, photo);
  }
  adoptExtension(number: string, extension: CreateExtension): Promise<void> {
    return this.current().adoptExtension(number, extension);
  }
  updateExtension(number: string, update: ExtensionUpdate, photo?: Uint8Array): Promise<void> {
    return this.current().updateExtension(number, update, photo);
  }
  disableExtension(number: string): Promise<void> {
    return this.current().disableExtension(number);
  }
  enableExtension(number: string): Promise<void> {
    return this.current().enableExtension(number);
  }
  deleteExtension(number: string, archive?: ArchiveTarget): Promise<void> {
    return this.current().deleteExtension(number, archive);
  }

  #scim(settings: PbxScim): ScimPbx {
    const tenant = this.#deps.tenantName();
    const client = new ScimClient({
      baseUrl: settings.baseUrl,
      token: () => this.#deps.pbxSecret(tenant),
      concurrency: settings.concurrency ?? 4,
      ...(this.#deps.fetch === undefined ? {} : { fetch: this.#deps.fetch }),
    });
    return new ScimPbx(this.#deps.sql, client, settings);
  }

  #threeCx(settings: Pbx3Cx): ThreeCxPbx {
    const { sql, encryptionKey } = this.#deps;
    const tenant = this.#deps.tenantName();
    const pbx = settings.baseUrl.replace(/\/+$/, "").toLowerCase();
    const client = new ThreeCxClient({
      baseUrl: settings.baseUrl,
      clientId: settings.clientId,
      secret: () => this.#deps.pbxSecret(tenant),
      tokens: sealedTokenStore<ThreeCxToken>(sql, () => secretBox(encryptionKey), `3cx|${pbx}|${settings.clientId}`, tenant),
      concurrency: settings.concurrency ?? 4,
      ...(this.#deps.fetch === undefined ? {} : { fetch: this.#deps.fetch }),
    });
    return new ThreeCxPbx(sql, client, settings);
  }

  #yeastar(settings: PbxYeastar): YeastarPbx {
    const { sql, encryptionKey } = this.#deps;
    const tenant = this.#deps.tenantName();
    const pbx = settings.baseUrl.replace(/\/+$/, "").toLowerCase();
    const client = new YeastarClient({
      baseUrl: settings.baseUrl,
      clientId: settings.clientId,
      secret: () => this.#deps.pbxSecret(tenant),
      tokens: sealedTokenStore<YeastarTokens>(sql, () => secretBox(encryptionKey), `yeastar|${pbx}|${settings.clientId}`, tenant),
      concurrency: settings.concurrency ?? 4,
      ...(this.#deps.fetch === undefined ? {} : { fetch: this.#deps.fetch }),
    });
    return new YeastarPbx(sql, client, settings);
  }
}
