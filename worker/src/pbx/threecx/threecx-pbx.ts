// 3CX V20 as a PBX target, through its Configuration API (XAPI). Each synced AD user is a 3CX
// user (extension) linked in the tenant's SQLite (vendor-links.ts), with its department as a
// 3CX Group (3CX's departments: one group per department path, made when missing) and the
// configured role in it. 3CX cannot change an extension's number (PATCH refuses Number), so a
// number change is what pbx.numberChange says: a conflict, or a delete and a create again.
// A create that may have happened before a restart is looked up by number before it is made
// again. A user without a link was made in 3CX's console and is never changed.
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
import type { Pbx3Cx } from "../../../../schema/generated/config.ts";
import type { Sql } from "../../sql.ts";
import { vendorRequestsPerOperation } from "../vendor-http.ts";
import { linkedExtension, linkState, VendorLinks } from "../vendor-links.ts";
import type { ODataEntity, ThreeCxClient } from "./threecx-client.ts";
import { ThreeCxError } from "./threecx-errors.ts";

/**
 * What the Configuration API can hold: Enabled for disable, Groups for departments (flat, by
 * name), a template user's settings copied into a new one. It has no office phone, title or
 * department field on a user, takes photos only as a file upload of its own, and has no way to
 * move a leaver's voicemail or recordings to another extension.
 */
export function threeCxCapabilities(settings: Pick<Pbx3Cx, "departments" | "numberChange">): PbxCapabilities {
  return {
    ...noCapabilities,
    disable: true,
    departments: settings.departments !== false,
    templates: true,
    numberChange: settings.numberChange ?? "conflict",
    fields: ["firstName", "lastName", "displayName", "email", "mobile"],
    // Phone fields take digits with one leading + (3CX refuses spaces and brackets); names and
    // e-mail addresses at most 255 characters (WARNINGS.LENGTH_NOT_MORE_255_CHARS).
    fieldRules: {
      firstName: { maxLength: 255 },
      lastName: { maxLength: 255 },
      displayName: { maxLength: 255 },
      mobile: { drop: "(?!^\\+)[^0-9]" },
    },
  };
}

/** The template user's settings a new user copies: those the Configuration API's user carries. */
const templateProperties = ["Language", "VMEnabled", "Require2FA"] as const;

const fieldNames = {
  firstName: "FirstName",
  lastName: "LastName",
  displayName: "DisplayName",
  email: "EmailAddress",
  mobile: "Mobile",
} as const;

const userSelect = "Id,Number,FirstName,LastName,DisplayName,EmailAddress,Mobile,Enabled";

export class ThreeCxPbx implements PbxDirectory {
  readonly capabilities: PbxCapabilities;
  readonly concurrency: number;
  readonly requestsPerOperation = vendorRequestsPerOperation;
  readonly #links: VendorLinks;
  readonly #client: ThreeCxClient;
  readonly #settings: Pbx3Cx;
  /** Users as the last listing had them, by number: updates send only what differs. */
  readonly #users = new Map<string, ODataEntity>();
  /** Group ids by name, and the default group's id. */
  #groups: { byName: Map<string, number>; defaultId: number | undefined } | undefined;

  constructor(sql: Sql, client: ThreeCxClient, settings: Pbx3Cx) {
    this.#links = new VendorLinks(sql, `3cx|${settings.baseUrl.replace(/\/+$/, "").toLowerCase()}`);
    this.#client = client;
    this.#settings = settings;
    this.capabilities = threeCxCapabilities(settings);
    this.concurrency = settings.concurrency ?? 4;
  }

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
    const [users, groups] = await Promise.all([
      this.#client.listAll("Users", { $select: userSelect, $expand: "Groups($select=GroupId,Name)" }),
      this.#loadGroups(),
    ]);
    this.#users.clear();
    for (const u of users) this.#users.set(String(u.Number), u);
    // A create the object did not hear back from: if 3CX has the number and no link claims it, it is ours.
    const claimed = new Set(this.#links.linked().keys());
    for (const link of this.#links.unsettled()) {
      const found = this.#users.get(link.number);
      if (found === undefined) this.#links.forget(link.guid);
      else if (!claimed.has(String(found.Id))) this.#links.setVendorId(link.guid, String(found.Id));
    }
    const links = this.#links.linked();
    return users.map((u) => {
      const link = links.get(String(u.Id));
      const extension = blankExtension(String(u.Number), {
        firstName: text(u.FirstName),
        lastName: text(u.LastName),
        displayName: text(u.DisplayName),
        email: text(u.EmailAddress),
        mobile: text(u.Mobile),
        enabled: u.Enabled !== false,
        departmentPath: this.capabilities.departments ? this.#departmentOf(u, groups.defaultId) : null,
      });
      return link === undefined ? extension : { ...extension, ...linkedExtension(link) };
    });
  }

  async listDepartments(): Promise<string[]> {
    if (!this.capabilities.departments) return [];
    const groups = await this.#loadGroups();
    return [...groups.byName].filter(([, id]) => id !== groups.defaultId).map(([name]) => name);
  }

  async listExtensionGroups(): Promise<string[]> {
    return [];
  }

  /** A department is a 3CX Group named by its path ("Staff > Sales"): made when missing. */
  async createDepartment(path: string): Promise<void> {
    if (!this.capabilities.departments) return;
    const groups = await this.#loadGroups();
    if (groups.byName.has(path)) return;
    try {
      const made = await this.#client.request("POST", "Groups", { body: { Name: path } });
      groups.byName.set(path, Number(made?.Id));
    } catch (error) {
      // Made meanwhile (in the console, or by a run that did not get to remember it): read again.
      if (!(error instanceof ThreeCxError && error.kind === "conflict")) throw error;
      this.#groups = undefined;
      if (!(await this.#loadGroups()).byName.has(path)) throw error;
    }
  }

  async createExtensionGroup(_name: string): Promise<void> {
    throw new ThreeCxError("failure", "POST /Groups", "This PBX target does not mirror extension groups: 3CX's groups are its departments");
  }

  async createExtension(extension: CreateExtension): Promise<void> {
    const { state, guid } = extension;
    const existing = this.#links.byGuid(guid);
    if (existing !== undefined && existing.pending !== linkState.createSent) return; // created before
    if (existing !== undefined) {
      const found = await this.#byNumber(state.number);
      if (found !== undefined) return this.#links.setVendorId(guid, String(found.Id));
    }
    const template = extension.template === undefined ? {} : await this.#templateSettings(extension.template);
    this.#links.createSent(extension);
    let made: Record<string, unknown> | null;
    try {
      made = await this.#client.request("POST", "Users", {
        body: {
          Number: state.number,
          ...this.#fields(state, true),
          ...template,
          Groups: [await this.#membership(state.departmentPath)],
        },
      });
    } catch (error) {
      // Refused: nothing was made. Without an answer it is looked up by number later.
      if (error instanceof ThreeCxError && error.kind !== "unavailable") this.#links.forget(guid);
      throw error;
    }
    this.#links.created(guid, typeof made?.Id === "number" ? String(made.Id) : null);
    if (made !== null) this.#users.set(state.number, made as ODataEntity);
  }

  async adoptExtension(number: string, adopt: CreateExtension): Promise<void> {
    const found = this.#users.get(number) ?? (await this.#byNumber(number));
    if (found === undefined) throw new ThreeCxError("not_found", "GET /Users", `No extension ${number} on this 3CX to take over`);
    this.#links.adopt(adopt, number, String(found.Id));
    await this.updateExtension(number, { state: adopt.state, dn: adopt.dn, login: adopt.login, numberSource: adopt.numberSource });
  }

  async updateExtension(number: string, update: ExtensionUpdate): Promise<void> {
    const link = this.#links.byNumber(number);
    const current = link === undefined ? undefined : (this.#users.get(number) ?? (await this.#byNumber(number)));
    if (link === undefined || current === undefined)
      throw new ThreeCxError("not_found", "PATCH /Users({Id})", `No synced extension ${number} on this 3CX`);
    if (link.vendorId === null) this.#links.setVendorId(link.guid, String(current.Id));
    // No Number: 3CX refuses to change one (the planner never asks it to).
    const body: Record<string, unknown> = {};
    for (const [ours, theirs] of Object.entries(this.#fields(update.state, false)))
      if ((current[ours] ?? "") !== (theirs ?? "")) body[ours] = theirs;
    if (update.state.departmentPath !== undefined && this.capabilities.departments) {
      const groups = await this.#loadGroups();
      if (this.#departmentOf(current, groups.defaultId) !== update.state.departmentPath)
        // A collection in a PATCH replaces the whole collection: the user moves department.
        body.Groups = [await this.#membership(update.state.departmentPath)];
    }
    if (Object.keys(body).length > 0) await this.#client.request("PATCH", `Users(${current.Id})`, { body });
    this.#users.set(number, { ...current, ...body });
    this.#links.updated(link.guid, number, update);
  }

  async disableExtension(number: string): Promise<void> {
    await this.#setEnabled(number, false);
  }

  async enableExtension(number: string): Promise<void> {
    await this.#setEnabled(number, true);
  }

  async deleteExtension(number: string, _archive?: ArchiveTarget): Promise<void> {
    const link = this.#links.byNumber(number);
    if (link === undefined) return; // deleted before; a resumed run repeats it
    const id = link.vendorId ?? (await this.#byNumber(number))?.Id;
    if (id !== undefined) {
      try {
        await this.#client.request("DELETE", `Users(${id})`);
      } catch (error) {
        if (!(error instanceof ThreeCxError && error.kind === "not_found")) throw error;
      }
    }
    this.#users.delete(number);
    this.#links.forget(link.guid);
  }

  async #setEnabled(number: string, enabled: boolean): Promise<void> {
    const link = this.#links.byNumber(number);
    const current = link === undefined ? undefined : (this.#users.get(number) ?? (await this.#byNumber(number)));
    if (link === undefined || current === undefined)
      throw new ThreeCxError("not_found", "PATCH /Users({Id})", `No synced extension ${number} on this 3CX`);
    if (current.Enabled !== enabled) await this.#client.request("PATCH", `Users(${current.Id})`, { body: { Enabled: enabled } });
    this.#users.set(number, { ...current, Enabled: enabled });
    this.#links.setDisabledBySync(link.guid, !enabled);
  }

  async #byNumber(number: string): Promise<ODataEntity | undefined> {
    try {
      // The alternate key is an OData string literal; a quote in it is doubled.
      const found = await this.#client.request("GET", `Users(Number='${number.replace(/'/g, "''")}')`, {
        query: { $select: userSelect, $expand: "Groups($select=GroupId,Name)" },
      });
      return found === null ? undefined : (found as ODataEntity);
    } catch (error) {
      if (error instanceof ThreeCxError && error.kind === "not_found") return undefined;
      throw error;
    }
  }

  async #templateSettings(number: string): Promise<Record<string, unknown>> {
    const template = await this.#client
      .request("GET", `Users(Number='${number.replace(/'/g, "''")}')`, { query: { $select: templateProperties.join(",") } })
      .catch((error: unknown) => {
        if (error instanceof ThreeCxError && error.kind === "not_found")
          throw new ThreeCxError("not_found", "GET /Users", `The template extension ${number} does not exist on this 3CX`);
        throw error;
      });
    return Object.fromEntries(templateProperties.filter((p) => template?.[p] !== undefined).map((p) => [p, template?.[p]]));
  }

  async #loadGroups(): Promise<{ byName: Map<string, number>; defaultId: number | undefined }> {
    if (this.#groups !== undefined) return this.#groups;
    const groups = await this.#client.listAll("Groups", { $select: "Id,Name,IsDefault" });
    const byName = new Map(groups.map((g) => [String(g.Name), g.Id]));
    this.#groups = { byName, defaultId: groups.find((g) => g.IsDefault === true)?.Id };
    return this.#groups;
  }

  /** The user's place in its department's group (the default group without one), with the configured role. */
  async #membership(path: string | null | undefined): Promise<Record<string, unknown>> {
    const groups = await this.#loadGroups();
    const id = this.capabilities.departments && path ? groups.byName.get(path) : groups.defaultId;
    if (id === undefined) throw new ThreeCxError("not_found", "GET /Groups", `3CX has no group ${path ?? "DEFAULT"}`);
    return { GroupId: id, Rights: { RoleName: this.#settings.role ?? "users" } };
  }

  #departmentOf(user: Record<string, unknown>, defaultId: number | undefined): string | null {
    const groups = Array.isArray(user.Groups) ? (user.Groups as Array<{ GroupId?: unknown; Name?: unknown }>) : [];
    const group = groups.find((g) => g.GroupId !== defaultId);
    return group === undefined ? null : text(group.Name);
  }

  /** The fields of `state` in 3CX's names; a create leaves empty ones out. */
  #fields(state: Partial<ExtensionState>, creating: boolean): Record<string, unknown> {
    const body: Record<string, unknown> = {};
    for (const [ours, theirs] of Object.entries(fieldNames)) {
      const value = state[ours as keyof typeof fieldNames];
      if (value === undefined || (creating && (value === null || value === ""))) continue;
      body[theirs] = value ?? "";
    }
    return body;
  }
}

function text(value: unknown): string | null {
  return typeof value === "string" && value !== "" ? value : null;
}
