import { createHash } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";

/**
 * Provider behaviour without providers: the outputs a real provider would fill in on create
 * (ids, ARNs, endpoints, generated passwords), derived deterministically from the resource's
 * name so that two plans of the same config print the same thing. Used by the offline plan
 * and by the unit tests: nothing here talks to a network.
 */
/** The account the offline plan pretends to deploy into. */
export const OFFLINE_ACCOUNT_ID = "123456789012";

export class OfflineMocks implements pulumi.runtime.Mocks {
  constructor(
    private readonly region = "us-east-1",
    private readonly accountId = OFFLINE_ACCOUNT_ID,
  ) {}

  newResource(args: pulumi.runtime.MockResourceArgs): { id: string; state: Record<string, unknown> } {
    const inputs = (args.inputs ?? {}) as Record<string, any>;
    const token = (prefix: string, len = 17) => `${prefix}${digest(args.type, args.name).slice(0, len)}`;
    const arn = (service: string, resource: string) =>
      `arn:aws:${service}:${this.region}:${this.accountId}:${resource}`;

    switch (args.type) {
      case "aws:s3/bucket:Bucket": {
        const bucket = inputs.bucket ?? `${args.name}-${digest(args.name).slice(0, 7)}`;
        return {
          id: bucket,
          state: {
            ...inputs, bucket, arn: `arn:aws:s3:::${bucket}`, region: this.region,
            bucketDomainName: `${bucket}.s3.amazonaws.com`,
            bucketRegionalDomainName: `${bucket}.s3.${this.region}.amazonaws.com`,
          },
        };
      }
      case "aws:iam/user:User":
        return { id: inputs.name, state: { ...inputs, arn: `arn:aws:iam::${this.accountId}:user${inputs.path ?? "/"}${inputs.name}`, uniqueId: token("AIDA", 17).toUpperCase() } };
      case "aws:iam/role:Role":
        return { id: inputs.name ?? args.name, state: { ...inputs, name: inputs.name ?? args.name, arn: `arn:aws:iam::${this.accountId}:role/${inputs.name ?? args.name}` } };
      case "aws:iam/accessKey:AccessKey":
        // Shaped like real keys (20 upper-case characters, 40-character secret) but marked as
        // mocks so that they can never be mistaken for a credential.
        return {
          id: `MOCK${digest(args.name).slice(0, 16).toUpperCase()}`,
          state: { ...inputs, secret: digest("secret", args.name).slice(0, 40), status: inputs.status ?? "Active" },
        };
      case "aws:ec2/vpc:Vpc":
        // AWS creates each VPC with a default security group, network ACL and route table.
        return { id: token("vpc-"), state: { ...inputs, arn: arn("ec2", `vpc/${token("vpc-")}`), defaultSecurityGroupId: token("sg-"), defaultNetworkAclId: token("acl-"), mainRouteTableId: token("rtb-") } };
      case "aws:ec2/subnet:Subnet":
        return { id: token("subnet-"), state: { ...inputs, arn: arn("ec2", `subnet/${token("subnet-")}`) } };
      case "aws:ec2/securityGroup:SecurityGroup":
        return { id: token("sg-"), state: { ...inputs, arn: arn("ec2", `security-group/${token("sg-")}`) } };
      case "aws:rds/instance:Instance": {
        const id = inputs.identifier ?? args.name;
        const address = `${id}.${digest(id).slice(0, 12)}.${this.region}.rds.amazonaws.com`;
        const port = inputs.port ?? 5432;
        return { id, state: { ...inputs, address, port, endpoint: `${address}:${port}`, arn: arn("rds", `db:${id}`), resourceId: token("db-", 26).toUpperCase() } };
      }
      case "aws:rds/parameterGroup:ParameterGroup":
      case "aws:rds/subnetGroup:SubnetGroup": {
        // The name is the id; with namePrefix the provider appends a unique suffix.
        const name = inputs.name ?? `${inputs.namePrefix ?? `${args.name}-`}${digest(args.type, args.name).slice(0, 26)}`;
        const kind = args.type === "aws:rds/parameterGroup:ParameterGroup" ? "pg" : "subgrp";
        return { id: name, state: { ...inputs, name, arn: arn("rds", `${kind}:${name}`) } };
      }
      case "aws:lambda/function:Function":
        return { id: inputs.name ?? args.name, state: { ...inputs, arn: arn("lambda", `function:${inputs.name ?? args.name}`), invokeArn: arn("lambda", `function:${inputs.name ?? args.name}/invocations`) } };
      case "pulumi-nodejs:dynamic/aws:FunctionInvocation": {
        // What the bootstrap function answers (handler.ts BootstrapResult); no input echoed back.
        const { __provider: _serialized, input: _input, ...rest } = inputs;
        return { id: token("inv-"), state: { ...rest, inputHash: digest("input", args.name), result: JSON.stringify({ role: "mlflow_app", roleCreated: true }) } };
      }
      case "aws:lambda/invocation:Invocation":
        return { id: token("inv-"), state: { ...inputs, result: JSON.stringify({ ok: true }) } };
      case "docker:index/image:Image": {
        // What the provider reports after a push: the repository without its tag, and the
        // manifest digest (derived from the name and tag here, so a new tag gives a new digest).
        const imageName: string = inputs.imageName ?? args.name;
        const repository = imageName.replace(/:[^/:]+$/, "");
        const build = inputs.build ?? {};
        // Provider 4.4+: a local-only image (skipPush) reports its image id as repoDigest.
        const imageId = `sha256:${digest("image", args.name, imageName)}`;
        return {
          id: `${imageName}-${digest(args.name).slice(0, 8)}`,
          state: {
            ...inputs, imageName, baseImageName: imageName,
            registryServer: inputs.skipPush ? "" : inputs.registry?.server ?? repository.split("/")[0],
            context: build.context, dockerfile: build.dockerfile, platform: build.platform,
            repoDigest: inputs.skipPush ? imageId : `${repository}@${imageId}`,
          },
        };
      }
      case "docker:index/remoteImage:RemoteImage": {
        // The pulled image's id, and the reference it was pulled by as its repo digest.
        const imageId = `sha256:${digest("remote-image", inputs.name)}`;
        return { id: `${imageId}${inputs.name}`, state: { ...inputs, imageId, repoDigest: String(inputs.name).replace(/:[^/@:]+@/, "@") } };
      }
      case "docker:index/network:Network": {
        const name = inputs.name ?? args.name;
        return { id: digest("network", name), state: { ...inputs, name, driver: inputs.driver ?? "bridge", scope: "local" } };
      }
      case "docker:index/volume:Volume": {
        const name = inputs.name ?? digest("volume", args.name);
        return { id: name, state: { ...inputs, name, driver: inputs.driver ?? "local", mountpoint: `/var/lib/docker/volumes/${name}/_data` } };
      }
      case "docker:index/container:Container": {
        // A one-shot container (attach, mustRun false) has exited by the time create returns:
        // the provider reports its exit code, 0 here (the job succeeded).
        const oneShot = inputs.attach === true && inputs.mustRun === false;
        return { id: digest("container", args.name), state: { ...inputs, exitCode: oneShot ? 0 : undefined, containerLogs: oneShot ? "" : undefined } };
      }
      // Kit dynamic providers (infra/providers/neon): what Neon would hand back.
      case "pulumi-nodejs:dynamic/neon:Project": {
        const id = inputs.existingProjectId ?? `${digest(args.name).slice(0, 6)}-mock-${digest("project", args.name).slice(0, 6)}`;
        return { id, state: { ...inputs, projectId: id, defaultBranchId: `br-main-${digest(id).slice(0, 8)}`, managed: !inputs.existingProjectId } };
      }
      case "pulumi-nodejs:dynamic/neon:Branch":
        return { id: token("br-mock-", 12), state: { ...inputs, branchId: token("br-mock-", 12), parentBranchId: inputs.parentId ?? "br-main-mock" } };
      case "pulumi-nodejs:dynamic/neon:Endpoint": {
        const id = token("ep-mock-", 12);
        const region = String(inputs.regionId ?? "us-east-2");
        return { id, state: { ...inputs, endpointId: id, host: `${id}.${region.replace(/^aws-/, "")}.aws.neon.tech` } };
      }
      case "pulumi-nodejs:dynamic/neon:Role":
        return { id: `${inputs.branchId}/${inputs.name}`, state: { ...inputs, password: password(`${args.name}-${inputs.passwordRotation ?? 0}`, 24) } };
      case "pulumi-nodejs:dynamic/neon:Database": {
        const pw = password(`${args.name.replace(/-(tracking|auth)$/, "-role")}-${inputs.roleRotation ?? 0}`, 24);
        const host = `ep-mock-${digest(String(inputs.endpointId)).slice(0, 8)}-pooler.us-east-2.aws.neon.tech`;
        return { id: `${inputs.branchId}/${inputs.name}`, state: { ...inputs, connectionUri: `postgresql://${inputs.ownerName}:${pw}@${host}/${inputs.name}?sslmode=require` } };
      }
      case "random:index/randomBytes:RandomBytes": {
        const bytes = createHash("sha512").update(`bytes\0${args.name}\0${JSON.stringify(inputs.keepers ?? {})}`).digest().subarray(0, inputs.length ?? 32);
        return { id: "none", state: { ...inputs, hex: bytes.toString("hex"), base64: bytes.toString("base64") } };
      }
      case "aws:secretsmanager/secret:Secret": {
        const name = inputs.name ?? args.name;
        return { id: arn("secretsmanager", `secret:${name}-${digest(name).slice(0, 6)}`), state: { ...inputs, name, arn: arn("secretsmanager", `secret:${name}-${digest(name).slice(0, 6)}`) } };
      }
      case "aws:secretsmanager/secretVersion:SecretVersion": {
        // A new value is a new version, as in Secrets Manager.
        const versionId = uuid(digest(args.name, JSON.stringify(inputs.secretString ?? "")));
        return { id: `${inputs.secretId}|${versionId}`, state: { ...inputs, versionId, arn: inputs.secretId } };
      }
      case "aws:amp/workspace:Workspace": {
        // Shapes of WorkspaceDescription: arn ...:aps:<region>:<account>:workspace/ws-..., and
        // prometheusEndpoint https://aps-workspaces.<region>.amazonaws.com/workspaces/ws-.../api/v1/
        // (https://docs.aws.amazon.com/prometheus/latest/APIReference/API_WorkspaceDescription.html).
        const id = `ws-${uuid(digest(args.name))}`;
        return { id, state: { ...inputs, arn: arn("aps", `workspace/${id}`), prometheusEndpoint: `https://aps-workspaces.${this.region}.amazonaws.com/workspaces/${id}/api/v1/` } };
      }
      case "aws:lb/loadBalancer:LoadBalancer": {
        const name = inputs.name ?? args.name;
        const suffix = `app/${name}/${digest(args.name).slice(0, 16)}`;
        return { id: arn("elasticloadbalancing", `loadbalancer/${suffix}`), state: { ...inputs, arn: arn("elasticloadbalancing", `loadbalancer/${suffix}`), arnSuffix: suffix, dnsName: `${name}-${digest(name).slice(0, 10)}.${this.region}.elb.amazonaws.com`, zoneId: "Z32O12XQLNTSW2" } };
      }
      case "aws:lb/targetGroup:TargetGroup": {
        const name = `${inputs.namePrefix ?? args.name}${digest(args.name).slice(0, 6)}`;
        const suffix = `targetgroup/${name}/${digest(args.name).slice(0, 16)}`;
        return { id: arn("elasticloadbalancing", suffix), state: { ...inputs, name, arn: arn("elasticloadbalancing", suffix), arnSuffix: suffix } };
      }
      case "aws:acm/certificate:Certificate": {
        const names: string[] = [inputs.domainName, ...(inputs.subjectAlternativeNames ?? [])];
        return {
          id: arn("acm", `certificate/${uuid(digest(args.name))}`),
          state: {
            ...inputs, arn: arn("acm", `certificate/${uuid(digest(args.name))}`),
            domainValidationOptions: names.map((n) => ({ domainName: n, resourceRecordName: `_${digest("v", n).slice(0, 32)}.${n}.`, resourceRecordType: "CNAME", resourceRecordValue: `_${digest("w", n).slice(0, 32)}.acm-validations.aws.` })),
          },
        };
      }
      case "aws:sns/topic:Topic":
        return { id: arn("sns", inputs.name ?? args.name), state: { ...inputs, arn: arn("sns", inputs.name ?? args.name) } };
      case "aws:acm/certificateValidation:CertificateValidation":
        return { id: inputs.certificateArn, state: { ...inputs } };
      case "random:index/randomPassword:RandomPassword":
      case "random:index/randomString:RandomString": {
        const length = inputs.length ?? 32;
        // A changed keeper is a new value, as with the provider (rotation counters); only the
        // character classes asked for (an access key: upper-case letters and digits).
        return { id: "none", state: { ...inputs, result: password(inputs.keepers ? `${args.name}\0${JSON.stringify(inputs.keepers)}` : args.name, length, { upper: inputs.upper !== false, lower: inputs.lower !== false, numeric: inputs.numeric !== false }) } };
      }
      // Kit dynamic providers: what their create returns (ids shaped like the vendor's).
      case "pulumi-nodejs:dynamic/render:RegistryCredential":
        return { id: token("rgc-", 20), state: { ...inputs, ownerId: inputs.ownerId ?? "tea-offline0000000000" } };
      case "pulumi-nodejs:dynamic/render:Service": {
        const hostname = `${inputs.name}.onrender.com`;
        // A list holding secrets arrives wrapped as one secret value.
        const raw = inputs.envVars;
        const envVars: Array<{ key: string }> = (raw && !Array.isArray(raw) && typeof raw === "object" && "value" in raw ? raw.value : raw) ?? [];
        return {
          id: token("srv-", 20),
          state: {
            ...inputs, ownerId: inputs.ownerId ?? "tea-offline0000000000", hostname, url: inputs.customDomain ? `https://${inputs.customDomain}` : `https://${hostname}`,
            dashboardUrl: `https://dashboard.render.com/web/${token("srv-", 20)}`, envKeys: envVars.map((e) => e.key), deployId: token("dep-", 20), deployStatus: "live",
          },
        };
      }
      case "pulumi-nodejs:dynamic/hf:Space":
        // host: the Hub reports it (subdomain); offline, the usual <owner>-<name>.hf.space.
        return { id: `${inputs.owner}/${inputs.name}`, state: { ...inputs, repoId: `${inputs.owner}/${inputs.name}`, pageUrl: `https://huggingface.co/spaces/${inputs.owner}/${inputs.name}`, host: `${inputs.owner}-${inputs.name}`.toLowerCase().replace(/[._]/g, "-") + ".hf.space" } };
      case "pulumi-nodejs:dynamic/hf:SpaceRelease":
        return { id: `${inputs.repoId}/release`, state: { ...inputs, stage: "RUNNING" } };
      default:
        return { id: token(`${args.name}-`, 8), state: { ...inputs, arn: inputs.arn ?? arn(args.type.split(":")[0], args.name) } };
    }
  }

  call(args: pulumi.runtime.MockCallArgs): Record<string, unknown> {
    switch (args.token) {
      case "aws:index/getRegion:getRegion":
        return { name: this.region, region: this.region, id: this.region };
      case "aws:index/getCallerIdentity:getCallerIdentity":
        return { accountId: this.accountId, arn: `arn:aws:iam::${this.accountId}:user/offline`, userId: "OFFLINE", id: this.accountId };
      case "aws:index/getPartition:getPartition":
        return { partition: "aws", dnsSuffix: "amazonaws.com", id: "aws" };
      case "aws:index/getAvailabilityZones:getAvailabilityZones":
        return { names: ["a", "b", "c"].map((z) => `${this.region}${z}`), zoneIds: ["use1-az1", "use1-az2", "use1-az4"], id: this.region };
      default:
        return args.inputs;
    }
  }
}

function digest(...parts: string[]): string {
  return createHash("sha256").update(parts.join("\0")).digest("hex");
}

function uuid(hex: string): string {
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/** A deterministic stand-in for a generated password: letters and digits only, of the classes asked for. */
function password(name: string, length: number, classes = { upper: true, lower: true, numeric: true }): string {
  const alphabet = [classes.upper && "ABCDEFGHJKLMNPQRSTUVWXYZ", classes.lower && "abcdefghijkmnpqrstuvwxyz", classes.numeric && "23456789"].filter(Boolean).join("");
  const bytes = createHash("sha512").update(`password\0${name}`).digest();
  let out = "";
  for (let i = 0; i < length; i++) out += alphabet[bytes[i % bytes.length] % alphabet.length];
  return out;
}
