// The tenant's configuration and its secrets: the saved document (validated before it is
// stored), the bind password sealed at rest, the tenant's own name (an alarm has no request
// to read it from), and the LDAP target an agent is sent, password included.
import type { SyncConfig } from "../../../schema/generated/config.ts";
import type { LdapTarget } from "../../../schema/src/agent-protocol.ts";
import type { Problem } from "../../../schema/src/problem.ts";
import { isValid, validateConfig } from "../../../schema/src/validate-config.ts";
import { ApiError } from "../api-error.ts";
import { targetProblems } from "../pbx/pbx-targets.ts";
import { secretBox } from "../secret-box.ts";
import { addMissingColumns, type Sql } from "../sql.ts";
import { logEvent } from "./event-log.ts";
import type { StoredConfig } from "./tenant-types.ts";

export const tenantConfigSchema = `
  CREATE TABLE IF NOT EXISTS config (
    id INTEGER PRIMARY KEY CHECK (id = 1), document TEXT, bind_password TEXT, updated_at INTEGER, updated_by TEXT);
  CREATE TABLE IF NOT EXISTS tenant (id INTEGER PRIMARY KEY CHECK (id = 1), name TEXT NOT NULL);
`;

export class TenantConfig {
  readonly #sql: Sql;
  readonly #encryptionKey: string | undefined;
  /** The tenant's name, which the object is addressed by; kept for work that starts from an alarm. */
  #tenant: string | undefined;
  /**
   * The stored row, parsed once and frozen: a run asks for the configuration at each operation
   * (the PBX target is resolved per call), and every statement a Durable Object runs costs
   * native memory in workerd that outlives it. Only this class writes the row, and it forgets
   * this copy whenever it does.
   */
  #stored: StoredConfig | undefined;

  constructor(sql: Sql, encryptionKey: string | undefined) {
    this.#sql = sql;
    this.#encryptionKey = encryptionKey;
    sql.exec(tenantConfigSchema);
    addMissingColumns(sql, "config", { pbx_secret: "TEXT" });
  }

  stored(): StoredConfig {
    if (this.#stored === undefined) this.#stored = deepFreeze(this.#read());
    return this.#stored;
  }

  #read(): StoredConfig {
    const row = this.#sql
      .exec<{
        document: string | null;
        bind_password: string | null;
        pbx_secret: string | null;
        updated_at: number | null;
        updated_by: string | null;
      }>("SELECT document, bind_password, pbx_secret, updated_at, updated_by FROM config WHERE id = 1")
      .toArray()[0];
    return {
      config: row?.document ? (JSON.parse(row.document) as SyncConfig) : null,
      bindPasswordSet: Boolean(row?.bind_password),
      pbxSecretSet: Boolean(row?.pbx_secret),
      updatedAt: row?.updated_at ?? null,
      updatedBy: row?.updated_by ?? null,
    };
  }

  /** The saved configuration, or null before the first save. */
  config(): SyncConfig | null {
    return this.stored().config;
  }

  /** Stores a valid document; refused with every problem, and nothing stored, otherwise. */
  save(tenant: string, document: unknown, by: string): SyncConfig {
    this.rememberTenant(tenant);
    const problems = withTargetProblems(document, validateConfig(document));
    if (!isValid(problems)) throw new ApiError(400, "invalid_config", "The configuration has errors; nothing was saved.", { problems });
    this.#stored = undefined;
    this.#sql.exec(
      `INSERT INTO config (id, document, updated_at, updated_by) VALUES (1, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET document = excluded.document, updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
      JSON.stringify(document),
      Date.now(),
      by,
    );
    logEvent("config_saved", { by, warnings: problems.length });
    return document as SyncConfig;
  }

  async setBindPassword(tenant: string, password: unknown, by: string): Promise<StoredConfig> {
    if (typeof password !== "string" || password === "")
      throw new ApiError(400, "invalid_password", "The bind password must be a non-empty string.");
    if (password.length > 1024) throw new ApiError(400, "invalid_password", "The bind password is longer than 1024 characters.");
    await this.#storeSecret("bind_password", password, tenant, by);
    logEvent("bind_password_set", { by });
    return this.stored();
  }

  /** The PBX API's secret (pbx.secret source "stored"): write-only, sealed like the bind password. */
  async setPbxSecret(tenant: string, secret: unknown, by: string): Promise<StoredConfig> {
    if (typeof secret !== "string" || secret === "")
      throw new ApiError(400, "invalid_secret", "The PBX secret must be a non-empty string.");
    if (secret.length > 4096) throw new ApiError(400, "invalid_secret", "The PBX secret is longer than 4096 characters.");
    await this.#storeSecret("pbx_secret", secret, `${tenant}/pbx`, by);
    logEvent("pbx_secret_set", { by });
    return this.stored();
  }

  /** The stored PBX secret, opened only here, on its way to the PBX's API; 409 when none is stored. */
  async pbxSecret(tenant: string): Promise<string> {
    const sealed = this.#sql.exec<{ pbx_secret: string | null }>("SELECT pbx_secret FROM config WHERE id = 1").toArray()[0]?.pbx_secret;
    if (!sealed) throw new ApiError(409, "pbx_secret_missing", "Enter the PBX's API secret in Connection > PBX: none is stored yet.");
    return (await secretBox(this.#encryptionKey)).open(sealed, `${tenant}/pbx`);
  }

  /** Seals `value` (bound to `context`, so it opens nowhere else) into one of the config row's secret columns. */
  async #storeSecret(column: "bind_password" | "pbx_secret", value: string, context: string, by: string): Promise<void> {
    const sealed = await (await secretBox(this.#encryptionKey)).seal(value, context);
    this.#stored = undefined;
    this.#sql.exec(
      `INSERT INTO config (id, ${column}, updated_at, updated_by) VALUES (1, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET ${column} = excluded.${column}, updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
      sealed,
      Date.now(),
      by,
    );
  }

  /** A draft from the editor, checked as a save would be but never stored. */
  validDraft(draft: unknown): SyncConfig {
    const problems = withTargetProblems(draft, validateConfig(draft));
    if (!isValid(problems)) throw new ApiError(400, "invalid_config", "The configuration has errors.", { problems });
    return draft as SyncConfig;
  }

  rememberTenant(tenant: string): void {
    if (this.#tenant === tenant) return;
    this.#tenant = tenant;
    this.#sql.exec("INSERT INTO tenant (id, name) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET name = excluded.name", tenant);
  }

  tenantName(): string {
    if (this.#tenant === undefined) {
      this.#tenant = this.#sql.exec<{ name: string }>("SELECT name FROM tenant WHERE id = 1").toArray()[0]?.name;
    }
    if (this.#tenant === undefined) throw new ApiError(409, "not_configured", "This tenant has no configuration yet.");
    return this.#tenant;
  }

  /** The saved connection as the agent gets it; 409 before a connection is saved. */
  async savedTarget(tenant: string): Promise<LdapTarget> {
    const config = this.config();
    if (!config?.connection)
      throw new ApiError(409, "not_configured", "Save a connection (domain controllers, bind account, base DN) first.");
    return this.target(tenant, config, undefined);
  }

  /**
   * The connection of `config` with the bind password it names: a draft's when one is given,
   * the stored one (opened only here, on its way to the agent) otherwise; agent-held
   * passwords never leave the agent.
   */
  async target(tenant: string, config: SyncConfig, draftPassword: string | undefined): Promise<LdapTarget> {
    const connection = config.connection as NonNullable<SyncConfig["connection"]>;
    if ((connection.bindPassword.source ?? "stored") !== "stored") return { connection };
    if (draftPassword !== undefined && draftPassword !== "") return { connection, bindPassword: draftPassword };
    const sealed = this.#sql
      .exec<{ bind_password: string | null }>("SELECT bind_password FROM config WHERE id = 1")
      .toArray()[0]?.bind_password;
    if (!sealed) throw new ApiError(409, "bind_password_missing", "Enter the bind password in Connection: none is stored yet.");
    return { connection, bindPassword: await (await secretBox(this.#encryptionKey)).open(sealed, tenant) };
  }
}

/** A valid document's problems with its PBX target's capabilities added (a target lacks actions the schema allows). */
export function withTargetProblems(document: unknown, problems: Problem[]): Problem[] {
  return isValid(problems) ? [...problems, ...targetProblems(document as SyncConfig)] : problems;
}

/** Freezes `value` and everything in it: a shared copy nobody may change under the others. */
function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
