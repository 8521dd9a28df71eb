import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/unit/**/*.test.ts", "test/lifecycle/**/*.test.ts", "test/workflows/**/*.test.ts", "test/policies/**/*.test.ts", "test/providers/**/*.test.ts"],
    // Pulumi's runtime state (mocks, config) is process-global: one file per fork.
    pool: "forks",
    testTimeout: 30_000,
    // Stack evaluations in beforeAll take seconds of CPU; on a shared 2-core machine, far more wall time.
    hookTimeout: 120_000,
  },
});
