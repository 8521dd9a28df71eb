import { test } from "vitest";
import * as pulumi from "@pulumi/pulumi";
import { evaluateStack } from "../../stacks/offline";
import { ArtifactStore } from "../../infra/artifacts/s3";
const reveal = <T,>(o: pulumi.Output<T>) => new Promise<T>((r) => pulumi.unsecret(o).apply((v) => { r(v); return v; }));
async function ev(active: "blue" | "green") {
  let s!: ArtifactStore;
  const e = await evaluateStack({
    project: "mlflow-kit", stack: "review-1", config: {}, secretKeys: [],
    program: () => {
      s = new ArtifactStore("artifacts", { bucketName: "mlflow-kit-review-1-artifacts", prefix: "mlflow", lifecycle: "ephemeral", noncurrentVersionExpirationDays: 30, accessKeys: { active, rotations: { blue: 1, green: 2 } }, userName: "mlflow-kit-review-1-artifacts", tags: { a: "b" } });
      return {};
    },
  });
  return { e, s };
}
test("explore", async () => {
  const a = await ev("blue");
  const b = await ev("green");
  console.log(a.e.resources.length, b.e.resources.length, await reveal(a.s.accessKeyId), await reveal(b.s.accessKeyId), await reveal(a.s.secretAccessKey), await pulumi.isSecret(a.s.secretAccessKey));
  const k = b.e.resources.find(r => r.name === "artifacts-key-green")!.resource as any;
  console.log(await reveal(k.id), await reveal(k.secret), await pulumi.isSecret(k.secret));
});
