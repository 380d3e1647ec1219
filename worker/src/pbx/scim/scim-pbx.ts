// A phone system that takes users over SCIM 2.0 (RFC 7643, RFC 7644) as a PBX target: each
// synced AD user is a SCIM User with externalId = objectGUID and userName = UPN, the extension
// number in the attribute the configuration names, and AD groups mirrored as SCIM Groups when
// the service has them. The link (vendor id, number, login names) is kept in the tenant's
// SQLite as for every vendor target; externalId lets a create that may have happened before a
// restart be found (filter=externalId eq "…") instead of being made twice. A user without a
// link was made in the service (by hand, or by another provisioning source) and is never
// changed, even if its externalId looks like ours.
import { matchesOf } from "../../../../engine/pbx/extension-matches.ts";
import { pagesOf } from "../../../../engine/pbx/extension-pages.ts";
import { noCapabilities, type PbxCapabilities } from "../../../../engine/pbx/pbx-capabilities.ts";
import {
  type ArchiveTarget,
  blankExtension,
  type CreateExtension,
  type Extension,
  type ExtensionField,
  type ExtensionMatches,
  type ExtensionQuery,
  type ExtensionState,
  type ExtensionUpdate,
  type PbxDirectory,
} from "../../../../engine/pbx/pbx-port.ts";
import type { PbxScim } from "../../../../schema/generated/config.ts";
import type { Sql } from "../../sql.ts";
import { vendorRequestsPerOperation } from "../vendor-http.ts";
import { linkedExtension, linkState, VendorLinks } from "../vendor-links.ts";
import type { ScimClient, ScimResource } from "./scim-client.ts";
import { ScimError } from "./scim-errors.ts";

const coreUser = "urn:ietf:params:scim:schemas:core:2.0:User";
const coreGroup = "urn:ietf:params:scim:schemas:core:2.0:Group";
const enterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const patchOp = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const defaultNumberAttribute = 'phoneNumbers[type eq "work"].value';

/** Which phone type (or the enterprise employeeNumber) carries the extension number. */
function numberPlace(settings: Pick<PbxScim, "numberAttribute">): { phoneType: string } | { employeeNumber: true } {
  const attribute = settings.numberAttribute ?? defaultNumberAttribute;
  const phone = /^phoneNumbers\[type eq "([a-z]+)"\]\.value$/.exec(attribute);
  return phone ? { phoneType: phone[1] as string } : { employeeNumber: true };
}

/**
 * What a SCIM service can hold: the core and enterprise user attributes, active for disable,
 * a number that is just an attribute (so it can change), groups when the service has them;
 * no departments as objects (the enterprise department is a field), no photos (SCIM's photos
 * are URLs), no templates and no voicemail to move.
 */
export function scimCapabilities(settings: Pick<PbxScim, "deleteUsers" | "groups" | "numberAttribute">): PbxCapabilities {
  const place = numberPlace(settings);
  const fields: ExtensionField[] = ["firstName", "lastName", "displayName", "email", "mobile", "jobTitle", "department"];
  // The work phone is the number's own place by default.
  if (!("phoneType" in place && place.phoneType === "work")) fields.push("workPhone");
  return {
    ...noCapabilities,
    disable: true,
    delete: settings.deleteUsers !== false,
    renumber: true,
    extensionGroups: settings.groups === true,
    fields,
  };
}

type Phone = { value?: unknown; type?: unknown; primary?: unknown };

export class ScimPbx implements PbxDirectory {
  readonly capabilities: PbxCapabilities;
  readonly concurrency: number;
  readonly requestsPerOperation = vendorRequestsPerOperation;
  readonly #links: VendorLinks;
  readonly #client: ScimClient;
  readonly #settings: PbxScim;
  readonly #place: { phoneType: string } | { employeeNumber: true };
  /** The users as the last listing had them, by id: updates send only what differs. */
  readonly #users = new Map<string, ScimResource>();
  /** Group ids by display name, and each group's member ids. */
  #groups: Map<string, { id: string; members: Set<string> }> | undefined;

  constructor(sql: Sql, client: ScimClient, settings: PbxScim) {
    this.#links = new VendorLinks(sql, `scim|${settings.baseUrl.replace(/\/+$/, "").toLowerCase()}`);
    this.#client = client;
    this.#settings = settings;
    this.#place = numberPlace(settings);
    this.capabilities = scimCapabilities(settings);
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
      this.#client.listAll("/Users", this.#settings.pageSize ?? 100),
      this.capabilities.extensionGroups ? this.#loadGroups() : Promise.resolve(new Map<string, { id: string; members: Set<string> }>()),
    ]);
    this.#users.clear();
    for (const u of users) this.#users.set(u.id, u);
    // A create the object did not hear back from: the service knows it by externalId.
    for (const link of this.#links.unsettled()) {
      const found = users.find((u) => u.externalId === link.guid);
      if (found === undefined) this.#links.forget(link.guid);
      else this.#links.setVendorId(link.guid, found.id);
    }
    const links = this.#links.linked();
    const extensions: Extension[] = [];
    for (const u of users) {
      const number = this.#numberOf(u);
      // A user without a number is not an extension of this PBX; sync never touches it.
      if (number === null) continue;
      const link = links.get(u.id);
      const fields = this.#fieldsOf(u);
      const memberOf = [...groups].filter(([, g]) => g.members.has(u.id)).map(([name]) => name);
      const extension = blankExtension(number, { ...fields, enabled: u.active !== false, groups: memberOf.sort() });
      extensions.push(link === undefined ? extension : { ...extension, ...linkedExtension(link) });
    }
    return extensions;
  }

  async listDepartments(): Promise<string[]> {
    return [];
  }

  async listExtensionGroups(): Promise<string[]> {
    if (!this.capabilities.extensionGroups) return [];
    return [...(await this.#loadGroups()).keys()];
  }

  async createDepartment(_path: string): Promise<void> {
    // Departments are the enterprise extension's department field here, not objects.
  }

  async createExtensionGroup(name: string): Promise<void> {
    if (!this.capabilities.extensionGroups) throw new ScimError("failure", "POST /Groups", "This SCIM target does not mirror groups");
    const groups = await this.#loadGroups();
    if (groups.has(name)) return;
    try {
      const answer = await this.#client.request("POST", "/Groups", { body: { schemas: [coreGroup], displayName: name, members: [] } });
      groups.set(name, { id: String(answer.body?.id), members: new Set() });
    } catch (error) {
      // Made meanwhile: read the groups again.
      if (!(error instanceof ScimError && error.kind === "conflict")) throw error;
      this.#groups = undefined;
      if (!(await this.#loadGroups()).has(name)) throw error;
    }
  }

  async createExtension(extension: CreateExtension): Promise<void> {
    const { guid } = extension;
    const existing = this.#links.byGuid(guid);
    if (existing !== undefined && existing.pending !== linkState.createSent) return; // created before
    if (existing !== undefined) {
      const found = await this.#byExternalId(guid);
      if (found !== undefined) {
        this.#links.setVendorId(guid, found.id);
        this.#users.set(found.id, found);
        return;
      }
    }
    this.#links.createSent(extension);
    let created: ScimResource;
    try {
      const answer = await this.#client.request("POST", "/Users", {
        body: this.#resource(extension.state, guid, extension.login, undefined),
      });
      created = answer.body as ScimResource;
    } catch (error) {
      // Refused: nothing was made. Without an answer it stays to be learned by externalId.
      if (error instanceof ScimError && error.kind !== "unavailable") this.#links.forget(guid);
      throw error;
    }
    this.#links.created(guid, String(created.id));
    this.#users.set(String(created.id), created);
    await this.#setGroups(String(created.id), [], extension.state.groups);
  }

  async adoptExtension(number: string, adopt: CreateExtension): Promise<void> {
    const found = [...this.#users.values()].find((u) => this.#numberOf(u) === number);
    if (found === undefined)
      throw new ScimError("not_found", "GET /Users", `No user with number ${number} in the SCIM service to take over`);
    this.#links.adopt(adopt, number, found.id);
    await this.updateExtension(number, { state: adopt.state, dn: adopt.dn, login: adopt.login, numberSource: adopt.numberSource });
  }

  async updateExtension(number: string, update: ExtensionUpdate): Promise<void> {
    const link = this.#links.byNumber(number);
    if (link?.vendorId == null)
      throw new ScimError("not_found", "PATCH /Users/{id}", `No synced user with number ${number} in the SCIM service`);
    const id = link.vendorId;
    const current = await this.#current(id);
    const state = { ...this.#stateOf(current, number), ...update.state } as ExtensionState;
    const login = { upn: update.login?.upn ?? link.upn, sam: update.login?.sam ?? link.sam };
    const wanted = this.#resource(state, link.guid, login, current);
    await this.#write(id, current, wanted);
    if (update.state.groups !== undefined && this.capabilities.extensionGroups) {
      const groups = await this.#loadGroups();
      const before = [...groups].filter(([, g]) => g.members.has(id)).map(([name]) => name);
      await this.#setGroups(id, before, update.state.groups);
    }
    this.#links.updated(link.guid, state.number, update);
  }

  async disableExtension(number: string): Promise<void> {
    await this.#setActive(number, false);
  }

  async enableExtension(number: string): Promise<void> {
    await this.#setActive(number, true);
  }

  async deleteExtension(number: string, _archive?: ArchiveTarget): Promise<void> {
    const link = this.#links.byNumber(number);
    if (link === undefined) return; // deleted before; a resumed run repeats it
    if (link.vendorId !== null) {
      try {
        await this.#client.request("DELETE", `/Users/${encodeURIComponent(link.vendorId)}`);
      } catch (error) {
        if (!(error instanceof ScimError && error.kind === "not_found")) throw error;
      }
      this.#users.delete(link.vendorId);
    }
    this.#links.forget(link.guid);
  }

  async #setActive(number: string, active: boolean): Promise<void> {
    const link = this.#links.byNumber(number);
    if (link?.vendorId == null)
      throw new ScimError("not_found", "PATCH /Users/{id}", `No synced user with number ${number} in the SCIM service`);
    const current = await this.#current(link.vendorId);
    if (current.active !== active) await this.#write(link.vendorId, current, { ...current, active });
    this.#links.setDisabledBySync(link.guid, !active);
  }

  /** Writes `wanted` over `current`: PATCH with the attributes that differ, or PUT of the whole user. */
  async #write(id: string, current: ScimResource, wanted: Record<string, unknown>): Promise<void> {
    const path = `/Users/${encodeURIComponent(id)}`;
    const etag =
      typeof (current.meta as Record<string, unknown> | undefined)?.version === "string"
        ? String((current.meta as Record<string, unknown>).version)
        : null;
    const send = async (base: ScimResource, ifMatch: string | null) => {
      if (this.#settings.updateMethod === "put") {
        const { meta: _meta, groups: _groups, ...rest } = { ...base, ...wanted } as Record<string, unknown>;
        return this.#client.request("PUT", path, { body: rest, ifMatch });
      }
      const operations = patchOperations(base, wanted);
      if (operations.length === 0) return null;
      return this.#client.request("PATCH", path, { body: { schemas: [patchOp], Operations: operations }, ifMatch });
    };
    let answer: Awaited<ReturnType<typeof send>>;
    try {
      answer = await send(current, etag);
    } catch (error) {
      // Changed in the service since it was read (RFC 7644 3.14): read it again, write once more.
      if (!(error instanceof ScimError && error.status === 412)) throw error;
      const fresh = await this.#fetch(id);
      answer = await send(
        fresh,
        typeof (fresh.meta as Record<string, unknown> | undefined)?.version === "string"
          ? String((fresh.meta as Record<string, unknown>).version)
          : null,
      );
    }
    // 200 answers the user as it is now; 204 says nothing, so what was asked for is what it holds.
    this.#users.set(
      id,
      answer?.body && typeof answer.body.id === "string" ? (answer.body as ScimResource) : ({ ...current, ...wanted, id } as ScimResource),
    );
  }

  async #current(id: string): Promise<ScimResource> {
    return this.#users.get(id) ?? (await this.#fetch(id));
  }

  async #fetch(id: string): Promise<ScimResource> {
    const answer = await this.#client.request("GET", `/Users/${encodeURIComponent(id)}`);
    const user = answer.body as ScimResource;
    this.#users.set(id, user);
    return user;
  }

  async #byExternalId(guid: string): Promise<ScimResource | undefined> {
    const answer = await this.#client.request("GET", "/Users", { query: { filter: `externalId eq "${guid}"` } });
    const found = Array.isArray(answer.body?.Resources) ? (answer.body.Resources as ScimResource[]) : [];
    return found.find((u) => u.externalId === guid);
  }

  async #loadGroups(): Promise<Map<string, { id: string; members: Set<string> }>> {
    if (this.#groups !== undefined) return this.#groups;
    const groups = await this.#client.listAll("/Groups", this.#settings.pageSize ?? 100);
    const byName = new Map<string, { id: string; members: Set<string> }>();
    for (const g of groups) {
      const members = Array.isArray(g.members) ? (g.members as Array<{ value?: unknown }>) : [];
      byName.set(String(g.displayName), { id: g.id, members: new Set(members.map((m) => String(m.value))) });
    }
    this.#groups = byName;
    return byName;
  }

  /** Membership is the group's (RFC 7643 4.2: a user's `groups` is read-only): PATCH each group that changes. */
  async #setGroups(userId: string, before: readonly string[], after: readonly string[]): Promise<void> {
    if (!this.capabilities.extensionGroups) return;
    const groups = await this.#loadGroups();
    const changes = [
      ...after.filter((g) => !before.includes(g)).map((name) => ({ name, add: true })),
      ...before.filter((g) => !after.includes(g)).map((name) => ({ name, add: false })),
    ];
    for (const { name, add } of changes) {
      const group = groups.get(name);
      if (group === undefined) throw new ScimError("not_found", "PATCH /Groups/{id}", `The SCIM service has no group ${name}`);
      const operation = add
        ? { op: "add", path: "members", value: [{ value: userId }] }
        : { op: "remove", path: `members[value eq "${userId}"]` };
      await this.#client.request("PATCH", `/Groups/${encodeURIComponent(group.id)}`, {
        body: { schemas: [patchOp], Operations: [operation] },
      });
      if (add) group.members.add(userId);
      else group.members.delete(userId);
    }
  }

  #numberOf(user: Record<string, unknown>): string | null {
    if ("employeeNumber" in this.#place) return text((user[enterprise] as Record<string, unknown> | undefined)?.employeeNumber);
    const type = this.#place.phoneType;
    return text(phones(user).find((p) => p.type === type)?.value);
  }

  #fieldsOf(user: Record<string, unknown>): Partial<Extension> {
    const name = (user.name ?? {}) as Record<string, unknown>;
    const emails = Array.isArray(user.emails) ? (user.emails as Phone[]) : [];
    const email = emails.find((e) => e.primary === true) ?? emails.find((e) => e.type === "work") ?? emails[0];
    const numberType = "phoneType" in this.#place ? this.#place.phoneType : null;
    return {
      firstName: text(name.givenName),
      lastName: text(name.familyName),
      displayName: text(user.displayName),
      email: text(email?.value),
      mobile: text(phones(user).find((p) => p.type === "mobile")?.value),
      workPhone: numberType === "work" ? null : text(phones(user).find((p) => p.type === "work")?.value),
      jobTitle: text(user.title),
      department: text((user[enterprise] as Record<string, unknown> | undefined)?.department),
    };
  }

  /** The managed part of an extension as the service holds it, for updates that change only some fields. */
  #stateOf(user: Record<string, unknown>, number: string): Partial<ExtensionState> {
    const f = this.#fieldsOf(user);
    return {
      number,
      firstName: f.firstName ?? null,
      lastName: f.lastName ?? null,
      displayName: f.displayName ?? null,
      email: f.email ?? null,
      mobile: f.mobile ?? null,
      workPhone: f.workPhone ?? null,
      jobTitle: f.jobTitle ?? null,
      department: f.department ?? null,
    };
  }

  /**
   * The user as sync wants it: the attributes sync manages set from `state`, everything else
   * (other phone numbers, other emails' types, attributes the service added) kept as it is.
   */
  #resource(
    state: ExtensionState,
    guid: string,
    login: { upn: string | null; sam: string | null },
    current: ScimResource | undefined,
  ): Record<string, unknown> {
    const numberType = "phoneType" in this.#place ? this.#place.phoneType : null;
    const owned = new Set([
      "mobile",
      ...(numberType === null ? [] : [numberType]),
      ...(this.capabilities.fields.includes("workPhone") ? ["work"] : []),
    ]);
    const phoneNumbers = [
      ...phones(current ?? {}).filter((p) => typeof p.type !== "string" || !owned.has(p.type)),
      ...(numberType === null ? [] : [{ value: state.number, type: numberType }]),
      ...(state.mobile ? [{ value: state.mobile, type: "mobile" }] : []),
      ...(this.capabilities.fields.includes("workPhone") && state.workPhone ? [{ value: state.workPhone, type: "work" }] : []),
    ];
    const currentEnterprise = (current?.[enterprise] ?? {}) as Record<string, unknown>;
    const enterpriseValue: Record<string, unknown> = { ...currentEnterprise };
    if (state.department) enterpriseValue.department = state.department;
    else delete enterpriseValue.department;
    if ("employeeNumber" in this.#place) enterpriseValue.employeeNumber = state.number;
    const resource: Record<string, unknown> = {
      schemas: [coreUser, enterprise],
      externalId: guid,
      userName: login.upn ?? login.sam ?? guid,
      name: { ...((current?.name ?? {}) as Record<string, unknown>), ...nameOf(state) },
      emails: state.email ? [{ value: state.email, type: "work", primary: true }] : [],
      phoneNumbers,
      active: current === undefined ? true : current.active !== false,
      [enterprise]: enterpriseValue,
    };
    if (state.displayName) resource.displayName = state.displayName;
    if (state.jobTitle) resource.title = state.jobTitle;
    if (current !== undefined) {
      // Cleared in AD: removed here too (a PATCH remove, or left out of a PUT).
      if (!state.displayName) resource.displayName = null;
      if (!state.jobTitle) resource.title = null;
    }
    return resource;
  }
}

function nameOf(state: ExtensionState): Record<string, unknown> {
  const name: Record<string, unknown> = {};
  name.givenName = state.firstName ?? null;
  name.familyName = state.lastName ?? null;
  return name;
}

function phones(user: Record<string, unknown>): Phone[] {
  return Array.isArray(user.phoneNumbers) ? (user.phoneNumbers as Phone[]) : [];
}

function text(value: unknown): string | null {
  return typeof value === "string" && value !== "" ? value : null;
}

/**
 * PATCH operations (RFC 7644 3.5.2) that turn `current` into `wanted`: sub-attribute paths for
 * name (a replace of `name` itself drops the parts not given on some services), whole values
 * for the multi-valued attributes, `remove` for what is gone.
 */
export function patchOperations(current: Record<string, unknown>, wanted: Record<string, unknown>): Array<Record<string, unknown>> {
  const ops: Array<Record<string, unknown>> = [];
  const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
  const set = (path: string, before: unknown, after: unknown) => {
    const empty = after === null || after === undefined || (Array.isArray(after) && after.length === 0);
    const wasEmpty = before === null || before === undefined || (Array.isArray(before) && before.length === 0);
    if (empty && wasEmpty) return;
    if (empty) ops.push({ op: "remove", path });
    else if (!same(before, after)) ops.push({ op: "replace", path, value: after });
  };
  for (const key of ["externalId", "userName", "displayName", "title", "active", "emails", "phoneNumbers"]) {
    if (key in wanted) set(key, current[key], wanted[key]);
  }
  const name = (wanted.name ?? {}) as Record<string, unknown>;
  const currentName = (current.name ?? {}) as Record<string, unknown>;
  for (const part of ["givenName", "familyName"]) if (part in name) set(`name.${part}`, currentName[part], name[part]);
  const ext = (wanted[enterprise] ?? {}) as Record<string, unknown>;
  const currentExt = (current[enterprise] ?? {}) as Record<string, unknown>;
  for (const part of ["department", "employeeNumber"]) set(`${enterprise}:${part}`, currentExt[part], ext[part]);
  return ops;
}
