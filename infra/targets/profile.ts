import type { Settings } from "../settings";

/** Who runs schema migrations: the entrypoint before serving (auto), a one-off task (only), nobody here (off). */
export type MigrateMode = "auto" | "only" | "off";

/**
 * What a target decides about the server, beside the shared contract: how clients reach it,
 * who authenticates them, on which port it listens, and who runs schema migrations.
 */
export interface TargetProfile {
  publicHostname: string;
  /** How browsers reach publicHostname: https behind the platform's TLS, http for local only. */
  publicScheme: "https" | "http";
  authMode: "basic" | "proxy";
  port: number;
  migrate: MigrateMode;
}

export function targetProfile(s: Pick<Settings, "target" | "namePrefix">): TargetProfile {
  const t = s.target;
  switch (t.kind) {
    case "render":
      // One instance per service: the entrypoint migrates before serving. Render sets $PORT.
      return { publicHostname: t.domain ?? `${t.serviceName ?? s.namePrefix}.onrender.com`, publicScheme: "https", authMode: "basic", port: 10000, migrate: "auto" };
    case "hf-space":
      // A Space runs one container on app_port 7860; its host is <owner>-<space>.hf.space.
      // The Hub lower-cases the subdomain and turns . and _ into -; the domain keeps its dots.
      return { publicHostname: `${`${t.owner}-${t.spaceName ?? s.namePrefix}`.toLowerCase().replace(/[._]/g, "-")}.hf.space`, publicScheme: "https", authMode: "basic", port: 7860, migrate: "auto" };
    case "ecs":
      // MLflow's own auth app decides (permissions, admin); people reach it as Remote-User
      // from Authelia at Traefik, API clients with Basic (images/mlflow/edge_auth.py).
      // Replicas never migrate, a one-off task does.
      return { publicHostname: t.domain, publicScheme: "https", authMode: "basic", port: 5000, migrate: "off" };
    case "local":
      return { publicHostname: "localhost", publicScheme: "http", authMode: "basic", port: t.port, migrate: "auto" };
  }
}
