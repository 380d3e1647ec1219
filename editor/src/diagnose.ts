import { findNodeAtOffset, type Node } from "jsonc-parser";
import { lineColumn, locate, parseJsonDocument } from "../../schema/src/json-document.ts";
import type { Problem } from "../../schema/src/problem.ts";
import { validateConfigBySource } from "../../schema/src/validate-config.ts";

export type ProblemSource = "syntax" | "schema" | "semantic" | "server";

/** A problem placed in the text: offsets for the editor, 1-based line and column for people. */
export interface LocatedProblem {
  severity: "error" | "warning";
  message: string;
  /** JSON pointer; "" for syntax errors, which have no place in a value. */
  path: string;
  source: ProblemSource;
  offset: number;
  length: number;
  line: number;
  column: number;
}

/**
 * Every problem the server would report for this text, placed where it is. The editor shows
 * these and nothing from Monaco's own schema validation, so what the editor counts as an
 * error is exactly what `PUT /config` refuses: syntax errors, and `validateConfig`'s errors.
 * Schema problems are not reported while the text is not JSON, as the server cannot either.
 */
export function diagnose(text: string): LocatedProblem[] {
  const document = parseJsonDocument(text);
  if (document.syntaxErrors.length > 0) {
    return sortByPlace(
      document.syntaxErrors.map((e) =>
        place(text, { severity: "error", message: e.message, path: "", source: "syntax" }, e.offset, e.length),
      ),
    );
  }
  const { schema, semantic } = validateConfigBySource(document.value);
  return sortByPlace([
    ...schema.map((p) => placeAtPath(text, document.tree, { ...p, source: "schema" as const })),
    ...semantic.map((p) => placeAtPath(text, document.tree, { ...p, source: "semantic" as const })),
  ]);
}

/**
 * Places problems the server returned for this text. Those the editor already shows (the
 * server runs the same validateConfig) are left out, so nothing is listed twice.
 */
export function placeServerProblems(text: string, problems: readonly Problem[], shown: readonly LocatedProblem[]): LocatedProblem[] {
  const known = new Set(shown.map(key));
  const { tree } = parseJsonDocument(text);
  return problems.filter((p) => !known.has(key(p))).map((p) => placeAtPath(text, tree, { ...p, source: "server" }));
}

export function countBySeverity(problems: readonly { severity: "error" | "warning" }[]): { errors: number; warnings: number } {
  let errors = 0;
  for (const p of problems) if (p.severity === "error") errors++;
  return { errors, warnings: problems.length - errors };
}

type Unplaced = Pick<LocatedProblem, "severity" | "message" | "path" | "source">;

function placeAtPath(text: string, tree: Node | undefined, problem: Unplaced): LocatedProblem {
  const at = locate(tree, problem.path);
  const widened = widenToKey(tree, at.offset, at.length);
  return place(text, problem, widened.offset, widened.length);
}

/**
 * `locate` marks a missing property at the first character of the object's key (`"`); a
 * one-character squiggle is easy to miss, so the whole key is marked instead.
 */
function widenToKey(tree: Node | undefined, offset: number, length: number): { offset: number; length: number } {
  if (!tree || length > 1) return { offset, length };
  const node = findNodeAtOffset(tree, offset, false);
  if (node?.type === "string" && node.offset === offset) return { offset, length: node.length };
  return { offset, length };
}

function place(text: string, problem: Unplaced, offset: number, length: number): LocatedProblem {
  const { line, column } = lineColumn(text, offset);
  return { ...problem, offset, length, line, column };
}

function sortByPlace(problems: LocatedProblem[]): LocatedProblem[] {
  return problems.sort((a, b) => a.offset - b.offset || (a.severity === b.severity ? 0 : a.severity === "error" ? -1 : 1));
}

function key(p: { path: string; message: string }): string {
  return `${p.path}\u0000${p.message}`;
}
