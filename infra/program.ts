import * as pulumi from "@pulumi/pulumi";
import { NeonDatabase } from "./database/neon";
import { envFile, MlflowDeployment } from "./deployment";
import type { Settings } from "./settings";

/** The stack: one MlflowDeployment and its outputs. Credentials are outputs only as secrets. */
export function mlflowStack(settings: Settings): Record<string, unknown> {
  for (const warning of settings.warnings ?? []) pulumi.log.warn(warning);
  const d = new MlflowDeployment("mlflow", { settings });
  const outputs: Record<string, unknown> = {
    // Known once the target serves: the URL clients use.
    trackingUri: d.target?.url,
    adminUsername: d.adminUsername,
    adminPassword: d.credentials.adminPassword,
    artifactBucket: d.artifacts.bucketName,
    artifactsDestination: d.artifacts.artifactsDestination,
    artifactUser: d.artifacts.userName,
    activeAccessKeyId: d.artifacts.accessKeyId,
    imageRef: d.image.imageRef,
    trackingDatabaseUri: d.database?.trackingUri,
    authDatabaseUri: d.database?.authUri,
    // Review stacks branch dev's Neon project (stacks/lifecycle reads this output of dev).
    neonProjectId: d.database instanceof NeonDatabase ? d.database.projectId : undefined,
    envFile: d.environment && envFile(d.environment),
    ...d.target?.outputs,
    // monitoring.enabled on local: Grafana (user admin) and Prometheus on 127.0.0.1.
    grafanaUrl: d.monitoring?.grafanaUrl,
    grafanaAdminPassword: d.monitoring?.grafanaAdminPassword,
    prometheusUrl: d.monitoring?.prometheusUrl,
    // Read back by the teardown from the stack's state, where no Pulumi.<stack>.yaml exists.
    lifecycle: settings.lifecycle,
    expiresAt: settings.expiresAt,
    skipped: settings.skipped.length ? settings.skipped : undefined,
  };
  // Parts not deployed have no output at all (the engine warns about undefined ones).
  return Object.fromEntries(Object.entries(outputs).filter(([, v]) => v !== undefined));
}
