/**
 * Issue 14: every setting that has no effect on a target is refused there, before anything is
 * created. The matrix below says, for each kind of stack, which settings do nothing on it; it is
 * written out here, apart from the rules in infra/settings-effect.ts, so that a wrong rule and
 * a wrong expectation have to agree to pass. Every key of the configuration reference must be
 * classified (a rule or EVERYWHERE), so a new setting cannot skip the audit.
 */
import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { EVERYWHERE, RULES, type EffectRule } from "../../infra/settings-effect";
import { configReference, loadSettings, parseSettings, SECRET_KEYS, SettingsError, type Settings } from "../../infra/settings";
import { mlflowStack } from "../../infra/program";
import { readStackConfig } from "../../stacks/stack-config";

const ns = "mlflow-kit:";
const DIGEST = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$a2V5a2V5a2V5";

interface Base {
  /** Plain config, full keys. */
  config: Record<string, unknown>;
  /** Secret keys (without namespace) the stack needs. */
  secrets: string[];
  stack?: string;
}

/** One valid stack per (target, database, artifacts, lifecycle) shape the kit deploys. */
const BASES: Record<string, Base> = {
  "local/local/minio": {
    config: { lifecycle: "long-lived", database: { kind: "local" }, artifacts: { kind: "minio" }, target: { kind: "local" } },
    secrets: [],
  },
  "local/local/minio monitoring": {
    config: { lifecycle: "long-lived", database: { kind: "local" }, artifacts: { kind: "minio" }, target: { kind: "local" }, monitoring: { enabled: true } },
    secrets: [],
  },
  "local/neon/s3 ephemeral": {
    config: { "aws:region": "us-east-1", lifecycle: "ephemeral", database: { kind: "neon" }, target: { kind: "local", port: 5050 } },
    secrets: ["neonApiKey"],
  },
  "render/neon/s3": {
    config: { "aws:region": "us-east-1", lifecycle: "long-lived", database: { kind: "neon" }, target: { kind: "render" }, image: { owner: "example-org" } },
    secrets: ["ghcrToken", "neonApiKey", "renderApiKey"],
  },
  "render/neon(projectId)/s3 ephemeral": {
    config: { "aws:region": "us-east-1", lifecycle: "ephemeral", database: { kind: "neon", projectId: "shiny-wind-028834" }, target: { kind: "render" }, image: { owner: "example-org" } },
    secrets: ["ghcrToken", "neonApiKey", "renderApiKey"],
  },
  "hf-space/neon/s3 ephemeral": {
    config: { "aws:region": "us-east-1", lifecycle: "ephemeral", database: { kind: "neon" }, target: { kind: "hf-space", owner: "example-org" }, image: { owner: "example-org" } },
    secrets: ["ghcrToken", "neonApiKey", "hfToken"],
  },
  "ecs/rds/s3": {
    config: { "aws:region": "eu-west-1", lifecycle: "long-lived", database: { kind: "rds" }, target: { kind: "ecs", domain: "mlflow.example.com", users: [{ username: "alice", displayName: "Alice" }] }, image: { owner: "example-org" } },
    secrets: ["ghcrToken", "autheliaPasswordHashes"],
  },
  "ecs/rds(vpcId)/s3 ephemeral": {
    config: {
      "aws:region": "eu-west-1", lifecycle: "ephemeral",
      database: { kind: "rds", vpcId: "vpc-0abc12345def67890", privateSubnetIds: ["subnet-0aaa1111", "subnet-0bbb2222"] },
      target: { kind: "ecs", domain: "mlflow.example.com", publicSubnetIds: ["subnet-0ccc3333", "subnet-0ddd4444"] },
      image: { owner: "example-org" },
    },
    secrets: ["ghcrToken"],
  },
};

/**
 * The audit: per stack shape, the settings that do nothing there. Everything a RULE names and
 * that is not listed for a shape must be accepted on it.
 */
const NO_EFFECT: Record<string, string[]> = {
  "local/local/minio": [
    "monitoring.managedPrometheus",
    "monitoring.prometheusPort", "monitoring.grafanaPort", "monitoring.prometheusImage", "monitoring.grafanaImage", // monitoring off
    "image.owner", "image.name", "image.username", "ghcrToken",
    "rotation.apiUserPassword", "rotation.autheliaSecrets", "autheliaPasswordHashes",
    "logging.accessLogs", "logging.flowLogs", "logging.databaseLogs", "logging.enhancedMonitoringSeconds", "logging.retentionDays",
    "ttlHours", "review", "aws:region", "renderApiKey", "hfToken", "neonApiKey",
  ],
  "local/local/minio monitoring": [
    "monitoring.managedPrometheus",
    "image.owner", "image.name", "image.username", "ghcrToken",
    "rotation.apiUserPassword", "rotation.autheliaSecrets", "autheliaPasswordHashes",
    "logging.accessLogs", "logging.flowLogs", "logging.databaseLogs", "logging.enhancedMonitoringSeconds", "logging.retentionDays",
    "ttlHours", "review", "aws:region", "renderApiKey", "hfToken", "neonApiKey",
  ],
  "local/neon/s3 ephemeral": [
    "monitoring.managedPrometheus",
    "monitoring.prometheusPort", "monitoring.grafanaPort", "monitoring.prometheusImage", "monitoring.grafanaImage",
    "image.owner", "image.name", "image.username", "ghcrToken",
    "rotation.apiUserPassword", "rotation.autheliaSecrets", "autheliaPasswordHashes",
    "logging.flowLogs", "logging.databaseLogs", "logging.enhancedMonitoringSeconds",
    // ephemeral: access logs default off, so retentionDays governs nothing
    "logging.retentionDays",
    "decommission", "review", "renderApiKey", "hfToken",
  ],
  "render/neon/s3": [
    "monitoring.managedPrometheus",
    "monitoring.prometheusPort", "monitoring.grafanaPort", "monitoring.prometheusImage", "monitoring.grafanaImage",
    "rotation.apiUserPassword", "rotation.autheliaSecrets", "autheliaPasswordHashes",
    "logging.flowLogs", "logging.databaseLogs", "logging.enhancedMonitoringSeconds",
    "ttlHours", "review", "hfToken",
  ],
  "render/neon(projectId)/s3 ephemeral": [
    "monitoring.managedPrometheus",
    "monitoring.prometheusPort", "monitoring.grafanaPort", "monitoring.prometheusImage", "monitoring.grafanaImage",
    "rotation.apiUserPassword", "rotation.autheliaSecrets", "autheliaPasswordHashes",
    "logging.flowLogs", "logging.databaseLogs", "logging.enhancedMonitoringSeconds", "logging.retentionDays",
    "database.region", "database.orgId",
    "decommission", "review", "hfToken",
  ],
  "hf-space/neon/s3 ephemeral": [
    "monitoring.managedPrometheus",
    "monitoring.prometheusPort", "monitoring.grafanaPort", "monitoring.prometheusImage", "monitoring.grafanaImage",
    "rotation.apiUserPassword", "rotation.autheliaSecrets", "autheliaPasswordHashes",
    "logging.flowLogs", "logging.databaseLogs", "logging.enhancedMonitoringSeconds", "logging.retentionDays",
    "decommission", "review", "renderApiKey",
  ],
  "ecs/rds/s3": [
    "artifacts.activeKey", "artifacts.keyRotations", "monitoring.managedPrometheus", // monitoring off
    "monitoring.prometheusPort", "monitoring.grafanaPort", "monitoring.prometheusImage", "monitoring.grafanaImage",
    "ttlHours", "review", "renderApiKey", "hfToken", "neonApiKey",
  ],
  "ecs/rds(vpcId)/s3 ephemeral": [
    "artifacts.activeKey", "artifacts.keyRotations", "monitoring.managedPrometheus", // monitoring off
    "monitoring.prometheusPort", "monitoring.grafanaPort", "monitoring.prometheusImage", "monitoring.grafanaImage",
    // ephemeral: every log defaults off, so retentionDays governs nothing; flow logs: not our VPC
    "logging.flowLogs", "logging.retentionDays", "database.cidrBlock", "database.availabilityZones",
    "decommission", "review", "renderApiKey", "hfToken", "neonApiKey",
  ],
};

/** Keys that exist only under one kind: the schema itself refuses them under another. */
const KIND_ONLY: Record<string, (b: Base) => boolean> = {
  "artifacts.activeKey": (b) => (b.config.artifacts as { kind?: string } | undefined)?.kind !== "minio",
  "artifacts.keyRotations": (b) => (b.config.artifacts as { kind?: string } | undefined)?.kind !== "minio",
  "database.cidrBlock": (b) => (b.config.database as { kind: string }).kind === "rds",
  "database.availabilityZones": (b) => (b.config.database as { kind: string }).kind === "rds",
  "database.region": (b) => (b.config.database as { kind: string }).kind === "neon",
  "database.orgId": (b) => (b.config.database as { kind: string }).kind === "neon",
};

const isSecret = (key: string) => key in SECRET_KEYS;
const fullKey = (key: string) => (key.includes(":") ? key : `${ns}${key}`);

/** The base's raw config with the rule's key set to its example. */
function rawWith(b: Base, rule?: EffectRule, extraSecrets: string[] = []): { values: Record<string, string>; secretKeys: Set<string> } {
  const plain = structuredClone(b.config);
  const secrets = new Set(b.secrets);
  if (rule && isSecret(rule.key)) secrets.add(rule.key);
  else if (rule && rule.key.includes(":")) plain[rule.key] = rule.example;
  else if (rule) {
    const [head, ...rest] = rule.key.split(".");
    if (!rest.length) plain[head] = rule.example;
    else {
      let node = (plain[head] ??= {}) as Record<string, unknown>;
      for (const k of rest.slice(0, -1)) node = (node[k] ??= {}) as Record<string, unknown>;
      node[rest[rest.length - 1]] = rule.example;
    }
  }
  for (const k of extraSecrets) secrets.add(k);
  const values: Record<string, string> = {};
  for (const [k, v] of Object.entries(plain)) values[fullKey(k)] = typeof v === "string" ? v : JSON.stringify(v);
  for (const k of secrets) values[`${ns}${k}`] = k === "autheliaPasswordHashes" ? (rule?.key === k && !b.secrets.includes(k) ? "{}" : JSON.stringify({ alice: DIGEST })) : `fake-${k}-value`;
  return { values, secretKeys: new Set([...secrets].map((k) => `${ns}${k}`)) };
}

function parse(b: Base, rule?: EffectRule, extraSecrets: string[] = []): Settings {
  const { values, secretKeys } = rawWith(b, rule, extraSecrets);
  return parseSettings({ project: "mlflow-kit", stack: b.stack ?? "prod", values, secretKeys, now: new Date("2026-12-04T00:00:00Z") });
}

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(SettingsError);
    return (err as SettingsError).problems;
  }
  return [];
}

describe("settings that have no effect on a stack are refused there (issue 14)", () => {
  it.each(Object.keys(BASES))("%s: the base stack is accepted with no warning about an unused setting", (name) => {
    const s = parse(BASES[name]);
    expect(s.warnings.filter((w) => w.includes("has no effect"))).toEqual([]);
  });

  it("every shape is in the matrix and every matrix entry names a rule", () => {
    expect(Object.keys(NO_EFFECT).sort()).toEqual(Object.keys(BASES).sort());
    const keys = new Set(RULES.map((r) => r.key));
    for (const list of Object.values(NO_EFFECT)) for (const k of list) expect(keys, k).toContain(k);
  });

  for (const [name, base] of Object.entries(BASES)) {
    const target = (base.config.target as { kind: string }).kind;
    for (const rule of RULES) {
      if (KIND_ONLY[rule.key] && !KIND_ONLY[rule.key](base)) continue;
      const refused = NO_EFFECT[name].includes(rule.key);
      it(`${name}: ${rule.key} is ${refused ? (rule.warnOnly ? "warned about" : "refused") : "accepted"}`, () => {
        const full = fullKey(rule.key);
        const start = `${full}: has no effect with target.kind ${target} `;
        if (refused && !rule.warnOnly) {
          const problems = problemsOf(() => parse(base, rule));
          // The one problem, naming the setting, the target, why, where it acts, and the fix.
          expect(problems).toHaveLength(1);
          expect(problems[0].startsWith(start), problems[0]).toBe(true);
          expect(problems[0]).toContain(`It acts only on ${rule.appliesWhere}`);
          expect(problems[0]).toMatch(/Remove it \(`pulumi config rm (--path )?mlflow-kit:|aws:/);
          // Never a secret's value.
          expect(problems[0]).not.toMatch(/fake-[A-Za-z]+-value|argon2id/);
        } else {
          const s = parse(base, rule);
          const about = s.warnings.filter((w) => w.startsWith(start));
          if (refused) {
            expect(about).toHaveLength(1);
            expect(about[0]).not.toMatch(/fake-[A-Za-z]+-value/);
          } else {
            expect(about).toEqual([]);
          }
        }
      });
    }
  }

  it("a setting's value that does what the target does anyway passes (managedPrometheus false off ecs, a zero counter off ecs)", () => {
    expect(() => parse({ ...BASES["render/neon/s3"], config: { ...BASES["render/neon/s3"].config, monitoring: { managedPrometheus: false } } })).not.toThrow();
    expect(() => parse({ ...BASES["render/neon/s3"], config: { ...BASES["render/neon/s3"].config, rotation: { apiUserPassword: 0, autheliaSecrets: 0 } } })).not.toThrow();
  });

  it.each(Object.keys(BASES))("%s: rotation.adminPassword is refused beside the secret adminPassword (nothing generated to rotate), accepted without it", (name) => {
    const rule = RULES.find((r) => r.key === "rotation.adminPassword")!;
    expect(() => parse(BASES[name], rule)).not.toThrow();
    const problems = problemsOf(() => parse(BASES[name], rule, ["adminPassword"]));
    expect(problems).toEqual([expect.stringMatching(/^mlflow-kit:rotation\.adminPassword: has no effect with target\.kind .*the secret mlflow-kit:adminPassword is set/)]);
    expect(problems[0]).not.toContain("fake-adminPassword-value");
  });

  it.each(Object.keys(BASES).filter((n) => n.includes("ephemeral")))("%s: ttlHours beside a fixed expiresAt is refused (the fixed time wins)", (name) => {
    const b = BASES[name];
    const rule = RULES.find((r) => r.key === "ttlHours")!;
    const problems = problemsOf(() => parse({ ...b, config: { ...b.config, expiresAt: "2026-12-20T00:00:00Z" } }, rule));
    expect(problems).toEqual([expect.stringMatching(/^mlflow-kit:ttlHours: has no effect with target\.kind .*mlflow-kit:expiresAt fixes the expiry instead/)]);
  });

  it("monitoring.managedPrometheus acts on ecs with monitoring.enabled", () => {
    const rule = RULES.find((r) => r.key === "monitoring.managedPrometheus")!;
    const ecs = BASES["ecs/rds/s3"];
    expect(() => parse({ ...ecs, config: { ...ecs.config, monitoring: { enabled: true } } }, rule)).not.toThrow();
  });

  it("review is read on dev only", () => {
    const review = RULES.find((r) => r.key === "review")!;
    expect(() => parse({ ...BASES["render/neon/s3"], stack: "dev" }, review)).not.toThrow();
  });

  it("every key of the configuration reference is classified: a rule, or EVERYWHERE with the reason", () => {
    const ruled = new Set(RULES.map((r) => r.key));
    const everywhere = Object.keys(EVERYWHERE);
    const unclassified: string[] = [];
    for (const row of configReference()) {
      const key = row.key.split(" ")[0].replace(/^mlflow-kit:/, "");
      const kind = /\((\w[\w-]*)\)$/.exec(row.key)?.[1];
      const covered = ruled.has(key) || everywhere.includes(key) ||
        [...ruled].some((r) => key.startsWith(`${r}.`)) ||
        // Keys of one kind (target.port (local), database.image (local)...): the schema's strict objects.
        (kind !== undefined && (everywhere.includes(`${key.split(".")[0]}.*`) || everywhere.includes(key)));
      if (!covered) unclassified.push(row.key);
    }
    expect(unclassified).toEqual([]);
    for (const k of everywhere) expect(EVERYWHERE[k].length, k).toBeGreaterThan(10);
  });

  it.each(["dev", "prod", "demo", "local"])("Pulumi.%s.yaml has no setting without an effect", (stack) => {
    const cfg = readStackConfig(stack, {});
    const s = parseSettings({ project: cfg.project, stack, values: cfg.config, secretKeys: new Set(cfg.secretKeys) });
    expect(s.warnings.filter((w) => w.includes("has no effect"))).toEqual([]);
  });
});

describe("the refusal comes before anything is created", () => {
  it.each([
    ["local/local/minio", "image.owner"],
    ["render/neon/s3", "rotation.apiUserPassword"],
    ["hf-space/neon/s3 ephemeral", "monitoring.grafanaPort"],
    ["ecs/rds/s3", "artifacts.activeKey"],
  ])("%s with %s: the program registers no resource", async (name, key) => {
    const b = BASES[name];
    const { values, secretKeys } = rawWith(b, RULES.find((r) => r.key === key));
    const registered: string[] = [];
    await pulumi.runtime.setMocks({
      newResource: (args) => {
        if (args.type !== "pulumi:pulumi:Stack") registered.push(args.type);
        return { id: `${args.name}-id`, state: args.inputs };
      },
      call: (args) => args.inputs,
    }, "mlflow-kit", b.stack ?? "prod", false);
    pulumi.runtime.setAllConfig(values, [...secretKeys]);
    let error: unknown;
    await pulumi.runtime.runInPulumiStack(async () => {
      try {
        return mlflowStack(loadSettings());
      } catch (err) {
        error = err;
        return {};
      }
    });
    expect(error).toBeInstanceOf(SettingsError);
    expect((error as SettingsError).problems).toEqual([expect.stringMatching(new RegExp(`^${ns}${key.replace(/\./g, "\\.")}: has no effect with target\\.kind `))]);
    expect(registered).toEqual([]);
  });
});
