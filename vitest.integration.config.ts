import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/integration/**/*.test.ts"],
    // Each file starts its own servers (PostgreSQL on a free loopback port): one file per fork.
    pool: "forks",
    // Starting a cluster (initdb + TLS certificate) takes seconds, not milliseconds.
    testTimeout: 120_000,
    hookTimeout: 180_000,
  },
});
