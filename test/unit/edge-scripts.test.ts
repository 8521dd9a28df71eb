/**
 * The Traefik and Authelia containers' start scripts, run by a real /bin/sh with stand-in
 * binaries in place of traefik and authelia: what lands in which file, with which mode, and
 * what the process they exec is left with (the *_FILE variables, no secret values).
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { AUTHELIA_CONTAINER_ENV, AUTHELIA_RDS_CA_ENV, AUTHELIA_SECRET_FILES, autheliaStartScript } from "../../infra/edge/authelia";
import { clientIpPluginDir, clientIpPluginFiles, TRAEFIK_CONTAINER_ENV, traefikPluginEnvironment, traefikStartScript } from "../../infra/edge/traefik";

/** A stand-in binary: records its arguments and environment, then exits 0. */
function fakeBinary(dir: string, name: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, `#!/bin/sh\nprintf '%s\\n' "$@" > '${dir}/${name}.args'\nenv > '${dir}/${name}.env'\n`, { mode: 0o755 });
  return file;
}

describe("container start scripts", () => {
  it("Authelia: config, users and each secret in an owner-only file; the secrets leave the environment; *_FILE names the files", () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "authelia-start-"));
    const bin = fakeBinary(tmp, "authelia");
    const dir = path.join(tmp, "config");
    const values: Record<string, string> = {
      [AUTHELIA_CONTAINER_ENV.config]: "server:\n  address: 'tcp://:9091/'\n",
      [AUTHELIA_CONTAINER_ENV.users]: "users:\n  u: {password: '$argon2id$v=19$x'}\n",
      [AUTHELIA_CONTAINER_ENV.sessionSecret]: "session-secret-value-0123456789",
      [AUTHELIA_CONTAINER_ENV.storageEncryptionKey]: "encryption-key-value-0123456789",
      [AUTHELIA_CONTAINER_ENV.storagePassword]: "storage-password-value-0123456789",
      [AUTHELIA_CONTAINER_ENV.resetPasswordJwtSecret]: "jwt-secret-value-0123456789",
    };
    const certs = path.join(tmp, "certs");
    const ca = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----";
    execFileSync("/bin/sh", ["-c", autheliaStartScript({ rdsCa: true, dir, binary: bin, certificatesDir: certs })], { env: { PATH: process.env.PATH, ...values, [AUTHELIA_RDS_CA_ENV]: ca } });
    // RDS's CAs from the task's secret, not from the internet; gone from the environment.
    expect(fs.readFileSync(path.join(certs, "rds-ca.pem"), "utf8")).toBe(`${ca}\n`);
    expect(fs.readFileSync(path.join(tmp, "authelia.env"), "utf8")).not.toContain(AUTHELIA_RDS_CA_ENV);

    expect(fs.readFileSync(path.join(dir, "configuration.yml"), "utf8")).toBe(values[AUTHELIA_CONTAINER_ENV.config]);
    expect(fs.readFileSync(path.join(dir, "users_database.yml"), "utf8")).toBe(values[AUTHELIA_CONTAINER_ENV.users]);
    expect(fs.readFileSync(path.join(tmp, "authelia.args"), "utf8").trim().split("\n")).toEqual(["--config", path.join(dir, "configuration.yml")]);
    const env = fs.readFileSync(path.join(tmp, "authelia.env"), "utf8");
    for (const [key, variable] of Object.entries(AUTHELIA_SECRET_FILES)) {
      const file = path.join(dir, "secrets", key);
      expect(env).toContain(`${variable}=${file}`);
      expect(fs.statSync(file).mode & 0o777, file).toBe(0o600);
    }
    expect(fs.readFileSync(path.join(dir, "secrets", "sessionSecret"), "utf8")).toBe(values[AUTHELIA_CONTAINER_ENV.sessionSecret]);
    expect(fs.readFileSync(path.join(dir, "secrets", "storagePassword"), "utf8")).toBe(values[AUTHELIA_CONTAINER_ENV.storagePassword]);
    for (const [name, value] of Object.entries(values)) {
      if (name === AUTHELIA_CONTAINER_ENV.config) continue; // not a secret
      expect(env, name).not.toContain(value);
    }
    expect(fs.statSync(path.join(dir, "users_database.yml")).mode & 0o777).toBe(0o600);
  });

  it("Authelia: the script stops at the first failure (set -eu): a missing secret starts nothing", () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "authelia-start-"));
    const bin = fakeBinary(tmp, "authelia");
    expect(() => execFileSync("/bin/sh", ["-c", autheliaStartScript({ rdsCa: false, dir: path.join(tmp, "config"), binary: bin })], { env: { PATH: process.env.PATH }, stdio: "pipe" })).toThrow();
    expect(fs.existsSync(path.join(tmp, "authelia.args"))).toBe(false);
  });

  it("Traefik: both files and the clientip plugin from the environment, then traefik with the static file, in its directory", () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "traefik-start-"));
    fs.writeFileSync(path.join(tmp, "traefik"), `#!/bin/sh\npwd > '${tmp}/traefik.cwd'\nprintf '%s\\n' "$@" > '${tmp}/traefik.args'\n`, { mode: 0o755 });
    const dir = path.join(tmp, "etc");
    execFileSync("/bin/sh", ["-c", traefikStartScript(dir)], {
      env: { PATH: `${tmp}:${process.env.PATH}`, [TRAEFIK_CONTAINER_ENV.static]: "entryPoints: {}\n", [TRAEFIK_CONTAINER_ENV.dynamic]: "http: {}\n", ...traefikPluginEnvironment() },
    });
    // Traefik finds a local plugin under ./plugins-local of its working directory.
    expect(fs.readFileSync(path.join(tmp, "traefik.cwd"), "utf8").trim()).toBe(dir);
    for (const [file, text] of Object.entries(clientIpPluginFiles())) {
      expect(fs.readFileSync(path.join(clientIpPluginDir(dir), file), "utf8").trim(), file).toBe(text.trim());
    }
    expect(fs.readFileSync(path.join(dir, "traefik.yml"), "utf8")).toBe("entryPoints: {}\n");
    expect(fs.readFileSync(path.join(dir, "dynamic.yml"), "utf8")).toBe("http: {}\n");
    expect(fs.readFileSync(path.join(tmp, "traefik.args"), "utf8").trim()).toBe(`--configFile=${path.join(dir, "traefik.yml")}`);
  });
});
