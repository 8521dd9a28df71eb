/**
 * A throwaway PostgreSQL cluster for tests: Debian's server binaries (or, with `major`, that
 * major's binaries from test/integration/postgres-majors, see setup.sh there), a temp directory,
 * 127.0.0.1 on a free port, password (SCRAM) authentication everywhere, optionally TLS-only
 * with a fresh self-signed certificate (like RDS with rds.force_ssl=1).
 *
 * initdb refuses to run as root, so as root every server command runs as the `postgres` OS
 * user (runuser); as any other user it runs as that user.
 * Needs the server package: apt-get update && apt-get install -y postgresql
 */
import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { Client, type ClientConfig } from "pg";

const run = promisify(execFile);

export interface PostgresOptions {
  /** Accept only TLS connections (hostssl); the CA to trust is `caCert`. */
  ssl?: boolean;
  /** log_statement=all: lets a test read what reached the server (see `serverLog`). */
  logStatements?: boolean;
  /** A PostgreSQL major ("14".."18"): its binaries from test/integration/postgres-majors. */
  major?: string;
}

export interface PostgresCluster {
  host: string;
  port: number;
  /** The bootstrap superuser ("postgres") and its password. */
  superuser: string;
  superuserPassword: string;
  /** PEM of the server's self-signed certificate when started with ssl. */
  caCert: string | undefined;
  /** Connection settings for a user (the superuser by default), TLS-verified when ssl is on. */
  config(o?: { user?: string; password?: string; database?: string }): ClientConfig;
  /** Runs one query as the superuser on `database` (default "postgres"). */
  query<R extends Record<string, unknown> = Record<string, unknown>>(sql: string, params?: unknown[], database?: string): Promise<R[]>;
  /** Everything the server logged so far. */
  serverLog(): string;
  stop(): Promise<void>;
}

/** /usr/lib/postgresql/<highest version>/bin, or $PG_BIN_DIR. */
export function findPostgresBin(): string {
  if (process.env.PG_BIN_DIR) return process.env.PG_BIN_DIR;
  const root = "/usr/lib/postgresql";
  const versions = fs.existsSync(root)
    ? fs.readdirSync(root).filter((v) => fs.existsSync(path.join(root, v, "bin", "initdb"))).sort((a, b) => Number(b) - Number(a))
    : [];
  if (versions.length === 0) {
    throw new Error("PostgreSQL server binaries not found under /usr/lib/postgresql: apt-get update && apt-get install -y postgresql");
  }
  return path.join(root, versions[0], "bin");
}

/**
 * bin/ of one major's server, installed by test/integration/setup.sh: as root in a world-readable
 * folder outside the checkout (the `postgres` user runs it and may not enter the checkout), keyed
 * by the hash of postgres-majors/package-lock.json; as any other user inside the checkout.
 */
export function majorPostgresBin(major: string): string {
  const majors = path.resolve(__dirname, "..", "integration", "postgres-majors");
  let prefix = majors;
  if (process.getuid?.() === 0) {
    const hash = createHash("sha256").update(fs.readFileSync(path.join(majors, "package-lock.json"))).digest("hex");
    prefix = path.join(process.env.MLFLOW_KIT_PG_MAJORS_CACHE || "/var/cache/mlflow-kit/postgres-majors", hash.slice(0, 16));
  }
  const bin = path.join(prefix, "node_modules", `pg${major}`, "native", "bin");
  if (!fs.existsSync(path.join(bin, "initdb"))) {
    throw new Error(`PostgreSQL ${major} binaries not found at ${bin}: run bash test/integration/setup.sh (npm run test:integration does)`);
  }
  return bin;
}

export async function startPostgres(options: PostgresOptions = {}): Promise<PostgresCluster> {
  const bin = options.major ? majorPostgresBin(options.major) : findPostgresBin();
  const asRoot = process.getuid?.() === 0;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mlflow-kit-pg-"));
  const data = path.join(dir, "data");
  const logFile = path.join(dir, "server.log");
  const superuserPassword = randomBytes(18).toString("base64url");

  // Files the server reads must belong to the user it runs as.
  let owner: { uid: number; gid: number } | undefined;
  if (asRoot) {
    const { stdout } = await run("id", ["-u", "postgres"]);
    const { stdout: gid } = await run("id", ["-g", "postgres"]);
    owner = { uid: Number(stdout.trim()), gid: Number(gid.trim()) };
  }
  const own = (p: string) => owner && fs.chownSync(p, owner.uid, owner.gid);
  const pg = (tool: string, args: string[]) => asRoot
    ? run("runuser", ["-u", "postgres", "--", path.join(bin, tool), ...args], { cwd: dir })
    : run(path.join(bin, tool), args, { cwd: dir });
  own(dir);

  try {
    const pwfile = path.join(dir, "pwfile");
    fs.writeFileSync(pwfile, superuserPassword + "\n", { mode: 0o600 });
    own(pwfile);
    await pg("initdb", ["-D", data, "-U", "postgres", `--pwfile=${pwfile}`, "--auth=scram-sha-256",
      "-E", "UTF8", "--locale=C", "--no-sync"]);
    fs.rmSync(pwfile);

    let caCert: string | undefined;
    const conf: string[] = [
      "listen_addresses = '127.0.0.1'",
      `unix_socket_directories = '${dir}'`,
      "password_encryption = 'scram-sha-256'",
      "fsync = off", "synchronous_commit = off", "full_page_writes = off",
    ];
    if (options.ssl) {
      const crt = path.join(data, "server.crt");
      const key = path.join(data, "server.key");
      await run("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
        "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", crt]);
      fs.chmodSync(key, 0o600);
      own(crt);
      own(key);
      caCert = fs.readFileSync(crt, "utf8");
      conf.push("ssl = on", "ssl_cert_file = 'server.crt'", "ssl_key_file = 'server.key'");
    }
    if (options.logStatements) conf.push("log_statement = 'all'");
    fs.appendFileSync(path.join(data, "postgresql.conf"), "\n" + conf.join("\n") + "\n");
    fs.writeFileSync(path.join(data, "pg_hba.conf"), [
      "local all all scram-sha-256",
      `${options.ssl ? "hostssl" : "host"} all all 127.0.0.1/32 scram-sha-256`,
      "",
    ].join("\n"));

    // A free port can be taken between the probe and the start: try a few.
    let port = 0;
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      try {
        await pg("pg_ctl", ["-D", data, "-l", logFile, "-w", "-t", "60", "-o", `-p ${port}`, "start"]);
        break;
      } catch (err) {
        if (attempt >= 3) throw new Error(`postgres did not start: ${(err as Error).message}\n${readIfExists(logFile)}`);
      }
    }

    const config = (o: { user?: string; password?: string; database?: string } = {}): ClientConfig => ({
      host: "127.0.0.1",
      port,
      user: o.user ?? "postgres",
      password: o.password ?? superuserPassword,
      database: o.database ?? "postgres",
      ssl: caCert ? { ca: caCert, rejectUnauthorized: true } : false,
    });
    return {
      host: "127.0.0.1",
      port,
      superuser: "postgres",
      superuserPassword,
      caCert,
      config,
      async query<R extends Record<string, unknown>>(sql: string, params: unknown[] = [], database = "postgres") {
        const client = new Client(config({ database }));
        await client.connect();
        try {
          return (await client.query<R>(sql, params)).rows;
        } finally {
          await client.end();
        }
      },
      serverLog: () => readIfExists(logFile),
      async stop() {
        await pg("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]).catch(() => undefined);
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await pg("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]).catch(() => undefined);
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function readIfExists(file: string): string {
  return fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "";
}
