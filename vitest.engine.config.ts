import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/engine/**/*.test.ts"],
    pool: "forks",
    // Each test runs the Pulumi CLI (a language host, a TypeScript compile, the dynamic-provider
    // host) one or more times: seconds each on 2 shared cores. The CLI runs are bounded on
    // their own (support/engine.ts); this bounds a whole test.
    testTimeout: 600_000,
    hookTimeout: 300_000,
    // Two files at once at most: every CLI run is itself several processes.
    maxWorkers: 2,
  },
});
