/**
 * The bootstrap SQL against a real PostgreSQL on loopback, on every major that settings accept
 * (14 to 18: role and CREATEROLE rules changed in 16), run the way RDS runs it: as a master user
 * that is NOT a superuser (CREATEROLE + CREATEDB), over TLS only. One cluster per major, one
 * after the other.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { inspect } from "node:util";
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bootstrapHandlerBundle } from "../../infra/database/bootstrap/bundle";
import { BootstrapError, BUNDLED_CA_FILE, bootstrapDatabases, createHandler, type BootstrapEvent, type BootstrapResult } from "../../infra/database/bootstrap/handler";
import { rdsCaBundle } from "../../infra/database/rds-ca";
import { POSTGRES_MAJORS } from "../../infra/database/rds-rules";
import { APP_ROLE, AUTH_DATABASE, TRACKING_DATABASE } from "../../infra/database/types";
import { startPostgres, type PostgresCluster } from "../support/postgres";

const MASTER = "mlflow_admin";
const MASTER_PASSWORD = "Master-pw-3f9c1a77e0";
const DATABASES = [TRACKING_DATABASE, AUTH_DATABASE];

let pg: PostgresCluster;
const master = () => pg.config({ user: MASTER, password: MASTER_PASSWORD });

/** Opens a connection as `user`, or returns the SQLSTATE it was refused with. */
async function tryConnect(user: string, password: string, database: string): Promise<Client | string> {
  const client = new Client(pg.config({ user, password, database }));
  try {
    await client.connect();
    return client;
  } catch (err) {
    return (err as { code?: string }).code ?? String(err);
  }
}

/** Every way an error could carry text: message, stack, own properties, inspect output. */
function everything(err: unknown): string {
  return [String(err), (err as Error)?.stack ?? "", JSON.stringify(err), inspect(err, { depth: 5, showHidden: true })].join("\n");
}

/** Logs in and out again; true, or the SQLSTATE the login was refused with. */
async function canLogin(user: string, password: string, database: string): Promise<true | string> {
  const c = await tryConnect(user, password, database);
  if (typeof c === "string") return c;
  await c.end();
  return true;
}

async function thrown(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error("expected a rejection");
}

// Every major's cluster starts at once (initdb waits more than it computes); the suites then
// run one major after the other, each on its own cluster.
const clusters = new Map<string, PostgresCluster>();

beforeAll(async () => {
  const started = await Promise.allSettled(POSTGRES_MAJORS.map(async (major) => {
    const c = await startPostgres({ ssl: true, logStatements: true, major });
    clusters.set(major, c);
    // What the RDS master is: not a superuser, may create roles and databases.
    await c.query(`CREATE ROLE ${MASTER} LOGIN CREATEROLE CREATEDB NOSUPERUSER PASSWORD '${MASTER_PASSWORD}'`);
    await c.query("CREATE ROLE outsider LOGIN PASSWORD 'outsider-pw'");
  }));
  const failed = started.find((r) => r.status === "rejected");
  if (failed) throw (failed as PromiseRejectedResult).reason;
});

afterAll(async () => {
  await Promise.all([...clusters.values()].map((c) => c.stop()));
});

describe.each(POSTGRES_MAJORS)("PostgreSQL %s", (major) => {
  beforeAll(() => {
    pg = clusters.get(major)!;
  });

  it("runs on the PostgreSQL major under test", async () => {
    const [{ server_version_num }] = await pg.query<{ server_version_num: string }>("SHOW server_version_num");
    expect(Math.floor(Number(server_version_num) / 10000)).toBe(Number(major));
  });

  describe("bootstrapDatabases as a non-superuser master", () => {
    const first = "first-Password-0123456789abcdef";

    it("creates a login role without superuser powers and both databases, owned by it and closed to PUBLIC", async () => {
      const result = await bootstrapDatabases(master(), { role: APP_ROLE, password: first, databases: DATABASES });
      expect(result).toEqual({ role: APP_ROLE, roleCreated: true, databases: DATABASES, databasesCreated: DATABASES });

      const [role] = await pg.query("SELECT rolcanlogin, rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls FROM pg_roles WHERE rolname = $1", [APP_ROLE]);
      expect(role).toEqual({ rolcanlogin: true, rolsuper: false, rolcreatedb: false, rolcreaterole: false, rolreplication: false, rolbypassrls: false });

      const dbs = await pg.query<{ datname: string; owner: string; public_connect: boolean; public_temp: boolean; encoding: string }>(
        `SELECT datname, pg_get_userbyid(datdba) AS owner, pg_encoding_to_char(encoding) AS encoding,
                has_database_privilege('public', datname, 'CONNECT') AS public_connect,
                has_database_privilege('public', datname, 'TEMPORARY') AS public_temp
           FROM pg_database WHERE datname = ANY($1) ORDER BY datname`, [DATABASES]);
      expect(dbs).toEqual([...DATABASES].sort().map((datname) => ({ datname, owner: APP_ROLE, encoding: "UTF8", public_connect: false, public_temp: false })));
    });

    it("lets the app role connect and create tables in both databases, and nobody else in", async () => {
      for (const db of DATABASES) {
        const client = await tryConnect(APP_ROLE, first, db);
        expect(client).toBeInstanceOf(Client);
        const c = client as Client;
        await c.query("CREATE TABLE kept (id int PRIMARY KEY)");
        await c.query("INSERT INTO kept VALUES (1)");
        await c.end();
        // Another login role: refused by the revoked PUBLIC CONNECT (insufficient_privilege).
        expect(await canLogin("outsider", "outsider-pw", db)).toBe("42501");
      }
    });

    it("is idempotent: a second run changes nothing and keeps the data", async () => {
      const result = await bootstrapDatabases(master(), { role: APP_ROLE, password: first, databases: DATABASES });
      expect(result).toEqual({ role: APP_ROLE, roleCreated: false, databases: DATABASES, databasesCreated: [] });
      for (const db of DATABASES) {
        const c = (await tryConnect(APP_ROLE, first, db)) as Client;
        expect((await c.query("SELECT count(*)::int AS n FROM kept")).rows[0].n).toBe(1);
        await c.end();
        expect(await canLogin("outsider", "outsider-pw", db)).toBe("42501");
      }
      const [role] = await pg.query("SELECT rolsuper, rolcreatedb FROM pg_roles WHERE rolname = $1", [APP_ROLE]);
      expect(role).toEqual({ rolsuper: false, rolcreatedb: false });
    });

    it("rotates the password: the new one gets in, the old one no longer does", async () => {
      const second = "second-Password-fedcba9876543210";
      await bootstrapDatabases(master(), { role: APP_ROLE, password: second, databases: DATABASES });
      expect(await canLogin(APP_ROLE, second, TRACKING_DATABASE)).toBe(true);
      expect(await canLogin(APP_ROLE, first, TRACKING_DATABASE)).toBe("28P01"); // invalid_password
    });

    it("handles passwords with quotes, spaces, backslashes and non-ASCII letters", async () => {
      for (const password of [`it's a "quoted" pass; DROP ROLE x; -- \\ end`, "pässwört mit Ümläuten ß"]) {
        await bootstrapDatabases(master(), { role: APP_ROLE, password, databases: DATABASES });
        expect(await canLogin(APP_ROLE, password, AUTH_DATABASE)).toBe(true);
      }
    });

    it("repairs a database that exists with another owner and PUBLIC access", async () => {
      // Made by the master (an RDS master cannot take over databases of roles it is not in).
      const m = new Client(master());
      await m.connect();
      await m.query("CREATE DATABASE stray");
      await m.end();
      await bootstrapDatabases(master(), { role: APP_ROLE, password: "p-stray-123", databases: ["stray"] });
      const [db] = await pg.query("SELECT pg_get_userbyid(datdba) AS owner, has_database_privilege('public', 'stray', 'CONNECT') AS public_connect FROM pg_database WHERE datname = 'stray'");
      expect(db).toEqual({ owner: APP_ROLE, public_connect: false });
    });

    it("never sends an ASCII password to the server in clear text (a SCRAM verifier instead)", () => {
      const log = pg.serverLog();
      expect(log).toMatch(/ROLE "mlflow_app" WITH LOGIN .* PASSWORD 'SCRAM-SHA-256\$4096:/);
      for (const password of [first, "second-Password-fedcba9876543210", `it's a "quoted" pass`, "p-stray-123"]) {
        expect(log).not.toContain(password);
        expect(log).not.toContain(password.replace(/'/g, "''"));
      }
    });
  });

  describe("errors carry no password", () => {
    const appPassword = "app-Secret-never-shown-42";

    it("a SQL failure (a reserved role name) names the step and the SQLSTATE only", async () => {
      const err = await thrown(bootstrapDatabases(master(), { role: "pg_mlflow", password: appPassword, databases: ["x"] }));
      expect(err).toBeInstanceOf(BootstrapError);
      expect((err as BootstrapError).step).toBe("role");
      expect((err as BootstrapError).code).toBe("42939"); // reserved_name
      expect(everything(err)).not.toContain(appPassword);
      expect(everything(err)).not.toContain(MASTER_PASSWORD);
    });

    it("an authentication failure does not echo either password", async () => {
      const wrong = "wrong-Master-pw-777";
      const err = await thrown(bootstrapDatabases(pg.config({ user: MASTER, password: wrong }), { role: APP_ROLE, password: appPassword, databases: DATABASES }));
      expect((err as BootstrapError).step).toBe("connect");
      expect((err as BootstrapError).code).toBe("28P01");
      expect(everything(err)).not.toContain(wrong);
      expect(everything(err)).not.toContain(appPassword);
    });

    it("a malformed connection string does not leak the password inside it", async () => {
      const pw = "conn-String-pw-555";
      const err = await thrown(bootstrapDatabases(`postgresql://${MASTER}:${pw}@[::1/postgres`, { role: APP_ROLE, password: appPassword, databases: DATABASES }));
      expect(err).toBeInstanceOf(BootstrapError);
      expect(everything(err)).not.toContain(pw);
      expect(everything(err)).not.toContain(appPassword);
    });

    it("refuses to turn the master user itself into the app role", async () => {
      const err = await thrown(bootstrapDatabases(master(), { role: MASTER, password: appPassword, databases: DATABASES }));
      expect((err as Error).message).toMatch(/must not be the connecting \(master\) user/);
      expect(everything(err)).not.toContain(MASTER_PASSWORD);
    });
  });

  describe("the Lambda handler", () => {
    const event = (over: Partial<BootstrapEvent> = {}): BootstrapEvent => ({
      host: "127.0.0.1",
      port: pg.port,
      masterUsername: MASTER,
      masterPassword: MASTER_PASSWORD,
      role: APP_ROLE,
      password: "handler-Password-31415926",
      databases: DATABASES,
      ...over,
    });

    it("runs the bootstrap over verified TLS and returns a result without secrets", async () => {
      const handler = createHandler({ ssl: { ca: pg.caCert, rejectUnauthorized: true } });
      const result = await handler(event());
      expect(result).toEqual({ role: APP_ROLE, roleCreated: false, databases: DATABASES, databasesCreated: [] });
      expect(JSON.stringify(result)).not.toContain(MASTER_PASSWORD);
      expect(await canLogin(APP_ROLE, "handler-Password-31415926", TRACKING_DATABASE)).toBe(true);
    });

    it("refuses a server certificate it cannot verify", async () => {
      const handler = createHandler({ ssl: { rejectUnauthorized: true }, retryDelaysMs: [] });
      const err = await thrown(handler(event()));
      expect((err as BootstrapError).step).toBe("connect");
      expect((err as Error).message).toMatch(/certificate/);
    });

    it("rejects a malformed event naming the field, not its value", async () => {
      const handler = createHandler({ ssl: false });
      const err = await thrown(handler({ ...event(), port: "5432", masterPassword: "" }));
      expect((err as Error).message).toMatch(/"masterPassword"/);
      expect(everything(err)).not.toContain("handler-Password-31415926");
    });

    it("retries a connection that is refused, then fails without a password in the error", async () => {
      const handler = createHandler({ ssl: false, retryDelaysMs: [10, 10] });
      const lines: string[] = [];
      const log = console.log;
      console.log = (...a: unknown[]) => lines.push(a.join(" "));
      let err: unknown;
      try {
        err = await thrown(handler(event({ port: 1 })));
      } finally {
        console.log = log;
      }
      expect((err as BootstrapError).code).toBe("ECONNREFUSED");
      expect(lines.filter((l) => l.includes("bootstrap retry"))).toHaveLength(2);
      for (const text of [everything(err), ...lines]) {
        expect(text).not.toContain(MASTER_PASSWORD);
        expect(text).not.toContain("handler-Password-31415926");
      }
    });

    /**
     * The function's archive as rds.ts builds it: index.js (the esbuild bundle) and the CA bundle
     * beside it, loaded the way the Lambda runtime loads a CommonJS handler, outside the
     * repository (no node_modules). `ca` stands in for the RDS CA bundle: the e2e keeps a CA of
     * its own, since no test server here has an RDS certificate.
     */
    async function loadArchive(ca: string): Promise<{ handler: (event: unknown) => Promise<BootstrapResult>; createHandler: typeof createHandler; cleanup: () => void }> {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mlflow-kit-bundle-"));
      const file = path.join(dir, "index.js");
      fs.writeFileSync(file, bootstrapHandlerBundle());
      fs.writeFileSync(path.join(dir, BUNDLED_CA_FILE), ca);
      const mod = { exports: {} as Record<string, unknown> };
      const { createRequire } = await import("node:module");
      new Function("module", "exports", "require", "__filename", "__dirname", fs.readFileSync(file, "utf8"))(
        mod, mod.exports, createRequire(file), file, dir);
      return {
        handler: mod.exports.handler as (event: unknown) => Promise<BootstrapResult>,
        createHandler: mod.exports.createHandler as typeof createHandler,
        cleanup: () => fs.rmSync(dir, { recursive: true, force: true }),
      };
    }

    it("works from the esbuild bundle alone, verifying the server with the CA bundle in its archive", async () => {
      const archive = await loadArchive(pg.caCert!);
      try {
        expect(typeof archive.handler).toBe("function");
        // The entry point the Lambda runtime calls, with nothing injected.
        const result = await archive.handler(event({ password: "bundle-Password-27182818" }));
        expect(result.roleCreated).toBe(false);
        expect(await canLogin(APP_ROLE, "bundle-Password-27182818", AUTH_DATABASE)).toBe(true);
      } finally {
        archive.cleanup();
      }
    });

    it("trusts only the archive's CA bundle: with the real RDS CAs there, the test server is refused", async () => {
      const archive = await loadArchive(rdsCaBundle());
      try {
        const err = await thrown(archive.handler(event({ password: "never-Set-31337" })));
        expect((err as BootstrapError).step).toBe("connect");
        expect((err as Error).message).toMatch(/self[- ]signed certificate|unable to verify|unable to get/i);
        expect(await canLogin(APP_ROLE, "never-Set-31337", AUTH_DATABASE)).toBe("28P01");
      } finally {
        archive.cleanup();
      }
    });

    it("checks the server's name as sslmode=verify-full does: a certificate for 127.0.0.1 is refused for localhost", async () => {
      const archive = await loadArchive(pg.caCert!);
      try {
        const err = await thrown(archive.handler(event({ host: "localhost", password: "never-Set-27" })));
        expect((err as BootstrapError).step).toBe("connect");
        expect((err as Error).message).toMatch(/Hostname\/IP does not match certificate's altnames/);
      } finally {
        archive.cleanup();
      }
    });
  });
});
