import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import { MinioArtifactStore } from "./artifacts/minio";
import { ArtifactStore, artifactBucketName } from "./artifacts/s3";
import type { ArtifactStorage } from "./artifacts/types";
import { ServerCredentials } from "./credentials/server-credentials";
import { LocalDatabase } from "./database/local";
import { NeonDatabase } from "./database/neon";
import { RdsDatabase } from "./database/rds";
import type { MetadataDatabase } from "./database/types";
import { PrivateNetwork } from "./docker/private-network";
import { DEFAULT_PLATFORM, localBuildPlatform } from "./image/build-platform";
import { MlflowImage } from "./image/mlflow-image";
import { LOG_PREFIXES, LogBucket, logBucketName } from "./logging/log-bucket";
import { stackRuntimeEnvironment, type RuntimeEnvironment } from "./runtime-contract";
import { pushesImage, type Settings } from "./settings";
import { defaultAuthDomain } from "./edge/authelia";
import { EcsTarget } from "./targets/ecs";
import { LocalTarget } from "./targets/local";
import { LocalMonitoring } from "./targets/local-monitoring";
import { targetProfile } from "./targets/profile";
import { RenderTarget } from "./targets/render";
import { HfSpaceTarget } from "./targets/hf-space";
import type { DeployedTarget } from "./targets/types";

export interface MlflowDeploymentArgs {
  settings: Settings;
}

/**
 * One MLflow tracking server: artifact store, metadata database, image, credentials, and the
 * runtime contract that the target runs the image with. Reads no config: Settings is all.
 */
export class MlflowDeployment extends pulumi.ComponentResource {
  readonly artifacts: ArtifactStorage & pulumi.Resource;
  readonly database: (MetadataDatabase & pulumi.Resource) | undefined;
  readonly image: MlflowImage;
  /** The Docker network of the parts that run on this machine (local database, MinIO); undefined when none does. */
  readonly privateNetwork: PrivateNetwork | undefined;
  readonly credentials: ServerCredentials;
  /** The container env, secrets as Pulumi secrets; undefined while the database is not deployed. */
  readonly environment: RuntimeEnvironment | undefined;
  readonly publicUrl: string;
  readonly adminUsername: string;
  /** Where the server runs; undefined when the target is skipped or not yet deployable. */
  readonly target: DeployedTarget | undefined;
  /** Where AWS delivers access and flow logs (settings.logging); undefined when none is on. */
  readonly logBucket: LogBucket | undefined;
  /** Prometheus and Grafana beside a local server (monitoring.enabled). */
  readonly monitoring: LocalMonitoring | undefined;

  constructor(name: string, args: MlflowDeploymentArgs, opts?: pulumi.ComponentResourceOptions) {
    super("mlflow-kit:index:MlflowDeployment", name, {}, opts);
    const s = args.settings;

    // Parts that run in the local Docker engine share one private network.
    this.privateNetwork = s.artifacts.kind === "minio" || (s.deploy.database && s.database.kind === "local")
      ? new PrivateNetwork(`${name}-private`, { networkName: `${s.namePrefix}-private`, labels: s.tags }, { parent: this })
      : undefined;

    this.logBucket = this.createLogBucket(name, s);
    this.artifacts = this.createArtifacts(name, s);
    this.database = s.deploy.database ? this.createDatabase(name, s) : undefined;

    const context = path.join(__dirname, "..", "images", "mlflow");
    // settings.ts requires image.owner and ghcrToken wherever the image is pushed.
    this.image = new MlflowImage(`${name}-image`, pushesImage(s)
      ? {
          registry: "ghcr.io",
          owner: s.image.owner!,
          imageName: s.image.name,
          username: s.image.username ?? s.image.owner!,
          token: s.secrets.ghcrToken!,
          platform: s.image.platform ?? DEFAULT_PLATFORM,
          context,
        }
      : { registry: "local", imageName: `${s.namePrefix}-server`, platform: localBuildPlatform(s.image.platform), context }, { parent: this });

    this.credentials = new ServerCredentials(`${name}-credentials`, {
      adminPassword: s.secrets.adminPassword,
      rotation: s.rotation,
    }, { parent: this });

    // The local target answers on loopback over plain HTTP; every other one behind TLS.
    this.publicUrl = s.target.kind === "local" ? `http://127.0.0.1:${s.target.port}` : `https://${targetProfile(s).publicHostname}`;
    this.adminUsername = s.server.adminUsername;
    this.environment = this.database && stackRuntimeEnvironment(s, {
      trackingDatabaseUri: this.database.trackingUri,
      authDatabaseUri: this.database.authUri,
      databaseDirectHost: this.database.directHost,
      adminPassword: this.credentials.adminPassword,
      flaskSecretKey: this.credentials.flaskSecretKey,
      artifactsDestination: this.artifacts.artifactsDestination,
      artifactsRegion: this.artifacts.region,
      accessKey: this.artifacts.accessKeyId && this.artifacts.secretAccessKey ? { id: this.artifacts.accessKeyId, secret: this.artifacts.secretAccessKey } : undefined,
      s3EndpointUrl: this.artifacts.endpointUrl,
    });
    this.target = s.deploy.target && this.environment ? this.createTarget(name, s, this.environment) : undefined;
    this.monitoring = this.target instanceof LocalTarget && s.monitoring.enabled && s.target.kind === "local"
      ? this.createLocalMonitoring(name, s, this.target, s.target.port)
      : undefined;
    this.registerOutputs({});
  }

  /** Prometheus scrapes the server over a Docker network it is on: the private one, else its own bridge. */
  private createLocalMonitoring(name: string, s: Settings, target: LocalTarget, port: number): LocalMonitoring {
    const m = s.monitoring;
    return new LocalMonitoring(`${name}-monitoring`, {
      namePrefix: s.namePrefix,
      serverNetworkName: target.containerName.apply(() => this.privateNetwork?.name ?? pulumi.output(`${s.namePrefix}-published`)),
      serverHost: target.containerName,
      serverPort: port,
      // The local target runs MLflow's basic auth: /metrics takes the admin's credentials.
      scrapeAuth: { username: s.server.adminUsername, password: this.credentials.adminPassword },
      prometheusImage: m.prometheusImage,
      grafanaImage: m.grafanaImage,
      prometheusPort: m.prometheusPort,
      grafanaPort: m.grafanaPort,
      tags: s.tags,
    }, { parent: this });
  }

  /**
   * One case per target kind; each target component takes the same runtime environment (the
   * contract) and adds only what is its own. Kinds settings.ts does not yet let through never
   * reach here.
   */
  private createTarget(name: string, s: Settings, environment: RuntimeEnvironment): DeployedTarget {
    const t = s.target;
    switch (t.kind) {
      case "render":
        return new RenderTarget(`${name}-render`, {
          serviceName: t.serviceName ?? s.namePrefix,
          ownerId: t.ownerId,
          region: t.region,
          plan: t.plan,
          domain: t.domain,
          imageRef: this.image.imageRef,
          // settings.ts requires image.owner and ghcrToken wherever the image is pushed.
          registry: { username: s.image.username ?? s.image.owner!, token: s.secrets.ghcrToken! },
          environment,
          deployTimeoutMinutes: t.deployTimeoutMinutes,
        }, { parent: this });
      case "hf-space": {
        const profile = targetProfile(s);
        return new HfSpaceTarget(`${name}-hf-space`, {
          owner: t.owner,
          spaceName: t.spaceName ?? s.namePrefix,
          visibility: t.visibility,
          hardware: t.hardware,
          sleepTimeSeconds: t.sleepTimeSeconds,
          lifecycle: s.lifecycle,
          environment,
          imageRef: this.image.imageRef,
          repository: this.image.repository,
          publicHostname: profile.publicHostname,
          appPort: profile.port,
          title: `MLflow (${s.namePrefix})`,
        }, { parent: this, dependsOn: this.database ? [this.database] : [] });
      }
      case "ecs": {
        // settings.ts admits ecs only with an RDS database, which this deployment then holds.
        if (!(this.database instanceof RdsDatabase) || s.database.kind !== "rds") throw new Error("mlflow-kit: target.kind ecs needs database.kind rds");
        // settings.ts refuses MinIO for every target but local: ecs has the S3 store.
        if (!(this.artifacts instanceof ArtifactStore)) throw new Error("mlflow-kit: target.kind ecs needs artifacts.kind s3");
        const db = s.database;
        return new EcsTarget(`${name}-target`, {
          namePrefix: s.namePrefix,
          lifecycle: s.lifecycle,
          domain: t.domain,
          authDomain: t.authDomain ?? defaultAuthDomain(t.domain),
          hostedZoneId: t.hostedZoneId,
          cpu: t.cpu,
          memoryMb: t.memoryMb,
          desiredCount: t.desiredCount,
          architecture: (s.image.platform ?? DEFAULT_PLATFORM) === "linux/arm64" ? "ARM64" : "X86_64",
          image: this.image.imageRef,
          // settings.ts requires image.owner and ghcrToken wherever the image is pushed.
          registry: { username: s.image.username ?? s.image.owner!, token: s.secrets.ghcrToken! },
          environment,
          artifacts: { bucketArn: this.artifacts.bucketArn, prefix: s.artifacts.prefix },
          database: this.database,
          network: db.vpcId
            ? { existing: { publicSubnetIds: t.publicSubnetIds ?? [] } }
            : { create: { cidrBlock: db.cidrBlock, availabilityZoneCount: db.availabilityZones } },
          dbIdentifier: `${s.namePrefix}-db`,
          dbAllocatedStorageGb: db.allocatedStorageGb,
          apiUsername: t.apiUsername,
          users: t.users,
          userPasswordHashes: s.secrets.autheliaPasswordHashes,
          alarmEmails: t.alarmEmails,
          monitoring: s.monitoring.enabled ? { managedPrometheus: s.monitoring.managedPrometheus, adminUsername: s.server.adminUsername } : undefined,
          rotation: s.rotation,
          decommission: s.decommission,
          accessLogs: s.logging.accessLogs && this.logBucket ? { bucketName: this.logBucket.readyBucketName, prefix: LOG_PREFIXES.loadBalancer } : undefined,
          tags: s.tags,
        }, { parent: this });
      }
      case "local":
        return new LocalTarget(`${name}-target`, {
          namePrefix: s.namePrefix,
          imageRef: this.image.imageRef,
          environment,
          port: t.port,
          privateNetworkName: this.privateNetwork?.name,
          tags: s.tags,
        }, { parent: this });
      default:
        throw new Error(`mlflow-kit: target.kind ${(t as { kind: string }).kind} has no implementation (name ${name}, ${Object.keys(environment).length} env vars)`);
    }
  }

  private accountId(): pulumi.Output<string> {
    return aws.getCallerIdentityOutput({}, { parent: this }).accountId;
  }

  /**
   * The log bucket, when a log that goes to S3 is on (settings.logging) and something in the
   * stack produces it: the S3 artifact bucket, the ECS target's load balancer, a created VPC.
   */
  private createLogBucket(name: string, s: Settings): LogBucket | undefined {
    const s3Artifacts = s.artifacts.kind === "s3";
    const accessLogs = s.logging.accessLogs && (s3Artifacts || (s.deploy.target && s.target.kind === "ecs"));
    const flowLogs = s.logging.flowLogs && s.deploy.database && s.database.kind === "rds" && !s.database.vpcId;
    if (!accessLogs && !flowLogs) return undefined;
    // Built from the name, not the bucket resource: the artifact bucket logs to this one.
    const artifactBucketArn = this.accountId().apply((account) => `arn:aws:s3:::${artifactBucketName(s.namePrefix, account)}`);
    return new LogBucket(`${name}-logs`, {
      bucketName: this.accountId().apply((account) => logBucketName(s.namePrefix, account)),
      region: s.region,
      lifecycle: s.lifecycle,
      decommission: s.decommission,
      retentionDays: s.logging.retentionDays,
      sourceBucketArns: s.logging.accessLogs && s3Artifacts ? [artifactBucketArn] : [],
      tags: s.tags,
    }, { parent: this });
  }

  /** One case per artifact store kind; each gives the same ArtifactStorage. */
  private createArtifacts(name: string, s: Settings): ArtifactStorage & pulumi.Resource {
    const a = s.artifacts;
    switch (a.kind) {
      case "s3":
        return new ArtifactStore(`${name}-artifacts`, {
          bucketName: this.accountId().apply((account) => artifactBucketName(s.namePrefix, account)),
          // ECS tasks sign with their role: no IAM user, no long-lived keys (FSBP IAM.2, IAM.3, IAM.8).
          staticKeys: s.target.kind !== "ecs",
          accessLogs: this.logBucket && s.logging.accessLogs ? { bucketName: this.logBucket.readyBucketName, prefix: LOG_PREFIXES.s3 } : undefined,
          userName: `${s.namePrefix}-artifacts`,
          prefix: a.prefix,
          lifecycle: s.lifecycle,
          decommission: s.decommission,
          noncurrentVersionExpirationDays: a.noncurrentVersionDays,
          accessKeys: { active: a.activeKey, rotations: a.keyRotations },
          tags: s.tags,
        }, { parent: this });
      case "minio":
        return new MinioArtifactStore(`${name}-artifacts`, {
          namePrefix: s.namePrefix,
          bucketName: `${s.namePrefix}-artifacts`,
          prefix: a.prefix,
          lifecycle: s.lifecycle,
          decommission: s.decommission,
          image: a.image,
          networkName: this.privateNetwork!.name,
          keyRotation: a.keyRotation,
          tags: s.tags,
        }, { parent: this });
    }
  }

  private createDatabase(name: string, s: Settings): MetadataDatabase & pulumi.Resource {
    const db = s.database;
    switch (db.kind) {
      case "rds":
        return new RdsDatabase(`${name}-database`, {
          identifier: `${s.namePrefix}-db`,
          lifecycle: s.lifecycle,
          instanceClass: db.instanceClass,
          engineVersion: db.engineVersion,
          allocatedStorageGb: db.allocatedStorageGb,
          maxAllocatedStorageGb: db.maxAllocatedStorageGb,
          multiAz: db.multiAz,
          backupRetentionDays: db.backupRetentionDays,
          restoreFrom: db.restoreFrom,
          vpc: db.vpcId
            ? { existing: { vpcId: db.vpcId, privateSubnetIds: db.privateSubnetIds ?? [] } }
            : { create: { cidrBlock: db.cidrBlock, availabilityZoneCount: db.availabilityZones } },
          bootstrap: db.bootstrap,
          // The target adds its service's security group; these are the operator's extras.
          clientSecurityGroupIds: db.clientSecurityGroupIds,
          applyImmediately: db.applyImmediately,
          decommission: s.decommission,
          passwordRotation: s.rotation.databasePassword,
          flowLogsBucketName: s.logging.flowLogs ? this.logBucket?.readyBucketName : undefined,
          logs: { exportToCloudWatch: s.logging.databaseLogs, retentionDays: s.logging.retentionDays, enhancedMonitoringSeconds: s.logging.enhancedMonitoringSeconds },
          tags: s.tags,
        }, { parent: this });
      case "local":
        return new LocalDatabase(`${name}-database`, {
          namePrefix: s.namePrefix,
          lifecycle: s.lifecycle,
          decommission: s.decommission,
          image: db.image,
          networkName: this.privateNetwork!.name,
          passwordRotation: s.rotation.databasePassword,
          tags: s.tags,
        }, { parent: this });
      case "neon":
        return new NeonDatabase(`${name}-database`, {
          lifecycle: s.lifecycle,
          projectName: s.namePrefix,
          projectId: db.projectId,
          regionId: db.region,
          orgId: db.orgId,
          branchName: db.branch ?? s.namePrefix,
          expiresAt: s.expiresAt,
          passwordRotation: s.rotation.databasePassword,
          restoreFrom: db.restoreFrom,
        }, { parent: this });
      default:
        // settings.ts refuses kinds that are not deployable yet; reaching here is a bug.
        throw new Error(`mlflow-kit: database.kind ${(db as { kind: string }).kind} has no implementation`);
    }
  }
}

/** KEY=value lines of the container env, for `docker run --env-file` and debugging. */
export function envFile(env: RuntimeEnvironment): pulumi.Output<string> {
  const names = Object.keys(env).sort();
  return pulumi.secret(pulumi.all(names.map((n) => env[n])).apply((values) => names.map((n, i) => `${n}=${values[i]}`).join("\n") + "\n"));
}
