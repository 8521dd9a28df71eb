/**
 * Writes the edge configuration the ECS target renders for a stack, with local endpoints in
 * place of the task addresses, for the edge test: Traefik's static and dynamic files (with the
 * clientip plugin under plugins-local: start Traefik in --out), and Authelia's configuration
 * and users database (people only, as the target renders them; their digests are of passwords
 * nobody knows here). Prints {domain, authDomain, apiUsername, adminUsername, users} as JSON.
 *
 *   tsx stacks/edge-config.ts --stack prod --out DIR --web-port N --ping-port N \
 *     --mlflow-url URL --authelia-url URL --edge-secret S
 *
 * --user-password NAME=PASSWORD (repeatable) gives a person of target.users a known password (a
 * browser test signs in at the portal stand-in with it).
 *
 * With --mlflow-env (and --edge-secret, --api-password) it prints instead the variables the
 * target adds to MLflow's env (infra/runtime-contract.ts edgeRuntimeEnvironment) as JSON.
 */
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { parseArgs } from "node:util";
import * as pulumi from "@pulumi/pulumi";
import { stringify } from "yaml";
import { defaultAuthDomain, hashPassword, PLACEHOLDER_USER, renderAutheliaConfig, renderUsersDatabase, USER_GROUP } from "../infra/edge/authelia";
import { clientIpPluginDir, clientIpPluginFiles, renderTraefikDynamic, renderTraefikStatic } from "../infra/edge/traefik";
import { edgeRuntimeEnvironment } from "../infra/runtime-contract";
import { parseSettings } from "../infra/settings";
import { settleDeep } from "./offline";
import { OfflineMocks } from "./offline-mocks";
import { readStackConfig } from "./stack-config";

// An argon2id digest of a password nobody has (Authelia's format): users exist, cannot sign in.
const UNKNOWN_DIGEST = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHRzYWx0c2FsdA$bm90LWEta25vd24tcGFzc3dvcmQtZGlnZXN0LXh4eHg";

async function main() {
  const { values } = parseArgs({
    options: {
      stack: { type: "string" }, out: { type: "string" }, "web-port": { type: "string" }, "ping-port": { type: "string" },
      "mlflow-url": { type: "string" }, "authelia-url": { type: "string" }, "edge-secret": { type: "string" },
      "mlflow-env": { type: "boolean", default: false }, "api-password": { type: "string" },
      "user-password": { type: "string", multiple: true },
    },
  });
  const needed = values["mlflow-env"] ? ["stack", "edge-secret", "api-password"] : ["stack", "out", "web-port", "ping-port", "mlflow-url", "authelia-url", "edge-secret"];
  const missing = needed.filter((k) => !values[k as keyof typeof values]);
  if (missing.length) throw new Error(`missing ${missing.map((m) => `--${m}`).join(", ")}`);

  const cfg = readStackConfig(values.stack!);
  await pulumi.runtime.setMocks(new OfflineMocks(), cfg.project, cfg.stack, false);
  const s = parseSettings({ project: cfg.project, stack: cfg.stack, values: cfg.config, secretKeys: new Set(cfg.secretKeys) }, { allowUnsupported: true });
  if (s.target.kind !== "ecs") throw new Error(`--stack ${values.stack}: target.kind is ${s.target.kind}, not ecs`);
  const t = s.target;
  if (values["mlflow-env"]) {
    const env = edgeRuntimeEnvironment({ secret: values["edge-secret"]!, people: t.users.map((u) => u.username), apiUsers: { [t.apiUsername]: values["api-password"]! } });
    process.stdout.write(`${JSON.stringify(await settleDeep(env, true))}\n`);
    return;
  }
  const authDomain = t.authDomain ?? defaultAuthDomain(t.domain);
  const out = values.out!;
  fs.mkdirSync(out, { recursive: true });
  const write = (name: string, doc: unknown) => fs.writeFileSync(path.join(out, name), stringify(doc), { mode: 0o600 });

  const dynamicFile = path.join(out, "dynamic.yml");
  // The test's load balancer stand-in connects from 127.0.0.1: the one address trusted with X-Forwarded-*.
  write("traefik.yml", renderTraefikStatic({ webPort: Number(values["web-port"]), pingPort: Number(values["ping-port"]), trustedIPs: ["127.0.0.1/32"], dynamicFile, host: "127.0.0.1" }));
  // The local plugin, where Traefik looks for it when started in `out` (as the task does in /etc/traefik).
  const pluginDir = clientIpPluginDir(out);
  fs.mkdirSync(pluginDir, { recursive: true });
  for (const [file, text] of Object.entries(clientIpPluginFiles())) fs.writeFileSync(path.join(pluginDir, file), text);
  write("dynamic.yml", renderTraefikDynamic({ domain: t.domain, authDomain, mlflowUrl: values["mlflow-url"]!, autheliaUrl: values["authelia-url"]!, edgeSecret: values["edge-secret"]! }));
  write("configuration.yml", renderAutheliaConfig({
    domain: t.domain, authDomain, port: new URL(values["authelia-url"]!).port ? Number(new URL(values["authelia-url"]!).port) : 9091,
    storage: { host: "127.0.0.1", port: 5432, database: "authelia", username: "authelia", tls: false },
    usersPath: path.join(out, "users_database.yml"), notificationsPath: path.join(out, "notification.txt"),
  }));
  const known = new Map((values["user-password"] ?? []).map((p) => [p.slice(0, p.indexOf("=")), p.slice(p.indexOf("=") + 1)]));
  for (const name of known.keys()) if (!t.users.some((u) => u.username === name)) throw new Error(`--user-password: ${name} is not in target.users`);
  const users = await Promise.all(t.users.map(async (u) => ({
    username: u.username, displayname: u.displayName, email: u.email, groups: [USER_GROUP],
    password: known.has(u.username) ? await hashPassword(known.get(u.username)!, randomBytes(16)) : UNKNOWN_DIGEST,
  })));
  write("users_database.yml", renderUsersDatabase(users, UNKNOWN_DIGEST));
  process.stdout.write(`${JSON.stringify({ domain: t.domain, authDomain, apiUsername: t.apiUsername, adminUsername: s.server.adminUsername, users: t.users.map((u) => u.username), placeholder: PLACEHOLDER_USER })}\n`);
}

main().catch((err: Error) => {
  process.stderr.write(`edge-config: ${err.message}\n`);
  process.exit(2);
});
