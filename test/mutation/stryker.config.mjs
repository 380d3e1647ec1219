// @ts-check
// Mutation testing of the modules a customer trusts most: the planner and its safety gates,
// the read's completeness, mapping and extension numbers, the login guards and throttle, the
// CSV writer and the built-in PBX. `npm run mutation`; the report goes to test-results/mutation/.
import "./typescript5-hook.mjs";

const hook = new URL("./typescript5-hook.mjs", import.meta.url).href;

/** @type {import("@stryker-mutator/api/core").PartialStrykerOptions} */
export default {
  packageManager: "npm",
  testRunner: "vitest",
  vitest: { configFile: "test/mutation/vitest.config.ts" },
  coverageAnalysis: "perTest",
  checkers: ["typescript"],
  tsconfigFile: "tsconfig.json",
  // Mutants are type-checked by the project's own TypeScript 7; one that does not compile is
  // a compile error, not a survivor.
  typescriptChecker: { experimentalNativePreview: true },
  checkerNodeArgs: ["--import", hook],
  mutate: [
    "engine/plan.ts",
    "engine/read-directory.ts",
    "engine/map-user.ts",
    "engine/extension-numbers.ts",
    "engine/directory-user.ts",
    "engine/apply-item.ts",
    "worker/src/login/domain-login.ts",
    "worker/src/login/login-throttle.ts",
    "schema/src/domain-login.ts",
    "worker/src/csv.ts",
    "worker/src/pbx/builtin/builtin-pbx.ts",
  ],
  ignorePatterns: [".tools", "test-results", "bench-results", ".wrangler", "dist", "plugin/dist", "agent/dist", ".stryker-tmp"],
  reporters: ["html", "json", "clear-text", "progress"],
  htmlReporter: { fileName: "test-results/mutation/mutation.html" },
  jsonReporter: { fileName: "test-results/mutation/mutation.json" },
  tempDirName: ".stryker-tmp",
  concurrency: 2,
  thresholds: { high: 90, low: 80, break: 80 },
};
