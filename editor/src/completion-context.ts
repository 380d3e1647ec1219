import { getLocation, type JSONPath } from "jsonc-parser";

/** The directory values the schema asks for by DN or attribute name. */
export type DirectoryValueKind = "ou" | "group" | "attribute";

export interface DirectoryCompletionContext {
  kind: DirectoryValueKind;
  /** Where the document holds the value: `"` to `"` of the string being typed; length 0 when there is no value yet. */
  replace: { offset: number; length: number };
  /** The string's text between the opening quote and the cursor, unescaped. */
  typed: string;
  path: JSONPath;
}

/**
 * Where each kind is expected, as jsonc-parser location patterns ("*" is any array index or
 * property name). Kept as a table rather than read from the schema's `$ref`s: `dn` also types
 * `connection.baseDn`, which is the domain root more often than an OU. The unit test walks
 * the schema so that a new DN or attribute property cannot be missed silently.
 */
export const directoryValuePatterns: ReadonlyArray<{ kind: DirectoryValueKind; pattern: readonly string[] }> = [
  { kind: "ou", pattern: ["scope", "ous", "*", "dn"] },
  { kind: "ou", pattern: ["extensionNumbers", "ouRanges", "*", "ou"] },
  { kind: "ou", pattern: ["organisation", "templateExtensions", "*", "ou"] },
  { kind: "group", pattern: ["scope", "groups", "*", "dn"] },
  { kind: "group", pattern: ["organisation", "extensionGroups", "groups", "*", "dn"] },
  { kind: "attribute", pattern: ["extensionNumbers", "attribute"] },
  { kind: "attribute", pattern: ["fields", "*", "attribute"] },
  { kind: "attribute", pattern: ["scope", "exclude", "*", "attribute"] },
  { kind: "attribute", pattern: ["organisation", "departments", "attribute"] },
  { kind: "attribute", pattern: ["organisation", "extensionGroups", "attribute"] },
];

/**
 * Which directory value, if any, is expected at `offset` of a (possibly half-typed)
 * configuration, and which part of the text a suggestion replaces.
 */
export function directoryCompletionContext(text: string, offset: number): DirectoryCompletionContext | undefined {
  const location = getLocation(text, offset);
  if (location.isAtPropertyKey) return undefined;
  const match = directoryValuePatterns.find((p) => location.matches([...p.pattern]));
  if (!match) return undefined;
  // matches() also accepts paths the pattern is only a prefix of (a value nested below).
  if (location.path.length !== match.pattern.length) return undefined;
  const node = location.previousNode;
  if (!node || node.type === "property") return { kind: match.kind, replace: { offset, length: 0 }, typed: "", path: location.path };
  if (node.type === "object" || node.type === "array") return undefined;
  // Past the closing quote the cursor is no longer in this value.
  if (offset <= node.offset || offset > node.offset + node.length)
    return { kind: match.kind, replace: { offset, length: 0 }, typed: "", path: location.path };
  const typed = node.type === "string" ? unescapeJson(text.slice(node.offset + 1, offset)) : "";
  return { kind: match.kind, replace: { offset: node.offset, length: node.length }, typed, path: location.path };
}

function unescapeJson(raw: string): string {
  // The text up to the cursor may end inside an escape sequence; show it as typed then.
  try {
    return JSON.parse(`"${raw.endsWith('"') ? raw.slice(0, -1) : raw}"`) as string;
  } catch {
    return raw;
  }
}

/**
 * What to ask the directory for, given what was typed into a group DN: the server matches
 * the text against each group's cn and description, so a DN being typed ("CN=Sales Te")
 * is cut down to its first RDN's value.
 */
export function groupQuery(typed: string): string {
  const rdn = /^\s*cn\s*=\s*/i.exec(typed);
  if (!rdn) return typed.trim();
  let value = "";
  for (let i = rdn[0].length; i < typed.length; i++) {
    const c = typed[i];
    if (c === "\\" && i + 1 < typed.length) {
      value += typed[++i];
      continue;
    }
    if (c === "," || c === "+") break;
    value += c;
  }
  return value.trim();
}
