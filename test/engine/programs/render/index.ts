/**
 * A stand-in program for test/engine/render.test.ts: the kit's Render resources (a registry
 * credential for GHCR and the web service deployed by digest, its env holding secrets) against
 * the Render fake at `engine:apiUrl`. The API key is the stack's secret mlflow-kit:renderApiKey.
 *   engine:digest      the image digest's repeated hex digit (a change is an update: a deploy)
 *   engine:region      the service's region (a change is a replace: Render cannot move a service)
 *   engine:adoptName   when set, a service of this name that exists at Render is declared: its
 *                      create adopts it (the engine cannot `import` a dynamic resource: its
 *                      import Read carries no inputs, so no serialized provider)
 */
import * as pulumi from "@pulumi/pulumi";
import { RegistryCredential } from "../../../../infra/providers/render/registry-credential";
import { Service } from "../../../../infra/providers/render/service";

const cfg = new pulumi.Config("engine");
const apiUrl = cfg.require("apiUrl");
const digit = cfg.get("digest") ?? "1";
const region = (cfg.get("region") ?? "ohio") as "ohio";
const name = "mlflow-kit-engine";

const credential = new RegistryCredential("ghcr", { apiUrl, name: "mlflow-kit-engine-ghcr", registry: "GITHUB", username: "example-bot", authToken: cfg.requireSecret("ghcrToken") });
const service = new Service("service", {
  apiUrl,
  name,
  region,
  plan: "starter",
  imagePath: `ghcr.io/example-org/mlflow-kit-server@sha256:${digit.repeat(64)}`,
  registryCredentialId: credential.id,
  healthCheckPath: "/health",
  numInstances: 1,
  envVars: [
    { key: "MLFLOW_BACKEND_STORE_URI", value: cfg.requireSecret("databaseUri") },
    { key: "MLFLOW_ADMIN_PASSWORD", value: cfg.requireSecret("adminPassword") },
    { key: "MLFLOW_PUBLIC_HOSTNAME", value: `${name}.onrender.com` },
    { key: "MLFLOW_WORKERS", value: "1" },
  ],
  hostnameEnvKey: "MLFLOW_PUBLIC_HOSTNAME",
  deployTimeoutSeconds: 60,
});

const adoptName = cfg.get("adoptName");
const adopted = adoptName
  ? new Service("adopted", {
    apiUrl,
    name: adoptName,
    region: "oregon",
    plan: "starter",
    imagePath: `docker.io/library/nginx@sha256:${"a".repeat(64)}`,
    healthCheckPath: "/",
    numInstances: 1,
    envVars: [{ key: "GREETING", value: "hello" }],
    deployTimeoutSeconds: 60,
  })
  : undefined;

export const serviceId = service.id;
export const url = service.url;
export const deployId = service.deployId;
export const credentialId = credential.id;
export const envVars = service.envVars;
export const adoptedId = adopted?.id;
