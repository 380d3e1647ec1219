import { readFileSync } from "node:fs";
import { expect, it } from "vitest";
import { sampleDirectoryLdif, sampleDirectoryPath } from "./make-directory.ts";

it("the committed sample directory is what sample/make-directory.ts writes (run it after changing it)", () => {
  expect(readFileSync(sampleDirectoryPath, "utf8")).toBe(sampleDirectoryLdif);
});
