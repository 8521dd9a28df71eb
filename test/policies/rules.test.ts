/**
 * Every rule of the pack: a compliant stack passes it, and one change that breaks it is caught
 * with a message that names what is wrong and the fix. Rules run through stacks/policy-check.ts,
 * which deserializes the engine's wire format with @pulumi/policy's own code.
 */
import { describe, expect, it } from "vitest";
import { CONTRACT_VARIABLES } from "../../infra/runtime-contract";
import { policies } from "../../policies/policies";
import { isSecretName, T } from "../../policies/resources";
import { checkPolicies, type PolicyConfig, type Violation } from "../../stacks/policy-check";
import { all, editJson, ephemeral, inHours, longLived, res, secret, set, type Fixture } from "./fixtures";
import { FSBP_CASES } from "./fsbp-cases";

type Case = { policy: string; name: string; make: () => Fixture; expect: RegExp; config?: PolicyConfig; level?: string };
const L = longLived;
const E = ephemeral;

const cases: Case[] = [
  // S3
  { policy: "s3-public-access-blocked", name: "a setting left off", make: () => set(L(), "publicAccess", "restrictPublicBuckets", false), expect: /leaves restrictPublicBuckets off: set it to true/ },
  { policy: "s3-public-access-blocked", name: "no block at all", make: () => { const f: Fixture = L(); delete f.publicAccess; return f; }, expect: /has no aws\.s3\.BucketPublicAccessBlock/ },
  { policy: "s3-encrypted", name: "no encryption configuration", make: () => { const f: Fixture = L(); delete f.sse; return f; }, expect: /has no aws\.s3\.BucketServerSideEncryptionConfiguration: add one with sseAlgorithm AES256/ },
  { policy: "s3-encrypted", name: "an unknown algorithm", make: () => set(L(), "sse", "rules.0.applyServerSideEncryptionByDefault.sseAlgorithm", "none"), expect: /sets sseAlgorithm \["none"\]/ },
  { policy: "s3-versioned-when-long-lived", name: "versioning suspended", make: () => set(L(), "versioning", "versioningConfiguration.status", "Suspended"), expect: /belongs to a long-lived stack but its versioning is Suspended/ },
  { policy: "s3-noncurrent-versions-kept", name: "noncurrent versions dropped after 3 days", make: () => set(L(), "lifecycle", "rules.0.noncurrentVersionExpiration.noncurrentDays", 3), expect: /deletes noncurrent versions after 3 days, below 30/, level: "advisory" },
  { policy: "s3-noncurrent-versions-kept", name: "a stricter threshold from config", make: L, config: { "s3-noncurrent-versions-kept": { minNoncurrentVersionDays: 120 } }, expect: /after 90 days, below 120/, level: "advisory" },
  { policy: "s3-tls-only", name: "the deny covers objects only", make: () => editJson(L(), "bucketPolicy", "policy", (d) => { d.Statement[0].Resource = [d.Statement[0].Resource[1]]; }), expect: /no bucket policy statement that denies s3:\* to "\*" when aws:SecureTransport is "false" on both/ },
  { policy: "s3-no-public-grant", name: "an Allow to everyone", make: () => editJson(L(), "bucketPolicy", "policy", (d) => d.Statement.push({ Sid: "PublicRead", Effect: "Allow", Principal: { AWS: "*" }, Action: "s3:GetObject", Resource: "arn:aws:s3:::kit-prod-artifacts/*" })), expect: /statement "PublicRead" allows "s3:GetObject" to the principal "\*"/ },
  // IAM
  { policy: "iam-no-wildcards", name: "s3:* on the prefix", make: () => editJson(L(), "userPolicy", "policy", (d) => { d.Statement[1].Action = "s3:*"; }), expect: /statement "ReadWriteArtifactObjects" allows the action wildcard s3:\*/ },
  { policy: "iam-no-wildcards", name: "every resource", make: () => editJson(L(), "userPolicy", "policy", (d) => { d.Statement[1].Resource = "*"; }), expect: /allows its actions on every resource \("\*"\)/ },
  { policy: "iam-artifact-prefix-scope", name: "the whole bucket", make: () => editJson(L(), "userPolicy", "policy", (d) => { d.Statement[1].Resource = "arn:aws:s3:::kit-prod-artifacts/*"; }), expect: /reaches arn:aws:s3:::kit-prod-artifacts\/\*, outside an artifact prefix/ },
  { policy: "iam-artifact-prefix-scope", name: "listing without a prefix condition", make: () => editJson(L(), "userPolicy", "policy", (d) => { delete d.Statement[0].Condition; }), expect: /lets the user list kit-prod-artifacts without an s3:prefix condition/ },
  { policy: "iam-artifact-prefix-scope", name: "another prefix than the configured one", make: L, config: { "iam-artifact-prefix-scope": { artifactPrefix: "team-a" } }, expect: /outside the artifact prefix "team-a\/"/ },
  { policy: "iam-access-keys-per-user", name: "a third key", make: () => ({ ...L(), third: res(T.accessKey, "key-extra", { user: "kit-prod-artifacts" }) }), expect: /has 3 access keys \(key-blue, key-green, key-extra\), more than 2/ },
  // RDS
  { policy: "rds-not-public", name: "publicly accessible", make: () => set(L(), "db", "publiclyAccessible", true), expect: /publiclyAccessible is true: the database gets a public address/ },
  { policy: "rds-storage-encrypted", name: "unencrypted", make: () => set(L(), "db", "storageEncrypted", false), expect: /storageEncrypted is not true/ },
  { policy: "rds-backups-kept", name: "3 days on a long-lived stack", make: () => set(L(), "db", "backupRetentionPeriod", 3), expect: /backupRetentionPeriod is 3 days, below the 7 a long-lived stack keeps/ },
  { policy: "rds-backups-kept", name: "a stricter threshold from config", make: L, config: { "rds-backups-kept": { minBackupRetentionDays: 30 } }, expect: /backupRetentionPeriod is 14 days, below the 30/ },
  { policy: "rds-deletion-guarded-when-long-lived", name: "no deletion protection, no final snapshot", make: () => set(set(L(), "db", "deletionProtection", false), "db", "skipFinalSnapshot", true), expect: /deletionProtection is not true on a long-lived database[\s\S]*must take a final snapshot/ },
  { policy: "rds-tls-forced", name: "force_ssl off", make: () => set(L(), "pg", "parameters.0.value", "0"), expect: /does not set rds\.force_ssl = 1/ },
  // Network
  { policy: "no-ingress-from-internet", name: "PostgreSQL open to the world", make: () => ({ ...L(), open: res(T.ingressRule, "db-open", { securityGroupId: "sg-db", cidrIpv4: "0.0.0.0/0", ipProtocol: "tcp", fromPort: 5432, toPort: 5432 }, { propertyDependencies: { securityGroupId: [L().dbSg.urn] } }) }), expect: /admits 0\.0\.0\.0\/0 on port 5432 into aws:ec2\/securityGroup:SecurityGroup "db-sg": only a load balancer's security group/ },
  { policy: "no-ingress-from-internet", name: "SSH on the load balancer", make: () => ({ ...L(), ssh: res(T.securityGroupRule, "lb-ssh", { type: "ingress", securityGroupId: "sg-lb", ipv6CidrBlocks: ["::/0"], protocol: "tcp", fromPort: 22, toPort: 22 }, { propertyDependencies: { securityGroupId: [L().lbSg.urn] } }) }), expect: /admits ::\/0 on port 22/ },
  { policy: "database-ingress-from-security-groups", name: "a CIDR range into the database", make: () => ({ ...L(), office: res(T.ingressRule, "db-from-office", { securityGroupId: "sg-db", cidrIpv4: "10.0.0.0/8", ipProtocol: "tcp", fromPort: 5432, toPort: 5432 }, { propertyDependencies: { securityGroupId: [L().dbSg.urn] } }) }), expect: /admits 10\.0\.0\.0\/8 on port 5432 into the database's/ },
  // ECS
  { policy: "ecs-secrets-not-in-environment", name: "a password in environment", make: () => editJson(L(), "task", "containerDefinitions", (d) => d[0].environment.push({ name: "MLFLOW_ADMIN_PASSWORD", value: "hunter2hunter2" })), expect: /container "mlflow" gets MLFLOW_ADMIN_PASSWORD in plain `environment`.*move it to `secrets`/ },
  { policy: "ecs-logs-configured", name: "a container without logs", make: () => editJson(L(), "task", "containerDefinitions", (d) => { delete d[1].logConfiguration; }), expect: /container "authelia" has no logConfiguration/ },
  { policy: "log-retention", name: "logs kept forever", make: () => set(L(), "logs", "retentionInDays", undefined), expect: /retentionInDays is not set: the logs are kept \(and billed\) forever/ },
  { policy: "ecs-no-public-ip", name: "public IPs on tasks", make: () => set(L(), "service", "networkConfiguration.assignPublicIp", true), expect: /assignPublicIp is true/ },
  // Targets
  { policy: "server-authenticated", name: "proxy auth on Render", make: () => set(E(), "render", "envVars.1.value", "proxy"), expect: /render:Service "render" sets MLFLOW_AUTH_MODE=proxy, which turns MLflow's own auth off/ },
  { policy: "server-authenticated", name: "proxy auth on ECS without Authelia", make: () => editJson(L(), "task", "containerDefinitions", (d) => { d.splice(1, 1); }), expect: /the stack has no Authelia edge/ },
  { policy: "server-authenticated", name: "basic auth without an admin password", make: () => set(E(), "render", "envVars", (E().render.properties.envVars as any[]).filter((e) => e.key !== "MLFLOW_ADMIN_PASSWORD")), expect: /runs MLflow's basic auth without MLFLOW_ADMIN_PASSWORD/ },
  { policy: "workers-fit-memory", name: "2 workers on Render starter (512 MB)", make: () => set(set(E(), "render", "plan", "starter"), "render", "envVars.9.value", "2"), expect: /MLFLOW_WORKERS=2 does not fit Render's starter plan \(512 MB\).*at most 1 fits/ },
  { policy: "workers-fit-memory", name: "8 workers in a 2 GB task", make: () => editJson(L(), "task", "containerDefinitions", (d) => { d[0].environment[1].value = "8"; }), expect: /MLFLOW_WORKERS=8 does not fit 2048 MB.*at most 4 fit\./ },
  { policy: "workers-fit-memory", name: "a local container of 1 GB with 3 workers", make: () => set(E(), "container", "envs.9", "MLFLOW_WORKERS=3"), expect: /MLFLOW_WORKERS=3 does not fit 1024 MB/ },
  { policy: "workers-fit-memory", name: "20 workers on a Space's cpu-basic (16 GB)", make: () => set(E(), "release", "variables.MLFLOW_WORKERS", "40"), expect: /hf:SpaceRelease "release": MLFLOW_WORKERS=40 does not fit 16384 MB.*at most 32 fit\./ },
  { policy: "server-authenticated", name: "proxy auth on a Space", make: () => set(E(), "release", "variables.MLFLOW_AUTH_MODE", "proxy"), expect: /hf:SpaceRelease "release" sets MLFLOW_AUTH_MODE=proxy/ },
  { policy: "local-ports-on-loopback", name: "published on every interface", make: () => set(E(), "container", "ports.0.ip", undefined), expect: /port 5000 is published on 0\.0\.0\.0.*set ip "127\.0\.0\.1"/ },
  { policy: "server-access-defaults", name: "MANAGE for every signed-in user", make: () => set(E(), "release", "variables.MLFLOW_DEFAULT_PERMISSION", "MANAGE"), expect: /MLFLOW_DEFAULT_PERMISSION=MANAGE: every signed-in user may change permissions of and delete everyone's experiments/, level: "advisory" },
  { policy: "server-access-defaults", name: "a plain-HTTP CORS origin", make: () => set(E(), "release", "variables.MLFLOW_CORS_ALLOWED_ORIGINS", "https://ok.example.com,http://app.example.com"), expect: /allows http:\/\/app\.example\.com over plain HTTP/, level: "advisory" },
  { policy: "hf-space-private", name: "a public Space", make: () => set(E(), "space", "visibility", "public"), expect: /visibility is public/, level: "advisory" },
  // Stack-wide
  { policy: "data-protected-when-long-lived", name: "an unprotected bucket", make: () => { const f = L(); f.bucket.options = { protect: false, retainOnDelete: true }; return f; }, expect: /aws:s3\/bucket:Bucket "artifacts" holds a long-lived stack's data but lacks protect: true/ },
  { policy: "data-protected-when-long-lived", name: "a bucket deleted with the stack", make: () => { const f = L(); f.bucket.options = { protect: true, retainOnDelete: false }; return f; }, expect: /aws:s3\/bucket:Bucket "artifacts" holds a long-lived stack's data but lacks retainOnDelete: true/ },
  { policy: "data-protected-when-long-lived", name: "an unprotected database", make: () => { const f = L(); f.db.options = {}; return f; }, expect: /aws:rds\/instance:Instance "db" holds a long-lived stack's data but lacks protect: true:/ },
  { policy: "data-protected-when-long-lived", name: "a force-destroyed bucket", make: () => set(L(), "bucket", "forceDestroy", true), expect: /has forceDestroy true on a long-lived stack/ },
  { policy: "ephemeral-stack-expires", name: "no expiry tag", make: () => set(E(), "bucket", "tags.mlflow-kit:expires-at", undefined), expect: /belongs to an ephemeral stack but has no tag mlflow-kit:expires-at/ },
  { policy: "ephemeral-stack-expires", name: "a Neon branch without expiresAt", make: () => set(E(), "branch", "expiresAt", undefined), expect: /neon:Branch "branch" belongs to an ephemeral stack but has no expiresAt/ },
  { policy: "ephemeral-stack-expires", name: "an expiry beyond maxTtlHours", make: () => set(E(), "branch", "expiresAt", inHours(2000)), expect: /more than 720 hours from now/ },
  { policy: "ephemeral-stack-expires", name: "an expiry in the past", make: () => set(E(), "branch", "expiresAt", "2020-01-01T00:00:00Z"), expect: /expired at 2020-01-01T00:00:00Z/ },
  { policy: "secret-inputs-encrypted", name: "a plain password on RDS", make: () => set(L(), "db", "password", "plainTextPassword123"), expect: /^password: plain text; the policy changes this resource's inputs/, level: "remediate" },
  { policy: "secret-inputs-encrypted", name: "a plain secret env var on Render", make: () => set(E(), "render", "envVars.4.value", "aGeneratedAdminPassword123"), expect: /^envVars\[4\]\.value: plain text/, level: "remediate" },
  { policy: "secret-inputs-encrypted", name: "a plain NAME=value env on Docker", make: () => set(E(), "container", "envs.8", "AWS_SECRET_ACCESS_KEY=aSecretAccessKeyOfFortyCharactersExample0"), expect: /^envs\[8\]: plain text/, level: "remediate" },
];

const of = (vs: Violation[], policy: string) => vs.filter((v) => v.policy === policy);

describe("policy pack: the compliant stacks pass every rule", () => {
  it.each([["long-lived", L], ["ephemeral", E]] as const)("%s", async (_n, make) => {
    expect(await checkPolicies(all(make()))).toEqual([]);
  });
});

describe("policy pack: each rule catches what it is for", () => {
  it.each(cases.map((c) => [`${c.policy}: ${c.name}`, c] as const))("%s", async (_n, c) => {
    const found = of(await checkPolicies(all(c.make()), c.config), c.policy);
    expect(found.length, JSON.stringify(found)).toBeGreaterThan(0);
    expect(found.map((v) => v.message).join("\n")).toMatch(c.expect);
    for (const v of found) expect(v.level).toBe(c.level ?? "mandatory");
    // The message never carries a secret value of the fixture.
    expect(JSON.stringify(found)).not.toMatch(/m4st3rP4ssw0rd|aGeneratedAdminPassword123|aSecretAccessKeyOf|plainTextPassword123/);
  });

  it("every rule of the pack has a case above, or (FSBP rules) one on prod's real plan in fsbp-cases.ts", () => {
    expect([...new Set([...cases, ...FSBP_CASES].map((c) => c.policy))].sort()).toEqual(policies.map((p) => p.name).sort());
  });

  it("a rule set to disabled in policy config does not run; a level from config replaces the rule's", async () => {
    const f = set(L(), "db", "publiclyAccessible", true);
    expect(of(await checkPolicies(all(f), { "rds-not-public": "disabled" }), "rds-not-public")).toEqual([]);
    expect(of(await checkPolicies(all(f), { "rds-not-public": { enforcementLevel: "advisory" } }), "rds-not-public").map((v) => v.level)).toEqual(["advisory"]);
  });

  it("a secret-named value that is already a secret is left alone", async () => {
    const f = L();
    f.db.properties.password = secret("m4st3rP4ssw0rdFromRandom");
    expect(of(await checkPolicies(all(f)), "secret-inputs-encrypted")).toEqual([]);
  });

  it("names of references to a credential are not credentials; the credentials are", () => {
    for (const n of ["registryCredentialId", "secretArn", "kmsKeyId", "passwordSecretName", "valueFrom"]) expect(isSecretName(n), n).toBe(false);
    for (const n of ["password", "authToken", "apiKey", "AWS_ACCESS_KEY_ID", "masterPassword", "private_key"]) expect(isSecretName(n), n).toBe(true);
  });

  it("every secret variable of the runtime contract has a secret name", () => {
    for (const v of CONTRACT_VARIABLES.filter((x) => x.secret)) expect(isSecretName(v.name), v.name).toBe(true);
    for (const v of CONTRACT_VARIABLES.filter((x) => !x.secret)) expect(isSecretName(v.name), v.name).toBe(false);
  });
});
