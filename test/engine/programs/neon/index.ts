/**
 * A stand-in program for test/engine/neon.test.ts: the kit's Neon resources (project, branch,
 * endpoint, role, database) as infra/database/neon.ts wires them, against the Neon fake whose
 * URL is `engine:apiUrl`. The API key is the stack's secret config mlflow-kit:neonApiKey, read by
 * the providers in configure(), as in the kit.
 *   engine:rotation   the role's passwordRotation (a bump is an in-place update)
 *   engine:database   the database's name (a change is a replace)
 *   engine:adoptName  when set, a project of this name that already exists at Neon is declared:
 *                     its create adopts it (the kit's way to take over an object; see importId)
 *   engine:importId   when set, the same is tried with the `import` resource option, which the
 *                     engine cannot do for a dynamic resource: its import Read carries no inputs,
 *                     so the dynamic-provider host has no serialized provider to run
 */
import * as pulumi from "@pulumi/pulumi";
import { Branch } from "../../../../infra/providers/neon/branch";
import { Database } from "../../../../infra/providers/neon/database";
import { Endpoint } from "../../../../infra/providers/neon/endpoint";
import { Project } from "../../../../infra/providers/neon/project";
import { Role } from "../../../../infra/providers/neon/role";

const cfg = new pulumi.Config("engine");
const apiUrl = cfg.require("apiUrl");
const rotation = cfg.getNumber("rotation") ?? 0;
const databaseName = cfg.get("database") ?? "mlflow";

const project = new Project("project", { apiUrl, name: "mlflow-kit-engine", regionId: "aws-us-east-2" });
const branch = new Branch("branch", { apiUrl, projectId: project.projectId, name: "engine-dev" });
const endpoint = new Endpoint("endpoint", { apiUrl, projectId: project.projectId, branchId: branch.branchId });
const role = new Role("role", { apiUrl, projectId: project.projectId, branchId: branch.branchId, name: "mlflow_app", passwordRotation: rotation });
const database = new Database("database", {
  apiUrl,
  projectId: project.projectId,
  branchId: branch.branchId,
  endpointId: endpoint.endpointId,
  name: databaseName,
  ownerName: role.name,
  roleRotation: role.passwordRotation,
});

const adoptName = cfg.get("adoptName");
const adopted = adoptName ? new Project("adopted", { apiUrl, name: adoptName, regionId: "aws-us-east-2" }) : undefined;

const importId = cfg.get("importId");
if (importId) new Project("imported", { apiUrl, name: "imported", regionId: "aws-us-east-2" }, { import: importId });

export const projectId = project.projectId;
export const branchId = branch.branchId;
export const endpointId = endpoint.endpointId;
export const host = endpoint.host;
export const roleName = role.name;
export const password = role.password;
export const connectionUri = database.connectionUri;
export const adoptedProjectId = adopted?.projectId;
export const adoptedManaged = adopted?.managed;
