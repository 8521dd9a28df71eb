import { beforeAll, describe, expect, it } from "vitest";
import * as pulumi from "@pulumi/pulumi";
import { evaluateStack, SECRET, type EvaluatedStack, type PlannedResource } from "../../stacks/offline";
import {
  ArtifactStore,
  artifactBucketName,
  artifactUserPolicy,
  tlsOnlyBucketPolicy,
  type ArtifactStoreArgs,
  type KeySlot,
  type PolicyDocument,
} from "../../infra/artifacts/s3";

const PROJECT = "mlflow-kit";
const COMPONENT = "mlflow-kit:artifacts:ArtifactStore";

function argsFor(stack: string, over: Partial<ArtifactStoreArgs> = {}): ArtifactStoreArgs {
  return {
    bucketName: `${PROJECT}-${stack}-artifacts`,
    prefix: "mlflow",
    lifecycle: "ephemeral",
    noncurrentVersionExpirationDays: 7,
    // Distinct numbers, so a test can tell which slot a trigger came from.
    accessKeys: { active: "blue", rotations: { blue: 3, green: 8 } },
    userName: `${PROJECT}-${stack}-artifacts`,
    tags: { project: PROJECT, stack },
    ...over,
  };
}

interface Evaluated {
  stack: EvaluatedStack;
  store: ArtifactStore;
}

/** Runs a program that creates only the ArtifactStore, secrets hidden in the recorded inputs. */
async function evaluate(stackName: string, args: ArtifactStoreArgs): Promise<Evaluated> {
  let store: ArtifactStore | undefined;
  const stack = await evaluateStack({
    project: PROJECT,
    stack: stackName,
    config: { "aws:region": "eu-west-1" },
    secretKeys: [],
    revealSecrets: false,
    program: () => {
      store = new ArtifactStore("artifacts", args);
      return { accessKeyId: store.accessKeyId, secretAccessKey: store.secretAccessKey };
    },
  });
  return { stack, store: store! };
}

function only(ev: Evaluated, type: string): PlannedResource {
  const found = ev.stack.resources.filter((r) => r.type === type);
  expect(found, type).toHaveLength(1);
  return found[0];
}

function byName(ev: Evaluated, name: string): PlannedResource {
  const found = ev.stack.resources.find((r) => r.name === name);
  if (!found) throw new Error(`no resource named ${name}`);
  return found;
}

/** The plain value of an Output, secret or not (tests only). */
function reveal<T>(output: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) => pulumi.unsecret(output).apply((v) => { resolve(v); return v; }));
}

const T = {
  bucket: "aws:s3/bucket:Bucket",
  versioning: "aws:s3/bucketVersioning:BucketVersioning",
  sse: "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
  ownership: "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
  publicAccess: "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
  policy: "aws:s3/bucketPolicy:BucketPolicy",
  lifecycle: "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
  user: "aws:iam/user:User",
  userPolicy: "aws:iam/userPolicy:UserPolicy",
  accessKey: "aws:iam/accessKey:AccessKey",
};

describe("ArtifactStore, ephemeral", () => {
  let ev: Evaluated;
  beforeAll(async () => {
    ev = await evaluate("review-42", argsFor("review-42"));
  });

  it("registers the component and parents every child to it", () => {
    const component = only(ev, COMPONENT);
    const children = ev.stack.resources.filter((r) => r.type !== COMPONENT);
    expect(children.map((r) => r.type).sort()).toEqual(
      [T.bucket, T.versioning, T.sse, T.ownership, T.publicAccess, T.policy, T.lifecycle, T.user, T.userPolicy, T.accessKey, T.accessKey].sort(),
    );
    for (const child of children) expect(child.parent, child.name).toBe(component.urn);
  });

  it("names the bucket as the caller computed it and lets the stack tear it down", () => {
    const bucket = only(ev, T.bucket);
    expect(bucket.inputs.bucket).toBe("mlflow-kit-review-42-artifacts");
    expect(bucket.inputs.forceDestroy).toBe(true);
    expect(bucket.inputs.tags).toEqual({ project: PROJECT, stack: "review-42" });
  });

  it("protects and retains nothing", () => {
    for (const r of ev.stack.resources) {
      expect(r.options.protect, r.name).toBeFalsy();
      expect(r.options.retainOnDelete, r.name).toBeFalsy();
    }
  });

  it("enables versioning, SSE-S3, owner-enforced ownership and every public access block", () => {
    const bucketId = "mlflow-kit-review-42-artifacts";
    const versioning = only(ev, T.versioning);
    expect(versioning.inputs).toEqual({ bucket: bucketId, versioningConfiguration: { status: "Enabled" } });

    const sse = only(ev, T.sse);
    expect(sse.inputs.bucket).toBe(bucketId);
    expect(sse.inputs.rules).toEqual([{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" } }]);

    expect(only(ev, T.ownership).inputs).toEqual({ bucket: bucketId, rule: { objectOwnership: "BucketOwnerEnforced" } });

    expect(only(ev, T.publicAccess).inputs).toEqual({
      bucket: bucketId,
      blockPublicAcls: true,
      blockPublicPolicy: true,
      ignorePublicAcls: true,
      restrictPublicBuckets: true,
    });
  });

  it("deploys a bucket policy that denies every principal without TLS 1.2+ on the bucket and its objects", () => {
    const policy = only(ev, T.policy);
    expect(policy.inputs.bucket).toBe("mlflow-kit-review-42-artifacts");
    expect(typeof policy.inputs.policy).toBe("string");
    const doc = JSON.parse(policy.inputs.policy as string) as PolicyDocument;
    const arn = "arn:aws:s3:::mlflow-kit-review-42-artifacts";

    expect(doc.Version).toBe("2012-10-17");
    expect(doc.Statement).toHaveLength(2);
    for (const s of doc.Statement) {
      expect(s.Effect).toBe("Deny");
      expect(s.Principal).toBe("*");
      expect(s.Action).toBe("s3:*");
      expect(s.Resource).toEqual([arn, `${arn}/*`]);
    }
    expect(doc.Statement.map((s) => s.Condition)).toEqual([
      { Bool: { "aws:SecureTransport": "false" } },
      { NumericLessThan: { "s3:TlsVersion": "1.2" } },
    ]);
    // What is deployed is exactly what the pure function (and the simulator test) evaluates.
    expect(doc).toEqual(tlsOnlyBucketPolicy(arn));
  });

  it("expires noncurrent versions after the configured days and aborts stale multipart uploads", () => {
    const lifecycle = only(ev, T.lifecycle);
    expect(lifecycle.inputs.bucket).toBe("mlflow-kit-review-42-artifacts");
    const rules = lifecycle.inputs.rules as Array<Record<string, any>>;
    const noncurrent = rules.find((r) => r.noncurrentVersionExpiration);
    const multipart = rules.find((r) => r.abortIncompleteMultipartUpload);
    expect(noncurrent).toMatchObject({ status: "Enabled", filter: {}, noncurrentVersionExpiration: { noncurrentDays: 7 } });
    expect(multipart?.status).toBe("Enabled");
    expect(multipart?.abortIncompleteMultipartUpload.daysAfterInitiation).toBeGreaterThanOrEqual(1);
    expect(multipart?.abortIncompleteMultipartUpload.daysAfterInitiation).toBeLessThanOrEqual(7);
    // Rule ids must be unique within a lifecycle configuration.
    expect(new Set(rules.map((r) => r.id)).size).toBe(rules.length);
  });

  it("creates the IAM user under /mlflow-kit/ with an inline policy scoped to the prefix", () => {
    const user = only(ev, T.user);
    expect(user.inputs).toEqual({ name: "mlflow-kit-review-42-artifacts", path: "/mlflow-kit/", tags: { project: PROJECT, stack: "review-42" } });

    const userPolicy = only(ev, T.userPolicy);
    expect(userPolicy.inputs.user).toBe("mlflow-kit-review-42-artifacts");
    const doc = JSON.parse(userPolicy.inputs.policy as string) as PolicyDocument;
    const arn = "arn:aws:s3:::mlflow-kit-review-42-artifacts";
    expect(doc.Version).toBe("2012-10-17");
    expect(doc.Statement).toHaveLength(2);
    const [list, objects] = doc.Statement;
    expect(list).toMatchObject({ Effect: "Allow", Action: "s3:ListBucket", Resource: arn });
    expect(list.Condition).toEqual({ StringLike: { "s3:prefix": ["mlflow/*"] } });
    expect(objects.Effect).toBe("Allow");
    expect([...(objects.Action as string[])].sort()).toEqual(["s3:AbortMultipartUpload", "s3:DeleteObject", "s3:GetObject", "s3:PutObject"]);
    expect(objects.Resource).toBe(`${arn}/mlflow/*`);
    expect(objects.Condition).toBeUndefined();
    // Nothing anywhere in the document reaches beyond this bucket or uses a wildcard action.
    const actions = doc.Statement.flatMap((s) => [s.Action].flat());
    expect(actions.some((a) => a.includes("*"))).toBe(false);
    expect(doc).toEqual(artifactUserPolicy(arn, "mlflow"));
  });

  it("creates both key slots, recreated on a rotation bump, deleted before they are replaced", () => {
    const keys = ev.stack.resources.filter((r) => r.type === T.accessKey);
    expect(keys.map((k) => k.name).sort()).toEqual(["artifacts-key-blue", "artifacts-key-green"]);
    for (const key of keys) {
      expect(key.inputs.user).toBe("mlflow-kit-review-42-artifacts");
      expect(key.options.deleteBeforeReplace, key.name).toBe(true);
    }
    expect(byName(ev, "artifacts-key-blue").options.replacementTrigger).toBe(3);
    expect(byName(ev, "artifacts-key-green").options.replacementTrigger).toBe(8);
  });

  it("exports the bucket, destination, region and user in plain outputs", async () => {
    const s = ev.store;
    expect(await reveal(s.bucketName)).toBe("mlflow-kit-review-42-artifacts");
    expect(await reveal(s.bucketArn)).toBe("arn:aws:s3:::mlflow-kit-review-42-artifacts");
    expect(await reveal(s.artifactsDestination)).toBe("s3://mlflow-kit-review-42-artifacts/mlflow");
    expect(await reveal(s.region)).toBe("eu-west-1");
    expect(await reveal(s.userName!)).toBe("mlflow-kit-review-42-artifacts");
    expect(await reveal(s.userArn!)).toBe("arn:aws:iam::123456789012:user/mlflow-kit/mlflow-kit-review-42-artifacts");
    for (const o of [s.bucketName, s.bucketArn, s.artifactsDestination, s.region, s.userName!, s.userArn!]) {
      expect(await pulumi.isSecret(o)).toBe(false);
    }
  });

  it("keeps every key id and the secret access key as Pulumi secrets", async () => {
    const s = ev.store;
    expect(await pulumi.isSecret(s.accessKeyId!)).toBe(true);
    expect(await pulumi.isSecret(s.secretAccessKey!)).toBe(true);
    expect(await pulumi.isSecret(s.keySlots!.blue.accessKeyId)).toBe(true);
    expect(await pulumi.isSecret(s.keySlots!.green.accessKeyId)).toBe(true);
    // The settled stack outputs hide them too.
    expect(ev.stack.outputs).toEqual({ accessKeyId: SECRET, secretAccessKey: SECRET });
  });
});

describe("ArtifactStore, long-lived", () => {
  let ev: Evaluated;
  beforeAll(async () => {
    ev = await evaluate("prod", argsFor("prod", { lifecycle: "long-lived", noncurrentVersionExpirationDays: 90 }));
  });

  it("never force-destroys the bucket", () => {
    expect(only(ev, T.bucket).inputs.forceDestroy).toBe(false);
  });

  it("protects and retains the bucket and its versioning", () => {
    for (const type of [T.bucket, T.versioning]) {
      const r = only(ev, type);
      expect(r.options.protect, type).toBe(true);
      expect(r.options.retainOnDelete, type).toBe(true);
    }
  });

  it("retains the bucket's guards with it, but does not protect them", () => {
    for (const type of [T.sse, T.ownership, T.publicAccess, T.policy, T.lifecycle]) {
      const r = only(ev, type);
      expect(r.options.retainOnDelete, type).toBe(true);
      expect(r.options.protect, type).toBeFalsy();
    }
  });

  it("leaves the user and its keys replaceable: rotation must never hit a protected key", () => {
    for (const r of ev.stack.resources.filter((x) => [T.user, T.userPolicy, T.accessKey].includes(x.type))) {
      expect(r.options.protect, r.name).toBeFalsy();
      expect(r.options.retainOnDelete, r.name).toBeFalsy();
    }
  });

  it("uses the long-lived noncurrent version retention", () => {
    const rules = only(ev, T.lifecycle).inputs.rules as Array<Record<string, any>>;
    expect(rules.find((r) => r.noncurrentVersionExpiration)?.noncurrentVersionExpiration.noncurrentDays).toBe(90);
  });
});

describe("ArtifactStore key slots", () => {
  async function activeKey(active: KeySlot, rotations: Record<KeySlot, number>) {
    const ev = await evaluate("dev", argsFor("dev", { accessKeys: { active, rotations } }));
    const slotKey = (slot: KeySlot) => byName(ev, `artifacts-key-${slot}`).resource as unknown as { id: pulumi.Output<string>; secret: pulumi.Output<string> };
    return {
      ev,
      id: await reveal(ev.store.accessKeyId!),
      secret: await reveal(ev.store.secretAccessKey!),
      slot: {
        blue: { id: await reveal(slotKey("blue").id), secret: await reveal(slotKey("blue").secret) },
        green: { id: await reveal(slotKey("green").id), secret: await reveal(slotKey("green").secret) },
      },
      exported: { blue: await reveal(ev.store.keySlots!.blue.accessKeyId), green: await reveal(ev.store.keySlots!.green.accessKeyId) },
    };
  }

  it("serves the active slot's key, and switching `active` moves the outputs to the other slot", async () => {
    const blue = await activeKey("blue", { blue: 1, green: 1 });
    expect(blue.slot.blue.id).not.toBe(blue.slot.green.id);
    expect(blue.id).toBe(blue.slot.blue.id);
    expect(blue.secret).toBe(blue.slot.blue.secret);
    expect(blue.exported).toEqual({ blue: blue.slot.blue.id, green: blue.slot.green.id });

    // The rotation procedure: switch to green and bump green, in one update.
    const green = await activeKey("green", { blue: 1, green: 2 });
    expect(green.id).toBe(green.slot.green.id);
    expect(green.secret).toBe(green.slot.green.secret);
    expect(green.id).not.toBe(blue.id);
    expect(green.secret).not.toBe(blue.secret);
    // Only the newly active slot's trigger moved; the old slot (still valid) is untouched.
    expect(byName(green.ev, "artifacts-key-green").options.replacementTrigger).toBe(2);
    expect(byName(green.ev, "artifacts-key-blue").options.replacementTrigger).toBe(1);
  });
});

describe("ArtifactStore input checks", () => {
  it.each(["", "/mlflow", "mlflow/", "ml//flow", "ml*", "runs/${aws:username}", "ml flow"])(
    "refuses the prefix %j, which would break or widen the scoped policy",
    async (prefix) => {
      expect(() => artifactUserPolicy("arn:aws:s3:::b", prefix)).toThrow(/prefix/);
      await expect(evaluate("bad", argsFor("bad", { prefix }))).rejects.toThrow(/prefix/);
    },
  );

  it("accepts a nested prefix and scopes the policy to it", () => {
    const doc = artifactUserPolicy("arn:aws:s3:::b", "teams/ml.flow-1");
    expect(doc.Statement[0].Condition).toEqual({ StringLike: { "s3:prefix": ["teams/ml.flow-1/*"] } });
    expect(doc.Statement[1].Resource).toBe("arn:aws:s3:::b/teams/ml.flow-1/*");
  });

  it.each([0, -1, 1.5])("refuses noncurrentVersionExpirationDays = %d", async (days) => {
    await expect(evaluate("bad", argsFor("bad", { noncurrentVersionExpirationDays: days }))).rejects.toThrow(/noncurrentVersionExpirationDays/);
  });
});

describe("artifactBucketName: unique per account", () => {
  it("puts the account id in the name, so two accounts' stacks of the same name never collide", () => {
    expect(artifactBucketName("mlflow-kit-prod", "123456789012")).toBe("mlflow-kit-prod-art-123456789012");
    expect(artifactBucketName("mlflow-kit-prod", "210987654321")).not.toBe(artifactBucketName("mlflow-kit-prod", "123456789012"));
  });

  it("fits S3's 63 characters for the longest name prefix settings accept (42)", () => {
    const longest = `mlflow-kit-${"a".repeat(31)}`;
    expect(longest).toHaveLength(42);
    expect(artifactBucketName(longest, "123456789012").length).toBeLessThanOrEqual(63);
  });

  it("refuses what is not an account id", () => {
    expect(() => artifactBucketName("mlflow-kit-prod", "offline")).toThrow(/not a 12-digit AWS account id/);
  });
});
