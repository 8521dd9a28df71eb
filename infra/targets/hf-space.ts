import * as pulumi from "@pulumi/pulumi";
import { hfSpaceFiles } from "../image/hf-space-files";
import { Space } from "../providers/hf/space";
import { SpaceRelease } from "../providers/hf/space-release";
import { CONTRACT_VARIABLES, type RuntimeEnvironment } from "../runtime-contract";
import type { Lifecycle } from "../settings";
import type { DeployedTarget } from "./types";

export interface HfSpaceTargetArgs {
  owner: string;
  spaceName: string;
  visibility: "private" | "public";
  hardware: string;
  sleepTimeSeconds?: number;
  lifecycle: Lifecycle;
  /** The runtime contract's env; the variables it marks secret become Space secrets. */
  environment: RuntimeEnvironment;
  /** repository@sha256:..., the Space's Dockerfile is FROM it. */
  imageRef: pulumi.Input<string>;
  /** ghcr.io/<owner>/<name>, for the warning about package visibility. */
  repository: string;
  /** <owner>-<space>.hf.space as targets/profile.ts computes it: the plan-time guess; the Space's host as the Hub reports it replaces it. */
  publicHostname: string;
  /** Port MLflow listens on and README app_port names (7860). */
  appPort: number;
  title: string;
}

/**
 * MLflow on a Hugging Face Docker Space: the Space, its repository files (a Dockerfile FROM the
 * image digest, README front matter with app_port), the runtime contract as Space secrets and
 * variables, and a wait until it runs. The Space has no persistent disk: metadata lives in
 * Postgres and artifacts in S3, both outside it.
 */
export class HfSpaceTarget extends pulumi.ComponentResource implements DeployedTarget {
  readonly url: pulumi.Output<string>;
  readonly space: Space;
  readonly release: SpaceRelease;

  constructor(name: string, args: HfSpaceTargetArgs, opts?: pulumi.ComponentResourceOptions) {
    super("mlflow-kit:targets:HfSpaceTarget", name, {}, opts);

    // Said at plan time: the Space builder pulls anonymously, and a GHCR package starts private.
    pulumi.log.warn(`Hugging Face builds the Space from ${args.repository} by digest and can pull it only while that GHCR package is public. Make it public once (GitHub -> Packages -> ${args.repository.split("/").pop()} -> Package settings -> Change visibility); its layers hold no secret, credentials reach the Space as Space secrets.`, this);

    const longLived = args.lifecycle === "long-lived";
    this.space = new Space(`${name}-space`, {
      owner: args.owner,
      name: args.spaceName,
      visibility: args.visibility,
      hardware: args.hardware,
      sleepTimeSeconds: args.sleepTimeSeconds,
    }, { parent: this, protect: longLived });

    const secretNames = new Set(CONTRACT_VARIABLES.filter((v) => v.secret).map((v) => v.name));
    const pick = (secret: boolean) => Object.fromEntries(Object.entries(args.environment).filter(([k]) => secretNames.has(k) === secret));
    const files = pulumi.output(args.imageRef).apply((imageRef) => hfSpaceFiles({ imageRef, title: args.title, appPort: args.appPort }));

    this.release = new SpaceRelease(`${name}-release`, {
      repoId: this.space.repoId,
      files,
      secrets: pulumi.secret(pick(true)),
      // The host the Hub reports for the Space (its subdomain), not the one computed at plan time:
      // MLflow refuses requests for any other Host.
      variables: { ...pick(false), MLFLOW_PUBLIC_HOSTNAME: this.space.host },
    }, { parent: this });

    // Known once the Space runs the release.
    this.url = pulumi.all([this.release.stage, this.space.host]).apply(([, host]) => `https://${host}`);
    this.registerOutputs({ url: this.url });
  }
}
