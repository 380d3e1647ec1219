import type { ErrorObject } from "ajv";
import { type Problem, pointer } from "./problem.ts";

/**
 * The one place that turns ajv's errors into problems an administrator can act on:
 * plain messages, pointing at the property concerned, without ajv's bookkeeping errors
 * ("must match then schema", one "anyOf" per failed branch).
 */
export function schemaProblems(errors: readonly ErrorObject[]): Problem[] {
  const problems: Problem[] = [];
  const seen = new Set<string>();
  const anyOfSeen = new Set<string>();
  for (const error of errors) {
    if (error.keyword === "if") continue;
    const inAnyOf = /\/anyOf\/\d+\//.exec(error.schemaPath);
    let problem: Problem;
    if (inAnyOf) {
      // Only our "one of these properties is needed" alternatives use anyOf: say so once.
      const key = `${error.instancePath}|${error.schemaPath.slice(0, inAnyOf.index)}`;
      if (anyOfSeen.has(key)) continue;
      anyOfSeen.add(key);
      const alternatives = errors
        .filter(
          (e) =>
            e.keyword === "required" &&
            e.instancePath === error.instancePath &&
            e.schemaPath.startsWith(error.schemaPath.slice(0, inAnyOf.index)),
        )
        .map((e) => `"${String(e.params.missingProperty)}"`);
      problem = { path: error.instancePath, message: `needs one of ${alternatives.join(" or ")}`, severity: "error" };
    } else if (error.keyword === "anyOf") {
      continue;
    } else {
      problem = describe(error);
    }
    const key = `${problem.path}|${problem.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    problems.push(problem);
  }
  return problems;
}

function describe(error: ErrorObject): Problem {
  const at = error.instancePath;
  const p = error.params as Record<string, unknown>;
  const error_ = (path: string, message: string): Problem => ({ path, message, severity: "error" });
  switch (error.keyword) {
    case "required":
      return error_(at, `missing required property "${String(p.missingProperty)}"`);
    case "additionalProperties":
      return error_(
        pointer(at, String(p.additionalProperty)),
        `unknown property "${String(p.additionalProperty)}"${hint(String(p.additionalProperty), at)}`,
      );
    case "enum":
      return error_(at, `must be one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(", ")}`);
    case "const":
      return error_(at, `must be ${JSON.stringify(p.allowedValue)}`);
    case "type":
      return error_(at, `must be ${article(String(p.type))}`);
    case "pattern":
      return error_(at, patternMessage(String(p.pattern)));
    case "minLength":
      return error_(at, p.limit === 1 ? "must not be empty" : `must be at least ${String(p.limit)} characters long`);
    case "maxLength":
      return error_(at, `must be at most ${String(p.limit)} characters long`);
    case "minItems":
      return error_(at, p.limit === 1 ? "must list at least one item" : `must list at least ${String(p.limit)} items`);
    case "maxItems":
      return error_(at, `must list at most ${String(p.limit)} items`);
    case "uniqueItems":
      return error_(pointer(at, Number(p.i)), `repeats item ${String(p.j)}`);
    case "minimum":
    case "maximum":
    case "exclusiveMinimum":
    case "exclusiveMaximum":
      return error_(at, `must be ${String(p.comparison)} ${String(p.limit)}`);
    default:
      return error_(at, error.message ?? `fails the schema's "${error.keyword}" rule`);
  }
}

function article(type: string): string {
  const name = type === "integer" ? "a whole number" : type === "array" ? "a list" : type === "object" ? "an object" : `a ${type}`;
  return name;
}

const knownPatterns: Record<string, string> = {
  "^[0-9]{2,10}$": "must be an extension number of 2 to 10 digits",
  "^[A-Za-z][A-Za-z0-9-]*$": "must be an LDAP attribute name (letters, digits and hyphens, starting with a letter)",
  "-----BEGIN CERTIFICATE-----": "must be a PEM certificate (-----BEGIN CERTIFICATE----- …)",
  "^([01][0-9]|2[0-3]):[0-5][0-9]$": "must be a time of day as HH:MM (24-hour)",
};

function patternMessage(pattern: string): string {
  return knownPatterns[pattern] ?? `must match the pattern ${pattern}`;
}

/** A plaintext password is the one unknown property worth a specific word. */
function hint(property: string, at: string): string {
  return /pass(word)?|secret|pwd/i.test(property) || at.endsWith("/bindPassword")
    ? ': a configuration never holds a password; use bindPassword with source "stored" (entered in the portal) or "agent" (held by the agent)'
    : "";
}
