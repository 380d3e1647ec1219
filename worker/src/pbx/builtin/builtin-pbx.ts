// The embedded PBX directory: extensions, departments and extension groups in the tenant's
// Durable Object SQLite. It is what `npm start` and the tests sync into, and the model a
// vendor adapter maps onto its API. Extensions made by hand live here too (origin "manual").
import { fullCapabilities } from "../../../../engine/pbx/pbx-capabilities.ts";
import {
  type ArchiveTarget,
  type CreateExtension,
  type Extension,
  type ExtensionMatches,
  type ExtensionQuery,
  type ExtensionState,
  type ExtensionUpdate,
  extensionFields,
  type PbxDirectory,
} from "../../../../engine/pbx/pbx-port.ts";
import { columnNames, containsPattern, type Sql, type SqlValue } from "../../sql.ts";

export const builtinPbxSchema = `
  CREATE TABLE IF NOT EXISTS pbx_extensions (
    number TEXT PRIMARY KEY, origin TEXT NOT NULL, guid TEXT UNIQUE, dn TEXT,
    enabled INTEGER NOT NULL DEFAULT 1, disabled_by_sync INTEGER NOT NULL DEFAULT 0, number_source TEXT,
    first_name TEXT, last_name TEXT, display_name TEXT, email TEXT, mobile TEXT, work_phone TEXT,
    department TEXT, job_title TEXT, avatar_hash TEXT, avatar BLOB, department_path TEXT,
    groups TEXT NOT NULL DEFAULT '[]', settings TEXT NOT NULL DEFAULT '{}',
    voicemails INTEGER NOT NULL DEFAULT 0, recordings INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, upn TEXT, sam TEXT);
  CREATE TABLE IF NOT EXISTS pbx_departments (path TEXT PRIMARY KEY, created_at INTEGER NOT NULL);
  CREATE TABLE IF NOT EXISTS pbx_groups (name TEXT PRIMARY KEY, created_at INTEGER NOT NULL);
`;

const columns: Record<(typeof extensionFields)[number], string> = {
  firstName: "first_name",
  lastName: "last_name",
  displayName: "display_name",
  email: "email",
  mobile: "mobile",
  workPhone: "work_phone",
  department: "department",
  jobTitle: "job_title",
};

type Row = Record<string, string | number | null | ArrayBuffer>;

/** An extension as the Extensions view shows it: the synced state, plus what the PBX keeps itself. */
export interface ExtensionView extends Extension {
  settings: Record<string, unknown>;
  voicemails: number;
  recordings: number;
  createdAt: number;
  updatedAt: number;
}

export class PbxError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = "PbxError";
    this.code = code;
  }
}

export class BuiltinPbx implements PbxDirectory {
  readonly capabilities = fullCapabilities;
  // Writes are synchronous SQLite (or memory): nothing to gain from overlapping them.
  readonly concurrency = 1;
  readonly requestsPerOperation = 0;
  readonly #sql: Sql;

  constructor(sql: Sql) {
    this.#sql = sql;
    sql.exec(builtinPbxSchema);
    // Directories made before extensions kept their users' login names.
    if (!columnNames(sql, "pbx_extensions").has("upn"))
      sql.exec("ALTER TABLE pbx_extensions ADD COLUMN upn TEXT; ALTER TABLE pbx_extensions ADD COLUMN sam TEXT");
    sql.exec(`
      CREATE INDEX IF NOT EXISTS pbx_extensions_upn ON pbx_extensions (upn);
      CREATE INDEX IF NOT EXISTS pbx_extensions_sam ON pbx_extensions (sam);
      CREATE INDEX IF NOT EXISTS pbx_extensions_listing ON pbx_extensions (length(number), number);
      CREATE INDEX IF NOT EXISTS pbx_extensions_origin ON pbx_extensions (origin);`);
  }

  /**
   * The synced extensions whose user logs in as `name`: by userPrincipalName, by
   * sAMAccountName, or both (`sam` for DOMAIN\name and the implicit UPN name@dns-domain).
   */
  findByLogin(name: { upn?: string; sam?: string }): ExtensionView[] {
    return this.#sql
      .exec<Row>(
        "SELECT * FROM pbx_extensions WHERE origin = 'ad' AND ((? IS NOT NULL AND upn = ?) OR (? IS NOT NULL AND sam = ?)) ORDER BY number",
        name.upn?.toLowerCase() ?? null,
        name.upn?.toLowerCase() ?? null,
        name.sam?.toLowerCase() ?? null,
        name.sam?.toLowerCase() ?? null,
      )
      .toArray()
      .map(toView);
  }

  async syncedGuids(): Promise<string[]> {
    return this.#sql
      .exec<{ guid: string }>("SELECT guid FROM pbx_extensions WHERE origin = 'ad' AND guid IS NOT NULL")
      .toArray()
      .map((r) => r.guid);
  }

  /**
   * By index: the numbers of the users' extensions, the claimed numbers and the hand-made ones,
   * then their rows in the listing's order; the synced count from the guid index. A handful of
   * seeks, whatever the PBX's size, where a listing reads every row.
   */
  async findExtensions(query: ExtensionQuery): Promise<ExtensionMatches> {
    const extensions = this.#sql
      .exec<Row>(
        `SELECT ${EXTENSION_COLUMNS} FROM pbx_extensions WHERE number IN (
           SELECT number FROM pbx_extensions WHERE guid IN (SELECT value FROM json_each(?1))
           UNION SELECT value FROM json_each(?2)
           UNION SELECT number FROM pbx_extensions WHERE ?3 AND origin = 'manual')
         ORDER BY length(number), number`,
        JSON.stringify(query.guids),
        JSON.stringify(query.numbers),
        query.manual ? 1 : 0,
      )
      .toArray()
      .map(toExtension);
    const synced = this.#sql
      // guid is UNIQUE: a count of rows is a count of users.
      .exec<{ n: number }>("SELECT count(*) AS n FROM pbx_extensions WHERE origin = 'ad' AND guid IS NOT NULL")
      .one().n;
    return { extensions, synced: Number(synced) };
  }

  /**
   * Keyset pages in the listing's order (by length, then number), each an indexed seek: the
   * rest of the last page's length, then the lengths after it. (SQLite seeks a row value
   * only by scanning, and sorting the table for every page made a listing quadratic.)
   */
  async *listExtensionPages(size: number): AsyncIterable<Extension[]> {
    const page = (rows: Row[]) => rows.map(toExtension);
    const select = `SELECT ${EXTENSION_COLUMNS} FROM pbx_extensions`;
    let rows = this.#sql.exec<Row>(`${select} ORDER BY length(number), number LIMIT ?`, size).toArray();
    while (rows.length > 0) {
      yield page(rows);
      if (rows.length < size) return;
      const last = String(rows.at(-1)?.number);
      rows = this.#sql
        .exec<Row>(`${select} WHERE length(number) = ? AND number > ? ORDER BY number LIMIT ?`, last.length, last, size)
        .toArray();
      if (rows.length < size)
        rows = rows.concat(
          this.#sql
            .exec<Row>(`${select} WHERE length(number) > ? ORDER BY length(number), number LIMIT ?`, last.length, size - rows.length)
            .toArray(),
        );
    }
  }

  async listExtensions(): Promise<Extension[]> {
    return this.views().map(({ settings: _s, voicemails: _v, recordings: _r, createdAt: _c, updatedAt: _u, ...e }) => e);
  }

  views(options: { offset?: number; limit?: number; q?: string } = {}): ExtensionView[] {
    const q = options.q ? containsPattern(options.q) : null;
    return this.#sql
      .exec<Row>(
        `SELECT * FROM pbx_extensions
         WHERE (? IS NULL OR number LIKE ? ESCAPE '\\' OR display_name LIKE ? ESCAPE '\\' OR email LIKE ? ESCAPE '\\')
         ORDER BY length(number), number LIMIT ? OFFSET ?`,
        q,
        q,
        q,
        q,
        options.limit ?? -1,
        options.offset ?? 0,
      )
      .toArray()
      .map(toView);
  }

  count(): number {
    return Number(this.#sql.exec<{ n: number }>("SELECT count(*) AS n FROM pbx_extensions").one().n);
  }

  async listDepartments(): Promise<string[]> {
    return this.#sql
      .exec<{ path: string }>("SELECT path FROM pbx_departments ORDER BY path")
      .toArray()
      .map((r) => r.path);
  }

  async listExtensionGroups(): Promise<string[]> {
    return this.#sql
      .exec<{ name: string }>("SELECT name FROM pbx_groups ORDER BY name")
      .toArray()
      .map((r) => r.name);
  }

  async createDepartment(path: string): Promise<void> {
    this.#sql.exec("INSERT INTO pbx_departments (path, created_at) VALUES (?, ?) ON CONFLICT DO NOTHING", path, Date.now());
  }

  async createExtensionGroup(name: string): Promise<void> {
    this.#sql.exec("INSERT INTO pbx_groups (name, created_at) VALUES (?, ?) ON CONFLICT DO NOTHING", name, Date.now());
  }

  /** A hand-made extension, as an administrator creates it on the PBX. */
  createManual(number: string, displayName: string, settings: Record<string, unknown> = {}): ExtensionView {
    if (!/^\d{2,10}$/.test(number)) throw new PbxError("invalid_number", "An extension number is 2 to 10 digits.");
    if (this.#row(number)) throw new PbxError("number_taken", `Extension ${number} exists already.`);
    const now = Date.now();
    this.#sql.exec(
      `INSERT INTO pbx_extensions (number, origin, display_name, settings, created_at, updated_at) VALUES (?, 'manual', ?, ?, ?, ?)`,
      number,
      displayName,
      JSON.stringify(settings),
      now,
      now,
    );
    return toView(this.#row(number) as Row);
  }

  async createExtension(create: CreateExtension, photo?: Uint8Array): Promise<void> {
    const { number } = create.state;
    let settings = "{}";
    if (create.template !== undefined) {
      const template = this.#row(create.template);
      if (!template) throw new PbxError("template_missing", `The template extension ${create.template} does not exist.`);
      settings = String(template.settings);
    }
    const now = Date.now();
    const state = stateColumns(create.state, photo);
    // The extension written whole in one statement, and looked up only when its number or its
    // AD user is taken: a first sync creates every extension, one statement each (every
    // statement costs workerd native memory until V8 collects its cursor).
    const written = this.#sql.exec(
      `INSERT INTO pbx_extensions (number, origin, guid, dn, number_source, upn, sam, settings, created_at, ${state.names.join(", ")})
       VALUES (?, 'ad', ?, ?, ?, ?, ?, ?, ?, ${state.names.map(() => "?").join(", ")}) ON CONFLICT DO NOTHING`,
      number,
      create.guid,
      create.dn,
      create.numberSource,
      create.login.upn,
      create.login.sam,
      settings,
      now,
      ...state.values,
    ).rowsWritten;
    if (written !== 0) return;
    const taken = this.#sql
      .exec<{ number: string; guid: string | null }>(
        "SELECT number, guid FROM pbx_extensions WHERE number = ? OR guid = ? ORDER BY number = ? DESC",
        number,
        create.guid,
        number,
      )
      .toArray();
    const existing = taken.find((r) => r.number === number);
    // Created already for this user (an operation applied again after an interruption).
    if (existing && existing.guid === create.guid) return;
    if (existing) throw new PbxError("number_taken", `Extension ${number} exists already.`);
    const byGuid = taken[0];
    if (byGuid) throw new PbxError("guid_taken", `The AD user already has extension ${byGuid.number}.`);
    throw new PbxError("not_written", `Extension ${number} was not written, and no extension holds its number or its AD user.`);
  }

  async adoptExtension(number: string, adopt: CreateExtension, photo?: Uint8Array): Promise<void> {
    const row = this.#row(number);
    if (!row) throw new PbxError("not_found", `Extension ${number} does not exist.`);
    if (row.origin === "ad" && row.guid !== adopt.guid) throw new PbxError("guid_taken", `Extension ${number} belongs to another AD user.`);
    this.#sql.exec(
      "UPDATE pbx_extensions SET origin = 'ad', guid = ?, dn = ?, number_source = ?, upn = ?, sam = ? WHERE number = ?",
      adopt.guid,
      adopt.dn,
      adopt.numberSource,
      adopt.login.upn,
      adopt.login.sam,
      number,
    );
    this.#write(number, { ...adopt.state, number }, photo);
  }

  async updateExtension(number: string, update: ExtensionUpdate, photo?: Uint8Array): Promise<void> {
    const target = update.state.number ?? number;
    let row = this.#row(number);
    // Renumbered already by an earlier attempt of the same operation.
    if (!row && target !== number) row = this.#row(target);
    if (!row) throw new PbxError("not_found", `Extension ${number} does not exist.`);
    if (row.origin !== "ad") throw new PbxError("manual_extension", `Extension ${number} was made by hand; sync does not change it.`);
    if (target !== row.number) {
      if (this.#row(target)) throw new PbxError("number_taken", `Extension ${target} exists already.`);
      this.#sql.exec("UPDATE pbx_extensions SET number = ? WHERE number = ?", target, row.number);
    }
    if (update.dn !== undefined) this.#sql.exec("UPDATE pbx_extensions SET dn = ? WHERE number = ?", update.dn, target);
    if (update.login !== undefined)
      this.#sql.exec("UPDATE pbx_extensions SET upn = ?, sam = ? WHERE number = ?", update.login.upn, update.login.sam, target);
    if (update.numberSource !== undefined)
      this.#sql.exec("UPDATE pbx_extensions SET number_source = ? WHERE number = ?", update.numberSource, target);
    this.#write(target, update.state, photo);
  }

  async disableExtension(number: string): Promise<void> {
    this.#sql.exec(
      "UPDATE pbx_extensions SET enabled = 0, disabled_by_sync = 1, updated_at = ? WHERE number = ? AND origin = 'ad' AND enabled = 1",
      Date.now(),
      number,
    );
  }

  async enableExtension(number: string): Promise<void> {
    this.#sql.exec(
      "UPDATE pbx_extensions SET enabled = 1, disabled_by_sync = 0, updated_at = ? WHERE number = ? AND origin = 'ad'",
      Date.now(),
      number,
    );
  }

  async deleteExtension(number: string, archive?: ArchiveTarget): Promise<void> {
    const row = this.#row(number);
    if (!row) return;
    if (row.origin !== "ad") throw new PbxError("manual_extension", `Extension ${number} was made by hand; sync does not delete it.`);
    if (archive) {
      if (!this.#row(archive.extension))
        throw new PbxError("archive_missing", `The archive extension ${archive.extension} does not exist.`);
      this.#sql.exec(
        "UPDATE pbx_extensions SET voicemails = voicemails + ?, recordings = recordings + ?, updated_at = ? WHERE number = ?",
        archive.voicemail ? Number(row.voicemails) : 0,
        archive.recordings ? Number(row.recordings) : 0,
        Date.now(),
        archive.extension,
      );
    }
    this.#sql.exec("DELETE FROM pbx_extensions WHERE number = ?", number);
  }

  /** Test and demo helper: messages and recordings that a delete must not lose. */
  addMessages(number: string, voicemails: number, recordings: number): void {
    this.#sql.exec(
      "UPDATE pbx_extensions SET voicemails = voicemails + ?, recordings = recordings + ? WHERE number = ?",
      voicemails,
      recordings,
      number,
    );
  }

  #row(number: string): Row | undefined {
    return this.#sql.exec<Row>("SELECT * FROM pbx_extensions WHERE number = ?", number).toArray()[0];
  }

  #write(number: string, state: Partial<ExtensionState>, photo?: Uint8Array): void {
    const { names, values } = stateColumns(state, photo);
    this.#sql.exec(`UPDATE pbx_extensions SET ${names.map((n) => `${n} = ?`).join(", ")} WHERE number = ?`, ...values, number);
  }
}

function toView(row: Row): ExtensionView {
  return {
    ...toExtension(row),
    settings: JSON.parse(String(row.settings ?? "{}")) as Record<string, unknown>,
    voicemails: Number(row.voicemails),
    recordings: Number(row.recordings),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

/** The columns an Extension is made of: a listing for a run reads these, not the photo's bytes or the settings. */
const EXTENSION_COLUMNS = [
  "number",
  "origin",
  "guid",
  "dn",
  "enabled",
  "disabled_by_sync",
  "number_source",
  "upn",
  "sam",
  ...Object.values(columns),
  "avatar_hash",
  "department_path",
  "groups",
].join(", ");

function toExtension(row: Row): Extension {
  const text = (v: unknown) => (v === null || v === undefined ? null : String(v));
  return {
    number: String(row.number),
    origin: row.origin === "ad" ? "ad" : "manual",
    guid: text(row.guid),
    dn: text(row.dn),
    enabled: Number(row.enabled) === 1,
    disabledBySync: Number(row.disabled_by_sync) === 1,
    numberSource: row.number_source === "attribute" || row.number_source === "sequential" ? row.number_source : null,
    upn: text(row.upn),
    sam: text(row.sam),
    firstName: text(row.first_name),
    lastName: text(row.last_name),
    displayName: text(row.display_name),
    email: text(row.email),
    mobile: text(row.mobile),
    workPhone: text(row.work_phone),
    department: text(row.department),
    jobTitle: text(row.job_title),
    avatarHash: text(row.avatar_hash),
    departmentPath: text(row.department_path),
    groups: JSON.parse(String(row.groups ?? "[]")) as string[],
  };
}

/** The columns `state` sets (those it has), with their values; updated_at always. */
function stateColumns(state: Partial<ExtensionState>, photo?: Uint8Array): { names: string[]; values: SqlValue[] } {
  const names: string[] = [];
  const values: SqlValue[] = [];
  for (const f of extensionFields) {
    if (state[f] === undefined) continue;
    names.push(columns[f]);
    values.push(state[f] ?? null);
  }
  if (state.avatarHash !== undefined) {
    names.push("avatar_hash");
    values.push(state.avatarHash);
    if (photo !== undefined || state.avatarHash === null) {
      names.push("avatar");
      values.push(photo ? (photo.slice().buffer as ArrayBuffer) : null);
    }
  }
  if (state.departmentPath !== undefined) {
    names.push("department_path");
    values.push(state.departmentPath);
  }
  if (state.groups !== undefined) {
    names.push("groups");
    values.push(JSON.stringify([...state.groups].sort()));
  }
  names.push("updated_at");
  values.push(Date.now());
  return { names, values };
}
