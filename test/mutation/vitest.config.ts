// The unit tests that guard the safety-critical modules, without the suite's global set-up
// (no Samba DC, no portal build): what each mutant is tested against.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["engine/**/*.test.ts", "worker/src/**/*.test.ts", "schema/src/domain-login.test.ts"],
    testTimeout: 30_000,
  },
});
