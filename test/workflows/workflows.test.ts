/**
 * The workflows in .github/workflows against the team's rules: explicit least-privilege
 * permissions per job, actions pinned by SHA, fork pull requests never reaching a secret, one
 * update per stack at a time, prod behind an environment. Each rule is also shown to catch a
 * workflow that breaks it. actionlint and zizmor run in `npm run test:workflows`.
 */
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { explicitPermissions, forksGetNoSecrets, fromYaml, loadWorkflows, pinnedActions, privilegedRunIsInert, secretsOnlyInEnv, stackConcurrency, type Workflow } from "./checks";

const workflows = loadWorkflows(path.join(__dirname, "../../.github/workflows"));
const byFile = (f: string): Workflow => workflows.find((w) => w.file === f)!;
const SHA = "11bd71901bbe5b1630ceea73d27597364c9af683";

describe("the shipped workflows", () => {
  it("are the six the lifecycle needs", () => {
    expect(workflows.map((w) => w.file)).toEqual(["deploy.yml", "pr-comment.yml", "pr.yml", "review.yml", "teardown.yml", "test.yml"]);
  });

  it.each([
    ["every job has an explicit permissions block", explicitPermissions],
    ["every action is pinned by commit SHA", pinnedActions],
    ["fork pull requests never get a secret", forksGetNoSecrets],
    ["secrets only reach steps through env, never a script", secretsOnlyInEnv],
    ["stack updates hold the stack's concurrency group", stackConcurrency],
    ["the privileged workflow_run never runs pull-request code", privilegedRunIsInert],
  ] as const)("%s", (_rule, check) => {
    expect(workflows.flatMap((w) => check(w))).toEqual([]);
  });

  it("fork pull requests get the offline plan with the policy pack, and the preview job is closed to them", () => {
    const pr = byFile("pr.yml");
    expect(pr.jobs.offline.if).toContain("github.event.pull_request.head.repo.full_name != github.repository");
    expect(pr.jobs.offline.steps!.some((s) => s.run?.includes("--kind offline"))).toBe(true);
    expect(pr.jobs.offline.permissions).toEqual({ contents: "read" });
    expect(pr.jobs.preview.if).toContain("github.event.pull_request.head.repo.full_name == github.repository");
    expect(pr.jobs.preview.steps!.some((s) => s.run?.includes("--kind preview"))).toBe(true);
    // The same checkout never keeps the token for the code that runs after it.
    for (const job of Object.values(pr.jobs)) for (const s of job.steps ?? []) if (s.uses?.startsWith("actions/checkout@")) expect(s.with?.["persist-credentials"]).toBe(false);
  });

  it("the comment is posted from the workflow_run of the pull-request workflow, with pull-requests: write only there", () => {
    const c = byFile("pr-comment.yml");
    expect(c.on.workflow_run).toEqual({ workflows: ["Pull request"], types: ["completed"] });
    expect(c.jobs.comment.permissions).toEqual({ actions: "read", contents: "read", "pull-requests": "write" });
    const writers = workflows.flatMap((w) => Object.entries(w.jobs).filter(([, j]) => JSON.stringify(j.permissions ?? {}).includes('"pull-requests":"write"')).map(([id]) => `${w.file}:${id}`));
    expect(writers).toEqual(["pr-comment.yml:comment"]);
  });

  it("merge to main: up dev, then prod in the prod environment after dev", () => {
    const d = byFile("deploy.yml");
    expect(d.on).toEqual({ push: { branches: ["main"] } });
    expect(d.jobs.dev.environment).toBe("dev");
    expect(d.jobs.prod.environment).toBe("prod");
    expect(d.jobs.prod.needs).toBe("dev");
    expect(d.jobs.prod.steps!.some((s) => s.run?.includes("pulumi up --stack prod"))).toBe(true);
  });

  it("review stacks: up on open and push, down on close; teardown: daily and per stack", () => {
    const r = byFile("review.yml");
    expect(r.on.pull_request).toEqual({ types: ["opened", "synchronize", "reopened", "closed"] });
    expect(r.jobs.up.steps!.some((s) => s.run === 'npm run review -- up --pr "$PR"')).toBe(true);
    expect(r.jobs.down.steps!.some((s) => s.run === 'npm run review -- down --pr "$PR"')).toBe(true);
    const t = byFile("teardown.yml");
    expect(t.on.schedule).toEqual([{ cron: "17 4 * * *" }]);
    expect((t.jobs.destroy.concurrency as { group: string }).group).toBe("pulumi-stack-${{ matrix.stack }}");
    expect(t.jobs.destroy.steps!.some((s) => s.run === 'npm run teardown -- --stack "$STACK" --if-expired')).toBe(true);
  });
});

describe("each rule catches a workflow that breaks it", () => {
  const bad = (yaml: string) => fromYaml("bad.yml", yaml);

  it("a job without permissions, and a workflow default that is not {}", () => {
    const w = bad(`on: push\npermissions: write-all\njobs:\n  a:\n    runs-on: x\n    steps: [{run: "true"}]\n`);
    expect(explicitPermissions(w)).toEqual(["bad.yml: the workflow's permissions must be {} (each job grants its own)", "bad.yml: job a has no permissions block"]);
  });

  it("a tag instead of a SHA", () => {
    expect(pinnedActions(bad(`on: push\njobs:\n  a:\n    steps: [{uses: actions/checkout@v4}, {uses: "actions/checkout@${SHA}"}, {uses: ./local}]\n`))).toEqual(["bad.yml: job a uses actions/checkout@v4, not pinned by commit SHA"]);
  });

  it("a fork-reachable job with a secret, an environment or a write scope; pull_request_target", () => {
    const w = bad(`on: [pull_request, pull_request_target]
jobs:
  leaky:
    environment: preview
    permissions: {contents: write}
    steps: [{run: deploy, env: {T: "\${{ secrets.T }}"}}]
  bypassed:
    if: github.event.pull_request.head.repo.full_name == github.repository || true
    permissions: {id-token: write}
    steps: []
  guarded:
    if: github.event.pull_request.head.repo.full_name == github.repository
    environment: preview
    permissions: {id-token: write}
    steps: [{run: x, env: {T: "\${{ secrets.T }}"}}]
`);
    expect(forksGetNoSecrets(w)).toEqual([
      "bad.yml: uses pull_request_target (runs with secrets in the base repository's context)",
      "bad.yml: job leaky is reachable from a fork and reads a secret",
      'bad.yml: job leaky is reachable from a fork and enters environment "preview"',
      "bad.yml: job leaky is reachable from a fork and has contents: write",
      "bad.yml: job bypassed is reachable from a fork and has id-token: write",
    ]);
  });

  it("a secret in a script, in with:, or read by the script from env", () => {
    const w = bad(`on: push
jobs:
  a:
    steps:
      - {run: "echo \${{ secrets.T }}"}
      - {uses: x/y@${SHA}, with: {token: "\${{ secrets.T }}"}}
      - {run: "curl -H \\"auth: $TOKEN\\" x", env: {TOKEN: "\${{ secrets.T }}"}}
      - {run: "pulumi up", env: {PULUMI_ACCESS_TOKEN: "\${{ secrets.P }}"}}
`);
    expect(secretsOnlyInEnv(w)).toEqual(["bad.yml: job a step 0 puts a secret outside env", "bad.yml: job a step 1 puts a secret outside env", "bad.yml: job a step 2's script reads secret TOKEN"]);
  });

  it("a stack update without the stack's group, or cancelled half-way", () => {
    const w = bad(`on: push
jobs:
  a: {steps: [{run: "pulumi up --stack dev --yes"}]}
  b: {concurrency: {group: pulumi-stack-dev, cancel-in-progress: true}, steps: [{run: "npm run review -- up --pr 1"}]}
  c: {concurrency: {group: pulumi-stack-dev, cancel-in-progress: false}, steps: [{run: "pulumi preview --stack dev"}]}
`);
    expect(stackConcurrency(w)).toEqual(["bad.yml: job a changes a stack without a pulumi-stack-<name> concurrency group", "bad.yml: job b may cancel a stack update half-way (cancel-in-progress must be false)"]);
  });

  it("a workflow_run that checks out the pull request's head, unpacks into the workspace or runs other code", () => {
    const w = bad(`on: {workflow_run: {workflows: [x], types: [completed]}}
jobs:
  a:
    steps:
      - {uses: "actions/checkout@${SHA}", with: {ref: "\${{ github.event.workflow_run.head_sha }}"}}
      - {uses: "actions/download-artifact@${SHA}", with: {name: r, path: .}}
      - {run: "bash ./report/script.sh"}
`);
    expect(privilegedRunIsInert(w)).toEqual([
      "bad.yml: job a checks out ref=${{ github.event.workflow_run.head_sha }}, not the default branch",
      "bad.yml: job a downloads an artifact into the workspace, where it could shadow the checked-out code",
      'bad.yml: job a runs "bash ./report/script.sh"',
    ]);
  });
});
