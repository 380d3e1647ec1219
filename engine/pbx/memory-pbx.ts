// A PBX directory held in memory: for planner tests and offline previews. The built-in PBX
// of a tenant keeps the same model in its Durable Object's SQLite.
import { matchesOf } from "./extension-matches.ts";
import { pagesOf } from "./extension-pages.ts";
import { fullCapabilities } from "./pbx-capabilities.ts";
import type {
  ArchiveTarget,
  CreateExtension,
  Extension,
  ExtensionMatches,
  ExtensionQuery,
  ExtensionUpdate,
  PbxDirectory,
} from "./pbx-port.ts";

export class MemoryPbx implements PbxDirectory {
  readonly capabilities = fullCapabilities;
  // Writes are synchronous SQLite (or memory): nothing to gain from overlapping them.
  readonly concurrency = 1;
  readonly requestsPerOperation = 0;
  readonly extensions = new Map<string, Extension>();
  readonly departments = new Set<string>();
  readonly groups = new Set<string>();
  readonly archived: Array<{ from: string; to: string; voicemail: boolean; recordings: boolean }> = [];

  constructor(extensions: Extension[] = [], groups: string[] = [], departments: string[] = []) {
    for (const e of extensions) this.extensions.set(e.number, structuredClone(e));
    for (const g of groups) this.groups.add(g);
    for (const d of departments) this.departments.add(d);
  }

  async syncedGuids(): Promise<string[]> {
    return (await this.listExtensions()).flatMap((e) => (e.origin === "ad" && e.guid !== null ? [e.guid] : []));
  }

  listExtensionPages(size: number): AsyncIterable<Extension[]> {
    return pagesOf(this.listExtensions(), size);
  }

  async findExtensions(query: ExtensionQuery): Promise<ExtensionMatches> {
    return matchesOf(await this.listExtensions(), query);
  }

  async listExtensions(): Promise<Extension[]> {
    return [...this.extensions.values()].map((e) => structuredClone(e));
  }
  async listDepartments(): Promise<string[]> {
    return [...this.departments];
  }
  async listExtensionGroups(): Promise<string[]> {
    return [...this.groups];
  }
  async createDepartment(path: string): Promise<void> {
    this.departments.add(path);
  }
  async createExtensionGroup(name: string): Promise<void> {
    this.groups.add(name);
  }
  async createExtension(create: CreateExtension): Promise<void> {
    const existing = this.extensions.get(create.state.number);
    if (existing?.guid === create.guid) return;
    if (existing) throw new Error(`extension ${create.state.number} exists already`);
    this.extensions.set(create.state.number, {
      ...structuredClone(create.state),
      origin: "ad",
      guid: create.guid,
      dn: create.dn,
      enabled: true,
      disabledBySync: false,
      numberSource: create.numberSource,
      ...create.login,
    });
  }
  async adoptExtension(number: string, create: CreateExtension): Promise<void> {
    const current = this.extensions.get(number);
    if (!current) throw new Error(`no extension ${number}`);
    if (current.origin === "ad" && current.guid !== create.guid) throw new Error(`extension ${number} is another user's`);
    this.extensions.set(number, {
      ...current,
      ...structuredClone(create.state),
      number,
      origin: "ad",
      guid: create.guid,
      dn: create.dn,
      numberSource: create.numberSource,
      ...create.login,
    });
  }
  async updateExtension(number: string, update: ExtensionUpdate): Promise<void> {
    const target = update.state.number ?? number;
    const current = this.extensions.get(number) ?? this.extensions.get(target);
    if (!current) throw new Error(`no extension ${number}`);
    if (target !== current.number && this.extensions.has(target)) throw new Error(`extension ${target} exists already`);
    this.extensions.delete(current.number);
    this.extensions.set(target, {
      ...current,
      ...structuredClone(update.state),
      number: target,
      ...(update.dn !== undefined ? { dn: update.dn } : {}),
      ...(update.numberSource !== undefined ? { numberSource: update.numberSource } : {}),
      ...update.login,
    });
  }
  async disableExtension(number: string): Promise<void> {
    const e = this.extensions.get(number);
    if (e?.enabled) Object.assign(e, { enabled: false, disabledBySync: true });
  }
  async enableExtension(number: string): Promise<void> {
    const e = this.extensions.get(number);
    if (e) Object.assign(e, { enabled: true, disabledBySync: false });
  }
  async deleteExtension(number: string, archive?: ArchiveTarget): Promise<void> {
    if (!this.extensions.has(number)) return;
    if (archive) this.archived.push({ from: number, to: archive.extension, voicemail: archive.voicemail, recordings: archive.recordings });
    this.extensions.delete(number);
  }
}
