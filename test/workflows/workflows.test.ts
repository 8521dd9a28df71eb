/**
 * The workflows in .github/workflows against the team's rules: explicit least-privilege
 * permissions per job, actions pinned by SHA, fork pull requests never reaching a secret, one
 * update per stack at a time, prod behind an environment. Each rule is also shown to catch a
 * workflow that breaks it. actionlint and zizmor run in `npm run test:workflows`.
 */
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { credentialsPerEnvironment, explicitPermissions, forksGetNoSecrets, fromYaml, loadWorkflows, longLivedOnlyFromDefaultBranch, pinnedActions, prCodeHoldsNoLongLivedCredential, privilegedRunIsInert, secretsOnlyInEnv, stackConcurrency, type Workflow } from "./checks";

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
    ["pull-request code never holds a credential of a long-lived stack", prCodeHoldsNoLongLivedCredential],
    ["long-lived stacks are reached only from the default branch", longLivedOnlyFromDefaultBranch],
    ["every Pulumi job takes its own environment's credential (no static token)", credentialsPerEnvironment],
  ] as const)("%s", (_rule, check) => {
    expect(workflows.flatMap((w) => check(w))).toEqual([]);
  });

  it("every pull request gets the offline plan with the policy pack; checkout never keeps the token", () => {
    const pr = byFile("pr.yml");
    expect(pr.jobs.plan.steps!.some((s) => s.run?.includes("--kind offline"))).toBe(true);
    expect(pr.jobs.plan.permissions).toEqual({ contents: "read" });
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
    expect(d.jobs.dev.steps!.some((s) => s.run === "npm run deploy -- --stack dev --create")).toBe(true);
    expect(d.jobs.prod.steps!.some((s) => s.run === "npm run deploy -- --stack prod")).toBe(true);
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

describe("credentials per environment (issue 14 item 6)", () => {
  const bad = (yaml: string) => fromYaml("bad.yml", yaml);
  const prTriggered = workflows.filter((w) => "pull_request" in w.on || "pull_request_target" in w.on);

  it("no job a pull request triggers enters dev or prod, or runs a command on them; prod and dev only in deploy.yml on main", () => {
    expect(prTriggered.map((w) => w.file)).toEqual(["pr.yml", "review.yml", "test.yml"]);
    for (const w of prTriggered) {
      for (const [id, job] of Object.entries(w.jobs)) {
        expect([undefined, "review"], `${w.file}:${id}`).toContain(job.environment);
        expect(JSON.stringify(job), `${w.file}:${id}`).not.toMatch(/--stack "?(prod|dev)\b|mlflow-kit-prod|mlflow-kit-dev|PULUMI_ACCESS_TOKEN/);
      }
    }
    const longLived = workflows.flatMap((w) => Object.entries(w.jobs).filter(([, j]) => j.environment === "prod" || j.environment === "dev").map(([id, j]) => `${w.file}:${id}:${String(j.environment)}`));
    expect(longLived).toEqual(["deploy.yml:dev:dev", "deploy.yml:prod:prod"]);
    const d = byFile("deploy.yml");
    expect(d.on).toEqual({ push: { branches: ["main"] } });
    for (const id of ["dev", "prod"]) expect(d.jobs[id].if).toBe("github.ref == 'refs/heads/main'");
  });

  it("pull requests, forks included, get the offline plan only: no environment, no OIDC token, no secret", () => {
    const pr = byFile("pr.yml");
    expect(Object.keys(pr.jobs)).toEqual(["affected", "plan", "report"]);
    for (const [id, job] of Object.entries(pr.jobs)) {
      expect(job.environment, id).toBeUndefined();
      expect(JSON.stringify(job.permissions), id).not.toContain("write");
      expect(JSON.stringify(job), id).not.toMatch(/secrets\.|pulumi\/auth-actions|aws-actions/);
    }
    expect(pr.jobs.plan.if ?? "").not.toContain("head.repo.full_name"); // same path for forks and branches
    expect(pr.jobs.plan.steps!.some((s) => s.run?.includes("--kind offline"))).toBe(true);
  });

  it("review stacks: the review environment's team token and REVIEW_* secrets, never another's", () => {
    const r = byFile("review.yml");
    for (const id of ["up", "down"]) {
      const job = r.jobs[id];
      expect(job.environment).toBe("review");
      const auth = job.steps!.find((s) => s.uses?.startsWith("pulumi/auth-actions@"))!;
      expect(auth.with).toMatchObject({ "requested-token-type": "urn:pulumi:token-type:access_token:team", scope: "team:mlflow-kit-review" });
      const secrets = [...JSON.stringify(job).matchAll(/secrets\.([A-Z0-9_]+)/g)].map((m) => m[1]);
      for (const s of secrets) expect(s).toMatch(/^REVIEW_/);
      if (id === "up") expect(secrets).toEqual(["REVIEW_GHCR_TOKEN", "REVIEW_NEON_API_KEY", "REVIEW_RENDER_API_KEY", "REVIEW_HF_TOKEN"]);
    }
  });

  it("each rule refuses the shape issue 14 found: PR code previewing prod with the static token", () => {
    // pr.yml's preview job and review.yml's up job as they were before this change.
    const before = bad(`on: {pull_request: {types: [opened]}}
jobs:
  preview:
    if: github.event.pull_request.head.repo.full_name == github.repository
    environment: preview
    permissions: {contents: read, id-token: write}
    strategy: {matrix: {stack: [dev, prod]}}
    steps:
      - {uses: "actions/checkout@${SHA}", with: {persist-credentials: false}}
      - {run: npm ci --no-audit --no-fund}
      - {uses: "aws-actions/configure-aws-credentials@${SHA}", with: {role-to-assume: "\${{ vars.AWS_ROLE_ARN }}"}}
      - {run: 'npm run -s pr-report -- section --stack "$STACK" --kind preview', env: {PULUMI_ACCESS_TOKEN: "\${{ secrets.PULUMI_ACCESS_TOKEN }}", STACK: "\${{ matrix.stack }}"}}
  up:
    if: github.event.pull_request.head.repo.full_name == github.repository
    environment: review
    permissions: {contents: read, id-token: write}
    steps:
      - {uses: "actions/checkout@${SHA}", with: {persist-credentials: false}}
      - {run: 'npm run review -- up --pr "$PR"', env: {PULUMI_ACCESS_TOKEN: "\${{ secrets.PULUMI_ACCESS_TOKEN }}"}}
`);
    expect(prCodeHoldsNoLongLivedCredential(before)).toEqual([
      "bad.yml: job preview runs pull-request code in environment preview; only review (review stacks) is allowed",
      "bad.yml: job preview runs pull-request code with an OIDC token outside the review environment",
      "bad.yml: job preview runs pull-request code with the static PULUMI_ACCESS_TOKEN",
      "bad.yml: job up runs pull-request code with the static PULUMI_ACCESS_TOKEN",
    ]);
    expect(credentialsPerEnvironment(before)).toEqual([
      "bad.yml: job preview uses the static secret PULUMI_ACCESS_TOKEN (one token for every stack)",
      "bad.yml: job preview runs Pulumi outside an environment with its own credential (review, teardown, dev, prod)",
      "bad.yml: job up uses the static secret PULUMI_ACCESS_TOKEN (one token for every stack)",
      "bad.yml: job up runs Pulumi without exchanging its environment's OIDC token (pulumi/auth-actions)",
      "bad.yml: job up does not take PULUMI_BACKEND_URL from its environment (vars.PULUMI_BACKEND_URL)",
    ]);
  });

  it("a PR job naming prod, holding the prod team's token or a non-review secret; prod from a branch or without the ref guard", () => {
    const w = bad(`on: [pull_request, push]
jobs:
  sneaky:
    environment: review
    permissions: {id-token: write}
    steps:
      - {uses: "pulumi/auth-actions@${SHA}", with: {scope: "team:mlflow-kit-prod"}}
      - {run: "pulumi stack export --stack prod --show-secrets", env: {K: "\${{ secrets.NEON_API_KEY }}"}}
  noenv:
    permissions: {id-token: write}
    steps: [{run: "true"}]
  deploy:
    environment: prod
    permissions: {id-token: write}
    steps: [{run: "true"}]
`);
    expect(prCodeHoldsNoLongLivedCredential(w)).toEqual([
      "bad.yml: job sneaky runs pull-request code with secret NEON_API_KEY; only REVIEW_* secrets of the review environment are allowed",
      'bad.yml: job sneaky runs pull-request code with a Pulumi token of scope "team:mlflow-kit-prod"; only team:mlflow-kit-review',
      'bad.yml: job sneaky runs pull-request code and names a long-lived stack: "pulumi stack export --stack prod --show-secrets"',
      "bad.yml: job noenv runs pull-request code with an OIDC token outside the review environment",
      "bad.yml: job deploy runs pull-request code in environment prod; only review (review stacks) is allowed",
      "bad.yml: job deploy runs pull-request code with an OIDC token outside the review environment",
    ]);
    expect(longLivedOnlyFromDefaultBranch(w)).toEqual([
      "bad.yml: job sneaky reaches a long-lived stack (environment review) but the workflow also runs on pull_request",
      "bad.yml: job sneaky reaches a long-lived stack without `if: github.ref == 'refs/heads/main'`",
      "bad.yml: job sneaky in environment review asks for Pulumi token team:mlflow-kit-prod; its environment's is team:mlflow-kit-review",
      "bad.yml: job deploy reaches a long-lived stack (environment prod) but the workflow also runs on pull_request",
      "bad.yml: job deploy reaches a long-lived stack without `if: github.ref == 'refs/heads/main'`",
    ]);
    const branch = bad(`on: {push: {branches: ["release/*"]}, workflow_dispatch: {}}
jobs:
  prod:
    if: github.ref == 'refs/heads/main' || true
    environment: prod
    permissions: {id-token: write}
    steps: [{run: "true"}]
`);
    expect(longLivedOnlyFromDefaultBranch(branch)).toEqual([
      'bad.yml: job prod reaches a long-lived stack (environment prod) but the workflow also runs on push to ["release/*"]',
      "bad.yml: job prod reaches a long-lived stack without `if: github.ref == 'refs/heads/main'`",
    ]);
  });

  it("an organization token, another environment's team, or a Cloud token forced on a self-managed backend", () => {
    const w = bad(`on: {push: {branches: [main]}}
jobs:
  org:
    if: github.ref == 'refs/heads/main'
    environment: dev
    permissions: {id-token: write}
    env: {PULUMI_BACKEND_URL: "\${{ vars.PULUMI_BACKEND_URL }}"}
    steps:
      - {uses: "pulumi/auth-actions@${SHA}", if: "vars.PULUMI_BACKEND_URL == ''", with: {requested-token-type: "urn:pulumi:token-type:access_token:organization"}}
      - {run: "npm run deploy -- --stack dev"}
  wrongteam:
    if: github.ref == 'refs/heads/main'
    environment: dev
    permissions: {contents: read}
    steps:
      - {uses: "pulumi/auth-actions@${SHA}", with: {requested-token-type: "urn:pulumi:token-type:access_token:team", scope: "team:mlflow-kit-prod"}}
      - {run: "pulumi up --stack dev"}
`);
    expect(credentialsPerEnvironment(w)).toEqual([
      "bad.yml: job org asks for a urn:pulumi:token-type:access_token:organization token, not a team token scoped to its environment's stacks",
      "bad.yml: job org in environment dev asks for scope undefined, not team:mlflow-kit-dev",
      "bad.yml: job wrongteam in environment dev asks for scope team:mlflow-kit-prod, not team:mlflow-kit-dev",
      "bad.yml: job wrongteam exchanges a Pulumi Cloud token even when its environment uses a self-managed backend",
      "bad.yml: job wrongteam does not take PULUMI_BACKEND_URL from its environment (vars.PULUMI_BACKEND_URL)",
      "bad.yml: job wrongteam runs Pulumi without id-token: write (its credentials come by OIDC)",
    ]);
  });
});
