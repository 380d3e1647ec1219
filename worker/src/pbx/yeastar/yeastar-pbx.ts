// The Yeastar P-Series as a PBX target. Yeastar does not store our objectGUID, so the link
// between an AD user and a Yeastar extension (Yeastar's id, the number, the login names) is
// kept in the tenant's SQLite; everything else is read from the PBX at every run, so edits
// made in Yeastar's console are seen. An extension without a link was made by hand and is
// never changed.
//
// Idempotency across a restart: a create writes a pending link first; a run that resumes
// after the Durable Object restarted looks the number up before creating it again, so an
// extension is neither duplicated nor lost. extension/create answers no id, and a search per
// create would double the calls of a first sync: the link keeps the number, and the next
// listing (every run starts with one) or the next write to it learns the id.
import { noCapabilities, type PbxCapabilities } from "../../../../engine/pbx/pbx-capabilities.ts";
import {
  type ArchiveTarget,
  blankExtension,
  type CreateExtension,
  type Extension,
  type ExtensionState,
  type ExtensionUpdate,
  type PbxDirectory,
} from "../../../../engine/pbx/pbx-port.ts";
import type { PbxYeastar } from "../../../../schema/generated/config.ts";
import type { Sql } from "../../sql.ts";
import type { YeastarClient } from "./yeastar-client.ts";
import { YeastarError } from "./yeastar-errors.ts";
import { yeastarPassword } from "./yeastar-password.ts";

export const yeastarLinksSchema = `
  CREATE TABLE IF NOT EXISTS yeastar_links (
    guid TEXT PRIMARY KEY, pbx TEXT NOT NULL, vendor_id INTEGER, number TEXT NOT NULL, dn TEXT, upn TEXT, sam TEXT,
    number_source TEXT, pending INTEGER NOT NULL DEFAULT 0, updated_at INTEGER NOT NULL);
  CREATE INDEX IF NOT EXISTS yeastar_links_vendor ON yeastar_links (pbx, vendor_id);
`;

/**
 * What the Open API can hold. Yeastar's extension has no documented field to disable it, no
 * photo upload in the Open API, and no way to move a leaver's voicemail; departments are its
 * organizations (when the configuration mirrors them).
 */
export function yeastarCapabilities(settings: Pick<PbxYeastar, "departments">): PbxCapabilities {
  return {
    ...noCapabilities,
    departments: settings.departments !== false,
    // extension/update has no number ("the number itself cannot be changed"): renumber stays off.
    // The name shown is Yeastar's own first + last name; caller_id is a number, not a name.
    fields: ["firstName", "lastName", "email", "mobile", "jobTitle"],
  };
}

/**
 * Our fields and Yeastar's names for them (extension/create, extension/update). The name
 * Yeastar shows (caller_id_name in lists) is its own first + last name, so displayName is not
 * written; caller_id is an outbound number, not a name.
 */
const fieldNames = {
  firstName: "first_name",
  lastName: "last_name",
  email: "email_addr",
  mobile: "mobile_number",
  jobTitle: "title",
} as const;

/** Details are read by extension/query, this many ids at a time. */
const queryChunk = 50;

type LinkRow = {
  guid: string;
  vendor_id: number | null;
  number: string;
  dn: string | null;
  upn: string | null;
  sam: string | null;
  number_source: string | null;
  pending: number;
};

type VendorExtension = Record<string, unknown> & { id: number; number: string };

/** yeastar_links.pending: the link is complete, or a create's outcome or id is still to be learned. */
const linked = 0;
/** extension/create was sent and its answer never came: it may or may not have happened. */
const createSent = 1;
/** Yeastar said the extension was created; its id comes from the next listing. */
const createdIdUnknown = 2;

/** The root organization every tree hangs from (organization/list: id 1). */
const rootOrganization = 1;
const pathSeparator = " > ";

export class YeastarPbx implements PbxDirectory {
  readonly capabilities: PbxCapabilities;
  /** pbx.concurrency: the client keeps at most this many calls in flight as well. */
  readonly concurrency: number;
  readonly #sql: Sql;
  readonly #client: YeastarClient;
  readonly #settings: PbxYeastar;
  /** Which PBX the links belong to: links made with another baseUrl are another PBX's. */
  readonly #pbx: string;
  #organizations: Map<string, number> | undefined;
  /** Each extension's organizations as the last listing had them, for updates that keep them. */
  readonly #organizationsOf = new Map<number, Array<{ value: string }>>();

  constructor(sql: Sql, client: YeastarClient, settings: PbxYeastar) {
    this.#sql = sql;
    this.#client = client;
    this.#settings = settings;
    this.#pbx = settings.baseUrl.replace(/\/+$/, "").toLowerCase();
    this.capabilities = yeastarCapabilities(settings);
    this.concurrency = settings.concurrency ?? 4;
    sql.exec(yeastarLinksSchema);
  }

  /** Synced extensions by login name, for domain login; from the links, without asking the PBX. */
  findByLogin(name: { upn?: string; sam?: string }): Extension[] {
    return this.#sql
      .exec<LinkRow>(
        `SELECT * FROM yeastar_links WHERE pbx = ? AND pending IN (${linked}, ${createdIdUnknown}) AND ((? IS NOT NULL AND upn = ?) OR (? IS NOT NULL AND sam = ?))`,
        this.#pbx,
        name.upn?.toLowerCase() ?? null,
        name.upn?.toLowerCase() ?? null,
        name.sam?.toLowerCase() ?? null,
        name.sam?.toLowerCase() ?? null,
      )
      .toArray()
      .map((link) => ({ ...blankExtension(link.number), ...fromLink(link) }));
  }

  async listExtensions(): Promise<Extension[]> {
    const [basic, paths] = await Promise.all([this.#client.listAll("extension/list"), this.#organizationPaths()]);
    // The list holds only a summary; names, title and organization come from extension/query.
    const details = new Map<number, VendorExtension>();
    const ids = (basic as VendorExtension[]).map((v) => Number(v.id));
    const chunks = Array.from({ length: Math.ceil(ids.length / queryChunk) }, (_, i) => ids.slice(i * queryChunk, (i + 1) * queryChunk));
    const answers = await Promise.all(chunks.map((chunk) => this.#client.get("extension/query", { ids: chunk.join(",") })));
    for (const answer of answers)
      for (const d of Array.isArray(answer.data) ? (answer.data as VendorExtension[]) : []) {
        details.set(Number(d.id), d);
        this.#organizationsOf.set(Number(d.id), organizationValues(d));
      }
    this.#settlePending(basic as VendorExtension[]);
    const links = new Map(this.#links().map((l) => [l.vendor_id, l]));
    return (basic as VendorExtension[]).map((summary) => {
      const v = { ...summary, ...details.get(Number(summary.id)) };
      const link = links.get(Number(v.id));
      const extension = blankExtension(String(v.number), {
        firstName: text(v.first_name),
        lastName: text(v.last_name),
        displayName: text(summary.caller_id_name),
        email: text(v.email_addr),
        mobile: text(v.mobile_number),
        jobTitle: text(v.title),
        departmentPath: this.capabilities.departments ? departmentOf(v, paths) : null,
      });
      return link === undefined ? extension : { ...extension, ...fromLink(link) };
    });
  }

  async listDepartments(): Promise<string[]> {
    if (!this.capabilities.departments) return [];
    return [...(await this.#organizationIds()).keys()].filter((p) => p !== "");
  }

  async listExtensionGroups(): Promise<string[]> {
    return [];
  }

  async createDepartment(path: string): Promise<void> {
    if (!this.capabilities.departments) return;
    await this.#organizationFor(path);
  }

  async createExtensionGroup(_name: string): Promise<void> {
    throw new YeastarError("failure", "extensiongroup/create", "This PBX target does not mirror extension groups");
  }

  async createExtension(extension: CreateExtension): Promise<void> {
    const { state, guid } = extension;
    const existing = this.#link(guid);
    // Created before; a resumed run repeats it.
    if (existing !== undefined && existing.pending !== createSent) return;
    if (existing !== undefined) {
      // Created, or not, before the object restarted: Yeastar holds the answer.
      const found = await this.#findByNumber(state.number);
      if (found !== undefined) return this.#linked(extension, found.id);
    }
    this.#sql.exec(
      `INSERT INTO yeastar_links (guid, pbx, vendor_id, number, dn, upn, sam, number_source, pending, updated_at)
       VALUES (?, ?, NULL, ?, ?, ?, ?, ?, ${createSent}, ?)
       ON CONFLICT (guid) DO UPDATE SET number = excluded.number, pending = ${createSent}, updated_at = excluded.updated_at`,
      guid,
      this.#pbx,
      state.number,
      extension.dn,
      extension.login.upn,
      extension.login.sam,
      extension.numberSource,
      Date.now(),
    );
    const names = [state.firstName, state.lastName, state.displayName];
    const body: Record<string, unknown> = {
      number: state.number,
      type: "SIP",
      // Random passwords the PBX accepts, for the web login and the SIP registration; never
      // logged or kept: the user logs in to Linkus with AD, and phones are provisioned by the PBX.
      user_password: yeastarPassword(state.number, names),
      reg_name: state.number,
      reg_password: yeastarPassword(state.number, names),
      concurrent_registrations: 1,
      presence_status: "available",
      ...this.#fields(state, true),
      ...(this.#settings.roleId === undefined ? {} : { role_id: this.#settings.roleId }),
      // Without mirrored departments a new extension goes to the root organization, where
      // Yeastar's console puts one, since Organization Management requires one.
      ...(this.capabilities.departments ? await this.#organizationList(state.departmentPath) : rootList()),
    };
    let answer: Record<string, unknown>;
    try {
      answer = await this.#client.post("extension/create", body);
    } catch (error) {
      // Yeastar answered and refused: nothing was made. Without an answer it stays unknown.
      if (error instanceof YeastarError && error.kind !== "unavailable") this.#sql.exec("DELETE FROM yeastar_links WHERE guid = ?", guid);
      throw error;
    }
    if (typeof answer.id === "number") this.#linked(extension, answer.id);
    else this.#sql.exec(`UPDATE yeastar_links SET pending = ${createdIdUnknown}, updated_at = ? WHERE guid = ?`, Date.now(), guid);
  }

  /** Links the hand-made extension `number` to the AD user (pbx.adopt), then writes its fields. */
  async adoptExtension(number: string, adopt: CreateExtension): Promise<void> {
    const found = await this.#findByNumber(number);
    if (found === undefined) throw new YeastarError("not_found", "extension/search", `No extension ${number} on this PBX to take over`);
    this.#sql.exec(
      `INSERT INTO yeastar_links (guid, pbx, vendor_id, number, dn, upn, sam, number_source, pending, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ${linked}, ?)
       ON CONFLICT (guid) DO UPDATE SET vendor_id = excluded.vendor_id, number = excluded.number, pending = ${linked}, updated_at = excluded.updated_at`,
      adopt.guid,
      this.#pbx,
      found.id,
      number,
      adopt.dn,
      adopt.login.upn,
      adopt.login.sam,
      adopt.numberSource,
      Date.now(),
    );
    await this.updateExtension(number, { state: adopt.state, dn: adopt.dn, login: adopt.login, numberSource: adopt.numberSource });
  }

  async updateExtension(number: string, update: ExtensionUpdate): Promise<void> {
    const link = this.#linkByNumber(number);
    const vendorId = link === undefined ? undefined : await this.#vendorId(link);
    if (link === undefined || vendorId === undefined)
      throw new YeastarError("not_found", "extension/update", `No synced extension ${number} on this PBX`);
    const state = update.state;
    // No number: Yeastar cannot change one (the planner keeps numbers on this target).
    const body: Record<string, unknown> = {
      id: vendorId,
      ...this.#fields(state, false),
      // Organization Management requires organization_list on every update: a department
      // that sync does not set keeps the organizations the extension has.
      ...(state.departmentPath !== undefined && this.capabilities.departments
        ? await this.#organizationList(state.departmentPath)
        : { organization_list: await this.#currentOrganizations(vendorId) }),
    };
    await this.#client.post("extension/update", body);
    this.#sql.exec(
      `UPDATE yeastar_links SET number = ?, dn = coalesce(?, dn), upn = coalesce(?, upn), sam = coalesce(?, sam),
         number_source = coalesce(?, number_source), updated_at = ? WHERE guid = ?`,
      number,
      update.dn ?? null,
      update.login?.upn ?? null,
      update.login?.sam ?? null,
      update.numberSource ?? null,
      Date.now(),
      link.guid,
    );
  }

  async disableExtension(number: string): Promise<void> {
    throw new YeastarError("failure", "extension/update", `Yeastar's Open API cannot disable an extension (${number}); delete or keep it`);
  }

  async enableExtension(_number: string): Promise<void> {
    // Never disabled by this target, so always enabled.
  }

  async deleteExtension(number: string, _archive?: ArchiveTarget): Promise<void> {
    const link = this.#linkByNumber(number);
    if (link === undefined) return; // deleted before; a resumed run repeats it
    const vendorId = await this.#vendorId(link);
    if (vendorId !== undefined) {
      try {
        await this.#client.get("extension/delete", { id: vendorId });
      } catch (error) {
        // Already gone from the PBX: what the delete wanted.
        if (!(error instanceof YeastarError && error.kind === "not_found")) throw error;
      }
    }
    this.#sql.exec("DELETE FROM yeastar_links WHERE guid = ?", link.guid);
  }

  /**
   * Links whose create left the id unknown (no id in the answer, or no answer at all). If
   * Yeastar now has an extension with that number, and no other link claims it, it is the one
   * that create made: the number was free when it was planned, and nobody else writes there.
   * If it has none, the create did not happen or the extension was deleted since: the link goes,
   * and the user's extension is planned as a create again.
   */
  #settlePending(vendor: VendorExtension[]): void {
    const pending = this.#sql.exec<LinkRow>("SELECT * FROM yeastar_links WHERE pbx = ? AND pending != ?", this.#pbx, linked).toArray();
    if (pending.length === 0) return;
    const claimed = new Set(this.#links().map((l) => l.vendor_id));
    const byNumber = new Map(vendor.map((v) => [String(v.number), Number(v.id)]));
    for (const link of pending) {
      const id = byNumber.get(link.number);
      if (id === undefined) this.#sql.exec("DELETE FROM yeastar_links WHERE guid = ?", link.guid);
      else if (!claimed.has(id))
        this.#sql.exec(
          "UPDATE yeastar_links SET vendor_id = ?, pending = ?, updated_at = ? WHERE guid = ?",
          id,
          linked,
          Date.now(),
          link.guid,
        );
    }
  }

  async #currentOrganizations(vendorId: number): Promise<Array<{ value: string }>> {
    let values = this.#organizationsOf.get(vendorId);
    if (values === undefined) {
      const answer = await this.#client.get("extension/query", { ids: String(vendorId) });
      const details = Array.isArray(answer.data) ? (answer.data as VendorExtension[]) : [];
      values = details[0] === undefined ? [] : organizationValues(details[0]);
      this.#organizationsOf.set(vendorId, values);
    }
    return values.length > 0 ? values : rootList().organization_list;
  }

  /** The Yeastar id of a link, learning it by number for an extension created since the last listing. */
  async #vendorId(link: LinkRow): Promise<number | undefined> {
    if (link.vendor_id !== null) return link.vendor_id;
    const found = await this.#findByNumber(link.number);
    if (found === undefined) return undefined;
    this.#sql.exec(
      "UPDATE yeastar_links SET vendor_id = ?, pending = ?, updated_at = ? WHERE guid = ?",
      found.id,
      linked,
      Date.now(),
      link.guid,
    );
    return found.id;
  }

  /** The fields of `state` in Yeastar's names; a create leaves empty ones out (an empty e-mail is no e-mail). */
  #fields(state: Partial<ExtensionState>, creating: boolean): Record<string, unknown> {
    const body: Record<string, unknown> = {};
    for (const [ours, theirs] of Object.entries(fieldNames)) {
      const value = state[ours as keyof typeof fieldNames];
      if (value === undefined || (creating && (value === null || value === ""))) continue;
      body[theirs] = value ?? "";
    }
    return body;
  }

  #links(): LinkRow[] {
    return this.#sql.exec<LinkRow>("SELECT * FROM yeastar_links WHERE pbx = ? AND pending = ?", this.#pbx, linked).toArray();
  }

  #link(guid: string): LinkRow | undefined {
    return this.#sql.exec<LinkRow>("SELECT * FROM yeastar_links WHERE guid = ? AND pbx = ?", guid, this.#pbx).toArray()[0];
  }

  #linkByNumber(number: string): LinkRow | undefined {
    return this.#sql
      .exec<LinkRow>(
        "SELECT * FROM yeastar_links WHERE number = ? AND pbx = ? AND pending IN (?, ?)",
        number,
        this.#pbx,
        linked,
        createdIdUnknown,
      )
      .toArray()[0];
  }

  #linked(extension: CreateExtension, vendorId: number): void {
    this.#sql.exec(
      "UPDATE yeastar_links SET vendor_id = ?, pending = ?, updated_at = ? WHERE guid = ?",
      vendorId,
      linked,
      Date.now(),
      extension.guid,
    );
  }

  async #findByNumber(number: string): Promise<VendorExtension | undefined> {
    const answer = await this.#client.get("extension/search", { search_value: number, page: 1, page_size: 100 });
    const data = Array.isArray(answer.data) ? (answer.data as VendorExtension[]) : [];
    return data.find((e) => String(e.number) === number);
  }

  /** Organization ids by department path ("" for the root). */
  async #organizationIds(): Promise<Map<string, number>> {
    if (this.#organizations !== undefined) return this.#organizations;
    // organization/list answers the whole tree at once: the root and its nested children.
    const answer = await this.#client.get("organization/list", { is_all: 2 });
    const paths = new Map<string, number>([["", rootOrganization]]);
    type Node = { id: unknown; name: unknown; children?: Node[] };
    const walk = (nodes: Node[], parent: string, depth: number) => {
      for (const node of nodes) {
        const id = Number(node.id);
        const path = id === rootOrganization ? "" : parent === "" ? String(node.name) : `${parent}${pathSeparator}${String(node.name)}`;
        if (id !== rootOrganization) paths.set(path, id);
        if (Array.isArray(node.children) && depth < 64) walk(node.children, path, depth + 1);
      }
    };
    walk(Array.isArray(answer.organization_list) ? (answer.organization_list as Node[]) : [], "", 0);
    this.#organizations = paths;
    return paths;
  }

  async #organizationPaths(): Promise<Map<number, string>> {
    if (!this.capabilities.departments) return new Map();
    return new Map([...(await this.#organizationIds())].map(([path, id]) => [id, path]));
  }

  /** The organization of a department path, creating the levels that are missing. */
  async #organizationFor(path: string): Promise<number> {
    const ids = await this.#organizationIds();
    const known = ids.get(path);
    if (known !== undefined) return known;
    const levels = path.split(pathSeparator);
    const parentPath = levels.slice(0, -1).join(pathSeparator);
    const parent = parentPath === "" ? rootOrganization : await this.#organizationFor(parentPath);
    const name = levels[levels.length - 1] as string;
    let id: number | undefined;
    try {
      const answer = await this.#client.post("organization/create", { name, parent_id: parent });
      id = typeof answer.id === "number" ? answer.id : undefined;
    } catch (error) {
      // Made meanwhile (in the console, or by a run that did not get to remember it): find it.
      if (!(error instanceof YeastarError && error.kind === "conflict")) throw error;
    }
    if (id === undefined) {
      this.#organizations = undefined;
      id = (await this.#organizationIds()).get(path);
      if (id === undefined) throw new YeastarError("failure", "organization/create", `Yeastar did not make the organization ${path}`);
    }
    ids.set(path, id);
    return id;
  }

  async #organizationList(path: string | null | undefined): Promise<Record<string, unknown>> {
    if (!this.capabilities.departments) return {};
    const id = path === null || path === undefined || path === "" ? rootOrganization : await this.#organizationFor(path);
    return { organization_list: [{ value: String(id) }] };
  }
}

function rootList(): { organization_list: Array<{ value: string }> } {
  return { organization_list: [{ value: String(rootOrganization) }] };
}

/** Organization_Info as it comes ({value, text}) as it goes back ({value}). */
function organizationValues(v: Record<string, unknown>): Array<{ value: string }> {
  const list = Array.isArray(v.organization_list) ? (v.organization_list as Array<Record<string, unknown>>) : [];
  return list
    .map((o) => String(o.value ?? o.id ?? ""))
    .filter((id) => /^[0-9]+$/.test(id))
    .map((value) => ({ value }));
}

function text(value: unknown): string | null {
  return typeof value === "string" && value !== "" ? value : null;
}

function departmentOf(v: Record<string, unknown>, paths: Map<number, string>): string | null {
  const list = Array.isArray(v.organization_list) ? (v.organization_list as Array<Record<string, unknown>>) : [];
  const id = Number(list[0]?.value ?? list[0]?.id ?? Number.NaN);
  const path = paths.get(id);
  return path === undefined || path === "" ? null : path;
}

function fromLink(link: LinkRow): Partial<Extension> {
  return {
    origin: "ad",
    guid: link.guid,
    dn: link.dn,
    upn: link.upn,
    sam: link.sam,
    numberSource: link.number_source === "attribute" || link.number_source === "sequential" ? link.number_source : null,
    enabled: true,
    disabledBySync: false,
  };
}
