/**
 * RDS: private, encrypted, backed up, guarded against deletion when long-lived, and refusing
 * connections without TLS.
 */
import type { ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { asArray, configOf, isType, label, refersTo, resourceLifecycle, T } from "./resources";

const instance = (args: { type: string }) => isType(args, T.rdsInstance);

export const rdsPolicies: Array<ResourceValidationPolicy | StackValidationPolicy> = [
  {
    name: "rds-not-public",
    description: "No RDS instance is publicly accessible.",
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
      if (instance(args) && args.props.publiclyAccessible === true) {
        report("publiclyAccessible is true: the database gets a public address. Set it to false; clients in the VPC reach it through its security group");
      }
    },
  },
  {
    name: "rds-storage-encrypted",
    description: "RDS storage is encrypted at rest.",
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
      if (instance(args) && args.props.storageEncrypted !== true) {
        report("storageEncrypted is not true: data, backups and snapshots are stored unencrypted. Set storageEncrypted: true (it can only be chosen at creation)");
      }
    },
  },
  {
    name: "rds-backups-kept",
    description: "Automated backups are kept at least minBackupRetentionDays (long-lived) or minBackupRetentionDaysEphemeral days.",
    enforcementLevel: "mandatory",
    configSchema: {
      properties: {
        minBackupRetentionDays: { type: "integer", minimum: 1, maximum: 35, default: 7 },
        minBackupRetentionDaysEphemeral: { type: "integer", minimum: 0, maximum: 35, default: 1 },
      },
    },
    validateResource: (args, report) => {
      if (!instance(args)) return;
      const c = configOf(args, { minBackupRetentionDays: 7, minBackupRetentionDaysEphemeral: 1 });
      const lifecycle = resourceLifecycle(args.props);
      const min = lifecycle === "long-lived" ? c.minBackupRetentionDays : c.minBackupRetentionDaysEphemeral;
      const days = args.props.backupRetentionPeriod ?? 0;
      if (days < min) {
        report(`backupRetentionPeriod is ${days} days, below the ${min} a ${lifecycle} stack keeps: raise mlflow-kit:database.backupRetentionDays to ${min} or more`);
      }
    },
  },
  {
    name: "rds-deletion-guarded-when-long-lived",
    description: "A long-lived stack's RDS instance has deletion protection and takes a final snapshot.",
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
      if (!instance(args) || resourceLifecycle(args.props) !== "long-lived") return;
      if (args.props.deletionProtection !== true) report("deletionProtection is not true on a long-lived database: set it, so that no API call or console click can delete the instance");
      if (args.props.skipFinalSnapshot === true || !args.props.finalSnapshotIdentifier) {
        report("a long-lived database must take a final snapshot: set skipFinalSnapshot false and a finalSnapshotIdentifier");
      }
      if (args.props.deleteAutomatedBackups === true) report("deleteAutomatedBackups is true on a long-lived database: its backups would go with it. Set it to false");
    },
  },
  {
    name: "rds-tls-forced",
    description: "Every PostgreSQL instance uses a parameter group with rds.force_ssl = 1.",
    enforcementLevel: "mandatory",
    validateStack: (args, report) => {
      const groups = args.resources.filter((r) => isType(r, T.rdsParameterGroup));
      for (const db of args.resources.filter((r) => isType(r, T.rdsInstance) && String(r.props.engine ?? "").startsWith("postgres"))) {
        const own = groups.filter((g) => refersTo(db, "parameterGroupName", g, ["name", "id"]));
        const forced = own.some((g) => asArray(g.props.parameters).some((p: any) => p?.name === "rds.force_ssl" && String(p.value) === "1"));
        if (!forced) {
          report(`${label(db)} ${own.length ? `uses ${own.map((g) => label(g)).join(", ")}, which does not set` : "has no parameter group of this stack with"} rds.force_ssl = 1: without it, clients may connect in plain text. Add the parameter`, db.urn);
        }
      }
    },
  },
];
