import { describe, expect, it } from "vitest";
import sampleConfig from "../../sample/config.json" with { type: "json" };
import { validateConfig } from "../../schema/src/validate-config.ts";
import { countBySeverity, diagnose, placeServerProblems } from "./diagnose.ts";

const sample = JSON.stringify(sampleConfig, null, 2);
const secondRange = '"end": "4099"\n      }';

function marked(text: string, p: { offset: number; length: number } | undefined): string | undefined {
  return p && text.slice(p.offset, p.offset + p.length);
}

describe("diagnose", () => {
  it("finds nothing wrong with the sample configuration", () => {
    expect(diagnose(sample).filter((p) => p.severity === "error")).toEqual([]);
  });

  it("marks a schema error at the property, with its line and column", () => {
    const text = sample.replace('"security": "ldaps"', '"security": "ssl"');
    const [problem] = diagnose(text);
    expect(problem).toMatchObject({ severity: "error", path: "/connection/security", source: "schema" });
    expect(marked(text, problem)).toBe('"security": "ssl"');
    const { line = 0, column = 0 } = problem ?? {};
    expect(text.split("\n")[line - 1]?.slice(column - 1)).toMatch(/^"security": "ssl"/);
  });

  it("tells semantic problems from schema problems", () => {
    expect(sample).toContain(secondRange);
    const text = sample.replace(secondRange, `${secondRange}, { "start": "4050", "end": "4060" }`);
    const problems = diagnose(text);
    expect(problems).toContainEqual(expect.objectContaining({ source: "semantic", severity: "error", path: "/extensionNumbers/ranges/1" }));
    expect(problems.every((p) => p.source === "semantic")).toBe(true);
  });

  it("counts exactly the errors validateConfig reports", () => {
    const text = sample
      .replace('"security": "ldaps"', '"security": "ssl"')
      .replace('"whenDeleted": "delete"', '"whenDeleted": "remove"')
      .replace('"start": "4000"', '"start": "4100"');
    const errors = validateConfig(JSON.parse(text)).filter((p) => p.severity === "error").length;
    expect(errors).toBeGreaterThan(1);
    expect(countBySeverity(diagnose(text)).errors).toBe(errors);
  });

  it("marks a missing property at the whole key of the object lacking it", () => {
    const text = sample.replace('"baseDn": "DC=harbourline,DC=example"', '"baseDnx": "DC=harbourline,DC=example"');
    const missing = diagnose(text).find((p) => p.message.includes('"baseDn"'));
    expect(missing?.path).toBe("/connection");
    expect(marked(text, missing)).toBe('"connection"');
  });

  it("reports only syntax errors while the text is not JSON", () => {
    const text = '{\n  "connection": {\n    "security": "ssl",\n  }\n}';
    const problems = diagnose(text);
    expect(problems.length).toBeGreaterThan(0);
    expect(problems.every((p) => p.source === "syntax" && p.severity === "error")).toBe(true);
    expect(problems[0]).toMatchObject({ line: 4, column: 3 });
  });

  it("puts the problems in document order", () => {
    const text = sample.replace('"whenDeleted": "delete"', '"whenDeleted": "remove"').replace('"security": "ldaps"', '"security": "ssl"');
    const offsets = diagnose(text).map((p) => p.offset);
    expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
  });
});

describe("placeServerProblems", () => {
  it("places what the server adds and leaves out what the editor already shows", () => {
    const text = sample.replace('"security": "ldaps"', '"security": "ssl"');
    const shown = diagnose(text);
    const placed = placeServerProblems(
      text,
      [
        { path: "/connection/security", message: shown[0]?.message ?? "", severity: "error" },
        { path: "/scope/ous/0/dn", message: "no such OU in the directory", severity: "error" },
      ],
      shown,
    );
    expect(placed).toHaveLength(1);
    expect(placed[0]).toMatchObject({ source: "server", path: "/scope/ous/0/dn" });
    expect(marked(text, placed[0])).toBe('"dn": "OU=People,DC=harbourline,DC=example"');
  });
});
