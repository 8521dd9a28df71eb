import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/browser/**/*.test.ts"],
    // One server and one browser for the file; its steps run in order on them.
    pool: "forks",
    fileParallelism: false,
    // A step waits for the UI up to 30 s at a time on 2 shared cores; starting the image takes longer.
    testTimeout: 180_000,
    hookTimeout: 300_000,
  },
});
