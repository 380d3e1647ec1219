// The tenant's record of which vendor object each synced AD user became. A vendor PBX does not
// store our objectGUID (or, for SCIM, stores it where anyone may write it), so the link (the
// vendor's id, the number, the names the user logs in with) lives in the tenant's SQLite, one
// row per target and user. An object without a link was made by hand and is never changed.
//
// A create goes through states so that a Durable Object that restarts mid-apply neither
// duplicates nor loses an extension: the link is written before the call (`createSent`), and
// after it either holds the vendor's id (`linked`) or, for a vendor whose answer carries no
// id, says the create happened (`createdIdUnknown`) until a listing or a lookup learns the id.
import { blankExtension, type CreateExtension, type Extension, type ExtensionUpdate } from "../../../engine/pbx/pbx-port.ts";
import type { Sql } from "../sql.ts";

export const vendorLinksSchema = `
  CREATE TABLE IF NOT EXISTS pbx_links (
    target TEXT NOT NULL, guid TEXT NOT NULL, vendor_id TEXT, number TEXT NOT NULL, dn TEXT, upn TEXT, sam TEXT,
    number_source TEXT, pending INTEGER NOT NULL DEFAULT 0, disabled_by_sync INTEGER NOT NULL DEFAULT 0,
    updated_at INTEGER NOT NULL, PRIMARY KEY (target, guid));
  CREATE INDEX IF NOT EXISTS pbx_links_vendor ON pbx_links (target, vendor_id);
  CREATE INDEX IF NOT EXISTS pbx_links_number ON pbx_links (target, number);
`;

/** pbx_links.pending. */
export const linkState = {
  linked: 0,
  /** The create was sent and its answer never came: it may or may not have happened. */
  createSent: 1,
  /** The vendor said the object was created; its id is still to be learned. */
  createdIdUnknown: 2,
} as const;

export interface VendorLink {
  guid: string;
  vendorId: string | null;
  number: string;
  dn: string | null;
  upn: string | null;
  sam: string | null;
  numberSource: "attribute" | "sequential" | null;
  pending: number;
  /** Deactivated by deprovisioning, so a user back in scope is enabled again (an administrator's deactivation stays). */
  disabledBySync: boolean;
}

type LinkRow = {
  guid: string;
  vendor_id: string | null;
  number: string;
  dn: string | null;
  upn: string | null;
  sam: string | null;
  number_source: string | null;
  pending: number;
  disabled_by_sync: number;
};

const toLink = (row: LinkRow): VendorLink => ({
  guid: row.guid,
  vendorId: row.vendor_id,
  number: row.number,
  dn: row.dn,
  upn: row.upn,
  sam: row.sam,
  numberSource: row.number_source === "attribute" || row.number_source === "sequential" ? row.number_source : null,
  pending: row.pending,
  disabledBySync: row.disabled_by_sync === 1,
});

export class VendorLinks {
  readonly #sql: Sql;
  readonly #target: string;

  /** `target` names the vendor object store, e.g. "yeastar|https://acme.ras.yeastar.com": links of another are not ours. */
  constructor(sql: Sql, target: string) {
    this.#sql = sql;
    this.#target = target;
    sql.exec(vendorLinksSchema);
  }

  /** Links that name a vendor object, by its id. */
  linked(): Map<string, VendorLink> {
    return new Map(
      this.#rows("SELECT * FROM pbx_links WHERE target = ? AND pending = ? AND vendor_id IS NOT NULL", linkState.linked).map((l) => [
        l.vendorId as string,
        l,
      ]),
    );
  }

  /** The users with an extension on the target, as far as the links know. */
  syncedGuids(): string[] {
    return this.#rows("SELECT * FROM pbx_links WHERE target = ? AND pending IN (?, ?)", linkState.linked, linkState.createdIdUnknown).map(
      (l) => l.guid,
    );
  }

  /** Links whose create left the id, or the outcome, to be learned. */
  unsettled(): VendorLink[] {
    return this.#rows("SELECT * FROM pbx_links WHERE target = ? AND pending != ?", linkState.linked);
  }

  byGuid(guid: string): VendorLink | undefined {
    return this.#rows("SELECT * FROM pbx_links WHERE target = ? AND guid = ?", guid)[0];
  }

  /** The synced extension with this number: linked, or created with its id still unknown. */
  byNumber(number: string): VendorLink | undefined {
    return this.#rows(
      "SELECT * FROM pbx_links WHERE target = ? AND number = ? AND pending IN (?, ?)",
      number,
      linkState.linked,
      linkState.createdIdUnknown,
    )[0];
  }

  /** Synced users by login name, for domain login, without asking the vendor. */
  findByLogin(name: { upn?: string; sam?: string }): VendorLink[] {
    const upn = name.upn?.toLowerCase() ?? null;
    const sam = name.sam?.toLowerCase() ?? null;
    return this.#rows(
      `SELECT * FROM pbx_links WHERE target = ? AND pending IN (?, ?)
         AND ((? IS NOT NULL AND upn = ?) OR (? IS NOT NULL AND sam = ?))`,
      linkState.linked,
      linkState.createdIdUnknown,
      upn,
      upn,
      sam,
      sam,
    );
  }

  /** The synced extensions of users with these login names, for domain login, as the links know them. */
  extensionsByLogin(name: { upn?: string; sam?: string }): Extension[] {
    return this.findByLogin(name).map((link) => ({ ...blankExtension(link.number), ...linkedExtension(link) }));
  }

  /** Before the create call: a restart from here on finds the link and checks the vendor first. */
  createSent(create: CreateExtension): void {
    this.#sql.exec(
      `INSERT INTO pbx_links (target, guid, vendor_id, number, dn, upn, sam, number_source, pending, updated_at)
       VALUES (?, ?, NULL, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (target, guid) DO UPDATE SET number = excluded.number, vendor_id = NULL, pending = excluded.pending,
         updated_at = excluded.updated_at`,
      this.#target,
      create.guid,
      create.state.number,
      create.dn,
      create.login.upn?.toLowerCase() ?? null,
      create.login.sam?.toLowerCase() ?? null,
      create.numberSource,
      linkState.createSent,
      Date.now(),
    );
  }

  /** The vendor made the object: with its id, or (null) without saying it. */
  created(guid: string, vendorId: string | null): void {
    if (vendorId === null)
      this.#sql.exec(
        "UPDATE pbx_links SET pending = ?, updated_at = ? WHERE target = ? AND guid = ?",
        linkState.createdIdUnknown,
        Date.now(),
        this.#target,
        guid,
      );
    else this.setVendorId(guid, vendorId);
  }

  setVendorId(guid: string, vendorId: string): void {
    this.#sql.exec(
      "UPDATE pbx_links SET vendor_id = ?, pending = ?, updated_at = ? WHERE target = ? AND guid = ?",
      vendorId,
      linkState.linked,
      Date.now(),
      this.#target,
      guid,
    );
  }

  /** Takes over a hand-made object (pbx.adopt): it is synced from now on. */
  adopt(adopt: CreateExtension, number: string, vendorId: string): void {
    this.#sql.exec(
      `INSERT INTO pbx_links (target, guid, vendor_id, number, dn, upn, sam, number_source, pending, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (target, guid) DO UPDATE SET vendor_id = excluded.vendor_id, number = excluded.number,
         pending = excluded.pending, updated_at = excluded.updated_at`,
      this.#target,
      adopt.guid,
      vendorId,
      number,
      adopt.dn,
      adopt.login.upn?.toLowerCase() ?? null,
      adopt.login.sam?.toLowerCase() ?? null,
      adopt.numberSource,
      linkState.linked,
      Date.now(),
    );
  }

  /** After an update reached the vendor: what the link remembers of it. */
  updated(guid: string, number: string, update: ExtensionUpdate): void {
    this.#sql.exec(
      `UPDATE pbx_links SET number = ?, dn = coalesce(?, dn), upn = coalesce(?, upn), sam = coalesce(?, sam),
         number_source = coalesce(?, number_source), updated_at = ? WHERE target = ? AND guid = ?`,
      number,
      update.dn ?? null,
      update.login?.upn?.toLowerCase() ?? null,
      update.login?.sam?.toLowerCase() ?? null,
      update.numberSource ?? null,
      Date.now(),
      this.#target,
      guid,
    );
  }

  /** Deprovisioning deactivated it (true), or sync enabled it again (false). */
  setDisabledBySync(guid: string, disabled: boolean): void {
    this.#sql.exec(
      "UPDATE pbx_links SET disabled_by_sync = ?, updated_at = ? WHERE target = ? AND guid = ?",
      disabled ? 1 : 0,
      Date.now(),
      this.#target,
      guid,
    );
  }

  forget(guid: string): void {
    this.#sql.exec("DELETE FROM pbx_links WHERE target = ? AND guid = ?", this.#target, guid);
  }

  #rows(query: string, ...args: unknown[]): VendorLink[] {
    return this.#sql
      .exec<LinkRow>(query, this.#target, ...args)
      .toArray()
      .map(toLink);
  }
}

/** What a link says of its extension: synced, whose user, and how they log in. */
export function linkedExtension(link: VendorLink): Partial<Extension> {
  return {
    origin: "ad",
    guid: link.guid,
    dn: link.dn,
    upn: link.upn,
    sam: link.sam,
    numberSource: link.numberSource,
    disabledBySync: link.disabledBySync,
  };
}
