/**
 * The Authelia configuration and users database the program renders, checked against
 * Authelia 4.39's own JSON schemas (test/edge/authelia-schemas) and the start-up rules of the platforms
 * note, for every shipped stack with the ecs target and for generated variations. The checks
 * are shown to fail on configurations Authelia would refuse.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import Ajv2020 from "ajv/dist/2020";
import addFormats from "ajv-formats";
import { beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import {
  AUTHELIA_CONTAINER_ENV, autheliaStartScript, autheliaStartupProblems, cookieCoversMoreThan, cookieDomain, hashPassword, PLACEHOLDER_USER,
  regionalRdsCa, renderAutheliaConfig, renderUsersDatabase, type AutheliaInputs,
} from "../../infra/edge/authelia";
import { plan, type Plan } from "../../stacks/plan";
import { REPO_ROOT } from "../../stacks/stack-config";

/** Authelia 4.39's schemas, kept in the repository (test/edge/authelia-schemas/README.md). */
const SPECS = path.join(REPO_ROOT, "test", "edge", "authelia-schemas");
// unicodeRegExp off: a pattern in Authelia's schema escapes "<", which the u flag refuses (Go's regexp does not).
const ajv = new Ajv2020({ allErrors: true, strict: false, unicodeRegExp: false });
addFormats(ajv);
const load = (f: string) => JSON.parse(fs.readFileSync(path.join(SPECS, f), "utf8"));
const validateConfig = ajv.compile(load("authelia-4.39-configuration.schema.json"));
const validateUsers = ajv.compile(load("authelia-4.39-user-database.schema.json"));

/** The *_FILE variables the container's start script exports, as Authelia will see them. */
function scriptEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const m of autheliaStartScript({ rdsCa: true }).matchAll(/^export (\w+)='([^']+)'$/gm)) env[m[1]] = m[2];
  return env;
}

function check(config: unknown, users: unknown): string[] {
  const problems: string[] = [];
  if (!validateConfig(config)) problems.push(...(validateConfig.errors ?? []).map((e) => `config ${e.instancePath} ${e.message}`));
  if (!validateUsers(users)) problems.push(...(validateUsers.errors ?? []).map((e) => `users ${e.instancePath} ${e.message}`));
  problems.push(...autheliaStartupProblems(config as Record<string, unknown>, scriptEnv()));
  return problems;
}

const SHIPPED_ECS = fs.readdirSync(REPO_ROOT)
  .map((f) => /^Pulumi\.([^.]+)\.yaml$/.exec(f)?.[1])
  .filter((s): s is string => !!s && (parse(fs.readFileSync(path.join(REPO_ROOT, `Pulumi.${s}.yaml`), "utf8"))?.config?.["mlflow-kit:target"]?.kind === "ecs"));

describe("Authelia 4.39: what the program renders passes Authelia's schemas and start-up rules", () => {
  const plans: Record<string, Plan> = {};
  beforeAll(async () => {
    for (const s of SHIPPED_ECS) plans[s] = await plan(s, { strict: true, revealSecrets: true });
  });

  it("the shipped stacks include one with the ecs target", () => expect(SHIPPED_ECS).toContain("prod"));

  it.each(SHIPPED_ECS)("%s: the deployed configuration and users database", (stack) => {
    const p = plans[stack];
    const td = p.resources.find((r) => r.type === "aws:ecs/taskDefinition:TaskDefinition" && r.name.endsWith("authelia-task"))!;
    const container = JSON.parse(String(td.inputs.containerDefinitions))[0];
    const config = parse(container.environment.find((e: any) => e.name === AUTHELIA_CONTAINER_ENV.config).value);
    const usersVersion = p.resources.find((r) => r.type === "aws:secretsmanager/secretVersion:SecretVersion" && r.name.endsWith("authelia-users"))!;
    const users = parse(String(usersVersion.inputs.secretString));
    expect(check(config, users)).toEqual([]);
    expect(config.access_control.default_policy).toBe("deny");
    // Browsers only: Basic never reaches Authelia, so its regulation can never ban an API client.
    expect(config.server.endpoints.authz["forward-auth"].authn_strategies).toEqual([{ name: "CookieSession" }]);
    expect(users.users["mlflow-api"]).toBeUndefined();
    // The portal's bypass matches the portal's host only; the MLflow host has its own rule.
    const rules = config.access_control.rules as { domain: string[]; policy: string }[];
    expect(rules.filter((r) => r.policy === "bypass").flatMap((r) => r.domain)).toEqual(["auth.example.com"]);
    expect(rules.find((r) => r.domain.includes("mlflow.example.com"))!.policy).toBe("one_factor");
  });

  // Generated variations: domain shapes, users, storage with and without TLS, cache lifespans.
  const variations: Array<[string, AutheliaInputs, number]> = [];
  const domains: Array<[string, string]> = [["mlflow.example.com", "auth.example.com"], ["ml.team.example.org", "login.team.example.org"], ["tracking.example.co.uk", "auth.tracking.example.co.uk"], ["a.b.c.d.example.net", "sso.example.net"]];
  domains.forEach(([domain, authDomain], i) => {
    for (const tls of [true, false]) {
      variations.push([`${domain} / ${authDomain} / tls ${tls}`, {
        domain, authDomain, port: 9091 + i,
        storage: { host: `db-${i}.abcdef.eu-west-1.rds.amazonaws.com`, port: 5432, database: "authelia", username: "authelia", tls },
        ...(tls ? { certificatesDirectory: "/config/certs" } : {}),
      }, (i % 2) + 1]);
    }
  });

  it.each(variations)("%s", async (_name, inputs, userCount) => {
    const users = renderUsersDatabase(await Promise.all(Array.from({ length: userCount - 1 }, async (_, n) => ({
      username: `user${n}`, displayname: `User ${n}`, email: `user${n}@example.com`,
      groups: ["mlflow-users"], password: await hashPassword(`pw-${n}-${inputs.domain}`, Buffer.from(`salt-${n}-salt-${n}`)),
    }))), await hashPassword("nobody", Buffer.alloc(16, 7)));
    if (userCount === 1) expect(users.users[PLACEHOLDER_USER]).toMatchObject({ disabled: true, groups: [] });
    // Through YAML, as the container writes the files.
    expect(check(parse(stringify(renderAutheliaConfig(inputs))), parse(stringify(users)))).toEqual([]);
  });

  it("the checks refuse what Authelia refuses", async () => {
    const base = renderAutheliaConfig(variations[0][1]) as any;
    const users = renderUsersDatabase([{ username: "u", displayname: "U", groups: [], password: await hashPassword("x", Buffer.alloc(16, 1)) }]);
    const broken = (f: (c: any) => void) => { const c = structuredClone(base); f(c); return check(c, users); };
    expect(broken((c) => { c.access_control.default_policy = "one_factor"; })).toEqual(expect.arrayContaining([expect.stringMatching(/default_policy/)]));
    expect(broken((c) => { c.notifier.smtp = { address: "smtp://mail.example.com:25", sender: "a@example.com" }; })).toEqual(expect.arrayContaining([expect.stringMatching(/exactly one notifier/)]));
    expect(broken((c) => { c.session.cookies[0].authelia_url = "http://auth.example.com"; })).toEqual(expect.arrayContaining([expect.stringMatching(/https/)]));
    expect(broken((c) => { c.session.cookies[0].domain = "localhost"; })).toEqual(expect.arrayContaining([expect.stringMatching(/real domain/)]));
    expect(broken((c) => { c.server.endpoints.authz["forward-auth"].authn_strategies[0].name = "Basic"; })).toEqual(expect.arrayContaining([expect.stringMatching(/^config .*authn_strategies/)]));
    expect(broken((c) => { c.storage.postgres.port = 5432; })).toEqual(expect.arrayContaining([expect.stringMatching(/^config \/storage\/postgres/)]));
    expect(check(base, { users: { u: { displayname: "U", password: "hunter2" } } })).toEqual(expect.arrayContaining([expect.stringMatching(/^users \/users\/u\/password/)]));
    expect(autheliaStartupProblems(base, {})).toEqual(expect.arrayContaining([expect.stringMatching(/session\.secret/), expect.stringMatching(/encryption_key/)]));
  });

  it("the session cookie covers both hosts and never a top-level domain", () => {
    expect(cookieDomain("mlflow.example.com", "auth.example.com")).toBe("example.com");
    expect(cookieDomain("mlflow.example.com", "auth.mlflow.example.com")).toBe("mlflow.example.com");
    expect(() => cookieDomain("mlflow.example.com", "auth.example.org")).toThrow(/no registrable parent/);
    // Siblings share a parent that other hosts live under; the portal under MLflow's name does not.
    expect(cookieCoversMoreThan("mlflow.example.com", "auth.example.com")).toBe(true);
    expect(cookieCoversMoreThan("mlflow.example.com", "auth.mlflow.example.com")).toBe(false);
  });

  it("RDS's CAs for the region come from the repository's bundle, small enough for a secret", () => {
    const bundle = fs.readFileSync(path.join(REPO_ROOT, "images", "mlflow", "rds-ca-bundle.pem"), "utf8");
    for (const region of ["eu-west-1", "us-east-1", "ap-southeast-2"]) {
      const pem = regionalRdsCa(bundle, region);
      expect(pem).toContain("BEGIN CERTIFICATE");
      expect(pem.length, region).toBeLessThan(60_000);
    }
    expect(() => regionalRdsCa(bundle, "xx-nowhere-1")).toThrow(/no certificate for xx-nowhere-1/);
  });
});
