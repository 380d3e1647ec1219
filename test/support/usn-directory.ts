// A domain controller's directory in memory for tests of incremental reads: the agent's LDIF
// directory answers the searches (AD's filter rules, memberOf computed from member), and this
// keeps what a DC keeps besides: an update sequence number that every change takes, stamped
// on the changed entry's uSNChanged, and the DC's identity. As on a DC, changing a group's
// members changes the group, not the members; a deleted user leaves a tombstone under
// CN=Deleted Objects that only the Show Deleted control finds, and only when the account may
// list them (`listsDeleted`, off as for AD's default service account).

import { LdifDirectory } from "../../agent/src/ldif/ldif-directory.ts";
import type { LdifEntry } from "../../agent/src/ldif/parse-ldif.ts";
import type { SearchStream } from "../../engine/read-directory.ts";
import type { DirectoryPosition, SearchCompleteness, SearchSpec } from "../../schema/src/agent-protocol.ts";

export const USN_BASE = "DC=example,DC=com";
const DELETED = `CN=Deleted Objects,${USN_BASE}`;

export class UsnDirectory {
  usn = 5000;
  server = "dc1.example.com:636";
  dsServiceName = `CN=NTDS Settings,CN=DC1,CN=Servers,CN=Default-First-Site-Name,CN=Sites,CN=Configuration,${USN_BASE}`;
  invocationId = "0a".repeat(16);
  /** Every search asked, in order. */
  readonly asked: SearchSpec[] = [];
  /** Whether the service account may list tombstones (List Contents on CN=Deleted Objects). */
  listsDeleted = false;
  /** Makes searches whose filter contains the text answer incomplete, or fail. */
  fault: { filter: string; kind: "incomplete" | "throw" } | undefined;
  readonly #entries = new Map<string, LdifEntry>();
  readonly #tombstones: LdifEntry[] = [];
  #next = 1;

  constructor(entries: Array<{ dn: string; attributes: Record<string, string[]> }> = []) {
    for (const e of entries) this.add(e.dn, e.attributes);
  }

  position(): DirectoryPosition {
    return {
      server: this.server,
      dsServiceName: this.dsServiceName,
      invocationId: this.invocationId,
      highestCommittedUsn: String(this.usn),
    };
  }

  #stamp(entry: LdifEntry): void {
    this.usn++;
    entry.attributes.uSNChanged = [String(this.usn)];
  }

  /** Adds an entry; users get a new objectGUID, as AD gives one. */
  add(dn: string, attributes: Record<string, string[]>): string {
    const guid = Buffer.alloc(16);
    guid.writeUInt32BE(this.#next++, 12);
    const entry: LdifEntry = { dn, attributes: { ...attributes, objectGUID: [guid] } };
    this.#stamp(entry);
    this.#entries.set(dn.toLowerCase(), entry);
    return dn;
  }

  #get(dn: string): LdifEntry {
    const entry = this.#entries.get(dn.toLowerCase());
    if (!entry) throw new Error(`no entry ${dn}`);
    return entry;
  }

  modify(dn: string, attributes: Record<string, string[] | undefined>): void {
    const entry = this.#get(dn);
    for (const [name, values] of Object.entries(attributes)) {
      if (values === undefined) delete entry.attributes[name];
      else entry.attributes[name] = values;
    }
    this.#stamp(entry);
  }

  /** A rename or move: the same object (objectGUID) at a new DN; groups' member values follow. */
  move(dn: string, newDn: string): string {
    const entry = this.#get(dn);
    this.#entries.delete(dn.toLowerCase());
    entry.dn = newDn;
    this.#stamp(entry);
    this.#entries.set(newDn.toLowerCase(), entry);
    for (const other of this.#entries.values()) {
      const members = other.attributes.member;
      if (members?.some((m) => String(m).toLowerCase() === dn.toLowerCase()))
        other.attributes.member = members.map((m) => (String(m).toLowerCase() === dn.toLowerCase() ? newDn : m));
    }
    return newDn;
  }

  /** Renames or moves an OU: every entry under it gets a new DN, and only the OU a new USN, as on a DC. */
  moveOu(dn: string, newDn: string): void {
    const suffix = `,${dn}`.toLowerCase();
    for (const entry of [...this.#entries.values()]) {
      const lower = entry.dn.toLowerCase();
      if (lower !== dn.toLowerCase() && !lower.endsWith(suffix)) continue;
      this.#entries.delete(lower);
      const moved = lower === dn.toLowerCase() ? newDn : `${entry.dn.slice(0, entry.dn.length - suffix.length)},${newDn}`;
      for (const other of this.#entries.values())
        if (other.attributes.member)
          other.attributes.member = other.attributes.member.map((m) => (String(m).toLowerCase() === lower ? moved : m));
      entry.dn = moved;
      if (lower === dn.toLowerCase()) this.#stamp(entry);
      this.#entries.set(moved.toLowerCase(), entry);
    }
  }

  remove(dn: string): void {
    const entry = this.#get(dn);
    this.#entries.delete(dn.toLowerCase());
    // A tombstone keeps the objectGUID and objectClass, and little else (MS-ADTS 3.1.1.5.5.1.1).
    const cn = String(entry.attributes.cn?.[0] ?? "x");
    const tombstone: LdifEntry = {
      dn: `CN=${cn}\\0ADEL:${this.#tombstones.length},${DELETED}`,
      attributes: { objectClass: entry.attributes.objectClass ?? [], objectGUID: entry.attributes.objectGUID ?? [], isDeleted: ["TRUE"] },
    };
    this.#stamp(tombstone);
    this.#tombstones.push(tombstone);
    for (const other of this.#entries.values()) {
      const members = other.attributes.member;
      if (members?.some((m) => String(m).toLowerCase() === dn.toLowerCase())) {
        other.attributes.member = members.filter((m) => String(m).toLowerCase() !== dn.toLowerCase());
        this.#stamp(other);
      }
    }
  }

  /** Adds or removes a member: the group's uSNChanged moves, the member's does not. */
  membership(groupDn: string, memberDn: string, member: boolean): void {
    const group = this.#get(groupDn);
    const now = (group.attributes.member ?? []).filter((m) => String(m).toLowerCase() !== memberDn.toLowerCase());
    group.attributes.member = member ? [...now, memberDn] : now;
    this.#stamp(group);
  }

  guidOf(dn: string): string {
    const bytes = this.#get(dn).attributes.objectGUID?.[0] as Buffer;
    const h = (i: number) => (bytes[i] as number).toString(16).padStart(2, "0");
    const run = (...ix: number[]) => ix.map(h).join("");
    return `${run(3, 2, 1, 0)}-${run(5, 4)}-${run(7, 6)}-${run(8, 9)}-${run(10, 11, 12, 13, 14, 15)}`;
  }

  readonly search: SearchStream = async (spec, page) => {
    this.asked.push(spec);
    if (this.fault && spec.filter.includes(this.fault.filter) && this.fault.kind === "throw")
      throw new Error("the connection to the domain controller was lost");
    const position = this.position();
    const live = [...this.#entries.values()];
    // Without the control, deleted objects are not there at all; with it, the container is,
    // and the tombstones are for an account that may list them.
    const deleted: LdifEntry[] =
      spec.showDeleted === true
        ? [
            { dn: DELETED, attributes: { objectClass: ["top", "container"], isDeleted: ["TRUE"] } },
            ...(this.listsDeleted ? this.#tombstones : []),
          ]
        : [];
    const directory = new LdifDirectory([...live, ...deleted].map((e) => ({ dn: e.dn, attributes: { ...e.attributes } })));
    const pages = directory.search({ ...spec });
    let result: SearchCompleteness | undefined;
    for (let step = await pages.next(); ; step = await pages.next()) {
      if (step.done) {
        result = step.value;
        break;
      }
      await page(step.value);
    }
    if (this.fault && spec.filter.includes(this.fault.filter))
      return { ...result, complete: false, reason: "the time limit was reached", position };
    return spec.position === true ? { ...result, position } : result;
  };
}
