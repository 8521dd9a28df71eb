import { describe, expect, it } from "vitest";
import { affectedStacks, stacksFromFiles } from "../../stacks/lifecycle/affected";
import { parseReviewArgs } from "../../stacks/review";
import { parseRotateArgs } from "../../stacks/rotate";
import { parseTeardownArgs } from "../../stacks/teardown";

const STACKS = ["dev", "prod"];

describe("affectedStacks: which stacks a pull request affects", () => {
  it("a stack's own config file affects that stack only", () => {
    expect(affectedStacks(["Pulumi.dev.yaml"], STACKS)).toEqual({ stacks: ["dev"], reasons: { dev: ["Pulumi.dev.yaml"] } });
  });

  it.each(["index.ts", "infra/settings.ts", "infra/artifacts/s3.ts", "images/mlflow/Dockerfile", "policies/index.ts", "Pulumi.yaml", "package.json", "package-lock.json", "tsconfig.json", "stacks/plan.ts", "stacks/offline.ts", "stacks/offline-mocks.ts", "stacks/policy-check.ts", "tools/ts-run/register.cjs"])(
    "%s affects every stack",
    (path) => {
      expect(affectedStacks([path], STACKS)).toEqual({ stacks: ["dev", "prod"], reasons: { dev: [path], prod: [path] } });
    },
  );

  it.each(["README.md", "test/unit/settings.test.ts", "bench/plan.ts", ".github/workflows/pr.yml", "stacks/teardown.ts", "docs/x.md"])("%s affects no stack", (path) => {
    expect(affectedStacks([path], STACKS)).toEqual({ stacks: [], reasons: {} });
  });

  it("a deleted or unknown stack's file affects nothing; Pulumi.yaml is not a stack", () => {
    expect(affectedStacks(["Pulumi.staging.yaml"], STACKS).stacks).toEqual([]);
    expect(stacksFromFiles(["Pulumi.yaml", "Pulumi.dev.yaml", "Pulumi.prod.yaml", "README.md"])).toEqual(["dev", "prod"]);
  });

  it("collects reasons once each, at most five per stack, stacks sorted; blank lines ignored", () => {
    const changed = ["Pulumi.prod.yaml", "infra/a.ts", "infra/a.ts", "infra/b.ts", "infra/c.ts", "infra/d.ts", "infra/e.ts", "", "./Pulumi.dev.yaml"];
    const r = affectedStacks(changed, ["prod", "dev"]);
    expect(r.stacks).toEqual(["dev", "prod"]);
    expect(r.reasons.prod).toEqual(["Pulumi.prod.yaml", "infra/a.ts", "infra/b.ts", "infra/c.ts", "infra/d.ts"]);
    expect(r.reasons.dev).toEqual(["infra/a.ts", "infra/b.ts", "infra/c.ts", "infra/d.ts", "infra/e.ts"]);
  });
});

describe("command lines", () => {
  it("teardown: exactly one of --stack and --expired; --now must carry an offset", () => {
    expect(parseTeardownArgs(["--expired", "--dry-run", "--json", "--now", "2026-11-24T13:00:00+01:00"])).toEqual({ request: { expired: true }, dryRun: true, json: true, now: new Date("2026-11-24T12:00:00Z") });
    expect(parseTeardownArgs(["--stack", "pr-3"]).request).toEqual({ stack: "pr-3" });
    expect(parseTeardownArgs(["--stack", "pr-3", "--if-expired"]).request).toEqual({ stack: "pr-3", ifExpired: true });
    expect(() => parseTeardownArgs(["--expired", "--if-expired"])).toThrow("--if-expired: goes with --stack <name>");
    expect(() => parseTeardownArgs([])).toThrow("teardown: give exactly one of --stack <name>");
    expect(() => parseTeardownArgs(["--stack", "pr-3", "--expired"])).toThrow("teardown: give exactly one of");
    expect(() => parseTeardownArgs(["--expired", "--now", "2026-11-24T13:00:00"])).toThrow("--now: ");
  });

  it("review: up or down, and a --pr", () => {
    expect(parseReviewArgs(["up", "--pr", "42", "--ttl-hours", "24"])).toEqual({ action: "up", pr: "42", ttlHours: 24, dryRun: false });
    expect(parseReviewArgs(["down", "--pr", "42", "--dry-run"])).toEqual({ action: "down", pr: "42", ttlHours: undefined, dryRun: true });
    expect(() => parseReviewArgs(["--pr", "42"])).toThrow("review: say up or down");
    expect(() => parseReviewArgs(["sideways", "--pr", "42"])).toThrow("review: say up or down");
    expect(() => parseReviewArgs(["up"])).toThrow("--pr: is missing");
    expect(() => parseReviewArgs(["down", "--pr", "1", "--ttl-hours", "3"])).toThrow("--ttl-hours: only applies to review up");
  });

  it("rotate: a stack and one known credential; --dry-run and --config-only exclude each other", () => {
    expect(parseRotateArgs(["--stack", "prod", "s3-key", "--revoke-inactive"])).toEqual({ stack: "prod", credential: "s3-key", revokeInactive: true, dryRun: false, configOnly: false });
    expect(() => parseRotateArgs(["s3-key"])).toThrow("--stack: is missing");
    expect(() => parseRotateArgs(["--stack", "prod", "ssh-key"])).toThrow("rotate: name one credential: s3-key, db-password, admin-password, flask-secret, authelia, api-password (got ssh-key)");
    expect(() => parseRotateArgs(["--stack", "prod"])).toThrow("(got none)");
    expect(() => parseRotateArgs(["--stack", "prod", "s3-key", "--dry-run", "--config-only"])).toThrow("pick one");
  });
});
