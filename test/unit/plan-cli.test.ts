/** The offline plan as a reviewer runs it: a process, its exit code, stdout and stderr. */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { TS_RUN_REGISTER } from "../../stacks/plan-command";

const root = path.resolve(__dirname, "..", "..");
const run = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, ["--require", TS_RUN_REGISTER, path.join(root, "stacks", "plan.ts"), ...args], {
    cwd: root, encoding: "utf8", env: { ...process.env, ...env }, timeout: 60_000,
  });

describe("npm run plan", () => {
  it("--stack prod --json prints the resources, parents and outputs, with secrets hidden", () => {
    const token = "ghp_" + "fromTheEnvironmentNeverPrinted0123456789";
    const r = run(["--stack", "prod", "--json"], { MLFLOW_KIT_GHCR_TOKEN: token });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.stack).toBe("prod");
    const types = out.resources.map((x: { type: string }) => x.type);
    for (const t of ["aws:s3/bucket:Bucket", "aws:s3/bucketPolicy:BucketPolicy", "aws:iam/role:Role", "aws:rds/instance:Instance", "aws:rds/subnetGroup:SubnetGroup", "aws:ec2/securityGroup:SecurityGroup", "pulumi-nodejs:dynamic/aws:FunctionInvocation"]) {
      expect(types).toContain(t);
    }
    for (const x of out.resources) expect(Object.keys(x).sort()).toEqual(["inputs", "name", "parent", "type", "urn"]);
    // One tree: the deployment is the stack's child, everything else descends from it.
    const urns = new Set(out.resources.map((x: { urn: string }) => x.urn));
    const roots = out.resources.filter((x: { parent: string }) => !urns.has(x.parent));
    expect(roots.map((x: { type: string }) => x.type)).toEqual(["mlflow-kit:index:MlflowDeployment"]);
    expect(roots[0].parent).toBe("urn:pulumi:prod::mlflow-kit::pulumi:pulumi:Stack::mlflow-kit-prod");
    expect(out.outputs.adminPassword).toBe("[secret]");
    expect(r.stdout).not.toContain(token);
    // The whole environment: the ECS target is planned, nothing is left out.
    for (const t of ["aws:ecs/service:Service", "aws:lb/loadBalancer:LoadBalancer", "aws:acm/certificate:Certificate", "aws:cloudwatch/metricAlarm:MetricAlarm"]) expect(types).toContain(t);
    expect(r.stderr).not.toMatch(/not planned/);
  });

  it("--json lists the policy pack's violations; none is mandatory for a shipped stack", () => {
    const r = run(["--stack", "dev", "--json"]);
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(Array.isArray(out.violations)).toBe(true);
    expect(out.violations.filter((v: { level: string }) => v.level === "mandatory")).toEqual([]);
  });

  it("a mandatory violation fails the plan; --json and the tree both show it", () => {
    // dev made ephemeral on a 700 h lease against a 24 h ceiling: a ttlHours beyond 720 no longer
    // reaches the policy on a Neon stack (settings refuse it: Neon caps a branch expiry at 30 days).
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "plan-"));
    const dev = fs.readFileSync(path.join(root, "Pulumi.dev.yaml"), "utf8");
    fs.writeFileSync(path.join(dir, "Pulumi.dev.yaml"), dev.replace("mlflow-kit:lifecycle: long-lived", "mlflow-kit:lifecycle: ephemeral\n  mlflow-kit:ttlHours: 700"));
    const file = path.join(dir, "policy.json");
    fs.writeFileSync(file, JSON.stringify({ "ephemeral-stack-expires": { maxTtlHours: 24 } }));
    const json = run(["--stack", "dev", "--dir", dir, "--json", "--policy-config", file]);
    expect(json.status).toBe(1);
    const [v] = JSON.parse(json.stdout).violations.filter((x: { policy: string }) => x.policy === "ephemeral-stack-expires");
    expect(Object.keys(v).sort()).toEqual(["level", "message", "policy", "urn"]);
    expect(v.level).toBe("mandatory");
    expect(v.urn).toMatch(/^urn:pulumi:dev::mlflow-kit::/);
    expect(v.message).toMatch(/more than 24 hours from now/);
    expect(json.stderr).toMatch(/policy: \d+ mandatory violation\(s\)/);
    const text = run(["--stack", "dev", "--dir", dir, "--policy-config", file]);
    expect(text.status).toBe(1);
    expect(text.stdout).toMatch(/policy violations \(policies\/\): [1-9]\d* mandatory/);
    expect(text.stdout).toMatch(/\[mandatory\] ephemeral-stack-expires: /);
    // Under the tree: the violations follow the resources and outputs.
    expect(text.stdout.indexOf("policy violations")).toBeGreaterThan(text.stdout.indexOf("outputs:"));
  });

  it("--policy-config takes pulumi's --policy-pack-config format", () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "plan-")), "policy.json");
    fs.writeFileSync(file, JSON.stringify({ "rds-backups-kept": { minBackupRetentionDays: 30 } }));
    const r = run(["--stack", "prod", "--policy-config", file]);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/\[mandatory\] rds-backups-kept: mlflow-database-instance\n\s+FSBP RDS\.11: backupRetentionPeriod is 14 days, below the 30/);
  });

  it("prints a readable tree without --json", () => {
    const r = run(["--stack", "prod"]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^stack prod: \d+ resources/);
    expect(r.stdout).toMatch(/\+ aws:rds\/instance:Instance mlflow-database-instance\s+\[protected\]/);
  });

  it("--strict plans prod whole and exits 0 once its secrets are given", () => {
    const hashes = JSON.stringify({ alice: "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHRzYWx0$" + "a".repeat(43) });
    const r = run(["--stack", "prod", "--strict"], { MLFLOW_KIT_GHCR_TOKEN: "t-from-env", MLFLOW_KIT_AUTHELIA_PASSWORD_HASHES: hashes });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/\+ mlflow-kit:targets:EcsTarget mlflow-target/);
    expect(r.stdout).not.toMatch(/not planned/);
  });

  it("invalid config: non-zero exit and every settings error, no secret echoed", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "plan-"));
    fs.writeFileSync(path.join(dir, "Pulumi.broken.yaml"), [
      "config:",
      "  aws:region: mars-1",
      "  mlflow-kit:lifecycle: forever",
      "  mlflow-kit:adminPassword: hunter2-in-plain-text",
      "  mlflow-kit:database: { kind: rds }",
      "  mlflow-kit:target: { kind: ecs, domain: 'not a domain' }",
      "  mlflow-kit:image: { owner: acme }",
    ].join("\n"));
    const r = run(["--stack", "broken", "--dir", dir]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/aws:region: must be an AWS region/);
    expect(r.stderr).toMatch(/mlflow-kit:lifecycle: must be one of long-lived, ephemeral/);
    expect(r.stderr).toMatch(/mlflow-kit:adminPassword: is set in plain text/);
    expect(r.stderr).toMatch(/mlflow-kit:target\.domain: must be a fully qualified/);
    expect(r.stderr).not.toContain("hunter2-in-plain-text");
    expect(r.stdout).toBe("");
  });

  it("an unknown stack names the ones that exist", () => {
    const r = run(["--stack", "staging"]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/no Pulumi\.staging\.yaml\. Stacks in this project: .*dev.*prod/);
  });

  it("a stack file that is not valid YAML names the file, line and column", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "plan-yaml-"));
    fs.writeFileSync(path.join(dir, "Pulumi.broken.yaml"), "config:\n  mlflow-kit:lifecycle: ephemeral\n  mlflow-kit:target: {kind: render\n");
    const r = run(["--stack", "broken", "--dir", dir]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^Pulumi\.broken\.yaml: invalid YAML at line \d+, column \d+: .+Fix the file/m);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe("stacks/runtime-env.ts", () => {
  it("names the same bucket as the deployment (one name function), unless a test passes --bucket", () => {
    const env = (extra: string[]) => spawnSync(process.execPath, ["--import", "tsx", path.join(root, "stacks", "runtime-env.ts"),
      "--stack", "prod", "--tracking-db-uri", "postgresql://u:p@127.0.0.1:5432/t", "--auth-db-uri", "postgresql://u:p@127.0.0.1:5432/a",
      "--s3-endpoint", "http://127.0.0.1:9", "--access-key-id", "AKIDTEST", "--secret-access-key", "s", "--admin-password", "p",
      "--flask-secret-key", "k", ...extra], { cwd: root, encoding: "utf8", timeout: 60_000 });
    const values = (r: ReturnType<typeof env>) => {
      expect(r.status, r.stderr).toBe(0);
      return Object.values(JSON.parse(r.stdout) as Record<string, string>);
    };
    expect(values(env([]))).toContain("s3://mlflow-kit-prod-art-123456789012/mlflow");
    expect(values(env(["--account-id", "210987654321"]))).toContain("s3://mlflow-kit-prod-art-210987654321/mlflow");
    expect(values(env(["--bucket", "test-bucket"]))).toContain("s3://test-bucket/mlflow");
  });
});
