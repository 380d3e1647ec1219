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
  const schema = withRetiredForms(document, validateSchema(document) ? [] : schemaProblems(validateSchema.errors ?? []));
  const semantic =
    typeof document === "object" && document !== null && !Array.isArray(document) ? semanticProblems(document as SyncConfig) : [];
  return { schema, semantic };
}

/** True when no problem is an error (warnings do not stop a save). */
export function isValid(problems: readonly Problem[]): boolean {
  return problems.every((p) => p.severity !== "error");
}

/**
 * Configurations once named an environment variable or a file for the agent to read the bind
 * password from (agentEnv, agentFile): a cloud that could name any file or variable could have
 * the agent send any of them as a password. Such a document gets one problem saying what to
 * write instead, in place of the schema's generic ones about the same object.
 */
function withRetiredForms(document: unknown, problems: Problem[]): Problem[] {
  const reference = (document as { connection?: { bindPassword?: { source?: unknown } } } | null)?.connection?.bindPassword;
  const source = reference?.source;
  if (source !== "agentEnv" && source !== "agentFile") return problems;
  const at = "/connection/bindPassword";
  const rest = problems.filter((p) => p.path !== `${at}/source` && p.path !== `${at}/variable` && p.path !== `${at}/path`);
  return [
    {
      path: `${at}/source`,
      message: `"${source}" is retired: write { "source": "agent" } and set the password on the agent host (--bind-password-file PATH, or ADSYNC_BIND_PASSWORD); a configuration no longer names a variable or file for the agent to read`,
      severity: "error",
    },
    ...rest,
  ];
}
