// The Yeastar P-Series as a PBX target. Yeastar does not store our objectGUID, so the link
// between an AD user and a Yeastar extension (Yeastar's id, the number, the login names) is
// kept in the tenant's SQLite; everything else is read from the PBX at every run, so edits
// made in Yeastar's console are seen. An extension without a link was made by hand and is
// never changed.
//
// Idempotency across a restart (vendor-links.ts): a run that resumes after the Durable Object
// restarted looks the number up before creating it again. extension/create answers no id, and
// a search per create would double the calls of a first sync: the link keeps the number, and
// the next listing (every run starts with one) or the next write to it learns the id.
import { matchesOf } from "../../../../engine/pbx/extension-matches.ts";
import { pagesOf } from "../../../../engine/pbx/extension-pages.ts";
import { noCapabilities, type PbxCapabilities } from "../../../../engine/pbx/pbx-capabilities.ts";
import {
  type ArchiveTarget,
  blankExtension,
  type CreateExtension,
  type Extension,
  type ExtensionMatches,
  type ExtensionQuery,
  type ExtensionState,
  type ExtensionUpdate,
  type PbxDirectory,
} from "../../../../engine/pbx/pbx-port.ts";
import type { PbxYeastar } from "../../../../schema/generated/config.ts";
import type { Sql } from "../../sql.ts";
import { vendorRequestsPerOperation } from "../vendor-http.ts";
import { linkedExtension, linkState, type VendorLink, VendorLinks } from "../vendor-links.ts";
import type { YeastarClient } from "./yeastar-client.ts";
import { YeastarError } from "./yeastar-errors.ts";
import { yeastarPassword } from "./yeastar-password.ts";

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
    // extension/create's limits (add-an-extension.html): a mobile number takes digits,
    // letters and ( ) . - + * # only, so AD's "+44 7700 900123" is written without spaces.
    fieldRules: {
      firstName: { maxLength: 63 },
      lastName: { maxLength: 63 },
      mobile: { drop: "[^0-9A-Za-z().\\-+*#]", maxLength: 31 },
      jobTitle: { maxLength: 255 },
    },
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

type VendorExtension = Record<string, unknown> & { id: number; number: string };

/** The root organization every tree hangs from (organization/list: id 1). */
const rootOrganization = 1;
const pathSeparator = " > ";

export class YeastarPbx implements PbxDirectory {
  readonly capabilities: PbxCapabilities;
  /** pbx.concurrency: the client keeps at most this many calls in flight as well. */
  readonly concurrency: number;
  readonly requestsPerOperation = vendorRequestsPerOperation;
  readonly #links: VendorLinks;
  readonly #client: YeastarClient;
  readonly #settings: PbxYeastar;
  #organizations: Map<string, number> | undefined;
  /** Each extension's organizations as the last listing had them, for updates that keep them. */
  readonly #organizationsOf = new Map<number, Array<{ value: string }>>();

  constructor(sql: Sql, client: YeastarClient, settings: PbxYeastar) {
    // Links made with another baseUrl are another PBX's.
    this.#links = new VendorLinks(sql, `yeastar|${settings.baseUrl.replace(/\/+$/, "").toLowerCase()}`);
    this.#client = client;
    this.#settings = settings;
    this.capabilities = yeastarCapabilities(settings);
    this.concurrency = settings.concurrency ?? 4;
  }

  /** Synced extensions by login name, for domain login; from the links, without asking the PBX. */
  findByLogin(name: { upn?: string; sam?: string }): Extension[] {
    return this.#links.extensionsByLogin(name);
  }

  /** From the links: a listing of the PBX is what the plan needs, not this lookup. */
  async syncedGuids(): Promise<string[]> {
    return this.#links.syncedGuids();
  }

  listExtensionPages(size: number): AsyncIterable<Extension[]> {
    return pagesOf(this.listExtensions(), size);
  }

  async findExtensions(query: ExtensionQuery): Promise<ExtensionMatches> {
    return matchesOf(await this.listExtensions(), query);
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
    const links = this.#links.linked();
    return (basic as VendorExtension[]).map((summary) => {
      const v = { ...summary, ...details.get(Number(summary.id)) };
      const link = links.get(String(v.id));
      const extension = blankExtension(String(v.number), {
        firstName: text(v.first_name),
        lastName: text(v.last_name),
        displayName: text(summary.caller_id_name),
        email: text(v.email_addr),
        mobile: text(v.mobile_number),
        jobTitle: text(v.title),
        departmentPath: this.capabilities.departments ? departmentOf(v, paths) : null,
      });
      // Yeastar has no disabled extensions: a synced one is always enabled.
      return link === undefined ? extension : { ...extension, ...linkedExtension(link), enabled: true, disabledBySync: false };
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
    const existing = this.#links.byGuid(guid);
    // Created before; a resumed run repeats it.
    if (existing !== undefined && existing.pending !== linkState.createSent) return;
    if (existing !== undefined) {
      // Created, or not, before the object restarted: Yeastar holds the answer.
      const found = await this.#findByNumber(state.number);
      if (found !== undefined) return this.#links.setVendorId(guid, String(found.id));
    }
    this.#links.createSent(extension);
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
      if (error instanceof YeastarError && error.kind !== "unavailable") this.#links.forget(guid);
      throw error;
    }
    this.#links.created(guid, typeof answer.id === "number" ? String(answer.id) : null);
  }

  /** Links the hand-made extension `number` to the AD user (pbx.adopt), then writes its fields. */
  async adoptExtension(number: string, adopt: CreateExtension): Promise<void> {
    const found = await this.#findByNumber(number);
    if (found === undefined) throw new YeastarError("not_found", "extension/search", `No extension ${number} on this PBX to take over`);
    this.#links.adopt(adopt, number, String(found.id));
    await this.updateExtension(number, { state: adopt.state, dn: adopt.dn, login: adopt.login, numberSource: adopt.numberSource });
  }

  async updateExtension(number: string, update: ExtensionUpdate): Promise<void> {
    const link = this.#links.byNumber(number);
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
    this.#links.updated(link.guid, number, update);
  }

  async disableExtension(number: string): Promise<void> {
    throw new YeastarError("failure", "extension/update", `Yeastar's Open API cannot disable an extension (${number}); delete or keep it`);
  }

  async enableExtension(_number: string): Promise<void> {
    // Never disabled by this target, so always enabled.
  }

  async deleteExtension(number: string, _archive?: ArchiveTarget): Promise<void> {
    const link = this.#links.byNumber(number);
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
    this.#links.forget(link.guid);
  }

  /**
   * Links whose create left the id unknown (no id in the answer, or no answer at all). If
   * Yeastar now has an extension with that number, and no other link claims it, it is the one
   * that create made: the number was free when it was planned, and nobody else writes there.
   * If it has none, the create did not happen or the extension was deleted since: the link goes,
   * and the user's extension is planned as a create again.
   */
  #settlePending(vendor: VendorExtension[]): void {
    const pending = this.#links.unsettled();
    if (pending.length === 0) return;
    const claimed = new Set(this.#links.linked().keys());
    const byNumber = new Map(vendor.map((v) => [String(v.number), String(v.id)]));
    for (const link of pending) {
      const id = byNumber.get(link.number);
      if (id === undefined) this.#links.forget(link.guid);
      else if (!claimed.has(id)) this.#links.setVendorId(link.guid, id);
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
  async #vendorId(link: VendorLink): Promise<number | undefined> {
    if (link.vendorId !== null) return Number(link.vendorId);
    const found = await this.#findByNumber(link.number);
    if (found === undefined) return undefined;
    this.#links.setVendorId(link.guid, String(found.id));
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
