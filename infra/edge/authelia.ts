/**
 * Authelia 4.39's configuration and file users database, rendered from plain inputs (no
 * Pulumi, no I/O), so the ECS target, the edge test and the schema test render the same thing.
 * Secrets never enter the configuration: Authelia reads them from files named by
 * AUTHELIA_*_FILE variables (autheliaSecretFiles), which the container fills from Secrets Manager.
 */
import { argon2id } from "hash-wasm";

/** Authelia's own defaults for argon2id (authentication_backend.file.password.argon2). */
export const ARGON2ID = { iterations: 3, memoryKiB: 65536, parallelism: 4, keyLength: 32, saltLength: 16 } as const;

/** Where the container puts what it receives from Secrets Manager; the config names only paths. */
export const AUTHELIA_PATHS = {
  config: "/config/configuration.yml",
  users: "/config/users_database.yml",
  secretsDir: "/config/secrets",
  notifications: "/config/notification.txt",
} as const;

/** Secret -> the AUTHELIA_*_FILE variable that names its file (Authelia 4.39 "Secrets" docs). */
export const AUTHELIA_SECRET_FILES = {
  sessionSecret: "AUTHELIA_SESSION_SECRET_FILE",
  storageEncryptionKey: "AUTHELIA_STORAGE_ENCRYPTION_KEY_FILE",
  storagePassword: "AUTHELIA_STORAGE_POSTGRES_PASSWORD_FILE",
  resetPasswordJwtSecret: "AUTHELIA_IDENTITY_VALIDATION_RESET_PASSWORD_JWT_SECRET_FILE",
} as const;
export type AutheliaSecret = keyof typeof AUTHELIA_SECRET_FILES;

export function autheliaSecretFiles(dir: string = AUTHELIA_PATHS.secretsDir): Record<string, string> {
  return Object.fromEntries(Object.entries(AUTHELIA_SECRET_FILES).map(([name, variable]) => [variable, `${dir}/${name}`]));
}

/** The group of people who sign in through the portal. API clients are not Authelia users:
 * Traefik sends their Basic credentials to MLflow's own auth app (infra/edge/traefik.ts). */
export const USER_GROUP = "mlflow-users";

export interface AutheliaInputs {
  /** MLflow's host name (mlflow.example.com). */
  domain: string;
  /** The portal's host name (auth.example.com). */
  authDomain: string;
  /** Authelia's listen port inside its task. */
  port: number;
  /** PostgreSQL storage: its own database and role on the metadata instance. */
  storage: { host: string; port: number; database: string; username: string; tls: boolean };
  usersPath?: string;
  notificationsPath?: string;
  /** Extra CAs Authelia trusts (RDS's bundle when storage uses TLS). */
  certificatesDirectory?: string;
}

/**
 * The cookie domain: the longest parent both host names share (example.com). Authelia's session
 * cookie then goes to every host under it, not only the two: settings.ts warns when it covers
 * more (cookieCoversMoreThan), and the README says how to keep both hosts under a parent of
 * their own (mlflow.ml.example.com, auth.ml.example.com -> ml.example.com).
 */
export function cookieDomain(domain: string, authDomain: string): string {
  const a = domain.split(".").reverse();
  const b = authDomain.split(".").reverse();
  const common: string[] = [];
  for (let i = 0; i < Math.min(a.length, b.length) && a[i] === b[i]; i++) common.push(a[i]);
  // Cookies for a whole TLD (".com") are refused by browsers and by Authelia.
  if (common.length < 2) throw new Error(`${domain} and ${authDomain} share no registrable parent domain for Authelia's session cookie`);
  // The cookie must not be scoped to one of the two hosts only when the other is not under it.
  return common.reverse().join(".");
}

/**
 * True when the session cookie goes to hosts beyond MLflow's own name: the cookie domain is a
 * shared parent (example.com) rather than one of the two hosts (mlflow.example.com with the
 * portal at auth.mlflow.example.com keeps it to MLflow's host and the names under it).
 */
export function cookieCoversMoreThan(domain: string, authDomain: string): boolean {
  const cookie = cookieDomain(domain, authDomain);
  return cookie !== domain && cookie !== authDomain;
}

/** The portal host when none is set: auth.<parent of domain>. */
export function defaultAuthDomain(domain: string): string {
  return `auth.${domain.split(".").slice(1).join(".")}`;
}

/** Authelia 4.39 configuration.yml as an object (stringify with YAML). */
export function renderAutheliaConfig(i: AutheliaInputs): Record<string, unknown> {
  const cookie = cookieDomain(i.domain, i.authDomain);
  return {
    ...(i.certificatesDirectory ? { certificates_directory: i.certificatesDirectory } : {}),
    theme: "auto",
    log: { level: "info", format: "json" },
    server: {
      address: `tcp://:${i.port}/`,
      endpoints: {
        authz: {
          "forward-auth": {
            implementation: "ForwardAuth",
            // Browsers carry the session cookie. No Basic here: API clients never reach this
            // endpoint (Traefik sends them to MLflow), so regulation can never ban them.
            authn_strategies: [{ name: "CookieSession" }],
          },
        },
      },
    },
    authentication_backend: {
      // Users come from stack config; nobody changes a password in the portal.
      password_reset: { disable: true },
      password_change: { disable: true },
      file: {
        path: i.usersPath ?? AUTHELIA_PATHS.users,
        watch: false,
        password: {
          algorithm: "argon2",
          argon2: {
            variant: "argon2id",
            iterations: ARGON2ID.iterations,
            memory: ARGON2ID.memoryKiB,
            parallelism: ARGON2ID.parallelism,
            key_length: ARGON2ID.keyLength,
            salt_length: ARGON2ID.saltLength,
          },
        },
      },
    },
    session: {
      name: "mlflow_kit_session",
      same_site: "lax",
      expiration: "8h",
      inactivity: "1h",
      remember_me: -1, // no "remember me": a session ends with its expiration
      cookies: [{ domain: cookie, authelia_url: `https://${i.authDomain}`, default_redirection_url: `https://${i.domain}` }],
    },
    // People keep their lockout protection at the portal's sign-in form.
    regulation: { modes: ["user"], max_retries: 5, find_time: "2m", ban_time: "10m" },
    storage: {
      postgres: {
        address: `tcp://${i.storage.host}:${i.storage.port}`,
        database: i.storage.database,
        username: i.storage.username,
        schema: "public",
        timeout: "10s",
        ...(i.storage.tls ? { tls: { server_name: i.storage.host, minimum_version: "TLS1.2" } } : {}),
      },
    },
    // Exactly one notifier is required; with password reset off nothing is ever sent.
    notifier: { filesystem: { filename: i.notificationsPath ?? AUTHELIA_PATHS.notifications } },
    access_control: {
      default_policy: "deny",
      // The portal's bypass matches the portal's host only; the MLflow host has its own rule.
      rules: [
        { domain: [i.authDomain], policy: "bypass" },
        { domain: [i.domain], subject: [[`group:${USER_GROUP}`]], policy: "one_factor" },
      ],
    },
  };
}

export interface AutheliaUser {
  username: string;
  displayname: string;
  email?: string;
  groups: string[];
  /** An argon2id (or other Authelia-supported) digest, never a clear password. */
  password: string;
}

/** A disabled user in place of none: Authelia's file backend is given at least one entry. */
export const PLACEHOLDER_USER = "mlflow-kit-nobody";

/** users_database.yml as an object. */
export function renderUsersDatabase(users: AutheliaUser[], placeholderDigest?: string): { users: Record<string, Record<string, unknown>> } {
  const out: Record<string, Record<string, unknown>> = {};
  if (!users.length) {
    if (!placeholderDigest) throw new Error("renderUsersDatabase: no users and no placeholder digest");
    out[PLACEHOLDER_USER] = { displayname: "nobody (no portal users configured)", password: placeholderDigest, disabled: true, groups: [] };
  }
  for (const u of users) {
    if (out[u.username]) throw new Error(`Authelia user ${u.username} is listed twice`);
    out[u.username] = { displayname: u.displayname, password: u.password, ...(u.email ? { email: u.email } : {}), groups: [...u.groups] };
  }
  return { users: out };
}

/** An Authelia-format argon2id digest ($argon2id$v=19$m=65536,t=3,p=4$salt$key). */
export async function hashPassword(password: string, salt: Uint8Array): Promise<string> {
  if (salt.length < 8) throw new Error("argon2id salt must be at least 8 bytes");
  return argon2id({
    password,
    salt,
    iterations: ARGON2ID.iterations,
    memorySize: ARGON2ID.memoryKiB,
    parallelism: ARGON2ID.parallelism,
    hashLength: ARGON2ID.keyLength,
    outputType: "encoded",
  });
}

/**
 * The start-up rules Authelia enforces beyond its JSON schema (platforms note): a file users
 * database, an encryption key and a storage backend, exactly one notifier, a session secret,
 * cookies with a real domain and an https portal, default policy deny. Secrets count as given
 * when their *_FILE variable is set.
 */
export function autheliaStartupProblems(config: Record<string, any>, env: Record<string, string>): string[] {
  const problems: string[] = [];
  const has = (key: AutheliaSecret, inline: unknown) => inline !== undefined || Boolean(env[AUTHELIA_SECRET_FILES[key]]);
  if (!config.authentication_backend?.file?.path && !config.authentication_backend?.ldap) problems.push("authentication_backend: a file users database (or LDAP) is required");
  const storage = config.storage ?? {};
  if (!storage.postgres && !storage.mysql && !storage.local) problems.push("storage: a storage backend is required");
  if (!has("storageEncryptionKey", storage.encryption_key)) problems.push("storage.encryption_key: required (20+ characters)");
  if (storage.postgres && !has("storagePassword", storage.postgres.password)) problems.push("storage.postgres.password: required");
  const notifiers = ["filesystem", "smtp"].filter((n) => config.notifier?.[n]);
  if (notifiers.length !== 1) problems.push(`notifier: exactly one notifier is required (found ${notifiers.length})`);
  if (!has("sessionSecret", config.session?.secret)) problems.push("session.secret: required");
  const cookies: any[] = config.session?.cookies ?? [];
  if (!cookies.length) problems.push("session.cookies: at least one cookie domain is required");
  for (const c of cookies) {
    const domain = String(c.domain ?? "");
    if (!/\./.test(domain) || /(^|\.)localhost$/.test(domain) || /^[0-9.]+$/.test(domain)) problems.push(`session.cookies.domain: ${domain} must be a real domain (not localhost, an IP, or a single label)`);
    if (!/^https:\/\//.test(String(c.authelia_url ?? ""))) problems.push(`session.cookies.authelia_url: must be an https URL`);
    else {
      const host = new URL(c.authelia_url).hostname;
      if (host !== domain && !host.endsWith(`.${domain}`)) problems.push(`session.cookies.authelia_url: ${host} is not within the cookie domain ${domain}`);
    }
  }
  if (config.access_control?.default_policy !== "deny") problems.push("access_control.default_policy: must be deny");
  if (config.authentication_backend?.password_reset?.disable !== true && !config.identity_validation?.reset_password?.jwt_secret && !env[AUTHELIA_SECRET_FILES.resetPasswordJwtSecret]) {
    problems.push("identity_validation.reset_password.jwt_secret: required while password reset is enabled");
  }
  return problems;
}

/** Env names under which the Authelia container receives its files' contents. */
export const AUTHELIA_CONTAINER_ENV = {
  config: "MLFLOW_KIT_AUTHELIA_CONFIG",
  users: "MLFLOW_KIT_AUTHELIA_USERS",
  sessionSecret: "MLFLOW_KIT_AUTHELIA_SESSION_SECRET",
  storageEncryptionKey: "MLFLOW_KIT_AUTHELIA_STORAGE_ENCRYPTION_KEY",
  storagePassword: "MLFLOW_KIT_AUTHELIA_STORAGE_PASSWORD",
  resetPasswordJwtSecret: "MLFLOW_KIT_AUTHELIA_RESET_PASSWORD_JWT_SECRET",
} as const;

/** Authelia verifies the storage server against RDS's CAs for the stack's region, which the
 * task receives as a secret (from the repository's bundle, never downloaded at start). */
export const AUTHELIA_CERTIFICATES_DIR = "/config/certs";
export const AUTHELIA_RDS_CA_ENV = "MLFLOW_KIT_AUTHELIA_RDS_CA";

/**
 * The CAs of RDS in one region, from the global bundle (images/mlflow/rds-ca-bundle.pem): the
 * certificates whose subject names the region, and the region-less RDS roots. The whole bundle
 * (~170 KB) would not fit a task definition or a Secrets Manager secret (64 KB each).
 */
export function regionalRdsCa(bundle: string, region: string): string {
  const { X509Certificate } = require("node:crypto") as typeof import("node:crypto");
  const pems = bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  const keep = pems.filter((pem) => {
    const cn = /CN=([^\n]+)/.exec(new X509Certificate(pem).subject)?.[1] ?? "";
    return cn.includes(` ${region} `) || /^Amazon RDS Root 20\d\d CA$/.test(cn);
  });
  if (!keep.some((pem) => new X509Certificate(pem).subject.includes(` ${region} `))) throw new Error(`regionalRdsCa: the RDS CA bundle has no certificate for ${region}; run npm run certs:rds`);
  return keep.join("\n") + "\n";
}

/**
 * The Authelia container's command (/bin/sh -c): writes the configuration, the users database
 * and each secret to a file readable by its owner only, removes the secrets from the
 * environment, points Authelia's AUTHELIA_*_FILE variables at the files, writes RDS's CAs
 * (AUTHELIA_RDS_CA_ENV) when asked, and execs Authelia. Fargate has no config volumes from
 * Secrets Manager; this is the shortest path from `secrets` to files.
 */
export function autheliaStartScript(opts: { rdsCa: boolean; dir?: string; binary?: string; certificatesDir?: string }): string {
  const dir = opts.dir ?? "/config";
  const secretsDir = `${dir}/secrets`;
  const write = (env: string, file: string) => `printf '%s' "$${env}" > '${file}'`;
  const secretNames = Object.keys(AUTHELIA_SECRET_FILES) as AutheliaSecret[];
  return [
    "set -eu",
    "umask 077",
    `mkdir -p '${secretsDir}'`,
    write(AUTHELIA_CONTAINER_ENV.config, `${dir}/configuration.yml`),
    write(AUTHELIA_CONTAINER_ENV.users, `${dir}/users_database.yml`),
    ...secretNames.map((k) => write(AUTHELIA_CONTAINER_ENV[k], `${secretsDir}/${k}`)),
    `unset ${[AUTHELIA_CONTAINER_ENV.users, ...secretNames.map((k) => AUTHELIA_CONTAINER_ENV[k])].join(" ")}`,
    // Authelia reads each secret from the file its *_FILE variable names.
    ...Object.entries(autheliaSecretFiles(secretsDir)).map(([variable, file]) => `export ${variable}='${file}'`),
    ...(opts.rdsCa
      ? [`mkdir -p '${opts.certificatesDir ?? AUTHELIA_CERTIFICATES_DIR}'`,
         `printf '%s\\n' "$${AUTHELIA_RDS_CA_ENV}" > '${opts.certificatesDir ?? AUTHELIA_CERTIFICATES_DIR}/rds-ca.pem'`,
         `unset ${AUTHELIA_RDS_CA_ENV}`]
      : []),
    `exec ${opts.binary ?? "authelia"} --config '${dir}/configuration.yml'`,
  ].join("\n");
}
