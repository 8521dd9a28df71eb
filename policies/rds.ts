/**
 * RDS: private, encrypted, backed up, guarded against deletion when long-lived, and refusing
 * connections without TLS.
 */
import type { ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { asArray, configOf, fsbp, isType, label, refersTo, resourceLifecycle, T } from "./resources";

const instance = (args: { type: string }) => isType(args, T.rdsInstance);

export const rdsPolicies: Array<ResourceValidationPolicy | StackValidationPolicy> = [
  {
    name: "rds-not-public",
    description: "No RDS instance is publicly accessible.",
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
      if (instance(args) && args.props.publiclyAccessible === true) {
        report(fsbp("RDS.2", "publiclyAccessible is true: the database gets a public address. Set it to false; clients in the VPC reach it through its security group"));
      }
    },
  },
  {
    name: "rds-storage-encrypted",
    description: "RDS storage is encrypted at rest.",
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
      if (instance(args) && args.props.storageEncrypted !== true) {
        report(fsbp("RDS.3, RDS.4", "storageEncrypted is not true: data, backups and snapshots are stored unencrypted. Set storageEncrypted: true (it can only be chosen at creation)"));
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
        report(fsbp("RDS.11", `backupRetentionPeriod is ${days} days, below the ${min} a ${lifecycle} stack keeps: raise mlflow-kit:database.backupRetentionDays to ${min} or more`));
      }
    },
  },
  {
    name: "rds-deletion-guarded-when-long-lived",
    description: "A long-lived stack's RDS instance has deletion protection and takes a final snapshot.",
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
      if (!instance(args) || resourceLifecycle(args.props) !== "long-lived") return;
      if (args.props.deletionProtection !== true) report(fsbp("RDS.8", "deletionProtection is not true on a long-lived database: set it, so that no API call or console click can delete the instance"));
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
  {
    name: "rds-multi-az-when-long-lived",
    description: "A long-lived stack's database has a standby in a second availability zone (FSBP RDS.5).",
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
      if (instance(args) && resourceLifecycle(args.props) === "long-lived" && args.props.multiAz !== true) {
        report(fsbp("RDS.5", "multiAz is not true on a long-lived database: a zone outage or a host failure stops MLflow until AWS replaces the instance. Set mlflow-kit:database.multiAz true"));
      }
    },
  },
  {
    name: "rds-instance-settings",
    description: "Every RDS instance takes minor upgrades, copies tags to snapshots, runs in a VPC and has a custom master user name (FSBP RDS.13, RDS.17, RDS.18, RDS.25).",
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
      if (!instance(args)) return;
      const p = args.props;
      if (p.autoMinorVersionUpgrade === false) report(fsbp("RDS.13", "autoMinorVersionUpgrade is false: security fixes in PostgreSQL minor releases wait for someone to apply them. Set it to true"));
      if (p.copyTagsToSnapshot !== true) report(fsbp("RDS.17", "copyTagsToSnapshot is not true: snapshots lose the stack's tags (owner, lifecycle), so nobody can tell whose they are. Set it to true"));
      if (!p.dbSubnetGroupName) report(fsbp("RDS.18", "dbSubnetGroupName is not set: the instance lands in the default VPC's subnets instead of the stack's private ones. Give it the stack's subnet group"));
      if (DEFAULT_MASTER_USERS.includes(String(p.username ?? "postgres").toLowerCase())) {
        report(fsbp("RDS.25", `the master user name is "${p.username ?? "postgres"}", the first name anyone guesses. Use a name of the stack's own (MASTER_USERNAME in infra/database/rds.ts)`));
      }
    },
  },
  {
    name: "rds-logs-when-long-lived",
    description: "A long-lived stack's PostgreSQL instance publishes its postgresql and upgrade logs to CloudWatch Logs and has Enhanced Monitoring (FSBP RDS.9, RDS.36, RDS.6).",
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
      if (!instance(args) || resourceLifecycle(args.props) !== "long-lived") return;
      const exported = asArray<string>(args.props.enabledCloudwatchLogsExports);
      const missing = ["postgresql", "upgrade"].filter((t) => !exported.includes(t));
      if (missing.length) report(fsbp("RDS.9, RDS.36", `enabledCloudwatchLogsExports lacks ${missing.join(", ")}: the database's errors and failed logins are not kept anywhere an incident can be traced from. Keep mlflow-kit:logging.databaseLogs on`));
      if (!(Number(args.props.monitoringInterval ?? 0) > 0) || !args.props.monitoringRoleArn) {
        report(fsbp("RDS.6", "Enhanced Monitoring is off (monitoringInterval 0 or no monitoringRoleArn): memory, swap and process metrics of the host are not recorded. Set mlflow-kit:logging.enhancedMonitoringSeconds (60)"));
      }
    },
  },
  {
    name: "rds-snapshots-private",
    description: "No RDS snapshot of the stack is shared with every account (FSBP RDS.1).",
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
      if (!isType(args, T.rdsSnapshot, T.rdsSnapshotCopy, T.rdsClusterSnapshot)) return;
      if (asArray<string>(args.props.sharedAccounts).some((a) => String(a).toLowerCase() === "all")) {
        report(fsbp("RDS.1", "sharedAccounts includes \"all\": any AWS account can restore this snapshot and read every experiment. Share with named account ids only"));
      }
    },
  },
];

/** Master user names Security Hub counts as default (FSBP RDS.25: the console default admin, and the engine default postgres). */
const DEFAULT_MASTER_USERS = ["admin", "postgres"];
