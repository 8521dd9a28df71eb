import * as pulumi from "@pulumi/pulumi";
import { RegistryCredential } from "../providers/render/registry-credential";
import { Service, type RenderPlan } from "../providers/render/service";
import type { RuntimeEnvironment } from "../runtime-contract";
import type { DeployedTarget } from "./types";

export interface RenderTargetArgs {
  /** Render service name: <name>.onrender.com. */
  serviceName: string;
  /** Render workspace id; the only workspace the API key sees when unset. */
  ownerId?: string;
  region: "oregon" | "ohio" | "virginia" | "frankfurt" | "singapore";
  plan: RenderPlan;
  /** A custom domain: the public URL and MLFLOW_PUBLIC_HOSTNAME (settings gave the env that host). */
  domain?: string;
  /** repository@sha256:... (MlflowImage.imageRef). */
  imageRef: pulumi.Input<string>;
  /** GHCR user and token for Render to pull the image (a token that can push can pull). */
  registry: { username: string; token: pulumi.Input<string> };
  /** The runtime contract: every variable the contract marks secret is a Pulumi secret. */
  environment: RuntimeEnvironment;
  deployTimeoutMinutes: number;
  /** Render's API root (tests); https://api.render.com/v1 when unset. */
  apiUrl?: string;
}

/**
 * MLflow on a Render web service: a registry credential for GHCR and a service that runs the
 * image by digest with the contract's env as one set. One instance: the entrypoint migrates
 * before it serves (MLFLOW_MIGRATE auto), which must never race from two.
 */
export class RenderTarget extends pulumi.ComponentResource implements DeployedTarget {
  readonly url: pulumi.Output<string>;
  readonly credential: RegistryCredential;
  readonly service: Service;

  constructor(name: string, args: RenderTargetArgs, opts?: pulumi.ComponentResourceOptions) {
    super("mlflow-kit:target:RenderTarget", name, {}, opts);

    if (args.plan === "free") {
      pulumi.log.warn(`Render's API does not create free-plan services: create a free web service named ${args.serviceName} (region ${args.region}, from any public image) once in the Render dashboard; pulumi up adopts it and deploys the image. Or set mlflow-kit:target.plan starter.`, this);
    }

    this.credential = new RegistryCredential(`${name}-ghcr`, {
      apiUrl: args.apiUrl,
      name: `${args.serviceName}-ghcr`,
      registry: "GITHUB",
      username: args.registry.username,
      authToken: args.registry.token,
      ownerId: args.ownerId,
    }, { parent: this });

    const env = args.environment;
    this.service = new Service(`${name}-service`, {
      apiUrl: args.apiUrl,
      name: args.serviceName,
      // The workspace the credential resolved: both live in the same one.
      ownerId: this.credential.ownerId,
      region: args.region,
      plan: args.plan,
      imagePath: args.imageRef,
      registryCredentialId: this.credential.id,
      healthCheckPath: "/health",
      numInstances: 1,
      // Sorted: the same contract gives the same set, so an unchanged env never redeploys.
      envVars: Object.keys(env).sort().map((key) => ({ key, value: env[key] })),
      // Without a custom domain the host is the one Render gives (<name>[-suffix].onrender.com).
      hostnameEnvKey: args.domain ? undefined : "MLFLOW_PUBLIC_HOSTNAME",
      customDomain: args.domain,
      deployTimeoutSeconds: args.deployTimeoutMinutes * 60,
      // A free service was made by a person in the dashboard (the API cannot create one) and only
      // adopted here: destroying the stack, or the teardown, forgets it and never deletes it.
    }, { parent: this, retainOnDelete: args.plan === "free" });

    this.url = this.service.url;
    this.registerOutputs({ url: this.url, serviceId: this.service.id, dashboardUrl: this.service.dashboardUrl });
  }
}
