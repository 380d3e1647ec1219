// What a PBX target can hold, declared by the target rather than guessed by the engine: the
// built-in directory has everything, a vendor's API may lack departments, photos or a way to
// move a leaver's voicemail. The engine reads these flags and never a vendor's name.
import { type ExtensionField, extensionFields } from "./pbx-port.ts";

/**
 * What a target's field takes: AD's value is fitted to it before it is compared or written, so
 * Preview shows what the PBX will hold and a re-sync sees no difference the PBX made itself.
 */
export interface FieldRule {
  /** Characters the target refuses, as a regular expression character class, e.g. "[^0-9+]". */
  drop?: string;
  maxLength?: number;
}

export interface PbxCapabilities {
  /** Departments (an OU tree, or a flat list) that extensions belong to. */
  departments: boolean;
  /** Extension groups (ring groups, AD groups mirrored) with members. */
  extensionGroups: boolean;
  /** A photo per extension. */
  avatars: boolean;
  /** Disabling an extension without deleting it (deprovisioning "disable"). */
  disable: boolean;
  /** Deleting an extension (deprovisioning "delete"); some services only deactivate. */
  delete: boolean;
  /** Moving voicemail and recordings to another extension before a delete. */
  archiveOnDelete: boolean;
  /** Copying a template extension's settings into a new one. */
  templates: boolean;
  /** Changing an existing extension's number. */
  renumber: boolean;
  /**
   * Where the target cannot renumber, what a number change in AD does: keep the extension's
   * number (the item says so; the default), report a conflict, or delete the extension and
   * create it again with the new number (a plan action of its own, "recreate").
   */
  numberChange?: "keep" | "conflict" | "recreate";
  /** The extension fields the target stores and sync may write; the others are neither written nor compared. */
  fields: readonly ExtensionField[];
  /** Per field, what the target takes (absent: any text). */
  fieldRules?: Partial<Record<ExtensionField, FieldRule>>;
}

/** AD's value as a target with `rule` holds it; empty becomes none. */
export function fitField(value: string | null, rule: FieldRule | undefined): string | null {
  if (value === null || rule === undefined) return value;
  let fitted = rule.drop === undefined ? value : value.replace(new RegExp(rule.drop, "gu"), "");
  if (rule.maxLength !== undefined) fitted = [...fitted].slice(0, rule.maxLength).join("");
  return fitted === "" ? null : fitted;
}

/** A target that can do everything the configuration can ask for: the built-in PBX. */
export const fullCapabilities: PbxCapabilities = {
  departments: true,
  extensionGroups: true,
  avatars: true,
  disable: true,
  delete: true,
  archiveOnDelete: true,
  templates: true,
  renumber: true,
  fields: extensionFields,
};

/** A target that holds only extensions and nothing else: where a target's own declaration starts. */
export const noCapabilities: PbxCapabilities = {
  departments: false,
  extensionGroups: false,
  avatars: false,
  disable: false,
  // Every target so far can remove what it holds.
  delete: true,
  archiveOnDelete: false,
  templates: false,
  renumber: false,
  fields: [],
};
