/**
 * Settings of the ECS edge and its authorization: a setting a target cannot act on is refused
 * there with the reason; the session cookie's scope is warned about; names that would make a
 * portal person or the API client MLflow's admin are refused.
 */
import { describe, expect, it } from "vitest";
import { parseSettings, SettingsError, type Settings } from "../../infra/settings";

const ecs = (): Record<string, unknown> => ({
  "aws:region": "eu-west-1",
  "mlflow-kit:lifecycle": "long-lived",
  "mlflow-kit:database": { kind: "rds" },
  "mlflow-kit:target": { kind: "ecs", domain: "mlflow.example.com" },
  "mlflow-kit:image": { owner: "example-org" },
  "mlflow-kit:skipTarget": true,
});
const render = (): Record<string, unknown> => ({
  "aws:region": "eu-west-1",
  "mlflow-kit:lifecycle": "ephemeral",
  "mlflow-kit:database": { kind: "neon" },
  "mlflow-kit:target": { kind: "render" },
  "mlflow-kit:image": { owner: "example-org" },
  "mlflow-kit:skipTarget": true,
});

function parse(values: Record<string, unknown>): Settings {
  // The Neon key only where the database is Neon: elsewhere it has no effect (a warning).
  const neon = (values["mlflow-kit:database"] as { kind?: string } | undefined)?.kind === "neon";
  const raw: Record<string, string> = { "mlflow-kit:ghcrToken": "t".repeat(40), ...(neon ? { "mlflow-kit:neonApiKey": "n".repeat(40) } : {}) };
  for (const [k, v] of Object.entries(values)) raw[k] = typeof v === "string" ? v : JSON.stringify(v);
  return parseSettings({ project: "mlflow-kit", stack: "prod", values: raw, secretKeys: new Set(["mlflow-kit:ghcrToken", "mlflow-kit:neonApiKey"]) });
}

function problems(values: Record<string, unknown>): string[] {
  try {
    parse(values);
  } catch (err) {
    expect(err).toBeInstanceOf(SettingsError);
    return (err as SettingsError).problems;
  }
  throw new Error("expected a SettingsError");
}

describe("settings that have no effect on a target are refused there", () => {
  it("rotation.apiUserPassword off ecs: there is no generated API user", () => {
    expect(() => parse(render())).not.toThrow();
    expect(problems({ ...render(), "mlflow-kit:rotation": { apiUserPassword: 1 } })).toEqual([expect.stringMatching(/^mlflow-kit:rotation\.apiUserPassword: has no effect with target\.kind render .*: only target\.kind ecs has an API user/)]);
    expect(() => parse({ ...ecs(), "mlflow-kit:rotation": { apiUserPassword: 1 } })).not.toThrow();
  });

  it("rotation.autheliaSecrets off ecs: there is no Authelia", () => {
    expect(problems({ ...render(), "mlflow-kit:rotation": { autheliaSecrets: 2 } })).toEqual([expect.stringMatching(/^mlflow-kit:rotation\.autheliaSecrets: has no effect with target\.kind render .*: only target\.kind ecs runs Authelia/)]);
    expect(() => parse({ ...ecs(), "mlflow-kit:rotation": { autheliaSecrets: 2 } })).not.toThrow();
  });

  it("server.defaultPermission, adminUsername and the admin/flask rotations are accepted on ecs (MLflow's auth app runs there)", () => {
    const s = parse({ ...ecs(), "mlflow-kit:server": { adminUsername: "root", defaultPermission: "NO_PERMISSIONS" }, "mlflow-kit:rotation": { adminPassword: 1, flaskSecretKey: 1 } });
    expect(s.server).toMatchObject({ adminUsername: "root", defaultPermission: "NO_PERMISSIONS" });
  });
});

describe("ecs: identities", () => {
  it("a portal person or the API client named like the admin is refused", () => {
    const users = [{ username: "admin", displayName: "A" }];
    expect(problems({ ...ecs(), "mlflow-kit:target": { kind: "ecs", domain: "mlflow.example.com", users } }))
      .toEqual(expect.arrayContaining([expect.stringMatching(/target\.users: admin is MLflow's admin/)]));
    expect(problems({ ...ecs(), "mlflow-kit:target": { kind: "ecs", domain: "mlflow.example.com", apiUsername: "root" }, "mlflow-kit:server": { adminUsername: "root" } }))
      .toEqual([expect.stringMatching(/target\.apiUsername: root is MLflow's admin/)]);
  });
});

describe("ecs: the session cookie's scope", () => {
  it("warns when the cookie goes to a shared parent, not when the portal is under MLflow's name", () => {
    expect(parse(ecs()).warnings).toEqual([expect.stringMatching(/scoped to example\.com, so every host under example\.com receives it.*authDomain: auth\.mlflow\.example\.com/)]);
    const dedicated = parse({ ...ecs(), "mlflow-kit:target": { kind: "ecs", domain: "mlflow.example.com", authDomain: "auth.mlflow.example.com" } });
    expect(dedicated.warnings).toEqual([]);
    expect(parse(render()).warnings).toEqual([]);
  });
});
