import type { SyncConfig } from "../generated/config.ts";
import validateSchema from "../generated/validate-schema.js";
import type { Problem } from "./problem.ts";
import { schemaProblems } from "./schema-errors.ts";
import { semanticProblems } from "./semantic-checks.ts";

export type { Problem } from "./problem.ts";

/**
 * Every problem of a configuration document: the JSON Schema's (compiled ahead of time,
 * so it runs where code generation is forbidden) and the semantic checks. The worker, the
 * CLI and the editor all call this one function, so they agree on what is valid.
 */
export function validateConfig(document: unknown): Problem[] {
  const { schema, semantic } = validateConfigBySource(document);
  return [...schema, ...semantic];
}

/** validateConfig's problems kept apart by where they come from, for an editor that labels them. */
export function validateConfigBySource(document: unknown): { schema: Problem[]; semantic: Problem[] } {
  const schema = validateSchema(document) ? [] : schemaProblems(validateSchema.errors ?? []);
  const semantic =
    typeof document === "object" && document !== null && !Array.isArray(document) ? semanticProblems(document as SyncConfig) : [];
  return { schema, semantic };
}

/** True when no problem is an error (warnings do not stop a save). */
export function isValid(problems: readonly Problem[]): boolean {
  return problems.every((p) => p.severity !== "error");
}
