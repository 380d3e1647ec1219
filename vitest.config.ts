import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["{schema,engine,cli,worker,agent,editor,plugin,test,sample,bench}/**/*.test.ts"],
    globalSetup: ["test/global-setup.ts"],
    testTimeout: 30_000,
    hookTimeout: 120_000,
  },
});
