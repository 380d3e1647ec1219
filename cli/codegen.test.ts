import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { schemaPath, staleArtifacts } from "./codegen.ts";

describe("generated schema artifacts", () => {
  it("are up to date with schema/config.schema.json (run `npm run generate` after editing the schema)", async () => {
    expect(await staleArtifacts()).toEqual([]);
  });

  it("go stale when the schema changes and they are not regenerated", async () => {
    const schema = JSON.parse(await readFile(schemaPath, "utf8"));
    schema.$defs.log.properties.retentionDays.description = "Changed without regenerating.";
    const stale = await staleArtifacts(JSON.stringify(schema));
    expect(stale.map((f) => f.replace(/^.*\/schema\//, "schema/"))).toEqual([
      "schema/generated/config.ts",
      "schema/generated/validate-schema.js",
    ]);
  });
});
