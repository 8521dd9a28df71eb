/**
 * NeonDatabase under the offline mocks: the typed Neon resources it registers, their wiring,
 * the expiry of ephemeral branches, the protection of long-lived ones, and secrecy of the URIs.
 */
import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { NeonDatabase, type NeonDatabaseArgs } from "../../infra/database/neon";
import { APP_ROLE, AUTH_DATABASE, TRACKING_DATABASE } from "../../infra/database/types";
import { evaluateStack, SECRET, type EvaluatedStack, type PlannedResource } from "../../stacks/offline";
import { plan } from "../../stacks/plan";

const T = {
  project: "pulumi-nodejs:dynamic/neon:Project",
  branch: "pulumi-nodejs:dynamic/neon:Branch",
  endpoint: "pulumi-nodejs:dynamic/neon:Endpoint",
  role: "pulumi-nodejs:dynamic/neon:Role",
  database: "pulumi-nodejs:dynamic/neon:Database",
};

const review: NeonDatabaseArgs = {
  lifecycle: "ephemeral",
  projectName: "mlflow-kit-pr-42",
  projectId: "shiny-wind-028834",
  regionId: "aws-us-east-2",
  branchName: "mlflow-kit-pr-42",
  expiresAt: "2026-11-27T00:00:00Z",
  passwordRotation: 0,
};
const prod: NeonDatabaseArgs = { lifecycle: "long-lived", projectName: "mlflow-kit-prod", regionId: "aws-eu-central-1", branchName: "mlflow-kit-prod", passwordRotation: 2, expiresAt: "2026-11-27T00:00:00Z" };

function evaluate(args: NeonDatabaseArgs, revealSecrets = false): Promise<EvaluatedStack> {
  return evaluateStack({
    project: "mlflow-kit",
    stack: "neon-test",
    config: { "aws:region": "us-east-1" },
    secretKeys: [],
    revealSecrets,
    program: () => {
      const db = new NeonDatabase("metadata", args);
      return { trackingUri: db.trackingUri, authUri: db.authUri, ready: db.ready, projectId: db.projectId, branchId: db.branchId, directHost: db.directHost };
    },
  });
}

function only(s: EvaluatedStack, type: string, name?: string): PlannedResource {
  const found = s.resources.filter((r) => r.type === type && (name === undefined || r.name === name));
  expect(found, `${type} ${name ?? ""}`).toHaveLength(1);
  return found[0];
}
const idOf = (r: PlannedResource) => new Promise<string>((resolve) => (r.resource as pulumi.CustomResource).id.apply(resolve));

describe("NeonDatabase: ephemeral review stack on an existing project", async () => {
  const s = await evaluate(review);
  const revealed = await evaluate(review, true);

  it("references the project, branches from its default branch with the stack's expiry", () => {
    expect(only(s, T.project).inputs).toMatchObject({ existingProjectId: "shiny-wind-028834", regionId: "aws-us-east-2" });
    expect(only(s, T.branch).inputs).toMatchObject({ projectId: "shiny-wind-028834", name: "mlflow-kit-pr-42", expiresAt: "2026-11-27T00:00:00Z" });
    expect(only(s, T.branch).inputs.parentId).toBeUndefined();
  });

  it("is not protected: the whole branch goes with the stack (or with its expiry)", () => {
    for (const t of Object.values(T)) {
      for (const r of s.resources.filter((x) => x.type === t)) expect(r.options.protect, r.name).toBeFalsy();
    }
    expect(only(s, T.role).options.retainOnDelete).toBeFalsy();
  });

  it("creates the compute, the role and both databases on that branch, owned by the role", async () => {
    const branchId = await idOf(only(s, T.branch));
    const endpointId = await idOf(only(s, T.endpoint));
    expect(only(s, T.endpoint).inputs).toMatchObject({ projectId: "shiny-wind-028834", branchId });
    expect(only(s, T.role).inputs).toMatchObject({ branchId, name: APP_ROLE, passwordRotation: 0 });
    for (const [name, db] of [["metadata-tracking", TRACKING_DATABASE], ["metadata-auth", AUTH_DATABASE]]) {
      expect(only(s, T.database, name).inputs).toMatchObject({ branchId, endpointId, name: db, ownerName: APP_ROLE, roleRotation: 0 });
    }
  });

  it("keeps the URIs secret, pooled and with sslmode=require", async () => {
    expect(s.outputs.trackingUri).toBe(SECRET);
    expect(s.outputs.authUri).toBe(SECRET);
    expect(await pulumi.isSecret(s.rawOutputs.trackingUri as pulumi.Output<string>)).toBe(true);
    expect(await pulumi.isSecret(s.rawOutputs.authUri as pulumi.Output<string>)).toBe(true);
    for (const [k, db] of [["trackingUri", TRACKING_DATABASE], ["authUri", AUTH_DATABASE]]) {
      const uri = new URL(String(revealed.outputs[k]));
      expect(uri.username).toBe(APP_ROLE);
      expect(uri.hostname).toMatch(/-pooler\./);
      expect(uri.pathname).toBe(`/${db}`);
      expect(uri.searchParams.get("sslmode")).toBe("require");
    }
    expect(s.outputs.ready).toBe("ready");
  });

  it("gives the endpoint's own host (no -pooler) for migrations and the start-up lock", async () => {
    // Neon's pooler is PgBouncer in transaction mode (neondatabase/website connect/connection-pooling.md):
    // a session advisory lock through it excludes nothing. The direct host is the Endpoint's.
    const endpoint = revealed.resources.find((r) => r.type === T.endpoint)!.resource as unknown as { host: pulumi.Output<string> };
    const endpointHost = await new Promise<string>((resolve) => endpoint.host.apply(resolve));
    expect(revealed.outputs.directHost).toBe(endpointHost);
    expect(String(revealed.outputs.directHost)).not.toMatch(/-pooler/);
  });

  it("lists the providers' secret outputs in additionalSecretOutputs (the engine marks them)", () => {
    expect(only(s, T.role).options.additionalSecretOutputs).toEqual(["password"]);
    expect(only(s, T.endpoint).options.additionalSecretOutputs).toEqual(["host"]);
    for (const r of s.resources.filter((x) => x.type === T.database)) expect(r.options.additionalSecretOutputs).toEqual(["connectionUri"]);
    // The token is never an input: the providers read it from the stack config in configure.
    for (const r of s.resources.filter((x) => x.type.startsWith("pulumi-nodejs:dynamic/neon:"))) expect(Object.keys(r.inputs).join(",")).not.toMatch(/key|token/i);
  });
});

describe("NeonDatabase: long-lived stack with its own project", async () => {
  const s = await evaluate(prod);

  it("creates the project and protects and retains it, the branch and the databases; retains the role", () => {
    expect(only(s, T.project).inputs).toMatchObject({ name: "mlflow-kit-prod", regionId: "aws-eu-central-1" });
    expect(only(s, T.project).inputs.existingProjectId).toBeUndefined();
    for (const r of [only(s, T.project), only(s, T.branch), ...s.resources.filter((x) => x.type === T.database)]) {
      expect(r.options, r.name).toMatchObject({ protect: true, retainOnDelete: true });
    }
    expect(only(s, T.role).options.retainOnDelete).toBe(true);
    expect(only(s, T.endpoint).options.protect).toBeFalsy();
  });

  it("never gives a long-lived branch an expiry", () => {
    expect(only(s, T.branch).inputs.expiresAt).toBeUndefined();
  });

  it("passes the rotation counter to the role and, through it, to the databases", () => {
    expect(only(s, T.role).inputs.passwordRotation).toBe(2);
    for (const r of s.resources.filter((x) => x.type === T.database)) expect(r.inputs.roleRotation).toBe(2);
  });
});

describe("the policy pack on Neon stacks", () => {
  it("a long-lived stack on Neon passes data-protected-when-long-lived (its data is protected and retained)", async () => {
    // ECS needs RDS in its VPC: a long-lived Neon stack runs on Render.
    const p = await plan("prod", { overrides: { "mlflow-kit:database": JSON.stringify({ kind: "neon", region: "aws-eu-central-1" }), "mlflow-kit:target": JSON.stringify({ kind: "render", plan: "starter", region: "frankfurt" }) } });
    expect(p.resources.filter((r) => r.type.startsWith("pulumi-nodejs:dynamic/neon:")).map((r) => r.type.split(":").pop()).sort()).toEqual(["Branch", "Database", "Database", "Endpoint", "Project", "Role"]);
    expect(p.violations.filter((v) => v.policy === "data-protected-when-long-lived")).toEqual([]);
  }, 120_000);
});

describe("NeonDatabase: what its role really is", () => {
  // Neon's "Manage roles" (neondatabase/website content/docs/manage/roles.md): "Roles created with
  // the Neon API are granted membership in the neon_superuser role" (CREATEDB, CREATEROLE,
  // BYPASSRLS, pg_read_all_data, pg_write_all_data). The kit creates mlflow_app through the API.
  const fs = require("node:fs") as typeof import("node:fs");
  const path = require("node:path") as typeof import("node:path");
  const root = path.join(__dirname, "..", "..");
  const read = (f: string) => fs.readFileSync(path.join(root, f), "utf8");

  it("the README's Neon section and the code say the role is a member of neon_superuser, never least-privilege", () => {
    const readme = read("README.md");
    const neonSection = readme.slice(readme.indexOf("## The Neon database"), readme.indexOf("\n## ", readme.indexOf("## The Neon database") + 5));
    expect(neonSection).toMatch(/member of `neon_superuser`/);
    expect(neonSection).toMatch(/not least-privilege/);
    // Where a text calls the role least-privilege, it says Neon's is not.
    for (const f of ["README.md", "infra/database/types.ts", "infra/database/neon.ts"]) {
      for (const para of read(f).split(/\n\s*\n/).filter((p) => /least-privilege (application )?role|one least-privilege role/i.test(p) || (/least-privilege/i.test(p) && /neon/i.test(p) && /role/i.test(p)))) {
        expect(para, `${f}: ${para.slice(0, 120)}`).toMatch(/neon_superuser/);
      }
    }
  });
});
