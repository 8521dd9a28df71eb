/**
 * Writes the edge configuration the ECS target renders for a stack, with local endpoints in
 * place of the task addresses, for the edge test: Traefik's static and dynamic files, and
 * Authelia's configuration and users database (the API user's password given here, hashed
 * exactly as the program hashes it), and the clientip plugin under plugins-local (start Traefik in
 * --out). Prints {domain, authDomain, apiUsername} as JSON.
 *
 *   tsx stacks/edge-config.ts --stack prod --out DIR --web-port N --ping-port N \
 *     --mlflow-url URL --authelia-url URL --api-password P
 */
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { parseArgs } from "node:util";
import * as pulumi from "@pulumi/pulumi";
import { stringify } from "yaml";
import { API_GROUP, defaultAuthDomain, hashPassword, renderAutheliaConfig, renderUsersDatabase, USER_GROUP } from "../infra/edge/authelia";
import { clientIpPluginDir, clientIpPluginFiles, renderTraefikDynamic, renderTraefikStatic } from "../infra/edge/traefik";
import { parseSettings } from "../infra/settings";
import { OfflineMocks } from "./offline-mocks";
import { readStackConfig } from "./stack-config";

async function main() {
  const { values } = parseArgs({
    options: {
      stack: { type: "string" }, out: { type: "string" }, "web-port": { type: "string" }, "ping-port": { type: "string" },
      "mlflow-url": { type: "string" }, "authelia-url": { type: "string" }, "api-password": { type: "string" },
    },
  });
  const missing = ["stack", "out", "web-port", "ping-port", "mlflow-url", "authelia-url", "api-password"].filter((k) => !values[k as keyof typeof values]);
  if (missing.length) throw new Error(`missing ${missing.map((m) => `--${m}`).join(", ")}`);

  const cfg = readStackConfig(values.stack!);
  await pulumi.runtime.setMocks(new OfflineMocks(), cfg.project, cfg.stack, false);
  const s = parseSettings({ project: cfg.project, stack: cfg.stack, values: cfg.config, secretKeys: new Set(cfg.secretKeys) }, { allowUnsupported: true });
  if (s.target.kind !== "ecs") throw new Error(`--stack ${values.stack}: target.kind is ${s.target.kind}, not ecs`);
  const t = s.target;
  const authDomain = t.authDomain ?? defaultAuthDomain(t.domain);
  const out = values.out!;
  fs.mkdirSync(out, { recursive: true });
  const write = (name: string, doc: unknown) => fs.writeFileSync(path.join(out, name), stringify(doc), { mode: 0o600 });

  const dynamicFile = path.join(out, "dynamic.yml");
  // The test client plays the load balancer: it is the one address trusted with X-Forwarded-*.
  write("traefik.yml", renderTraefikStatic({ webPort: Number(values["web-port"]), pingPort: Number(values["ping-port"]), trustedIPs: ["127.0.0.1/32"], dynamicFile, host: "127.0.0.1" }));
  // The local plugin, where Traefik looks for it when started in `out` (as the task does in /etc/traefik).
  const pluginDir = clientIpPluginDir(out);
  fs.mkdirSync(pluginDir, { recursive: true });
  for (const [file, text] of Object.entries(clientIpPluginFiles())) fs.writeFileSync(path.join(pluginDir, file), text);
  write("dynamic.yml", renderTraefikDynamic({ domain: t.domain, authDomain, mlflowUrl: values["mlflow-url"]!, autheliaUrl: values["authelia-url"]! }));
  write("configuration.yml", renderAutheliaConfig({
    domain: t.domain, authDomain, port: new URL(values["authelia-url"]!).port ? Number(new URL(values["authelia-url"]!).port) : 9091,
    storage: { host: "127.0.0.1", port: 5432, database: "authelia", username: "authelia", tls: false },
    usersPath: path.join(out, "users_database.yml"), notificationsPath: path.join(out, "notification.txt"),
  }));
  write("users_database.yml", renderUsersDatabase([
    { username: t.apiUsername, displayname: "MLflow API client", groups: [API_GROUP], password: await hashPassword(values["api-password"]!, randomBytes(16)) },
    // Portal users keep digests of passwords nobody knows here: they exist, they cannot sign in.
    ...t.users.map((u) => ({ username: u.username, displayname: u.displayName, email: u.email, groups: [USER_GROUP], password: "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHRzYWx0c2FsdA$bm90LWEta25vd24tcGFzc3dvcmQtZGlnZXN0LXh4eHg" })),
  ]));
  process.stdout.write(`${JSON.stringify({ domain: t.domain, authDomain, apiUsername: t.apiUsername })}\n`);
}

main().catch((err: Error) => {
  process.stderr.write(`edge-config: ${err.message}\n`);
  process.exit(2);
});
