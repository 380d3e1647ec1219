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
  const problems: Problem[] = [];
  if (!validateSchema(document)) problems.push(...schemaProblems(validateSchema.errors ?? []));
  if (typeof document === "object" && document !== null && !Array.isArray(document)) {
    problems.push(...semanticProblems(document as SyncConfig));
  }
  return problems;
}

/** True when no problem is an error (warnings do not stop a save). */
export function isValid(problems: readonly Problem[]): boolean {
  return problems.every((p) => p.severity !== "error");
}
