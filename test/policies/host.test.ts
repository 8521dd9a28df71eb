/**
 * The pack the way the Pulumi CLI runs it: @pulumi/pulumi's own policy-pack host
 * (cmd/run-policy-pack, what the CLI's `pulumi-analyzer-policy` shim starts with the engine
 * address and the pack directory, the pack directory as its working directory) serves
 * @pulumi/policy's Analyzer over gRPC. This test starts it, reads the port it prints, and plays
 * the engine: ConfigureStack, GetAnalyzerInfo, Configure, then Remediate and Analyze per
 * resource and AnalyzeStack, fed with the resources of offline plans. The host's verdict must
 * equal the offline plan's (stacks/policy-check.ts).
 */
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import { createRequire } from "node:module";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { policies, PACK_NAME } from "../../policies/policies";
import { plan } from "../../stacks/plan";
import { checkPolicies, type AnalyzedResource, type PolicyConfig, type Violation } from "../../stacks/policy-check";
import { REPO_ROOT } from "../../stacks/stack-config";
import { all, ephemeral, longLived, set, SIG } from "./fixtures";

// The stubs and the protobuf runtime @pulumi/pulumi itself uses (one copy of each class).
const pulumiRequire = createRequire(require.resolve("@pulumi/pulumi/proto/analyzer_pb"));
const analyzer = pulumiRequire("./analyzer_pb");
const { AnalyzerClient } = pulumiRequire("./analyzer_grpc_pb");
const { Struct } = pulumiRequire("google-protobuf/google/protobuf/struct_pb");
const { Empty } = pulumiRequire("google-protobuf/google/protobuf/empty_pb");
const grpc = createRequire(require.resolve("@pulumi/pulumi"))("@grpc/grpc-js");

const LEVELS: Record<number, string> = { 0: "advisory", 1: "mandatory", 2: "disabled", 3: "remediate" };
const LEVEL_ENUM: Record<string, number> = { advisory: 0, mandatory: 1, disabled: 2, remediate: 3 };

let host: ChildProcess;
let client: any;
let stderr = "";

/** Starts the host as the CLI does and resolves with the port it prints on its first line. */
function startHost(): Promise<number> {
  const packDir = path.join(REPO_ROOT, "policies");
  host = spawn(process.execPath, [require.resolve("@pulumi/pulumi/cmd/run-policy-pack"), "127.0.0.1:1", "."], { cwd: packDir, stdio: ["ignore", "pipe", "pipe"] });
  host.stderr!.on("data", (d) => { stderr += d; });
  return new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`the policy host printed no port within 90 s; stderr:\n${stderr}`)), 90_000);
    host.stdout!.on("data", (d) => {
      out += d;
      const m = /^(\d+)\n/.exec(out);
      if (m) { clearTimeout(timer); resolve(Number(m[1])); }
    });
    host.on("exit", (code) => { clearTimeout(timer); reject(new Error(`the policy host exited with ${code}; stderr:\n${stderr}`)); });
  });
}

const call = <T>(method: string, req: unknown): Promise<T> => new Promise((resolve, reject) => {
  client[method](req, { deadline: Date.now() + 30_000 }, (err: Error | null, res: T) => (err ? reject(err) : resolve(res)));
});

function options(r: AnalyzedResource) {
  const o = new analyzer.AnalyzerResourceOptions();
  o.setProtect(r.options.protect ?? false);
  o.setIgnorechangesList(r.options.ignoreChanges ?? []);
  if (r.options.deleteBeforeReplace !== undefined) { o.setDeletebeforereplace(r.options.deleteBeforeReplace); o.setDeletebeforereplacedefined(true); }
  if (r.parent) o.setParent(r.parent);
  return o;
}

function analyzeRequest(r: AnalyzedResource) {
  const req = new analyzer.AnalyzeRequest();
  req.setType(r.type); req.setUrn(r.urn); req.setName(r.name);
  req.setProperties(Struct.fromJavaScript(r.properties));
  req.setOptions(options(r));
  return req;
}

async function configure(config: PolicyConfig) {
  const req = new analyzer.ConfigureAnalyzerRequest();
  const map = req.getPolicyconfigMap();
  for (const p of policies) {
    const c = config[p.name];
    const level = typeof c === "string" ? c : c?.enforcementLevel ?? p.enforcementLevel ?? "advisory";
    const { enforcementLevel: _, ...props } = typeof c === "object" && c ? c : {};
    const pc = new analyzer.PolicyConfig();
    pc.setEnforcementlevel(LEVEL_ENUM[level]);
    pc.setProperties(Struct.fromJavaScript(props));
    map.set(p.name, pc);
  }
  await call("configure", req);
}

/** What the engine would collect from the host for these resources. */
async function hostVerdict(resources: AnalyzedResource[], config: PolicyConfig = {}) {
  await configure(config);
  const violations: Violation[] = [];
  const remediations: Array<{ policy: string; urn: string; properties: Record<string, unknown> }> = [];
  const diagnostics = (res: any, urn: string) => {
    for (const d of res.getDiagnosticsList()) {
      const description = policies.find((p) => p.name === d.getPolicyname())!.description;
      violations.push({ policy: d.getPolicyname(), level: LEVELS[d.getEnforcementlevel()] as Violation["level"], urn: d.getUrn() || urn, message: d.getMessage().replace(`${description}\n`, "") });
    }
  };
  for (const r of resources) {
    const rem = await call<any>("remediate", analyzeRequest(r));
    for (const x of rem.getRemediationsList()) remediations.push({ policy: x.getPolicyname(), urn: r.urn, properties: x.getProperties().toJavaScript() });
    diagnostics(await call<any>("analyze", analyzeRequest(r)), r.urn);
  }
  const stackReq = new analyzer.AnalyzeStackRequest();
  stackReq.setResourcesList(resources.map((r) => {
    const a = new analyzer.AnalyzerResource();
    a.setType(r.type); a.setUrn(r.urn); a.setName(r.name);
    a.setProperties(Struct.fromJavaScript(r.properties));
    a.setOptions(options(r));
    if (r.parent) a.setParent(r.parent);
    a.setDependenciesList(r.dependencies);
    const deps = a.getPropertydependenciesMap();
    for (const [k, urns] of Object.entries(r.propertyDependencies)) {
      const d = new analyzer.AnalyzerPropertyDependencies();
      d.setUrnsList(urns);
      deps.set(k, d);
    }
    return a;
  }));
  diagnostics(await call<any>("analyzeStack", stackReq), "");
  return { violations, remediations };
}

const key = (v: Violation) => `${v.level} ${v.policy} ${v.urn}\n${v.message}`;
const planned = async (stack: string, o: Parameters<typeof plan>[1] = {}) =>
  (await plan(stack, o)).resources.map((r): AnalyzedResource => ({ urn: r.urn, type: r.type, name: r.name, parent: r.parent, options: r.options, ...r.analyzer }));

beforeAll(async () => {
  const port = await startHost();
  client = new AnalyzerClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const tags = new analyzer.AnalyzerStackConfigureRequest();
  tags.setStack("test"); tags.setProject("mlflow-kit");
  await call("configureStack", tags);
}, 120_000);

afterAll(() => {
  client?.close();
  if (host && host.exitCode === null) host.kill("SIGTERM");
});

describe("the policy pack in @pulumi/pulumi's policy host, over gRPC", () => {
  it("describes the pack: its name, every policy, their levels and config schemas", async () => {
    const info = await call<any>("getAnalyzerInfo", new Empty());
    expect(info.getName()).toBe(PACK_NAME);
    expect(info.getSupportsconfig()).toBe(true);
    const served = info.getPoliciesList().map((p: any) => [p.getName(), LEVELS[p.getEnforcementlevel()]]);
    expect(served).toEqual(policies.map((p) => [p.name, p.enforcementLevel]));
    const backups = info.getPoliciesList().find((p: any) => p.getName() === "rds-backups-kept");
    expect(backups.getConfigschema().getProperties().toJavaScript().minBackupRetentionDays).toMatchObject({ type: "integer", default: 7 });
  });

  it.each(fs.readdirSync(REPO_ROOT).map((f) => /^Pulumi\.([^.]+)\.yaml$/.exec(f)?.[1]).filter((x): x is string => !!x))("%s as shipped: the same verdict as the offline plan, nothing mandatory", async (stack) => {
    const resources = await planned(stack);
    const [fromHost, offline] = [await hostVerdict(resources), await checkPolicies(resources)];
    expect(fromHost.violations.map(key).sort()).toEqual(offline.map(key).sort());
    expect(fromHost.violations.filter((v) => v.level === "mandatory")).toEqual([]);
    expect(fromHost.remediations).toEqual([]);
  });

  it("an unsafe prod (7 days of backups under a 14-day policy, noncurrent versions kept 1 day): the same violations", async () => {
    const config: PolicyConfig = { "rds-backups-kept": { minBackupRetentionDays: 14 } };
    const overrides = {
      "mlflow-kit:database": JSON.stringify({ kind: "rds", backupRetentionDays: 7, multiAz: true }),
      "mlflow-kit:artifacts": JSON.stringify({ noncurrentVersionDays: 1 }),
    };
    const resources = await planned("prod", { overrides });
    const [fromHost, offline] = [await hostVerdict(resources, config), await checkPolicies(resources, config)];
    expect(fromHost.violations.map(key).sort()).toEqual(offline.map(key).sort());
    expect(fromHost.violations.map((v) => `${v.level} ${v.policy}`).sort()).toEqual(["advisory s3-noncurrent-versions-kept", "mandatory rds-backups-kept"]);
  });

  it("an unsafe dev (made ephemeral, a TTL of 700 hours under a 24-hour ceiling; a Neon stack cannot go past 719): the same violations", async () => {
    const config: PolicyConfig = { "ephemeral-stack-expires": { maxTtlHours: 24 } };
    const resources = await planned("dev", { overrides: { "mlflow-kit:lifecycle": "ephemeral", "mlflow-kit:ttlHours": "700" } });
    const [fromHost, offline] = [await hostVerdict(resources, config), await checkPolicies(resources, config)];
    expect(fromHost.violations.map(key).sort()).toEqual(offline.map(key).sort());
    expect(new Set(fromHost.violations.map((v) => `${v.level} ${v.policy}`))).toEqual(new Set(["mandatory ephemeral-stack-expires"]));
  });

  it.each([
    ["Render, Hugging Face, Docker (ephemeral)", () => all(set(set(set(ephemeral(), "render", "plan", "starter"), "render", "envVars.9.value", "2"), "container", "ports.0.ip", "0.0.0.0")), ["local-ports-on-loopback", "workers-fit-memory"]],
    ["ECS, RDS, the load balancer (long-lived)", () => all(set(set(longLived(), "service", "networkConfiguration.assignPublicIp", true), "db", "publiclyAccessible", true)), ["ecs-no-public-ip", "rds-not-public"]],
  ] as const)("the targets' resources, %s: the same verdict", async (_n, make, expected) => {
    const broken = make();
    const [fromHost, offline] = [await hostVerdict(broken), await checkPolicies(broken)];
    expect(fromHost.violations.map(key).sort()).toEqual(offline.map(key).sort());
    expect([...new Set(fromHost.violations.map((v) => v.policy))].sort()).toEqual([...expected]);
  });

  it("retainOnDelete is not in the analyzer protocol: the host cannot check it, the offline plan does", async () => {
    const f = longLived();
    f.bucket.options = { protect: true, retainOnDelete: false };
    const resources = all(f);
    expect((await hostVerdict(resources)).violations).toEqual([]);
    expect((await checkPolicies(resources)).map((v) => v.message)).toEqual([expect.stringMatching(/lacks retainOnDelete: true/)]);
  });

  it("a plain-text password is remediated into a secret by the host, as the offline plan reports", async () => {
    const f = longLived();
    f.db.properties.password = "plainTextPassword123";
    const resources = all(f);
    const fromHost = await hostVerdict(resources);
    expect(fromHost.remediations.map((r) => [r.policy, r.urn])).toEqual([["secret-inputs-encrypted", f.db.urn]]);
    const password = fromHost.remediations[0].properties.password as Record<string, unknown>;
    expect(password[SIG]).toBe("1b47061264138c4ac30d75fd1eb44270");
    expect(password.value).toBe("plainTextPassword123");
    // Everything else is handed back as it came.
    expect(fromHost.remediations[0].properties.identifier).toBe("kit-prod-db");
    const offline = (await checkPolicies(resources)).filter((v) => v.level === "remediate");
    expect(offline.map((v) => [v.policy, v.urn])).toEqual([["secret-inputs-encrypted", f.db.urn]]);
  });
});
