/**
 * What the browser test runs against, all on 127.0.0.1: a throwaway PostgreSQL cluster, moto's
 * S3 server (from the image test's venv), the built image (MLFLOW_KIT_TEST_IMAGE) with the env
 * infra/runtime-contract.ts computes for a stack (stacks/runtime-env.ts), and a TLS-terminating
 * edge in front of it that stands in for the platform's (Render's, Hugging Face's): the browser
 * reaches https://<the stack's public host>/ exactly as a person would.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { startPostgres, type PostgresCluster } from "../support/postgres";

const run = promisify(execFile);
export const ROOT = path.resolve(__dirname, "..", "..");
const VENV_PYTHON = path.join(ROOT, ".venv-image", "bin", "python");
const TSX = path.join(ROOT, "node_modules", ".bin", "tsx");
/** The least-privilege role that owns MLflow's databases (infra/database/types.ts). */
const APP_ROLE = "mlflow_app";

/** A random credential for a throwaway service: letters and digits only. */
export function token(bytes = 18): string {
  return randomBytes(bytes).toString("base64url").replace(/[-_]/g, "x");
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Polls `check` every 250 ms until it is true; fails naming `what` after `seconds`. */
export async function waitFor(what: string, seconds: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + seconds * 1000;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${what} not within ${seconds} s`);
}

// --- PostgreSQL ------------------------------------------------------------------------------

export interface Databases {
  cluster: PostgresCluster;
  trackingUri: string;
  authUri: string;
}

/** A cluster with a tracking and an auth database owned by the app role, as in production. */
export async function startDatabases(): Promise<Databases> {
  const cluster = await startPostgres();
  const password = token();
  await cluster.query(`CREATE ROLE ${APP_ROLE} LOGIN PASSWORD '${password}'`);
  const uri = (db: string) => `postgresql://${APP_ROLE}:${password}@127.0.0.1:${cluster.port}/${db}`;
  for (const db of ["browser_tracking", "browser_auth"]) await cluster.query(`CREATE DATABASE ${db} OWNER ${APP_ROLE}`);
  return { cluster, trackingUri: uri("browser_tracking"), authUri: uri("browser_auth") };
}

// --- moto's S3 ---------------------------------------------------------------------------------

export interface S3 {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  createBucket(bucket: string, region: string): Promise<void>;
  stop(): Promise<void>;
}

/** moto's S3 server from the image test's venv (test/image/setup.sh installs it). */
export async function startS3(logDir: string): Promise<S3> {
  if (!fs.existsSync(VENV_PYTHON)) throw new Error(`${VENV_PYTHON} missing: run bash test/image/setup.sh`);
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const log = fs.openSync(path.join(logDir, "moto.log"), "w");
  const proc = spawn(VENV_PYTHON, ["-m", "moto.server", "-H", "127.0.0.1", "-p", String(port)], { stdio: ["ignore", log, log], detached: true });
  await waitFor("moto's S3 server", 60, async () => {
    if (proc.exitCode !== null) throw new Error(`moto exited with ${proc.exitCode}`);
    return (await fetch(`${endpoint}/moto-api/`)).ok;
  });
  const keys = { accessKeyId: "AKIA" + randomBytes(8).toString("hex").toUpperCase(), secretAccessKey: token(30) };
  return {
    endpoint,
    ...keys,
    async createBucket(bucket, region) {
      // us-east-1 takes no LocationConstraint (S3's CreateBucket API), every other region needs it.
      const script = "import boto3,sys; r=sys.argv[3]; boto3.client('s3', endpoint_url=sys.argv[1], region_name=r).create_bucket(Bucket=sys.argv[2], **({} if r == 'us-east-1' else {'CreateBucketConfiguration': {'LocationConstraint': r}}))";
      await run(VENV_PYTHON, ["-c", script, endpoint, bucket, region], {
        env: { PATH: process.env.PATH, AWS_ACCESS_KEY_ID: keys.accessKeyId, AWS_SECRET_ACCESS_KEY: keys.secretAccessKey },
      });
    },
    async stop() {
      await stopProcess(proc);
      fs.closeSync(log);
    },
  };
}

async function stopProcess(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.pid === undefined) return;
  const exited = new Promise((r) => proc.once("exit", r));
  process.kill(-proc.pid, "SIGTERM");
  const timer = setTimeout(() => proc.pid && process.kill(-proc.pid, "SIGKILL"), 10_000);
  await exited;
  clearTimeout(timer);
}

// --- the runtime env and the image --------------------------------------------------------------

export interface ServerSecrets {
  adminPassword: string;
  flaskSecretKey: string;
}

/** The container env infra/runtime-contract.ts computes for `stack`, with local endpoints. */
export async function stackEnv(stack: string, db: Databases, s3: S3, port: number, secrets: ServerSecrets, bucket: string): Promise<Record<string, string>> {
  const options = {
    stack, "tracking-db-uri": db.trackingUri, "auth-db-uri": db.authUri, "s3-endpoint": s3.endpoint,
    "access-key-id": s3.accessKeyId, "secret-access-key": s3.secretAccessKey, "admin-password": secrets.adminPassword,
    "flask-secret-key": secrets.flaskSecretKey, port: String(port), bucket,
  };
  // --name=value: a value may start with "-". Only stderr on failure: argv holds the secrets.
  const argv = [path.join(ROOT, "stacks", "runtime-env.ts"), ...Object.entries(options).map(([k, v]) => `--${k}=${v}`)];
  try {
    const { stdout } = await run(TSX, argv, { cwd: ROOT, timeout: 120_000 });
    return JSON.parse(stdout) as Record<string, string>;
  } catch (err) {
    throw new Error(`stacks/runtime-env.ts --stack ${stack} failed: ${(err as { stderr?: string }).stderr ?? "no output"}`);
  }
}

export interface Container {
  id: string;
  url: string;
  logs(): Promise<string>;
  stop(): Promise<void>;
}

/**
 * The built image as the platform runs it: host network (everything on 127.0.0.1), the env
 * through a file readable by this user only, a read-only root with a tmpfs at /tmp, and the
 * run's label (test/image/docker.sh's docker_down removes whatever a test leaves).
 */
export async function startContainer(image: string, env: Record<string, string>, dir: string): Promise<Container> {
  const envFile = path.join(dir, "container.env");
  fs.writeFileSync(envFile, Object.entries(env).map(([k, v]) => `${k}=${v}\n`).join(""), { mode: 0o600 });
  const label = process.env.KIT_RUN_LABEL ?? "mlflow-kit.test-run=browser";
  let id: string;
  try {
    id = (await run("docker", ["run", "-d", "--network", "host", "--env-file", envFile, "--read-only",
      "--tmpfs", "/tmp:rw,nosuid,nodev,size=256m", "--label", label, image])).stdout.trim();
  } finally {
    fs.rmSync(envFile);
  }
  const url = `http://127.0.0.1:${env.PORT}`;
  const logs = async () => {
    const out = await run("docker", ["logs", id], { maxBuffer: 64 * 1024 * 1024 }).catch((e: { stdout?: string; stderr?: string }) => e);
    return `${out.stdout ?? ""}${out.stderr ?? ""}`;
  };
  await waitFor(`/health of the container on ${url}`, 120, async () => {
    const state = (await run("docker", ["inspect", "-f", "{{.State.Running}}", id])).stdout.trim();
    if (state !== "true") throw new Error(`the container exited:\n${await logs()}`);
    return (await fetch(`${url}/health`)).ok;
  });
  return {
    id,
    url,
    logs,
    async stop() {
      await run("docker", ["rm", "-f", id]).catch(() => undefined);
    },
  };
}

// --- the platform's edge -----------------------------------------------------------------------

export interface Edge {
  port: number;
  stop(): Promise<void>;
}

/**
 * TLS at the edge, plain HTTP to the server, the Host kept: how Render and Hugging Face put a
 * service on its public host. Render: "TLS terminates at Render's edge. The edge speaks HTTPS
 * to clients; your process typically receives plain HTTP on PORT" (Render's own
 * render-oss/skills, render-web-services/SKILL.md, "TLS and HTTPS"). The certificate is a
 * throwaway self-signed one for the public host(s); the browser is told to accept it.
 *
 * `forwarded: false` adds no X-Forwarded-* header: the TLS half of the ECS load balancer, in
 * front of test/edge's load balancer stand-in, which sets them as the ALB does.
 */
export async function startEdge(publicHosts: string | string[], upstreamPort: number, dir: string, { forwarded = true } = {}): Promise<Edge> {
  const hosts = typeof publicHosts === "string" ? [publicHosts] : publicHosts;
  const key = path.join(dir, "edge-key.pem");
  const cert = path.join(dir, "edge-cert.pem");
  await run("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
    "-keyout", key, "-out", cert, "-days", "1", "-subj", `/CN=${hosts[0]}`, "-addext", `subjectAltName=${hosts.map((h) => `DNS:${h}`).join(",")}`]);
  const server = https.createServer({ key: fs.readFileSync(key), cert: fs.readFileSync(cert) }, (req, res) => {
    const headers = forwarded ? { ...req.headers, "x-forwarded-proto": "https", "x-forwarded-for": req.socket.remoteAddress ?? "127.0.0.1" } : req.headers;
    const upstream = http.request({ host: "127.0.0.1", port: upstreamPort, method: req.method, path: req.url, headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on("error", () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(upstream);
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return {
    port,
    stop: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}
