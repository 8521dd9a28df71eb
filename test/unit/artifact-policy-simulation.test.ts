/**
 * Feeds the policies the ArtifactStore DEPLOYS (read back from the recorded resource inputs) to
 * an IAM policy simulator, and checks them against the S3 calls MLflow's proxied artifact
 * serving makes through boto3 (mlflow/store/artifact/s3_artifact_repo.py):
 *   log_artifact(s)        upload_file -> PutObject, or Create/UploadPart/CompleteMultipartUpload
 *                          (all authorised as s3:PutObject), AbortMultipartUpload on failure
 *   proxied multipart      create/complete/abort_multipart_upload + presigned upload_part
 *   list_artifacts         list_objects_v2(Prefix="<prefix>/<path>/", Delimiter="/")
 *   download_artifacts     download_file -> HeadObject + GetObject (s3:GetObject)
 *   delete_artifacts       list_objects_v2(Prefix="<prefix>/<path>") + DeleteObjects (s3:DeleteObject)
 */
import { beforeAll, describe, expect, it } from "vitest";
import { runSimulation, type EvaluationResult } from "@cloud-copilot/iam-simulate";
import { evaluateStack } from "../../stacks/offline";
import { ArtifactStore, type PolicyDocument } from "../../infra/artifacts/s3";

const ACCOUNT = "123456789012"; // the offline mocks' account
const BUCKET = "mlflow-kit-sim-artifacts";
const BUCKET_ARN = `arn:aws:s3:::${BUCKET}`;
const OTHER_BUCKET_ARN = "arn:aws:s3:::someone-elses-bucket";
const RUN = "mlflow/1/0123456789abcdef/artifacts";

const TLS = { "aws:SecureTransport": "true", "s3:TlsVersion": "1.3" };
const PLAIN_HTTP = { "aws:SecureTransport": "false" };
const OLD_TLS = { "aws:SecureTransport": "true", "s3:TlsVersion": "1.1" };

let identityPolicy: PolicyDocument;
let bucketPolicy: PolicyDocument;
let userArn: string;

beforeAll(async () => {
  let store: ArtifactStore | undefined;
  const ev = await evaluateStack({
    project: "mlflow-kit",
    stack: "sim",
    config: {},
    secretKeys: [],
    program: () => {
      store = new ArtifactStore("artifacts", {
        bucketName: BUCKET,
        prefix: "mlflow",
        lifecycle: "ephemeral",
        noncurrentVersionExpirationDays: 7,
        accessKeys: { active: "blue", rotations: { blue: 1, green: 1 } },
        userName: "mlflow-kit-sim-artifacts",
        tags: {},
      });
      return {};
    },
  });
  const input = (type: string) => {
    const found = ev.resources.filter((r) => r.type === type);
    expect(found).toHaveLength(1);
    return JSON.parse(found[0].inputs.policy as string) as PolicyDocument;
  };
  identityPolicy = input("aws:iam/userPolicy:UserPolicy");
  bucketPolicy = input("aws:s3/bucketPolicy:BucketPolicy");
  userArn = await new Promise<string>((r) => store!.userArn!.apply((v) => { r(v); return v; }));
  expect(userArn).toBe(`arn:aws:iam::${ACCOUNT}:user/mlflow-kit/mlflow-kit-sim-artifacts`);
});

interface Request {
  action: string;
  resource: string;
  context: Record<string, string>;
  principal?: string;
  identity?: PolicyDocument[];
  /** null: the request goes to a bucket whose policy is not ours. */
  resourcePolicy?: PolicyDocument | null;
}

interface Outcome {
  result: EvaluationResult;
  /** Sids of the statements that decided: allows from the identity policy, denies from either. */
  allowedBy: string[];
  deniedBy: string[];
}

async function simulate(req: Request): Promise<Outcome> {
  const identity = req.identity ?? [identityPolicy];
  const response = await runSimulation(
    {
      request: {
        principal: req.principal ?? userArn,
        action: req.action,
        resource: { resource: req.resource, accountId: ACCOUNT },
        contextVariables: req.context,
      },
      identityPolicies: identity.map((policy, i) => ({ name: `identity-${i}`, policy })),
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      ...(req.resourcePolicy === null ? {} : { resourcePolicy: req.resourcePolicy ?? bucketPolicy }),
    },
    {},
  );
  // A validation error (bad action, bad ARN, malformed policy) must fail the test, not pass as a deny.
  if (response.resultType !== "single") throw new Error(`simulation did not run: ${JSON.stringify(response)}`);
  // The simulator silently drops context keys that the action does not define: a dropped
  // s3:prefix or s3:TlsVersion would make a condition test meaningless.
  expect(response.result.ignoredContextKeys ?? [], `${req.action} ignored context keys`).toEqual([]);
  const a = response.result.analysis;
  const sids = (statements: Array<{ statement: { sid(): string | undefined } }> | undefined) =>
    (statements ?? []).map((s) => s.statement.sid() ?? "?");
  return {
    result: response.overallResult,
    allowedBy: sids(a.identityAnalysis?.allowStatements),
    deniedBy: [...sids(a.identityAnalysis?.denyStatements), ...sids(a.resourceAnalysis?.denyStatements)],
  };
}

/** The calls MLflow makes while proxying artifacts, on keys and prefixes under `mlflow/`. */
const MLFLOW_CALLS: Array<{ call: string; action: string; resource: string; context?: Record<string, string>; sid: string }> = [
  { call: "upload (PutObject / multipart create, part, complete)", action: "s3:PutObject", resource: `${BUCKET_ARN}/${RUN}/model/model.pkl`, sid: "ReadWriteArtifactObjects" },
  { call: "download (HeadObject, GetObject)", action: "s3:GetObject", resource: `${BUCKET_ARN}/${RUN}/metrics.json`, sid: "ReadWriteArtifactObjects" },
  { call: "delete_artifacts (DeleteObjects)", action: "s3:DeleteObject", resource: `${BUCKET_ARN}/${RUN}/model/model.pkl`, sid: "ReadWriteArtifactObjects" },
  { call: "abort a failed multipart upload", action: "s3:AbortMultipartUpload", resource: `${BUCKET_ARN}/${RUN}/big.bin`, sid: "ReadWriteArtifactObjects" },
  { call: "list the artifact root", action: "s3:ListBucket", resource: BUCKET_ARN, context: { "s3:prefix": "mlflow/", "s3:delimiter": "/" }, sid: "ListArtifactPrefix" },
  { call: "list a run directory", action: "s3:ListBucket", resource: BUCKET_ARN, context: { "s3:prefix": `${RUN}/model/`, "s3:delimiter": "/" }, sid: "ListArtifactPrefix" },
  { call: "list the keys to delete (no trailing slash)", action: "s3:ListBucket", resource: BUCKET_ARN, context: { "s3:prefix": RUN }, sid: "ListArtifactPrefix" },
];

describe("allowed: what MLflow's proxied artifacts do, under the prefix, over TLS", () => {
  it.each(MLFLOW_CALLS)("$call ($action)", async ({ action, resource, context, sid }) => {
    const out = await simulate({ action, resource, context: { ...TLS, ...context } });
    expect(out.result).toBe("Allowed");
    expect(out.allowedBy).toEqual([sid]);
  });

  it.each(MLFLOW_CALLS)("TLS 1.2 is enough: $call", async ({ action, resource, context }) => {
    const out = await simulate({ action, resource, context: { "aws:SecureTransport": "true", "s3:TlsVersion": "1.2", ...context } });
    expect(out.result).toBe("Allowed");
  });

  it.each(MLFLOW_CALLS)("control: without the generated identity policy it is refused: $call", async ({ action, resource, context }) => {
    // Shows that the allows above come from the deployed policy, not from the simulator's defaults.
    const out = await simulate({ action, resource, context: { ...TLS, ...context }, identity: [] });
    expect(out.result).toBe("ImplicitlyDenied");
  });
});

describe("denied: object actions outside the prefix or the bucket", () => {
  const objectActions = ["s3:PutObject", "s3:GetObject", "s3:DeleteObject", "s3:AbortMultipartUpload"];
  const elsewhere = [
    { where: "another prefix", key: `${BUCKET_ARN}/other/1/abc/artifacts/model.pkl` },
    { where: "a sibling prefix that starts with the same letters", key: `${BUCKET_ARN}/mlflow-old/1/model.pkl` },
    { where: "the prefix itself as a key", key: `${BUCKET_ARN}/mlflow` },
    { where: "the bucket root", key: `${BUCKET_ARN}/model.pkl` },
  ];
  for (const action of objectActions) {
    it.each(elsewhere)(`${action} on $where`, async ({ key }) => {
      expect((await simulate({ action, resource: key, context: TLS })).result).toBe("ImplicitlyDenied");
    });
    it(`${action} on the same key in another bucket`, async () => {
      const out = await simulate({ action, resource: `${OTHER_BUCKET_ARN}/${RUN}/model.pkl`, context: TLS, resourcePolicy: null });
      expect(out.result).toBe("ImplicitlyDenied");
    });
  }

  it.each(["s3:DeleteObjectVersion", "s3:GetObjectVersion", "s3:PutObjectAcl", "s3:PutObjectRetention"])(
    "%s under the prefix (history and ACLs are not the server's business)",
    async (action) => {
      expect((await simulate({ action, resource: `${BUCKET_ARN}/${RUN}/model.pkl`, context: TLS })).result).toBe("ImplicitlyDenied");
    },
  );
});

describe("denied: listing outside the prefix", () => {
  it.each([
    { what: "another prefix", prefix: "other/" },
    { what: "a sibling prefix that starts with the same letters", prefix: "mlflow-old/" },
    { what: "the prefix without its slash (would match mlflow-old/)", prefix: "mlflow" },
    { what: "an empty prefix", prefix: "" },
  ])("ListBucket with $what", async ({ prefix }) => {
    expect((await simulate({ action: "s3:ListBucket", resource: BUCKET_ARN, context: { ...TLS, "s3:prefix": prefix } })).result).toBe("ImplicitlyDenied");
  });

  it("ListBucket with no prefix at all (the whole bucket)", async () => {
    expect((await simulate({ action: "s3:ListBucket", resource: BUCKET_ARN, context: TLS })).result).toBe("ImplicitlyDenied");
  });

  it("ListBucket on another bucket, even with the right prefix", async () => {
    const out = await simulate({ action: "s3:ListBucket", resource: OTHER_BUCKET_ARN, context: { ...TLS, "s3:prefix": "mlflow/" }, resourcePolicy: null });
    expect(out.result).toBe("ImplicitlyDenied");
  });
});

describe("denied: bucket-level changes", () => {
  it.each([
    "s3:PutBucketPolicy",
    "s3:DeleteBucketPolicy",
    "s3:DeleteBucket",
    "s3:PutBucketVersioning",
    "s3:PutLifecycleConfiguration",
    "s3:PutEncryptionConfiguration",
    "s3:PutBucketPublicAccessBlock",
    "s3:PutBucketOwnershipControls",
    "s3:ListBucketVersions",
    "s3:ListBucketMultipartUploads",
  ])("%s", async (action) => {
    expect((await simulate({ action, resource: BUCKET_ARN, context: TLS })).result).toBe("ImplicitlyDenied");
  });
});

describe("denied: anything without TLS 1.2+, even an otherwise-allowed call", () => {
  it.each(MLFLOW_CALLS)("plain HTTP: $call", async ({ action, resource, context }) => {
    const out = await simulate({ action, resource, context: { ...PLAIN_HTTP, ...context } });
    expect(out.result).toBe("ExplicitlyDenied");
    expect(out.deniedBy).toEqual(["DenyInsecureTransport"]);
  });

  it.each(MLFLOW_CALLS)("TLS 1.1: $call", async ({ action, resource, context }) => {
    const out = await simulate({ action, resource, context: { ...OLD_TLS, ...context } });
    expect(out.result).toBe("ExplicitlyDenied");
    expect(out.deniedBy).toEqual(["DenyTlsOlderThan12"]);
  });

  it("control: without the bucket policy the same plain-HTTP upload would be allowed", async () => {
    // Shows that the denies above come from the deployed bucket policy.
    const out = await simulate({ action: "s3:PutObject", resource: `${BUCKET_ARN}/${RUN}/model.pkl`, context: PLAIN_HTTP, resourcePolicy: null });
    expect(out.result).toBe("Allowed");
  });

  it("applies to every principal: an account administrator over plain HTTP is refused too", async () => {
    const admin: PolicyDocument = {
      Version: "2012-10-17",
      Statement: [{ Sid: "Admin", Effect: "Allow", Action: "*", Resource: "*" }],
    };
    const principal = `arn:aws:iam::${ACCOUNT}:role/administrator`;
    const overTls = await simulate({ action: "s3:PutBucketPolicy", resource: BUCKET_ARN, context: TLS, principal, identity: [admin] });
    expect(overTls.result).toBe("Allowed");
    const plain = await simulate({ action: "s3:PutBucketPolicy", resource: BUCKET_ARN, context: PLAIN_HTTP, principal, identity: [admin] });
    expect(plain.result).toBe("ExplicitlyDenied");
    expect(plain.deniedBy).toEqual(["DenyInsecureTransport"]);
  });
});
