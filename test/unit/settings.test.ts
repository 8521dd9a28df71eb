import { describe, expect, it } from "vitest";
import { expiryFrom, parseSettings, SettingsError, type Settings } from "../../infra/settings";
import { readStackConfig } from "../../stacks/stack-config";

/** A valid prod-like config; each bad case changes one thing. */
const base = (): Record<string, unknown> => ({
  "aws:region": "eu-west-1",
  "mlflow-kit:lifecycle": "long-lived",
  "mlflow-kit:database": { kind: "rds" },
  "mlflow-kit:target": { kind: "ecs", domain: "mlflow.example.com" },
  "mlflow-kit:image": { owner: "example-org" },
  "mlflow-kit:skipTarget": true,
});
const SECRET_VALUE = "ghp_" + "thisMustNeverAppearInAnyMessage0123456789";

function parse(values: Record<string, unknown>, secretKeys = ["mlflow-kit:ghcrToken"], options = {}): Settings {
  const raw: Record<string, string> = { "mlflow-kit:ghcrToken": SECRET_VALUE };
  for (const [k, v] of Object.entries(values)) {
    if (v === undefined) delete raw[k];
    else raw[k] = typeof v === "string" ? v : JSON.stringify(v);
  }
  return parseSettings({ project: "mlflow-kit", stack: "prod", values: raw, secretKeys: new Set(secretKeys) }, options);
}

function problems(values: Record<string, unknown>, secretKeys?: string[], options = {}): string[] {
  try {
    parse(values, secretKeys, options);
  } catch (err) {
    expect(err).toBeInstanceOf(SettingsError);
    const e = err as SettingsError;
    expect(e.message).not.toContain(SECRET_VALUE);
    return e.problems;
  }
  throw new Error("expected a SettingsError");
}

describe("settings: valid config", () => {
  it("types and defaults a prod config", () => {
    const s = parse(base());
    expect(s.namePrefix).toBe("mlflow-kit-prod");
    expect(s.lifecycle).toBe("long-lived");
    expect(s.database).toMatchObject({ kind: "rds", instanceClass: "db.t4g.micro", engineVersion: "16", backupRetentionDays: 7, bootstrap: "lambda", cidrBlock: "10.40.0.0/16" });
    expect(s.artifacts).toEqual({ kind: "s3", prefix: "mlflow", noncurrentVersionDays: 30, activeKey: "blue", keyRotations: { blue: 0, green: 0 } });
    expect(s.server).toEqual({ workers: 1, adminUsername: "admin", defaultPermission: "READ", corsAllowedOrigins: [], allowMajorUpgrade: false });
    expect(s.deploy).toEqual({ database: true, target: false });
    expect(s.skipped).toEqual(["mlflow-kit:target: ecs skipped by mlflow-kit:skipTarget"]);
    expect(s.tags["mlflow-kit:stack"]).toBe("prod");
  });

  it("deploys a Neon database (a branch named after the stack unless set)", () => {
    const s = parse({ ...base(), "mlflow-kit:database": { kind: "neon", projectId: "shiny-wind-028834", branch: "pr-42" }, "mlflow-kit:target": { kind: "render" }, "mlflow-kit:neonApiKey": "n" }, ["mlflow-kit:ghcrToken", "mlflow-kit:neonApiKey"]);
    expect(s.deploy.database).toBe(true);
    expect(s.database).toEqual({ kind: "neon", projectId: "shiny-wind-028834", region: "aws-us-east-2", branch: "pr-42" });
  });

  it("keeps secrets as Pulumi secrets", async () => {
    const pulumi = await import("@pulumi/pulumi");
    const s = parse(base());
    expect(await pulumi.isSecret(s.secrets.ghcrToken!)).toBe(true);
  });

  it("ignores other providers' config", () => {
    expect(() => parse({ ...base(), "aws:profile": "work", "postgresql:sslmode": "require" })).not.toThrow();
  });

  it("every kind the schema accepts deploys now: the offline plan leaves nothing out", () => {
    const stacks: Array<[Record<string, unknown>, string[]]> = [
      [{ "mlflow-kit:database": { kind: "neon" }, "mlflow-kit:target": { kind: "render" }, "mlflow-kit:neonApiKey": "n", "mlflow-kit:renderApiKey": "r" }, ["mlflow-kit:neonApiKey", "mlflow-kit:renderApiKey"]],
      [{ "mlflow-kit:database": { kind: "neon" }, "mlflow-kit:target": { kind: "hf-space", owner: "acme" }, "mlflow-kit:neonApiKey": "n", "mlflow-kit:hfToken": "h" }, ["mlflow-kit:neonApiKey", "mlflow-kit:hfToken"]],
      [{ "mlflow-kit:database": { kind: "rds" }, "mlflow-kit:target": { kind: "ecs", domain: "mlflow.example.com" } }, []],
      [{ "mlflow-kit:database": { kind: "local" }, "mlflow-kit:target": { kind: "local" }, "mlflow-kit:artifacts": { kind: "minio" } }, []],
    ];
    for (const [change, secretKeys] of stacks) {
      // The local target pushes nothing: no image owner, no GHCR token (both would have no effect).
      const local = (change["mlflow-kit:target"] as { kind: string }).kind === "local";
      const s = parse({ ...base(), ...change, "mlflow-kit:skipTarget": undefined, ...(local ? { "mlflow-kit:image": undefined, "mlflow-kit:ghcrToken": undefined, "aws:region": undefined } : {}) }, local ? secretKeys : ["mlflow-kit:ghcrToken", ...secretKeys], { allowUnsupported: true });
      expect(s.deploy, JSON.stringify(change)).toEqual({ database: true, target: true });
      expect(s.skipped, JSON.stringify(change)).toEqual([]);
    }
  });

  it("a Render target: workspace id optional, deploy wait limit 20 minutes by default", () => {
    const render = (target: Record<string, unknown>) => parse({ ...base(), "mlflow-kit:database": { kind: "neon" }, "mlflow-kit:target": { kind: "render", ...target }, "mlflow-kit:skipTarget": undefined, "mlflow-kit:neonApiKey": "n", "mlflow-kit:renderApiKey": "r" },
      ["mlflow-kit:ghcrToken", "mlflow-kit:neonApiKey", "mlflow-kit:renderApiKey"], { allowUnsupported: true });
    expect(render({}).target).toEqual({ kind: "render", region: "oregon", plan: "starter", deployTimeoutMinutes: 20 });
    expect(render({ ownerId: "tea-d0abc123", plan: "free" }).target).toMatchObject({ ownerId: "tea-d0abc123", plan: "free" });
  });

  it.each(["dev", "prod"])("Pulumi.%s.yaml parses (offline, placeholders for secrets)", (stack) => {
    const cfg = readStackConfig(stack, {});
    const s = parseSettings({ project: cfg.project, stack, values: cfg.config, secretKeys: new Set(cfg.secretKeys) }, { allowUnsupported: true });
    expect(s.stack).toBe(stack);
    expect(cfg.placeholders).toContain("mlflow-kit:ghcrToken");
  });
});

describe("settings: the expiry of ephemeral stacks", () => {
  const at = (values: Record<string, unknown>, now: string) => {
    const raw: Record<string, string> = { "mlflow-kit:ghcrToken": SECRET_VALUE };
    for (const [k, v] of Object.entries(values)) raw[k] = typeof v === "string" ? v : JSON.stringify(v);
    return parseSettings({ project: "mlflow-kit", stack: "pr-7", values: raw, secretKeys: new Set(["mlflow-kit:ghcrToken"]), now: new Date(now) });
  };

  it("tags an ephemeral stack ttlHours (default 168) after the start of the next hour", () => {
    const s = at({ ...base(), "mlflow-kit:lifecycle": "ephemeral" }, "2026-11-24T00:47:13.512Z");
    expect(s.expiresAt).toBe("2026-12-01T01:00:00Z");
    expect(s.tags["mlflow-kit:expires-at"]).toBe("2026-12-01T01:00:00Z");
    // Same hour, same tags: two plans within an hour do not differ.
    expect(at({ ...base(), "mlflow-kit:lifecycle": "ephemeral" }, "2026-11-24T00:59:59Z").tags).toEqual(s.tags);
  });

  it("honours ttlHours across a day and a month boundary, in UTC", () => {
    expect(at({ ...base(), "mlflow-kit:lifecycle": "ephemeral", "mlflow-kit:ttlHours": 30 }, "2026-11-30T23:10:00+00:00").expiresAt).toBe("2026-12-02T06:00:00Z");
    // A local-time input is the same instant: 01:30 at +02:00 is 23:30 UTC the day before.
    expect(at({ ...base(), "mlflow-kit:lifecycle": "ephemeral", "mlflow-kit:ttlHours": 1 }, "2026-12-01T01:30:00+02:00").expiresAt).toBe("2026-12-01T01:00:00Z");
  });

  it("a short TTL is never past, nor minutes away, at creation: the expiry is at least ttlHours ahead", () => {
    for (const t of ["2026-11-30T23:00:00Z", "2026-11-30T23:00:01Z", "2026-11-30T23:59:59Z"]) {
      expect(Date.parse(expiryFrom(new Date(t), 1)) - Date.parse(t)).toBeGreaterThanOrEqual(3_600_000);
    }
  });

  describe("on Neon, what Neon would refuse for the branch expiry is refused, with the limit", () => {
    const neon = () => ({ ...base(), "mlflow-kit:lifecycle": "ephemeral", "mlflow-kit:database": { kind: "neon" }, "mlflow-kit:target": { kind: "render" }, "mlflow-kit:neonApiKey": "x" });
    const problems = (values: Record<string, unknown>, now = "2026-11-24T00:30:00Z") => {
      try {
        at(values, now);
        return [];
      } catch (err) {
        return (err as { problems?: string[] }).problems ?? [String(err)];
      }
    };
    it("ttlHours over 719 (30 days, with the expiry rounded up to the next hour)", () => {
      expect(problems({ ...neon(), "mlflow-kit:ttlHours": 720 }).join("\n")).toMatch(/mlflow-kit:ttlHours: 720 hours is beyond what Neon allows for the branch's expiry \(30 days ahead.*at most 719\)\. Set ttlHours to 719 or less/);
      expect(problems({ ...neon(), "mlflow-kit:ttlHours": 719 }).join("\n")).not.toMatch(/ttlHours/);
      // Other databases keep the 90-day bound.
      expect(problems({ ...base(), "mlflow-kit:lifecycle": "ephemeral", "mlflow-kit:ttlHours": 2000 }).join("\n")).not.toMatch(/ttlHours/);
    });
    it("a pinned expiresAt more than 30 days ahead", () => {
      expect(problems({ ...neon(), "mlflow-kit:expiresAt": "2026-12-24T01:00:00Z" }).join("\n")).toMatch(/mlflow-kit:expiresAt: 2026-12-24T01:00:00Z is more than 30 days ahead, which Neon refuses/);
      expect(problems({ ...neon(), "mlflow-kit:expiresAt": "2026-12-23T00:00:00Z" }).join("\n")).not.toMatch(/expiresAt/);
    });
  });

  it("a pinned expiresAt wins over ttlHours, normalised to UTC", () => {
    const s = at({ ...base(), "mlflow-kit:lifecycle": "ephemeral", "mlflow-kit:expiresAt": "2026-12-24T18:00:00+01:00" }, "2026-11-24T00:00:00Z");
    expect(s.tags["mlflow-kit:expires-at"]).toBe("2026-12-24T17:00:00Z");
  });

  it("a long-lived stack has no expiry tag", () => {
    const s = at(base(), "2026-11-24T00:00:00Z");
    expect(s.expiresAt).toBeUndefined();
    expect(Object.keys(s.tags)).not.toContain("mlflow-kit:expires-at");
  });
});

describe("settings: every problem at once, naming the key and the fix", () => {
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ["a pinned minor version", { "mlflow-kit:database": { kind: "rds", engineVersion: "16.4" } }, /mlflow-kit:database\.engineVersion: must be a PostgreSQL major version from 14 to 18 without a minor, such as "16".*Drop the "\.minor"/],
    ["a major settings do not support", { "mlflow-kit:database": { kind: "rds", engineVersion: "13" } }, /mlflow-kit:database\.engineVersion: must be a PostgreSQL major version from 14 to 18/],
    ["a storage ceiling under +10%", { "mlflow-kit:database": { kind: "rds", allocatedStorageGb: 100, maxAllocatedStorageGb: 105 } }, /mlflow-kit:database\.maxAllocatedStorageGb: \(105\) is less than 10% above allocatedStorageGb \(100\), which RDS refuses\. Set it to 110 or more, or equal to allocatedStorageGb \(100\) to turn autoscaling off/],
    ["a storage ceiling below the allocation", { "mlflow-kit:database": { kind: "rds", allocatedStorageGb: 50, maxAllocatedStorageGb: 40 } }, /mlflow-kit:database\.maxAllocatedStorageGb: \(40\) is below allocatedStorageGb \(50\)\. Set it to 55 or more.*or equal/],
    ["a VPC block too small to split into subnets", { "mlflow-kit:database": { kind: "rds", cidrBlock: "10.40.0.0/26" } }, /mlflow-kit:database\.cidrBlock: must be an IPv4 CIDR block from \/16 to \/24/],
    ["a VPC block with host bits", { "mlflow-kit:database": { kind: "rds", cidrBlock: "10.40.0.1/16" } }, /mlflow-kit:database\.cidrBlock: vpc cidrBlock 10\.40\.0\.1\/16 has host bits set\. Give the network address/],
    ["missing lifecycle", { "mlflow-kit:lifecycle": undefined }, /mlflow-kit:lifecycle: is missing\. .*pulumi config set mlflow-kit:lifecycle long-lived/],
    ["bad lifecycle", { "mlflow-kit:lifecycle": "forever" }, /mlflow-kit:lifecycle: must be one of long-lived, ephemeral/],
    ["unknown target kind", { "mlflow-kit:target": { kind: "heroku" } }, /mlflow-kit:target\.kind: must be one of render, hf-space, ecs, local/],
    ["unknown database kind", { "mlflow-kit:database": { kind: "mysql" } }, /mlflow-kit:database\.kind: must be one of rds, neon, local/],
    ["malformed domain", { "mlflow-kit:target": { kind: "ecs", domain: "https://mlflow.example.com/" } }, /mlflow-kit:target\.domain: must be a fully qualified lower-case domain name/],
    ["localhost as domain", { "mlflow-kit:target": { kind: "ecs", domain: "mlflow.localhost" } }, /mlflow-kit:target\.domain: must be a public domain, not localhost/],
    ["bad alarm email", { "mlflow-kit:target": { kind: "ecs", domain: "mlflow.example.com", alarmEmails: ["ops"] } }, /mlflow-kit:target\.alarmEmails\.0: must be e-mail addresses/],
    ["missing ecs domain", { "mlflow-kit:target": { kind: "ecs" } }, /mlflow-kit:target\.domain: is missing/],
    ["typo in a nested key", { "mlflow-kit:database": { kind: "rds", instanceClas: "db.t4g.micro" } }, /mlflow-kit:database: has unknown setting instanceClas/],
    ["unknown top-level key", { "mlflow-kit:databse": { kind: "rds" } }, /mlflow-kit:databse: is not a setting of mlflow-kit\. Did you mean mlflow-kit:database\?/],
    ["password in plain config", { "mlflow-kit:adminPassword": SECRET_VALUE }, /mlflow-kit:adminPassword: is set in plain text.*pulumi config set --secret mlflow-kit:adminPassword/],
    ["credential inside a structured key", { "mlflow-kit:database": { kind: "rds", password: SECRET_VALUE } }, /mlflow-kit:database\.password: looks like a credential in plain config/],
    ["missing region", { "aws:region": undefined }, /aws:region: is missing.*pulumi config set aws:region/],
    ["bad region", { "aws:region": "europe" }, /aws:region: must be an AWS region such as us-east-1/],
    ["no backups", { "mlflow-kit:database": { kind: "rds", backupRetentionDays: 0 } }, /mlflow-kit:database\.backupRetentionDays: must be at least 1/],
    ["short backups on long-lived", { "mlflow-kit:database": { kind: "rds", backupRetentionDays: 3 } }, /backupRetentionDays: a long-lived stack keeps at least 7 days/],
    ["existing VPC without subnets", { "mlflow-kit:database": { kind: "rds", vpcId: "vpc-0abc12345def67890" } }, /database\.privateSubnetIds: an existing VPC .* needs at least two private subnets/],
    ["direct bootstrap without the runner's security group", { "mlflow-kit:database": { kind: "rds", bootstrap: "direct" } }, /database\.clientSecurityGroupIds: bootstrap: direct creates the role and databases from the machine running `pulumi up`/],
    ["rds with a target outside the VPC", { "mlflow-kit:target": { kind: "render" } }, /database\.kind: rds is private to its VPC and only target\.kind ecs/],
    ["a Render owner id that is not a workspace id", { "mlflow-kit:database": { kind: "neon" }, "mlflow-kit:target": { kind: "render", ownerId: "srv-abc123" } }, /mlflow-kit:target\.ownerId: must be a Render workspace id such as tea-abc123/],
    ["a Render deploy wait beyond two hours", { "mlflow-kit:database": { kind: "neon" }, "mlflow-kit:target": { kind: "render", deployTimeoutMinutes: 600 } }, /mlflow-kit:target\.deployTimeoutMinutes: /],
    ["workers beyond a free plan", { "mlflow-kit:database": { kind: "neon" }, "mlflow-kit:target": { kind: "render", plan: "free" }, "mlflow-kit:server": { workers: 4 } }, /server\.workers: 4 workers do not fit Render's free plan/],
    ["a local database with a cloud target", { "mlflow-kit:database": { kind: "local" }, "mlflow-kit:target": { kind: "render" }, "mlflow-kit:renderApiKey": "r", "mlflow-kit:skipTarget": undefined }, /mlflow-kit:database\.kind: local runs PostgreSQL in Docker on the machine running `pulumi up`, which a render server could never reach/],
    ["uppercase GHCR owner", { "mlflow-kit:image": { owner: "Example-Org" } }, /mlflow-kit:image\.owner: must be a lower-case GitHub user/],
    ["an expiry on a long-lived stack", { "mlflow-kit:expiresAt": "2030-01-01T00:00:00Z" }, /mlflow-kit:expiresAt: a long-lived stack never expires\. Remove it/],
    ["an expiry that is not a date", { "mlflow-kit:lifecycle": "ephemeral", "mlflow-kit:expiresAt": "next week" }, /mlflow-kit:expiresAt: must be an ISO 8601 date-time/],
    ["an expiry in the past", { "mlflow-kit:lifecycle": "ephemeral", "mlflow-kit:expiresAt": "2001-01-01T00:00:00Z" }, /mlflow-kit:expiresAt: 2001-01-01T00:00:00Z is in the past/],
    ["a TTL beyond 90 days", { "mlflow-kit:lifecycle": "ephemeral", "mlflow-kit:ttlHours": 5000 }, /mlflow-kit:ttlHours: must be at most 2160/],
    ["bad Neon organization id", { "mlflow-kit:database": { kind: "neon", orgId: "my-org" } }, /mlflow-kit:database\.orgId: must be a Neon organization id such as org-/],
    ["bad Neon project id", { "mlflow-kit:database": { kind: "neon", projectId: "My Project" } }, /mlflow-kit:database\.projectId: must be a Neon project id such as shiny-wind-028834/],
    ["bad Neon region", { "mlflow-kit:database": { kind: "neon", region: "us-east-2" } }, /mlflow-kit:database\.region: must be a Neon region id such as aws-us-east-2/],
    ["bad artifact prefix", { "mlflow-kit:artifacts": { prefix: "/mlflow/" } }, /mlflow-kit:artifacts\.prefix: must be a key prefix without leading or trailing slash/],
  ];

  it.each(cases)("%s", (_name, change, expected) => {
    const found = problems({ ...base(), ...change });
    expect(found.join("\n")).toMatch(expected);
  });

  it("a missing secret names the key and the command", () => {
    const found = problems(base(), [], {});
    // ghcrToken is given but not as a secret: refused as plain text, never echoed.
    expect(found.join("\n")).toMatch(/mlflow-kit:ghcrToken: is set in plain text/);
    // Only that message: the value is there, just not encrypted, so it is not "missing" too.
    expect(found.filter((p) => p.startsWith("mlflow-kit:ghcrToken:"))).toHaveLength(1);
    const missing = problems({ ...base(), "mlflow-kit:ghcrToken": undefined });
    expect(missing.join("\n")).toMatch(/mlflow-kit:ghcrToken: is missing: GitHub token with write:packages.*pulumi config set --secret mlflow-kit:ghcrToken <value>/);
  });

  it("a target's own secret is required with it", () => {
    const found = problems({ ...base(), "mlflow-kit:database": { kind: "neon" }, "mlflow-kit:target": { kind: "hf-space", owner: "acme" }, "mlflow-kit:skipTarget": undefined });
    expect(found.join("\n")).toMatch(/mlflow-kit:neonApiKey: is missing/);
    expect(found.join("\n")).toMatch(/mlflow-kit:hfToken: is missing/);
  });

  it("reports several problems in one error", () => {
    const found = problems({ ...base(), "mlflow-kit:lifecycle": "forever", "aws:region": "europe", "mlflow-kit:databse": {} });
    expect(found.length).toBeGreaterThanOrEqual(3);
  });

  it("a long stack name that cannot name a bucket is refused", () => {
    expect(() => parseSettings({ project: "mlflow-kit", stack: "review-pr-1234-with-a-very-long-branch-name", values: { ...Object.fromEntries(Object.entries(base()).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)])), "mlflow-kit:ghcrToken": "x" }, secretKeys: new Set(["mlflow-kit:ghcrToken"]) }))
      .toThrow(/stack name: .* must be 3-42 lower-case letters/);
  });
});

describe("settings: the local stack", () => {
  /** A valid local config: no AWS region, no image owner, no token. */
  const local = (): Record<string, unknown> => ({
    "aws:region": undefined,
    "mlflow-kit:ghcrToken": undefined,
    "mlflow-kit:lifecycle": "long-lived",
    "mlflow-kit:database": { kind: "local" },
    "mlflow-kit:artifacts": { kind: "minio" },
    "mlflow-kit:target": { kind: "local" },
  });
  const localProblems = (values: Record<string, unknown>, secretKeys: string[] = []) => problems(values, secretKeys);

  it("needs no AWS region, no image owner and no GHCR token", () => {
    const s = parse(local(), []);
    expect(s.deploy).toEqual({ database: true, target: true });
    expect(s.database).toMatchObject({ kind: "local", image: expect.stringMatching(/^postgres:17[^@]*@sha256:[0-9a-f]{64}$/) });
    expect(s.artifacts).toMatchObject({ kind: "minio", prefix: "mlflow", keyRotation: 0, image: expect.stringMatching(/minio.*@sha256:[0-9a-f]{64}$/) });
    expect(s.target).toEqual({ kind: "local", port: 5000 });
    expect(s.secrets.ghcrToken).toBeUndefined();
    expect(s.region).toBe("us-east-1");
  });

  it("an artifacts object without kind is S3, as before kinds existed", () => {
    expect(parse({ ...base(), "mlflow-kit:artifacts": { prefix: "runs" } }).artifacts).toMatchObject({ kind: "s3", prefix: "runs", activeKey: "blue" });
  });

  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ["port below 1024", { "mlflow-kit:target": { kind: "local", port: 80 } }, /mlflow-kit:target\.port: must be between 1024 and 65535 \(an unprivileged port, published on 127\.0\.0\.1 only\)/],
    ["port above 65535", { "mlflow-kit:target": { kind: "local", port: 70000 } }, /mlflow-kit:target\.port: must be between 1024 and 65535/],
    ["fractional port", { "mlflow-kit:target": { kind: "local", port: 5000.5 } }, /mlflow-kit:target\.port: must be a whole TCP port number/],
    ["port as text", { "mlflow-kit:target": { kind: "local", port: "http" } }, /mlflow-kit:target\.port: must be number/],
    ["PostgreSQL image by tag only", { "mlflow-kit:database": { kind: "local", image: "postgres:17" } }, /mlflow-kit:database\.image: must be an image pinned by digest, such as postgres:17\.10-bookworm@sha256:<64 hex>/],
    ["MinIO image by tag only", { "mlflow-kit:artifacts": { kind: "minio", image: "minio/minio:latest" } }, /mlflow-kit:artifacts\.image: must be an image pinned by digest/],
    ["unknown artifacts kind", { "mlflow-kit:artifacts": { kind: "gcs" } }, /mlflow-kit:artifacts\.kind: must be one of s3, minio/],
    ["S3 keys on MinIO", { "mlflow-kit:artifacts": { kind: "minio", activeKey: "green" } }, /mlflow-kit:artifacts: has unknown setting activeKey/],
    ["S3 artifacts without a region", { "mlflow-kit:artifacts": { kind: "s3" } }, /aws:region: is missing; artifacts\.kind s3 deploys to AWS there\. Set it: `pulumi config set aws:region us-east-1`/],
    ["a password in plain config", { "mlflow-kit:adminPassword": SECRET_VALUE }, /mlflow-kit:adminPassword: is set in plain text.*pulumi config set --secret mlflow-kit:adminPassword/],
    ["a password inside the target", { "mlflow-kit:target": { kind: "local", password: SECRET_VALUE } }, /mlflow-kit:target\.password: looks like a credential in plain config/],
  ];
  it.each(cases)("%s", (_name, change, expected) => {
    expect(localProblems({ ...local(), ...change }).join("\n")).toMatch(expected);
  });

  it("a local database or MinIO is refused for a remote target, naming what to use instead", () => {
    const onRender = localProblems({ ...local(), "mlflow-kit:target": { kind: "render" }, "mlflow-kit:renderApiKey": "r", "mlflow-kit:ghcrToken": "t", "mlflow-kit:image": { owner: "acme" }, "aws:region": "us-east-1" }, ["mlflow-kit:renderApiKey", "mlflow-kit:ghcrToken"]);
    expect(onRender.join("\n")).toMatch(/mlflow-kit:database\.kind: local runs PostgreSQL in Docker on the machine running `pulumi up`, which a render server could never reach\. Use database\.kind neon for render, or target\.kind local/);
    expect(onRender.join("\n")).toMatch(/mlflow-kit:artifacts\.kind: minio runs in Docker .* Use artifacts\.kind s3 for render, or target\.kind local/);
    const onEcs = localProblems({ ...local(), "mlflow-kit:artifacts": undefined, "mlflow-kit:target": { kind: "ecs", domain: "mlflow.example.com" }, "mlflow-kit:image": { owner: "acme" }, "aws:region": "us-east-1" });
    expect(onEcs.join("\n")).toMatch(/database\.kind: local .* Use database\.kind rds for ecs/);
  });

  it("a pushed image still needs its owner and token", () => {
    const found = problems({ ...base(), "mlflow-kit:image": { name: "srv" }, "mlflow-kit:ghcrToken": undefined }, []);
    expect(found.join("\n")).toMatch(/mlflow-kit:image\.owner: is missing; a ecs server pulls the image from ghcr\.io\/<owner>\/srv/);
    expect(found.join("\n")).toMatch(/mlflow-kit:ghcrToken: is missing/);
  });

  it("Pulumi.local.yaml parses strictly, with no secret from the environment", () => {
    const cfg = readStackConfig("local", {});
    const values = Object.fromEntries(Object.entries(cfg.config).filter(([k]) => !cfg.placeholders.includes(k)));
    const s = parseSettings({ project: cfg.project, stack: "local", values, secretKeys: new Set() });
    expect(s.skipped).toEqual([]);
    expect(s.target.kind).toBe("local");
  });
});

describe("settings: RDS rules shared with rds.ts", () => {
  it("accepts a ceiling equal to the allocated storage (autoscaling off) and one 10% above it", () => {
    for (const max of [100, 110, 500]) {
      expect(parse({ ...base(), "mlflow-kit:database": { kind: "rds", allocatedStorageGb: 100, maxAllocatedStorageGb: max } }).database).toMatchObject({ maxAllocatedStorageGb: max });
    }
  });

  it("accepts every VPC block from /16 to /24 with three zones", () => {
    for (const block of ["10.40.0.0/16", "10.40.0.0/20", "10.40.1.0/24"]) {
      expect(() => parse({ ...base(), "mlflow-kit:database": { kind: "rds", cidrBlock: block, availabilityZones: 3 } })).not.toThrow();
    }
  });

  it("decommission is off unless set", () => {
    expect(parse(base()).decommission).toBe(false);
    expect(parse({ ...base(), "mlflow-kit:decommission": true }).decommission).toBe(true);
  });
});

describe("settings: the ecs target's rules", () => {
  const ecs = (extra: Record<string, unknown>) => ({ "mlflow-kit:target": { kind: "ecs", domain: "mlflow.example.com", ...extra }, "mlflow-kit:skipTarget": undefined });
  const DIGEST = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U";
  const withHashes = (hashes: unknown, values: Record<string, unknown>) =>
    problems({ ...base(), ...values, "mlflow-kit:autheliaPasswordHashes": typeof hashes === "string" ? hashes : JSON.stringify(hashes) }, ["mlflow-kit:ghcrToken", "mlflow-kit:autheliaPasswordHashes"]).join("\n");

  it("a valid ecs config parses, with defaults", () => {
    const s = parse({ ...base(), ...ecs({ users: [{ username: "alice", displayName: "Alice" }] }), "mlflow-kit:autheliaPasswordHashes": JSON.stringify({ alice: DIGEST }) }, ["mlflow-kit:ghcrToken", "mlflow-kit:autheliaPasswordHashes"]);
    expect(s.target).toMatchObject({ kind: "ecs", apiUsername: "mlflow-api", cpu: 512, memoryMb: 1024, desiredCount: 1, alarmEmails: [] });
    expect(s.deploy.target).toBe(true);
  });

  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ["memory that Fargate does not offer for the CPU", ecs({ cpu: 256, memoryMb: 4096 }), /target\.memoryMb: 4096 MB is not a Fargate size for cpu 256\. Use 512 to 2048/],
    ["memory off Fargate's 1 GB steps", ecs({ cpu: 1024, memoryMb: 2500 }), /target\.memoryMb: 2500 MB is not a Fargate size for cpu 1024/],
    ["a portal host equal to the domain", ecs({ authDomain: "mlflow.example.com" }), /target\.authDomain: must differ from target\.domain/],
    ["a portal host under another parent", ecs({ authDomain: "auth.example.org" }), /target\.authDomain: mlflow\.example\.com and auth\.example\.org share no parent domain/],
    ["a two-label domain (its portal would share only the TLD)", ecs({ domain: "example.com" }), /target\.domain: example\.com and auth\.com share no parent domain.*at least three labels/],
    ["public subnets without an existing VPC", ecs({ publicSubnetIds: ["subnet-0aaa00000000001", "subnet-0bbb00000000002"] }), /target\.publicSubnetIds: is only used with database\.vpcId/],
    ["an existing VPC without public subnets", { ...ecs({}), "mlflow-kit:database": { kind: "rds", vpcId: "vpc-0abc12345def67890", privateSubnetIds: ["subnet-0aaa00000000001", "subnet-0bbb00000000002"] } }, /target\.publicSubnetIds: an existing VPC .* needs the public subnets of two availability zones/],
    ["ecs without RDS", { ...ecs({}), "mlflow-kit:database": { kind: "neon" }, "mlflow-kit:neonApiKey": "n" }, /target\.kind: ecs runs in the database's VPC and needs database\.kind rds/],
    ["a user listed twice", ecs({ users: [{ username: "alice", displayName: "A" }, { username: "alice", displayName: "B" }] }), /target\.users: alice is listed twice/],
    ["a user named like the API user", ecs({ users: [{ username: "mlflow-api", displayName: "X" }] }), /target\.users: mlflow-api is the API user/],
    ["a bad alarm address", ecs({ alarmEmails: ["ops-at-example.com"] }), /target\.alarmEmails\.0: must be e-mail addresses/],
    ["users without their digests", ecs({ users: [{ username: "alice", displayName: "A" }] }), /mlflow-kit:autheliaPasswordHashes: is missing/],
  ];
  it.each(cases)("%s", (_name, change, expected) => {
    expect(problems({ ...base(), ...change }).join("\n")).toMatch(expected);
  });

  it("digests: not JSON, missing, not argon2id, or for nobody; never echoed", () => {
    const users = ecs({ users: [{ username: "alice", displayName: "A" }, { username: "bob", displayName: "B" }] });
    expect(withHashes("not json", users)).toMatch(/autheliaPasswordHashes: must be a JSON object of username to argon2id digest/);
    const found = withHashes({ alice: "$2b$12$abcdefghijklmnopqrstuv" + SECRET_VALUE, carol: DIGEST }, users);
    expect(found).toMatch(/autheliaPasswordHashes: has no digest for target\.users bob/);
    expect(found).toMatch(/autheliaPasswordHashes: the digest of alice is not an argon2id digest/);
    expect(found).toMatch(/autheliaPasswordHashes: carol is not in target\.users/);
    expect(found).not.toContain(SECRET_VALUE);
    expect(found).not.toContain(DIGEST);
  });
});
