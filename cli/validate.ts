import { readFile, stat } from "node:fs/promises";
import { lineColumn, locate, parseJsonDocument } from "../schema/src/json-document.ts";
import { validateConfig } from "../schema/src/validate-config.ts";

export class UsageError extends Error {}

/** Why a file given on the command line could not be read, in a few words. */
export function readFailure(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === "ENOENT") return "no such file";
  if (code === "EACCES") return "permission denied";
  if (code === "EISDIR") return "is a directory";
  return code === undefined && error instanceof Error ? error.message : `cannot read (${code ?? "unknown error"})`;
}

/** Far above any real configuration; a larger file is a mistake, not a config. */
const maxBytes = 2 * 1024 * 1024;

interface Output {
  write(text: string): unknown;
}

/**
 * `adsync validate`: VS Code-style diagnostics, `file:line:col: severity: message (pointer)`.
 * Exit 0 when every file is valid, 1 when any has an error, 2 when any could not be read as JSON.
 */
export async function validateFiles(files: string[], out: Output, err: Output): Promise<number> {
  if (files.length === 0) throw new UsageError("validate needs at least one file");
  let exit = 0;
  for (const file of files) {
    const result = await validateFile(file, out, err);
    exit = Math.max(exit, result);
  }
  return exit;
}

async function validateFile(file: string, out: Output, err: Output): Promise<number> {
  const unreadable = (message: string) => {
    err.write(`${file}: ${message}\n`);
    return 2;
  };
  let size: number;
  try {
    const info = await stat(file);
    if (info.isDirectory()) return unreadable("is a directory, not a configuration file");
    size = info.size;
  } catch (e) {
    return unreadable(readFailure(e));
  }
  if (size > maxBytes)
    return unreadable(`is ${(size / 1024 / 1024).toFixed(1)} MB; a configuration is at most ${maxBytes / 1024 / 1024} MB`);
  const text = await readFile(file, "utf8");
  if (text.trim() === "") return unreadable("is empty; a configuration is a JSON object");

  const doc = parseJsonDocument(text);
  if (doc.syntaxErrors.length > 0) {
    const first = doc.syntaxErrors[0] as { message: string; offset: number };
    const { line, column } = lineColumn(text, first.offset);
    err.write(`${file}:${line}:${column}: error: ${first.message}\n`);
    return 2;
  }
  const problems = validateConfig(doc.value)
    .map((problem) => ({ problem, offset: locate(doc.tree, problem.path).offset }))
    .sort((a, b) => a.offset - b.offset);
  for (const { problem, offset } of problems) {
    const { line, column } = lineColumn(text, offset);
    out.write(`${file}:${line}:${column}: ${problem.severity}: ${problem.message} (${problem.path || "/"})\n`);
  }
  return problems.some(({ problem }) => problem.severity === "error") ? 1 : 0;
}
