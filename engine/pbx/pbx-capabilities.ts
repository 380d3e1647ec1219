// What a PBX target can hold, declared by the target rather than guessed by the engine: the
// built-in directory has everything, a vendor's API may lack departments, photos or a way to
// move a leaver's voicemail. The engine reads these flags and never a vendor's name.
import { type ExtensionField, extensionFields } from "./pbx-port.ts";

export interface PbxCapabilities {
  /** Departments (an OU tree, or a flat list) that extensions belong to. */
  departments: boolean;
  /** Extension groups (ring groups, AD groups mirrored) with members. */
  extensionGroups: boolean;
  /** A photo per extension. */
  avatars: boolean;
  /** Disabling an extension without deleting it (deprovisioning "disable"). */
  disable: boolean;
  /** Moving voicemail and recordings to another extension before a delete. */
  archiveOnDelete: boolean;
  /** Copying a template extension's settings into a new one. */
  templates: boolean;
  /** Changing an existing extension's number. */
  renumber: boolean;
  /** The extension fields the target stores and sync may write; the others are neither written nor compared. */
  fields: readonly ExtensionField[];
}

/** A target that can do everything the configuration can ask for: the built-in PBX. */
export const fullCapabilities: PbxCapabilities = {
  departments: true,
  extensionGroups: true,
  avatars: true,
  disable: true,
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
  archiveOnDelete: false,
  templates: false,
  renumber: false,
  fields: [],
};
