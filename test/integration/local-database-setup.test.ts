/**
 * infra/database/local-setup.sh, the local stack's role and database setup, run for real with
 * bash and Debian's psql against a real PostgreSQL (on loopback here; the stack runs it over
 * the server's Unix socket, which changes only the PG* connection variables), with the very
 * env LocalDatabase computes: the role's password as a SCRAM verifier.
 */
import { execFile } from "node:child_process";
import * as path from "node:path";
import { promisify } from "node:util";
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { scramVerifier } from "../../infra/database/bootstrap/handler";
import { APP_ROLE, AUTH_DATABASE, TRACKING_DATABASE } from "../../infra/database/types";
import { findPostgresBin, startPostgres, type PostgresCluster } from "../support/postgres";

const run = promisify(execFile);
const SCRIPT = path.resolve(__dirname, "../../infra/database/local-setup.sh");
const DATABASES = [TRACKING_DATABASE, AUTH_DATABASE];
const PASSWORD = "LocalStackRolePw0123456789abcdef";
const ROTATED = "RotatedRolePw9876543210fedcbaXYZ";

let pg: PostgresCluster;

/** Runs the script as the stack's setup container would; resolves with its exit code and output. */
async function setup(env: Record<string, string | undefined>, superuserPassword = pg.superuserPassword): Promise<{ code: number; output: string }> {
  const full: Record<string, string> = {
    PATH: `${findPostgresBin()}:${process.env.PATH}`,
    PGHOST: pg.host, PGPORT: String(pg.port), PGUSER: "postgres", PGPASSWORD: superuserPassword, PGDATABASE: "postgres",
    PGCONNECT_TIMEOUT: "5",
    MLFLOW_ROLE: APP_ROLE, MLFLOW_DATABASES: DATABASES.join(" "), MLFLOW_WAIT_SECONDS: "4",
  };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete full[k]; else full[k] = v;
  try {
    const { stdout, stderr } = await run("bash", [SCRIPT], { env: full, timeout: 60_000 });
    return { code: 0, output: stdout + stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : -1, output: `${e.stdout ?? ""}${e.stderr ?? ""}` };
  }
}

async function canLogin(password: string, database: string, user = APP_ROLE): Promise<true | string> {
  const client = new Client(pg.config({ user, password, database }));
  try {
    await client.connect();
    await client.end();
    return true;
  } catch (err) {
    return (err as { code?: string }).code ?? String(err);
  }
}

beforeAll(async () => {
  pg = await startPostgres({ logStatements: true });
});
afterAll(async () => {
  await pg?.stop();
});

describe("local-setup.sh against a real PostgreSQL", () => {
  it("creates the role and both databases, closed to PUBLIC", async () => {
    const { code, output } = await setup({ MLFLOW_ROLE_PASSWORD: scramVerifier(PASSWORD) });
    expect(code, output).toBe(0);
    expect(output).toContain(`role ${APP_ROLE} and databases ${DATABASES.join(" ")} ready`);

    const [role] = await pg.query("SELECT rolcanlogin, rolsuper, rolcreatedb, rolcreaterole FROM pg_roles WHERE rolname = $1", [APP_ROLE]);
    expect(role).toEqual({ rolcanlogin: true, rolsuper: false, rolcreatedb: false, rolcreaterole: false });
    const dbs = await pg.query<{ datname: string; owner: string; encoding: string }>(
      "SELECT datname, pg_get_userbyid(datdba) AS owner, pg_encoding_to_char(encoding) AS encoding FROM pg_database WHERE datname = ANY($1) ORDER BY datname", [DATABASES]);
    expect(dbs).toEqual([...DATABASES].sort().map((datname) => ({ datname, owner: APP_ROLE, encoding: "UTF8" })));

    // MLflow's connection: the role logs in with the password the verifier was made from, and owns its schema.
    for (const db of DATABASES) expect(await canLogin(PASSWORD, db), db).toBe(true);
    const client = new Client(pg.config({ user: APP_ROLE, password: PASSWORD, database: TRACKING_DATABASE }));
    await client.connect();
    await client.query("CREATE TABLE migration_probe (id int)");
    await client.end();

    // PUBLIC may not connect: another login role is refused (42501: insufficient privilege).
    await pg.query("CREATE ROLE outsider LOGIN PASSWORD 'outsider-pw-123'");
    expect(await canLogin("outsider-pw-123", TRACKING_DATABASE, "outsider")).toBe("42501");
  });

  it("is idempotent: a second run changes nothing and keeps the data", async () => {
    const { code, output } = await setup({ MLFLOW_ROLE_PASSWORD: scramVerifier(PASSWORD) });
    expect(code, output).toBe(0);
    expect(await canLogin(PASSWORD, TRACKING_DATABASE)).toBe(true);
    const [probe] = await pg.query("SELECT count(*)::int AS n FROM pg_tables WHERE tablename = 'migration_probe'", [], TRACKING_DATABASE);
    expect(probe).toEqual({ n: 1 });
  });

  it("applies a rotated password: the old one stops working", async () => {
    const { code, output } = await setup({ MLFLOW_ROLE_PASSWORD: scramVerifier(ROTATED) });
    expect(code, output).toBe(0);
    expect(await canLogin(ROTATED, AUTH_DATABASE)).toBe(true);
    expect(await canLogin(PASSWORD, AUTH_DATABASE)).toBe("28P01");
  });

  it("takes over what an earlier stack left (a kept volume): a privileged role, a foreign owner", async () => {
    await pg.query(`ALTER ROLE ${APP_ROLE} SUPERUSER CREATEDB CREATEROLE PASSWORD 'left-over-pw-123'`);
    await pg.query(`ALTER DATABASE ${AUTH_DATABASE} OWNER TO outsider`);
    await pg.query(`GRANT CONNECT ON DATABASE ${AUTH_DATABASE} TO PUBLIC`);
    const { code, output } = await setup({ MLFLOW_ROLE_PASSWORD: scramVerifier(PASSWORD) });
    expect(code, output).toBe(0);
    const [role] = await pg.query("SELECT rolsuper, rolcreatedb, rolcreaterole FROM pg_roles WHERE rolname = $1", [APP_ROLE]);
    expect(role).toEqual({ rolsuper: false, rolcreatedb: false, rolcreaterole: false });
    const [db] = await pg.query("SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = $1", [AUTH_DATABASE]);
    expect(db).toEqual({ owner: APP_ROLE });
    expect(await canLogin("outsider-pw-123", AUTH_DATABASE, "outsider")).toBe("42501");
    expect(await canLogin(PASSWORD, AUTH_DATABASE)).toBe(true);
  });

  it("the clear password never reaches the server, only its verifier", () => {
    const log = pg.serverLog();
    expect(log).toContain("ALTER ROLE");
    for (const pw of [PASSWORD, ROTATED]) expect(log).not.toContain(pw);
  });

  it("fails with a non-zero code, and no secret in its output, when it cannot finish", async () => {
    const verifier = scramVerifier(PASSWORD);
    const wrongSuperuser = await setup({ MLFLOW_ROLE_PASSWORD: verifier }, "not-the-superuser-password");
    expect(wrongSuperuser.code).not.toBe(0);
    expect(wrongSuperuser.output).toMatch(/password authentication failed/);
    for (const s of [verifier, "not-the-superuser-password", PASSWORD]) expect(wrongSuperuser.output).not.toContain(s);

    const missing = await setup({ MLFLOW_ROLE_PASSWORD: undefined });
    expect(missing.code).not.toBe(0);
    expect(missing.output).toMatch(/MLFLOW_ROLE_PASSWORD is required/);

    // No server: the bounded wait gives up (MLFLOW_WAIT_SECONDS=4) with exit code 3.
    const unreachable = await setup({ MLFLOW_ROLE_PASSWORD: verifier, PGPORT: "1" });
    expect(unreachable.code).toBe(3);
    expect(unreachable.output).toMatch(/did not accept connections within 4 s/);
  });
});
