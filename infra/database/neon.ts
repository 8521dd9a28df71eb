import * as pulumi from "@pulumi/pulumi";
import { Branch } from "../providers/neon/branch";
import { Database } from "../providers/neon/database";
import { Endpoint } from "../providers/neon/endpoint";
import { Project } from "../providers/neon/project";
import { Role } from "../providers/neon/role";
import { APP_ROLE, AUTH_DATABASE, TRACKING_DATABASE, type MetadataDatabase } from "./types";

export interface NeonDatabaseArgs {
  lifecycle: "long-lived" | "ephemeral";
  /** Name of the project created when `projectId` is unset (`<project>-<stack>`). */
  projectName: string;
  /** An existing project to branch in (review stacks share one); never deleted by this stack. */
  projectId?: string;
  regionId: string;
  orgId?: string;
  /** This stack's copy-on-write branch of the project's default branch. */
  branchName: string;
  /** Ephemeral stacks: Neon deletes the branch then, even if no teardown runs. */
  expiresAt?: string;
  /** rotation.databasePassword: a bump resets the role's password in place. */
  passwordRotation: number;
  /** A restore: the branch starts from this branch as it was at timestamp or lsn (create only). */
  restoreFrom?: { branchId: string; timestamp?: string; lsn?: string };
}

/**
 * Postgres on Neon: a project (created, or an existing one by id), this stack's copy-on-write
 * branch of its default branch with its own read_write compute, one role (a member of
 * neon_superuser, as Neon makes every role its API creates: not least-privilege) and
 * the tracking and auth databases it owns, reached through Neon's pooler with TLS required.
 *
 * Long-lived stacks protect and retain the project, branch and databases (and retain the role);
 * ephemeral ones give the branch an expiry instead, so that Neon removes it even when a
 * teardown never runs.
 */
export class NeonDatabase extends pulumi.ComponentResource implements MetadataDatabase {
  readonly trackingUri: pulumi.Output<string>;
  readonly authUri: pulumi.Output<string>;
  /** Resolves once the role and both databases exist. */
  readonly ready: pulumi.Output<string>;
  readonly projectId: pulumi.Output<string>;
  readonly branchId: pulumi.Output<string>;
  /** The endpoint's own host (the URIs use its -pooler twin): for migrations and the start-up lock. */
  readonly directHost: pulumi.Output<string>;

  constructor(name: string, args: NeonDatabaseArgs, opts?: pulumi.ComponentResourceOptions) {
    super("mlflow-kit:database:NeonDatabase", name, {}, opts);
    const longLived = args.lifecycle === "long-lived";
    // Data (project, branch, databases): protected and retained, as the policy pack requires.
    const keep = longLived ? { protect: true, retainOnDelete: true } : {};

    const project = new Project(`${name}-project`, {
      name: args.projectName,
      regionId: args.regionId,
      ...(args.orgId ? { orgId: args.orgId } : {}),
      ...(args.projectId ? { existingProjectId: args.projectId } : {}),
    }, { parent: this, ...keep });

    const branch = new Branch(`${name}-branch`, {
      projectId: project.projectId,
      name: args.branchName,
      // Only ephemeral stacks expire; a long-lived branch never carries one.
      ...(!longLived && args.expiresAt ? { expiresAt: args.expiresAt } : {}),
      // A restore (Neon's point in time): the source's role and databases come along, and the
      // Role and Database resources below adopt them.
      ...(args.restoreFrom ? {
        parentId: args.restoreFrom.branchId,
        ...(args.restoreFrom.timestamp ? { parentTimestamp: args.restoreFrom.timestamp } : {}),
        ...(args.restoreFrom.lsn ? { parentLsn: args.restoreFrom.lsn } : {}),
      } : {}),
    }, {
      parent: this,
      ...keep,
      // Read on creation only: dropping restoreFrom later must not replace the branch.
      ignoreChanges: ["parentId", "parentTimestamp", "parentLsn"],
    });

    const endpoint = new Endpoint(`${name}-endpoint`, { projectId: project.projectId, branchId: branch.branchId }, { parent: this });

    const role = new Role(`${name}-role`, {
      projectId: project.projectId,
      branchId: branch.branchId,
      name: APP_ROLE,
      passwordRotation: args.passwordRotation,
    }, { parent: this, ...(longLived ? { retainOnDelete: true } : {}) });

    const database = (suffix: string, dbName: string) => new Database(`${name}-${suffix}`, {
      projectId: project.projectId,
      branchId: branch.branchId,
      endpointId: endpoint.endpointId,
      name: dbName,
      ownerName: role.name,
      // The role's output, so a rotation reaches the URI only after the reset.
      roleRotation: role.passwordRotation,
    }, { parent: this, ...keep });
    const tracking = database("tracking", TRACKING_DATABASE);
    const auth = database("auth", AUTH_DATABASE);

    // Secrets here as well as in the resources' additionalSecretOutputs: the component's
    // outputs stay secret whatever reads them.
    this.trackingUri = pulumi.secret(tracking.connectionUri);
    this.authUri = pulumi.secret(auth.connectionUri);
    this.ready = pulumi.all([tracking.id, auth.id, role.id]).apply(() => "ready");
    // Neon marks the endpoint host sensitive and the Endpoint keeps it secret; the pooled host
    // the server's URIs name is this one with "-pooler" added, and the entrypoint names the host
    // it cannot reach in its messages (a host is no credential): the contract takes it in plain.
    this.directHost = pulumi.unsecret(endpoint.host);
    this.projectId = project.projectId;
    this.branchId = branch.branchId;
    this.registerOutputs({ projectId: this.projectId, branchId: this.branchId, ready: this.ready });
  }
}
