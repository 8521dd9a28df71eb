/**
 * The local stack (Pulumi.local.yaml) evaluated the way the offline plan does: every container,
 * network and volume it asks the Docker engine for, that only the server publishes a port and
 * only on 127.0.0.1, and that every credential reaches its container as a Pulumi secret.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { parse, stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DIGEST_PINNED } from "../../infra/docker/pinned-images";
import { contractProblems } from "../../infra/runtime-contract";
import { LocalTarget } from "../../infra/targets/local";
import { evaluateStack, SECRET, type EvaluatedStack, type PlannedResource } from "../../stacks/offline";
import { plan } from "../../stacks/plan";
import { REPO_ROOT } from "../../stacks/stack-config";

type Planned = EvaluatedStack & { skipped: string[] };
let local: Planned;
let revealed: Planned;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "mlflow-kit-local-"));

const byType = (e: EvaluatedStack, type: string): PlannedResource[] => e.resources.filter((r) => r.type === type);
const CONTAINER = "docker:index/container:Container";
const container = (e: EvaluatedStack, name: string): PlannedResource => {
  const found = byType(e, CONTAINER).filter((c) => c.inputs.name === name);
  expect(found, name).toHaveLength(1);
  return found[0];
};
/** The container's env as a map (from a plan evaluated with revealSecrets). */
const envOf = (c: PlannedResource): Record<string, string> =>
  Object.fromEntries((c.inputs.envs as string[]).map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]));

let lastPlanned: string | undefined;
/** Plans the local stack with its config changed by `edit`. */
async function planWith(edit: (config: Record<string, any>) => void, strict = true): Promise<Planned> {
  const doc = parse(fs.readFileSync(path.join(REPO_ROOT, "Pulumi.local.yaml"), "utf8"));
  edit(doc.config);
  const dir = fs.mkdtempSync(path.join(tmp, "stack-"));
  lastPlanned = path.join(dir, "Pulumi.local.yaml");
  fs.writeFileSync(lastPlanned, stringify(doc));
  return plan("local", { dir, strict });
}

beforeAll(async () => {
  local = await plan("local", { strict: true });
  revealed = await plan("local", { strict: true, revealSecrets: true });
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe("local stack: what it runs", () => {
  it("plans strictly: nothing left out, nothing in AWS, no token needed", () => {
    expect(local.skipped).toEqual([]);
    expect(local.resources.filter((r) => r.type.startsWith("aws:"))).toEqual([]);
    expect(local.outputs.trackingUri).toBe("http://127.0.0.1:5000");
  });

  it("runs PostgreSQL, MinIO and the server, each restarted unless stopped, waited for until healthy", () => {
    for (const name of ["mlflow-kit-local-postgres", "mlflow-kit-local-minio", "mlflow-kit-local-server"]) {
      const c = container(local, name).inputs as any;
      expect(c.restart, name).toBe("unless-stopped");
      expect(c.wait, name).toBe(true);
      expect(c.waitTimeout, name).toBeGreaterThanOrEqual(120);
      expect(c.healthcheck.tests[0], name).toBe("CMD");
      expect(c.healthcheck.tests.length, name).toBeGreaterThan(1);
      expect(c.healthcheck.retries, name).toBeGreaterThan(0);
    }
    const checks = Object.fromEntries(["postgres", "minio", "server"].map((n) => [n, (container(local, `mlflow-kit-local-${n}`).inputs as any).healthcheck.tests]));
    // PostgreSQL counts as healthy on TCP only: the socket-only server of its first initialisation does not.
    expect(checks.postgres).toEqual(expect.arrayContaining(["pg_isready", "--host", "127.0.0.1"]));
    expect(checks.minio).toEqual(["CMD", "mc", "ready", "local"]);
    expect(checks.server.join(" ")).toContain("http://127.0.0.1:5000/health");
  });

  it("pins PostgreSQL and MinIO by digest and builds the MLflow image locally, never pushing it", () => {
    const pulled = byType(local, "docker:index/remoteImage:RemoteImage").map((i) => String(i.inputs.name));
    expect(pulled).toHaveLength(2);
    for (const ref of pulled) expect(ref).toMatch(DIGEST_PINNED);
    expect(pulled.some((r) => r.startsWith("postgres:"))).toBe(true);
    expect(pulled.some((r) => r.includes("minio/minio:"))).toBe(true);

    const [image] = byType(local, "docker:index/image:Image");
    expect(image.inputs).toMatchObject({ skipPush: true });
    expect(image.inputs.registry).toBeUndefined();
    // For a platform it names (the engine's own unless set: infra/image/build-platform.ts).
    expect(String(image.inputs.imageName)).toMatch(/^mlflow-kit-local-server:ctx-[0-9a-f]{16}-linux-(amd64|arm64)$/);
    expect((image.inputs.build as { platform?: string }).platform).toMatch(/^linux\/(amd64|arm64)$/);
    // The server runs the image it built, by id.
    expect(local.outputs.imageRef).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(container(local, "mlflow-kit-local-server").inputs.image).toBe(local.outputs.imageRef);
  });

  it("keeps the data services on an internal network; only the server has a second, publishing one", () => {
    const networks = byType(local, "docker:index/network:Network");
    const privateNet = networks.find((n) => n.inputs.name === "mlflow-kit-local-private")!;
    const published = networks.find((n) => n.inputs.name === "mlflow-kit-local-published")!;
    expect(networks).toHaveLength(2);
    expect(privateNet.inputs).toMatchObject({ internal: true, driver: "bridge" });
    expect(published.inputs.internal).toBeFalsy();

    const netsOf = (name: string) => ((container(local, name).inputs.networksAdvanced as any[]) ?? []).map((n) => n.name).sort();
    expect(netsOf("mlflow-kit-local-postgres")).toEqual(["mlflow-kit-local-private"]);
    expect(netsOf("mlflow-kit-local-minio")).toEqual(["mlflow-kit-local-private"]);
    expect(netsOf("mlflow-kit-local-minio-setup")).toEqual(["mlflow-kit-local-private"]);
    expect(netsOf("mlflow-kit-local-server")).toEqual(["mlflow-kit-local-private", "mlflow-kit-local-published"]);
    // The database setup needs no network at all: it talks to the server over its socket.
    expect(container(local, "mlflow-kit-local-postgres-setup").inputs.networkMode).toBe("none");
    // Reached by these names from the server's connection settings.
    expect((container(local, "mlflow-kit-local-postgres").inputs.networksAdvanced as any[])[0].aliases).toEqual(["postgres"]);
    expect((container(local, "mlflow-kit-local-minio").inputs.networksAdvanced as any[])[0].aliases).toEqual(["minio"]);
  });

  it("publishes exactly one port, the server's, on 127.0.0.1 only", () => {
    const withPorts = byType(local, CONTAINER).filter((c) => c.inputs.ports !== undefined || c.inputs.publishAllPorts);
    expect(withPorts.map((c) => c.inputs.name)).toEqual(["mlflow-kit-local-server"]);
    expect(withPorts[0].inputs.ports).toEqual([{ internal: 5000, external: 5000, ip: "127.0.0.1", protocol: "tcp" }]);
    for (const c of byType(local, CONTAINER)) expect(c.inputs.networkMode ?? "none", String(c.inputs.name)).not.toBe("host");
  });

  it("keeps data in named volumes, protected and retained on delete in a long-lived stack", () => {
    const volumes = Object.fromEntries(byType(local, "docker:index/volume:Volume").map((v) => [v.inputs.name as string, v]));
    expect(Object.keys(volumes).sort()).toEqual(["mlflow-kit-local-minio-data", "mlflow-kit-local-pgdata", "mlflow-kit-local-pgsocket"]);
    for (const v of Object.values(volumes)) expect(v.options, String(v.inputs.name)).toMatchObject({ protect: true, retainOnDelete: true });
    expect(container(local, "mlflow-kit-local-postgres").inputs.volumes).toEqual(expect.arrayContaining([
      { volumeName: "mlflow-kit-local-pgdata", containerPath: "/var/lib/postgresql/data" },
      { volumeName: "mlflow-kit-local-pgsocket", containerPath: "/var/run/postgresql" },
    ]));
    expect(container(local, "mlflow-kit-local-minio").inputs.volumes).toEqual([{ volumeName: "mlflow-kit-local-minio-data", containerPath: "/data" }]);
    // The setup job shares the socket only, never the data.
    expect(container(local, "mlflow-kit-local-postgres-setup").inputs.volumes).toEqual([{ volumeName: "mlflow-kit-local-pgsocket", containerPath: "/var/run/postgresql" }]);
  });

  it("decommissioning drops protect, so that `pulumi destroy` finishes; the volumes stay in Docker", async () => {
    const decommissioned = await planWith((c) => { c["mlflow-kit:decommission"] = true; });
    const volumes = byType(decommissioned, "docker:index/volume:Volume");
    expect(volumes).toHaveLength(3);
    for (const v of volumes) expect(v.options, String(v.inputs.name)).toMatchObject({ protect: false, retainOnDelete: true });
  });

  it("an ephemeral local stack's destroy removes the volumes too", async () => {
    const ephemeral = await planWith((c) => { c["mlflow-kit:lifecycle"] = "ephemeral"; c["mlflow-kit:ttlHours"] = 24; });
    const volumes = byType(ephemeral, "docker:index/volume:Volume");
    expect(volumes).toHaveLength(3);
    for (const v of volumes) expect(v.options.protect || v.options.retainOnDelete, String(v.inputs.name)).toBeFalsy();
  });

  it("sets up role, databases, bucket and user with one-shot containers that fail `pulumi up` when they fail", () => {
    for (const name of ["mlflow-kit-local-postgres-setup", "mlflow-kit-local-minio-setup"]) {
      expect(container(local, name).inputs, name).toMatchObject({ attach: true, mustRun: false, restart: "no" });
    }
    const pgSetup = container(local, "mlflow-kit-local-postgres-setup").inputs as any;
    expect(pgSetup.entrypoints).toEqual(["bash", "/mlflow-kit/local-setup.sh"]);
    expect(pgSetup.uploads[0].content).toBe(fs.readFileSync(path.join(REPO_ROOT, "infra/database/local-setup.sh"), "utf8"));
    // Each job runs the image of the service it sets up.
    expect(pgSetup.image).toBe(container(local, "mlflow-kit-local-postgres").inputs.image);
    expect(container(local, "mlflow-kit-local-minio-setup").inputs.image).toBe(container(local, "mlflow-kit-local-minio").inputs.image);
  });

  it("limits the server's MinIO user to the artifact prefix of its bucket", () => {
    const uploads = (container(local, "mlflow-kit-local-minio-setup").inputs as any).uploads as Array<{ file: string; content: string }>;
    const policy = JSON.parse(uploads.find((u) => u.file === "/mlflow-kit/policy.json")!.content);
    const resources = policy.Statement.flatMap((st: any) => [st.Resource].flat());
    expect(resources.sort()).toEqual(["arn:aws:s3:::mlflow-kit-local-artifacts", "arn:aws:s3:::mlflow-kit-local-artifacts/mlflow/*"]);
    expect(policy.Statement.every((st: any) => st.Effect === "Allow")).toBe(true);
    const actions = policy.Statement.flatMap((st: any) => [st.Action].flat());
    expect(actions).not.toContain("s3:*");
    expect(actions.filter((a: string) => a.startsWith("admin:"))).toEqual([]);
  });

  it("hardens the server: read-only root, all capabilities dropped, no privilege gain", () => {
    expect(container(local, "mlflow-kit-local-server").inputs).toMatchObject({
      readOnly: true, capabilities: { drops: ["ALL"] }, securityOpts: ["no-new-privileges:true"],
    });
  });
});

describe("local stack: secrets", () => {
  it("every container's env is a Pulumi secret as a whole", async () => {
    const containers = byType(local, CONTAINER);
    expect(containers).toHaveLength(5);
    for (const c of containers) {
      expect(c.inputs.envs, String(c.inputs.name)).toBe(SECRET);
      expect(await pulumi.isSecret((c.resource as any).envs), String(c.inputs.name)).toBe(true);
    }
  });

  it("the envs carry the credentials, and no credential appears outside a secret", () => {
    const server = envOf(container(revealed, "mlflow-kit-local-server"));
    const minio = envOf(container(revealed, "mlflow-kit-local-minio"));
    const minioSetup = envOf(container(revealed, "mlflow-kit-local-minio-setup"));
    const pgSetup = envOf(container(revealed, "mlflow-kit-local-postgres-setup"));
    const dbPassword = decodeURIComponent(/^postgresql:\/\/mlflow_app:([^@]+)@postgres:5432\/mlflow_tracking\?sslmode=disable$/.exec(server.MLFLOW_BACKEND_STORE_URI)![1]);
    const credentials = {
      admin: server.MLFLOW_ADMIN_PASSWORD,
      flask: server.MLFLOW_FLASK_SERVER_SECRET_KEY,
      db: dbPassword,
      minioRoot: minio.MINIO_ROOT_PASSWORD,
      accessKey: server.AWS_ACCESS_KEY_ID,
      secretKey: server.AWS_SECRET_ACCESS_KEY,
      verifier: pgSetup.MLFLOW_ROLE_PASSWORD,
    };
    for (const [what, value] of Object.entries(credentials)) expect(value, what).toMatch(/^\S{20,}$/);
    expect(server.AWS_ACCESS_KEY_ID).toBe(minioSetup.MLFLOW_ACCESS_KEY);
    expect(server.AWS_SECRET_ACCESS_KEY).toBe(minioSetup.MLFLOW_SECRET_KEY);
    expect(minioSetup.MC_HOST_local).toBe(`http://mlflow-kit-root:${minio.MINIO_ROOT_PASSWORD}@minio:9000`);
    // The role's password reaches PostgreSQL only as a SCRAM verifier.
    expect(credentials.verifier).toMatch(/^SCRAM-SHA-256\$4096:/);
    expect(JSON.stringify(pgSetup)).not.toContain(dbPassword);

    const visible = JSON.stringify({ resources: local.resources.map(({ urn, inputs }) => ({ urn, inputs })), outputs: local.outputs });
    for (const [what, value] of Object.entries(credentials)) expect(visible.includes(value), what).toBe(false);
  });

  it("the server's env is the runtime contract, pointed at the local PostgreSQL and MinIO", () => {
    const env = envOf(container(revealed, "mlflow-kit-local-server"));
    expect(contractProblems(env), JSON.stringify(contractProblems(env))).toEqual([]);
    expect(env).toMatchObject({
      MLFLOW_AUTH_MODE: "basic",
      MLFLOW_ADMIN_USERNAME: "admin",
      MLFLOW_ARTIFACTS_DESTINATION: "s3://mlflow-kit-local-artifacts/mlflow",
      MLFLOW_S3_ENDPOINT_URL: "http://minio:9000",
      AWS_DEFAULT_REGION: "us-east-1",
      PORT: "5000",
      MLFLOW_MIGRATE: "auto",
    });
    expect(env.MLFLOW_AUTH_DATABASE_URI).toMatch(/@postgres:5432\/mlflow_auth\?sslmode=disable$/);
  });

  it("every credential among the outputs is a Pulumi secret", async () => {
    for (const name of ["adminPassword", "trackingDatabaseUri", "authDatabaseUri", "envFile", "activeAccessKeyId", "artifactUser"]) {
      expect(await pulumi.isSecret(local.rawOutputs[name] as pulumi.Output<unknown>), name).toBe(true);
      expect(local.outputs[name], name).toBe(SECRET);
    }
  });
});

describe("local stack: settings carried through", () => {
  it("another port moves the published port, the listening port and the health check together", async () => {
    const p = await planWith((c) => { c["mlflow-kit:target"].port = 5050; }, true);
    const server = container(p, "mlflow-kit-local-server").inputs as any;
    expect(server.ports).toEqual([{ internal: 5050, external: 5050, ip: "127.0.0.1", protocol: "tcp" }]);
    expect(server.healthcheck.tests.join(" ")).toContain("http://127.0.0.1:5050/health");
    expect(p.outputs.trackingUri).toBe("http://127.0.0.1:5050");
  });

  it("a rotation bump replaces the password and so re-runs the setup job", async () => {
    const rotated = await planWith((c) => { c["mlflow-kit:rotation"] = { databasePassword: 1 }; });
    const [before] = byType(local, "random:index/randomPassword:RandomPassword").filter((r) => r.name.endsWith("app-password"));
    const [after] = byType(rotated, "random:index/randomPassword:RandomPassword").filter((r) => r.name.endsWith("app-password"));
    expect(before.inputs.keepers).toEqual({ rotation: "0" });
    expect(after.inputs.keepers).toEqual({ rotation: "1" });
  });

  it("a local target may keep its artifacts in S3: no MinIO, no S3 endpoint, the IAM user's key", async () => {
    const withS3 = await planWith((c) => { c["mlflow-kit:artifacts"] = { kind: "s3" }; c["aws:region"] = "eu-west-1"; });
    // The artifact bucket, and (a long-lived stack) the bucket its access logs go to (FSBP S3.9).
    expect(byType(withS3, "aws:s3/bucket:Bucket").map((b) => String(b.inputs.bucket).replace(/\d{12}$/, "<account>")).sort()).toEqual(["mlflow-kit-local-art-<account>", "mlflow-kit-local-logs-<account>"]);
    expect(byType(withS3, CONTAINER).map((c) => c.inputs.name).sort()).toEqual(["mlflow-kit-local-postgres", "mlflow-kit-local-postgres-setup", "mlflow-kit-local-server"]);
    const revealedS3 = await plan("local", { dir: path.dirname(lastPlanned!), strict: true, revealSecrets: true });
    const env = envOf(container(revealedS3, "mlflow-kit-local-server"));
    expect(env.MLFLOW_S3_ENDPOINT_URL).toBeUndefined();
    const bucket = byType(revealedS3, "aws:s3/bucket:Bucket").find((b) => /-art-/.test(String(b.inputs.bucket)))!;
    expect(env.MLFLOW_ARTIFACTS_DESTINATION).toBe(`s3://${bucket.inputs.bucket}/mlflow`);
    expect(env.AWS_DEFAULT_REGION).toBe("eu-west-1");
  });
});

describe("LocalTarget", () => {
  it.each([80, 0, 70000, 5000.5])("refuses port %s before creating anything", async (port) => {
    await expect(evaluateStack({
      project: "mlflow-kit", stack: "unit", config: {}, secretKeys: [],
      program: () => {
        new LocalTarget("t", { namePrefix: "mlflow-kit-unit", imageRef: `sha256:${"a".repeat(64)}`, environment: {}, port, tags: {} });
        return {};
      },
    })).rejects.toThrow(/LocalTarget: port must be 1024-65535/);
  });
});
