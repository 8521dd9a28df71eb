/**
 * Creates MLflow's login role and its databases on a PostgreSQL server.
 *
 * Two entry points share one SQL path:
 * - `handler`: the bootstrap Lambda (bundled by bundle.ts), invoked by `aws.lambda.Invocation`
 *   from inside the VPC, because the machine running `pulumi up` cannot reach a private RDS.
 * - `bootstrapDatabases`: the SQL itself, exported so it runs against a real server in
 *   test/integration/rds-bootstrap.test.ts.
 *
 * Every run converges the server to the same state, so re-running it (a rotated password, new
 * code, a retry after a timeout) is always safe. It must work as the RDS master user, which is
 * NOT a superuser: CREATEROLE + CREATEDB only (see the comments on each step).
 *
 * No password is ever logged, sent to the server in clear text when avoidable, or carried by an
 * error: every error leaving this file is a BootstrapError whose message was scrubbed.
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Client, escapeIdentifier, escapeLiteral, type ClientConfig } from "pg";

export interface BootstrapSpec {
  /** The login role the application uses (APP_ROLE). */
  role: string;
  /** Its password; a rotation is just a run with a new one. */
  password: string;
  /** Databases to create, owned by `role`, closed to PUBLIC. */
  databases: string[];
}

export interface BootstrapResult {
  role: string;
  roleCreated: boolean;
  databases: string[];
  databasesCreated: string[];
}

/** An error with nothing secret in it: safe for a Lambda response, a log line, a Pulumi diagnostic. */
export class BootstrapError extends Error {
  /** The step that failed: "connect", "role", "membership", "database <name>". */
  readonly step: string;
  /** SQLSTATE or Node error code, when there was one (28P01, 42501, ECONNREFUSED, ...). */
  readonly code: string | undefined;

  constructor(step: string, cause: unknown, secrets: string[]) {
    const err = cause as { message?: unknown; detail?: unknown; code?: unknown } | undefined;
    const message = typeof err?.message === "string" ? err.message : String(cause);
    const detail = typeof err?.detail === "string" ? ` (${err.detail})` : "";
    super(redact(`bootstrap failed at ${step}: ${message}${detail}`, secrets));
    this.name = "BootstrapError";
    this.step = step;
    this.code = typeof err?.code === "string" ? err.code : undefined;
    // Deliberately no `cause`: the original error may hold the config or the statement.
  }
}

/**
 * Runs the idempotent bootstrap as `connection` (the master user) and closes the connection.
 * `CREATE DATABASE` cannot run inside a transaction block, so each statement autocommits; the
 * order of the steps makes a half-finished run complete on the next one.
 */
export async function bootstrapDatabases(connection: string | ClientConfig, spec: BootstrapSpec): Promise<BootstrapResult> {
  const secrets = secretsOf(connection, spec.password);
  validateSpec(spec);
  const { role, databases } = spec;
  const id = escapeIdentifier;

  let step = "connect";
  let client: Client | undefined;
  try {
    client = new Client(typeof connection === "string" ? { connectionString: connection } : connection);
    // A dropped socket surfaces as the failing query's error; without a listener it would crash.
    client.on("error", () => undefined);
    await client.connect();

    step = "role";
    const me = (await client.query<{ user: string }>("SELECT current_user AS user")).rows[0].user;
    if (me === role) throw new Error("the application role must not be the connecting (master) user");
    const existing = (await client.query<{ rolsuper: boolean }>(
      "SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = $1", [role])).rows[0];
    // NOSUPERUSER is named only where it is allowed without being superuser (CREATE) or needed
    // (an existing superuser role, which then fails loudly rather than handing MLflow a superuser):
    // PostgreSQL refuses ALTER ROLE ... NOSUPERUSER from a non-superuser such as the RDS master.
    const attributes = `LOGIN NOCREATEDB NOCREATEROLE${!existing || existing.rolsuper ? " NOSUPERUSER" : ""}`;
    const password = escapeLiteral(passwordForServer(spec.password));
    await client.query(`${existing ? "ALTER" : "CREATE"} ROLE ${id(role)} WITH ${attributes} PASSWORD ${password}`);

    // CREATE DATABASE ... OWNER, ALTER ... OWNER and REVOKE on the role's databases need the
    // master to act as the role. PostgreSQL 16 (RDS) gives the creator only ADMIN OPTION, not
    // membership ("must be able to SET ROLE"), so the master grants the role to itself once.
    step = "membership";
    const member = (await client.query<{ usage: boolean }>(
      "SELECT pg_catalog.pg_has_role(current_user, $1, 'USAGE') AS usage", [role])).rows[0].usage;
    if (!member) await client.query(`GRANT ${id(role)} TO CURRENT_USER`);

    const databasesCreated: string[] = [];
    for (const db of databases) {
      step = `database ${db}`;
      const found = (await client.query<{ owner: string }>(
        "SELECT pg_catalog.pg_get_userbyid(datdba) AS owner FROM pg_catalog.pg_database WHERE datname = $1", [db])).rows[0];
      if (!found) {
        // template0 + UTF8: the same result whatever template1 holds (and what direct mode makes).
        await client.query(`CREATE DATABASE ${id(db)} OWNER ${id(role)} TEMPLATE template0 ENCODING 'UTF8'`);
        databasesCreated.push(db);
      } else if (found.owner !== role) {
        await client.query(`ALTER DATABASE ${id(db)} OWNER TO ${id(role)}`);
      }
      // New databases let PUBLIC connect and create temp tables: only the app role may.
      await client.query(`REVOKE ALL ON DATABASE ${id(db)} FROM PUBLIC`);
      await client.query(`GRANT ALL ON DATABASE ${id(db)} TO ${id(role)}`);
    }
    return { role, roleCreated: !existing, databases: [...databases], databasesCreated };
  } catch (err) {
    throw err instanceof BootstrapError ? err : new BootstrapError(step, err, secrets);
  } finally {
    await client?.end().catch(() => undefined);
  }
}

/** What the Invocation sends (secret in Pulumi; never logged here). */
export interface BootstrapEvent {
  host: string;
  port: number;
  masterUsername: string;
  masterPassword: string;
  role: string;
  password: string;
  databases: string[];
}

export interface HandlerOptions {
  /** TLS for the master connection. Production: verify against the Amazon CAs (NODE_EXTRA_CA_CERTS). */
  ssl: ClientConfig["ssl"];
  /** Waits before each retry of a connection that could not be opened (the instance may still be settling). */
  retryDelaysMs?: number[];
  connectionTimeoutMillis?: number;
}

/** The Lambda handler, with its TLS and retry policy injectable so tests can run it on loopback. */
export function createHandler(options: HandlerOptions): (event: unknown) => Promise<BootstrapResult> {
  const delays = options.retryDelaysMs ?? [3_000, 6_000, 9_000, 12_000];
  return async (event: unknown) => {
    const e = parseEvent(event);
    const connection: ClientConfig = {
      host: e.host,
      port: e.port,
      user: e.masterUsername,
      password: e.masterPassword,
      database: "postgres",
      ssl: options.ssl,
      connectionTimeoutMillis: options.connectionTimeoutMillis ?? 10_000,
      application_name: "mlflow-kit-bootstrap",
    };
    const spec = { role: e.role, password: e.password, databases: e.databases };
    for (let attempt = 0; ; attempt++) {
      try {
        const result = await bootstrapDatabases(connection, spec);
        console.log(JSON.stringify({ msg: "bootstrap done", host: e.host, ...result }));
        return result;
      } catch (err) {
        // The whole run is idempotent, so a retry simply starts over.
        const retry = err instanceof BootstrapError && err.step === "connect" && isTransient(err.code) && attempt < delays.length;
        console.log(JSON.stringify({ msg: retry ? "bootstrap retry" : "bootstrap failed", host: e.host, error: (err as Error).message }));
        if (!retry) throw err;
        await new Promise((resolve) => setTimeout(resolve, delays[attempt]));
      }
    }
  };
}

/** The RDS CA bundle, shipped in the function's archive next to index.js (rds.ts puts it there). */
export const BUNDLED_CA_FILE = "rds-ca-bundle.pem";

/**
 * The Lambda entry point: verifies the server against the bundled RDS CAs only (not the
 * runtime's trust store) and its name against the endpoint, as libpq's sslmode=verify-full.
 */
export const handler = (event: unknown): Promise<BootstrapResult> => {
  const ca = readFileSync(join(__dirname, BUNDLED_CA_FILE), "utf8");
  return createHandler({ ssl: { ca, rejectUnauthorized: true } })(event);
};

/** Network-level failures worth a retry; authentication and SQL errors are not. */
function isTransient(code: string | undefined): boolean {
  // 57P03: cannot_connect_now (starting up); undefined: pg's own "Connection terminated ..." errors.
  return code === undefined || ["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "57P03"].includes(code);
}

/** Checks the event's shape; errors name the field, never its value. */
function parseEvent(event: unknown): BootstrapEvent {
  const e = (event ?? {}) as Record<string, unknown>;
  const fail = (field: string, want: string): never => {
    throw new BootstrapError("input", new Error(`field "${field}" must be ${want}`), []);
  };
  for (const field of ["host", "masterUsername", "masterPassword", "role", "password"]) {
    if (typeof e[field] !== "string" || e[field] === "") fail(field, "a non-empty string");
  }
  if (!Number.isInteger(e.port) || (e.port as number) <= 0 || (e.port as number) > 65535) fail("port", "a TCP port number");
  if (!Array.isArray(e.databases) || e.databases.length === 0 || !e.databases.every((d) => typeof d === "string" && d !== "")) {
    fail("databases", "a non-empty list of names");
  }
  return e as unknown as BootstrapEvent;
}

function validateSpec(spec: BootstrapSpec): void {
  const name = (what: string, v: unknown) => {
    // 63 bytes is PostgreSQL's identifier limit; longer names would be silently truncated.
    if (typeof v !== "string" || v === "" || Buffer.byteLength(v) > 63) {
      throw new BootstrapError("input", new Error(`${what} must be a name of 1 to 63 bytes`), []);
    }
  };
  name("role", spec.role);
  if (!Array.isArray(spec.databases) || spec.databases.length === 0) {
    throw new BootstrapError("input", new Error("databases must be a non-empty list"), []);
  }
  spec.databases.forEach((d) => name("database", d));
  if (typeof spec.password !== "string" || spec.password === "") {
    throw new BootstrapError("input", new Error("password must be a non-empty string"), []);
  }
}

/**
 * The password as the server should receive it. For printable ASCII (every generated password)
 * that is a SCRAM-SHA-256 verifier, which PostgreSQL stores as is: the clear text never reaches
 * the server, so log_statement or pgaudit cannot record it. Other text goes in clear (escaped),
 * because only the server's own SASLprep is guaranteed to normalise it the way clients will.
 */
export function passwordForServer(password: string): string {
  return /^[\x20-\x7e]+$/.test(password) ? scramVerifier(password) : password;
}

/** RFC 5802/7677 verifier in PostgreSQL's format: SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>. */
export function scramVerifier(password: string, salt: Buffer = randomBytes(16), iterations = 4096): string {
  const salted = pbkdf2Sync(password, salt, iterations, 32, "sha256");
  const clientKey = createHmac("sha256", salted).update("Client Key").digest();
  const storedKey = createHash("sha256").update(clientKey).digest();
  const serverKey = createHmac("sha256", salted).update("Server Key").digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString("base64")}$${storedKey.toString("base64")}:${serverKey.toString("base64")}`;
}

/** Every form in which a secret of this run could show up in an error message. */
function secretsOf(connection: string | ClientConfig, password: string): string[] {
  const out = [password];
  if (typeof connection === "string") {
    out.push(connection);
    try {
      const pw = new URL(connection).password;
      out.push(pw, decodeURIComponent(pw));
    } catch {
      // Not a URL: the whole string is already in the list.
    }
  } else if (typeof connection.password === "string") {
    out.push(connection.password);
  }
  // Also as they appear inside SQL (quotes doubled) or a URI.
  const forms = out.flatMap((s) => [s, s.replace(/'/g, "''"), encodeURIComponent(s)]);
  return [...new Set(forms.filter((s) => typeof s === "string" && s.length > 0))].sort((a, b) => b.length - a.length);
}

function redact(text: string, secrets: string[]): string {
  return secrets.reduce((t, s) => t.split(s).join("[redacted]"), text);
}
