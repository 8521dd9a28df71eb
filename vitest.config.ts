import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/unit/**/*.test.ts", "test/lifecycle/**/*.test.ts", "test/workflows/**/*.test.ts", "test/policies/**/*.test.ts", "test/providers/**/*.test.ts", "test/metrics/**/*.test.ts"],
    // Pulumi's runtime state (mocks, config) is process-global: one file per fork.
    pool: "forks",
    // Generous: the unit tests share the 2 cores with the installs test/run-all.sh runs meanwhile,
    // and a timeout here says nothing about speed (bench/ measures that).
    testTimeout: 90_000,
    // Stack evaluations in beforeAll take seconds of CPU; on a shared 2-core machine, far more wall time.
    hookTimeout: 120_000,
  },
});
