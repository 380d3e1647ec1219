// A directory user as the sync engine sees it: identity (objectGUID), where it sits, whether
// AD has it disabled, and its attributes as text. Built from an entry as the agent sends it.
import type { WireEntry } from "../schema/src/agent-protocol.ts";

export interface DirectoryUser {
  /** objectGUID in AD's string form (the first three groups are little-endian on the wire). */
  guid: string;
  dn: string;
  /** userAccountControl bit 0x2 (ACCOUNTDISABLE); any other value of the attribute says nothing. */
  disabled: boolean;
  /** Text attributes by lower-cased name; binary ones are left out, except as `photoHash`. */
  attributes: Record<string, string[]>;
  /** SHA-256 (hex) of the avatar attribute's bytes, when the user has a photo. */
  photoHash?: string;
}

const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, "0"));
/** The byte order of AD's string form, with the dashes' places (-1). */
const GUID_ORDER = [3, 2, 1, 0, -1, 5, 4, -1, 7, 6, -1, 8, 9, -1, 10, 11, 12, 13, 14, 15];

/**
 * objectGUID bytes as AD prints them: {33221100-5544-7766-8899-aabbccddeeff}, without braces.
 * Once per user read: by table, not by formatting each byte.
 */
export function guidFromBytes(bytes: Uint8Array): string {
  if (bytes.length !== 16) throw new Error(`an objectGUID has 16 bytes, not ${bytes.length}`);
  let out = "";
  for (const i of GUID_ORDER) out += i < 0 ? "-" : HEX[bytes[i] as number];
  return out;
}

/** The inverse of guidFromBytes: the 16 bytes AD stores for a GUID in its string form. */
export function bytesFromGuid(guid: string): Uint8Array {
  const hex = guid.replace(/[{}-]/g, "");
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new Error(`not a GUID: ${guid}`);
  const byte = (i: number) => Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  // The first three groups are little-endian on the wire, the last two as written.
  return Uint8Array.from([3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15].map(byte));
}

export function bytesFromBase64(text: string): Uint8Array {
  const binary = atob(text);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** A wire entry's attribute by name, whatever case the server wrote it in. */
function valuesOf(entry: WireEntry, name: string): string[] | undefined {
  const key = name.toLowerCase();
  for (const [k, v] of Object.entries(entry.attributes)) if (k.toLowerCase() === key) return v;
  return undefined;
}

/** The entry's objectGUID in AD's string form; undefined when it has none. */
export function entryGuid(entry: WireEntry): string | undefined {
  const value = valuesOf(entry, "objectGUID")?.[0];
  return value === undefined ? undefined : guidFromBytes(bytesFromBase64(value));
}

/** userAccountControl bit 0x2 (ACCOUNTDISABLE); no other bit or value says anything about it. */
export function entryDisabled(entry: WireEntry): boolean {
  return (Number(valuesOf(entry, "userAccountControl")?.[0] ?? 0) & 0x2) !== 0;
}

/**
 * The user of a wire entry; undefined when it has no objectGUID (then it cannot be matched
 * across runs, and the caller reports it). `avatarAttribute` names the photo to hash. One
 * pass over the attributes: a read makes one a user, 100,000 on a large directory.
 */
export async function directoryUserFromEntry(entry: WireEntry, avatarAttribute = "thumbnailPhoto"): Promise<DirectoryUser | undefined> {
  const binaryNames = entry.binary ?? [];
  const binary = binaryNames.length === 0 ? undefined : new Set(binaryNames.map((n) => n.toLowerCase()));
  const avatar = avatarAttribute.toLowerCase();
  const attributes: Record<string, string[]> = {};
  let guidValue: string | undefined;
  let photo: Uint8Array | undefined;
  for (const name in entry.attributes) {
    const values = entry.attributes[name] as string[];
    const key = name.toLowerCase();
    if (key === "objectguid") guidValue ??= values[0];
    else if (key === avatar && values[0] !== undefined)
      photo = binary?.has(key) ? bytesFromBase64(values[0]) : new TextEncoder().encode(values[0]);
    else if (!binary?.has(key)) attributes[key] = values;
  }
  if (guidValue === undefined) return undefined;
  const disabled = (Number(attributes.useraccountcontrol?.[0] ?? 0) & 0x2) !== 0;
  const user: DirectoryUser = { guid: guidFromBytes(bytesFromBase64(guidValue)), dn: entry.dn, disabled, attributes };
  if (photo !== undefined && photo.length > 0) user.photoHash = await sha256Hex(photo);
  return user;
}

export function firstValue(user: DirectoryUser, attribute: string | undefined): string | undefined {
  if (attribute === undefined) return undefined;
  const value = user.attributes[attribute.toLowerCase()]?.[0];
  return value === undefined || value.trim() === "" ? undefined : value.trim();
}
