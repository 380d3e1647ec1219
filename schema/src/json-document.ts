import { findNodeAtLocation, type Node, type ParseError, parseTree, printParseErrorCode } from "jsonc-parser";
import { pointerSegments } from "./problem.ts";

/**
 * A configuration's JSON text, parsed with positions, so problems found on the value can be
 * shown where they are in the text (CLI diagnostics, editor markers).
 */
export interface JsonDocument {
  value: unknown;
  tree: Node | undefined;
  syntaxErrors: Array<{ message: string; offset: number; length: number }>;
}

/** Deeper than any real configuration, and shallow enough that no recursive walk overflows. */
export const maxNesting = 64;

export function parseJsonDocument(text: string): JsonDocument {
  const depth = nestingAt(text);
  if (depth !== undefined) {
    return {
      value: undefined,
      tree: undefined,
      syntaxErrors: [{ message: `nested deeper than ${maxNesting} levels; a configuration never is`, offset: depth, length: 1 }],
    };
  }
  const errors: ParseError[] = [];
  const tree = parseTree(text, errors, { disallowComments: true, allowTrailingComma: false, allowEmptyContent: false });
  const syntaxErrors = errors.map((e) => {
    const code = printParseErrorCode(e.error);
    const found = code === "InvalidSymbol" ? ` ${JSON.stringify(text.slice(e.offset, e.offset + Math.min(e.length, 20)))}` : "";
    return { message: `${syntaxMessage(code)}${found}`, offset: e.offset, length: e.length };
  });
  return { value: syntaxErrors.length === 0 && tree ? JSON.parse(text) : undefined, tree, syntaxErrors };
}

/** Offset of the first bracket past the nesting limit, found without recursion. */
function nestingAt(text: string): number | undefined {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > maxNesting) return i;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return undefined;
}

function syntaxMessage(code: string): string {
  const words: Record<string, string> = {
    InvalidSymbol: "unexpected character",
    InvalidNumberFormat: "invalid number",
    PropertyNameExpected: "expected a property name in double quotes",
    ValueExpected: "expected a value",
    ColonExpected: "expected ':'",
    CommaExpected: "expected ','",
    CloseBraceExpected: "expected '}'",
    CloseBracketExpected: "expected ']'",
    EndOfFileExpected: "expected the end of the document",
    InvalidCommentToken: "comments are not allowed in JSON",
    UnexpectedEndOfComment: "comment is not closed",
    UnexpectedEndOfString: "string is not closed",
    UnexpectedEndOfNumber: "number is cut short",
    InvalidUnicode: "invalid \\u escape",
    InvalidEscapeCharacter: "invalid escape character",
    InvalidCharacter: "invalid character in string",
  };
  return `not valid JSON: ${words[code] ?? code}`;
}

/**
 * Where a JSON pointer points in the text. An unknown property is shown at its key; a
 * missing one at the object that lacks it, which is where the pointer ends.
 */
export function locate(tree: Node | undefined, path: string): { offset: number; length: number } {
  if (!tree) return { offset: 0, length: 0 };
  const segments = pointerSegments(path).map((s) => (/^\d+$/.test(s) ? Number(s) : s));
  let node = findNodeAtLocation(tree, segments);
  // The deepest node that exists, so a path into a value of the wrong shape still lands near.
  for (let n = segments.length - 1; node === undefined && n >= 0; n--) node = findNodeAtLocation(tree, segments.slice(0, n));
  if (!node) return { offset: 0, length: 0 };
  const key = node.parent?.type === "property" ? node.parent.children?.[0] : undefined;
  if (key && node.type !== "object" && node.type !== "array") return { offset: key.offset, length: node.offset + node.length - key.offset };
  if (node.type === "object" || node.type === "array") return { offset: (key ?? node).offset, length: 1 };
  return { offset: node.offset, length: node.length };
}

/** 1-based line and column of an offset, as editors and compilers print them. */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 0x0a) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}
