// The PBX as the sync engine sees it: extensions, departments and extension groups. The
// built-in directory (worker/src/pbx/builtin/) implements it in the tenant's SQLite; each
// vendor target implements the same interface against its API in worker/src/pbx/<target>/,
// declares what it can hold (pbx-capabilities.ts), and the engine does not change.
import type { PbxCapabilities } from "./pbx-capabilities.ts";

/** The fields sync may write, by the names the configuration's `fields` uses. */
export const extensionFields = ["firstName", "lastName", "displayName", "email", "mobile", "workPhone", "department", "jobTitle"] as const;
export type ExtensionField = (typeof extensionFields)[number];

export type ExtensionFieldValues = Record<ExtensionField, string | null>;

/** What sync manages on an extension. */
export interface ExtensionState extends ExtensionFieldValues {
  number: string;
  /** SHA-256 of the photo; the bytes go to the PBX beside it. */
  avatarHash: string | null;
  /** Department path below the base DN, e.g. "Staff > Sales"; null for none. */
  departmentPath: string | null;
  /** Extension groups the extension belongs to, sorted. */
  groups: string[];
}

/**
 * The names a synced user logs in with, as AD had them at the last sync: domain login
 * refuses anyone else before asking AD. Kept lower-case, as AD compares them.
 */
export interface LoginNames {
  /** userPrincipalName. */
  upn: string | null;
  /** sAMAccountName. */
  sam: string | null;
}

export interface Extension extends ExtensionState, LoginNames {
  /** "ad" for extensions sync created; "manual" for those made by hand, which sync never touches. */
  origin: "ad" | "manual";
  /** For origin "ad": the AD user's objectGUID, which identifies it across renames and moves. */
  guid: string | null;
  dn: string | null;
  enabled: boolean;
  /** Disabled by sync (deprovisioning), so sync may enable it again; an administrator's disable stays. */
  disabledBySync: boolean;
  /** Where the number came from, so a number stays put until its source attribute changes. */
  numberSource: "attribute" | "sequential" | null;
}

/** A hand-made extension with nothing set but what `fields` give: the PBX's blank form. */
export function blankExtension(number: string, fields: Partial<Extension> = {}): Extension {
  return {
    number,
    origin: "manual",
    guid: null,
    dn: null,
    enabled: true,
    disabledBySync: false,
    numberSource: null,
    upn: null,
    sam: null,
    firstName: null,
    lastName: null,
    displayName: null,
    email: null,
    mobile: null,
    workPhone: null,
    department: null,
    jobTitle: null,
    avatarHash: null,
    departmentPath: null,
    groups: [],
    ...fields,
  };
}

export interface ArchiveTarget {
  extension: string;
  voicemail: boolean;
  recordings: boolean;
}

/** What a new AD extension gets besides its state. */
export interface CreateExtension {
  state: ExtensionState;
  guid: string;
  dn: string;
  numberSource: "attribute" | "sequential";
  login: LoginNames;
  /** An existing extension whose settings the new one copies. */
  template?: string;
}

export interface ExtensionUpdate {
  state: Partial<ExtensionState>;
  dn?: string;
  numberSource?: "attribute" | "sequential";
  login?: LoginNames;
}

/** What an incremental run asks the PBX for (findExtensions). */
export interface ExtensionQuery {
  /** objectGUIDs of the users decided about. */
  guids: string[];
  /** Numbers they claim from an attribute. */
  numbers: string[];
  /** Every hand-made extension besides. */
  manual: boolean;
}

export interface ExtensionMatches {
  extensions: Extension[];
  /** Distinct objectGUIDs of all synced extensions, matched or not. */
  synced: number;
}

/**
 * The PBX directory. Every write is idempotent, so a run that resumes after a crash may
 * repeat the operation it was in the middle of: creating an extension that exists for the
 * same guid, deleting one that is gone, or setting fields already set changes nothing.
 */
export interface PbxDirectory {
  readonly capabilities: PbxCapabilities;
  /** How many independent operations the target takes at once (1: one after another). */
  readonly concurrency: number;
  /**
   * Subrequests (outbound HTTP calls) one operation takes, as planned for: a run sizes each
   * apply step so that its operations stay within an invocation's subrequest limit. 0 for a
   * target that answers without any (the built-in directory, in the tenant's SQLite).
   */
  readonly requestsPerOperation: number;
  listExtensions(): Promise<Extension[]>;
  /**
   * The same listing, `size` extensions at a time, in the same order: what a run plans from,
   * so that a large PBX is never one array in the run's memory. A target whose API hands back
   * everything at once yields its listing in pages (pagesOf).
   */
  listExtensionPages(size: number): AsyncIterable<Extension[]>;
  /**
   * The objectGUIDs of the AD users sync holds extensions for, from what the target keeps
   * itself, without a listing: a run looks them up in AD before it lists the PBX.
   */
  syncedGuids(): Promise<string[]>;
  /**
   * The extensions an incremental run decides from, in the listing's order: those of the users
   * it decides about, those holding the numbers they claim, and (for adoption) every hand-made
   * one; with how many users the whole PBX holds extensions for, which the safety limits count
   * against. A target whose API lists everything at once answers from its listing (matchesOf).
   */
  findExtensions(query: ExtensionQuery): Promise<ExtensionMatches>;
  listDepartments(): Promise<string[]>;
  listExtensionGroups(): Promise<string[]>;
  createDepartment(path: string): Promise<void>;
  createExtensionGroup(name: string): Promise<void>;
  createExtension(extension: CreateExtension, photo?: Uint8Array): Promise<void>;
  /**
   * Takes over the hand-made extension `number` for an AD user (pbx.adopt): from now on it is
   * synced, and its fields become `extension.state`. Repeating it changes nothing.
   */
  adoptExtension(number: string, extension: CreateExtension): Promise<void>;
  /** `number` is the extension's current number; `update.state.number` renumbers it. */
  updateExtension(number: string, update: ExtensionUpdate, photo?: Uint8Array): Promise<void>;
  disableExtension(number: string): Promise<void>;
  enableExtension(number: string): Promise<void>;
  /** Removes the extension, first moving its voicemail and recordings to the archive when given. */
  deleteExtension(number: string, archive?: ArchiveTarget): Promise<void>;
}
