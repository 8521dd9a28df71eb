/**
 * A stand-in for the kit's program with only dynamic resources (the engine here has no aws,
 * docker or random plugins), for running `npm run rotate`, `review` and `teardown` end to end:
 * it reads the kit's config keys as the kit does (lifecycle, expiresAt/ttlHours, the rotation
 * counters, the S3 key slots, target), tags every resource as the kit does
 * (mlflow-kit:lifecycle, mlflow-kit:expires-at), protects the data of a long-lived stack, and
 * exports the outputs the lifecycle commands read (lifecycle, expiresAt, neonProjectId) and the
 * credentials they rotate (secrets).
 */
import * as pulumi from "@pulumi/pulumi";
import { configTime } from "../../../../infra/config-time";
import { expiryFrom } from "../../../../infra/settings";
import { Generated } from "./generated";

const cfg = new pulumi.Config("mlflow-kit");
const lifecycle = cfg.require("lifecycle");
if (lifecycle !== "ephemeral" && lifecycle !== "long-lived") throw new Error(`mlflow-kit:lifecycle: "${lifecycle}" is not ephemeral or long-lived`);
const ttlHours = cfg.getNumber("ttlHours");
// As settings do: a lease of ttlHours from this update, or a pinned expiresAt.
// An unquoted time in the file arrives in Go's form: settings take it back to RFC 3339, so here too.
const pinned = cfg.get("expiresAt");
const expiresAt = ttlHours !== undefined ? expiryFrom(new Date(), ttlHours) : pinned === undefined ? undefined : configTime(pinned);
const rotation = cfg.getObject<Record<string, number>>("rotation") ?? {};
const artifacts = cfg.getObject<{ activeKey?: "blue" | "green"; keyRotations?: { blue?: number; green?: number } }>("artifacts") ?? {};
const target = cfg.getObject<{ kind?: string }>("target") ?? {};
const database = cfg.getObject<{ kind?: string; projectId?: string; branch?: string }>("database") ?? {};

const tags: Record<string, string> = { "mlflow-kit:stack": pulumi.getStack(), "mlflow-kit:lifecycle": lifecycle, ...(expiresAt ? { "mlflow-kit:expires-at": expiresAt } : {}) };

// The data: protected on a long-lived stack (the kit protects its database and bucket there).
const bucket = new Generated("artifact-bucket", { kind: "bucket", keeper: 0, tags }, { protect: lifecycle === "long-lived" });
const neonProject = database.kind === "neon" && !database.projectId ? new Generated("neon-project", { kind: "neon-project", keeper: 0, tags }) : undefined;

const slot = (s: "blue" | "green") => new Generated(`s3-key-${s}`, { kind: `s3-key-${s}`, keeper: artifacts.keyRotations?.[s] ?? 0, tags });
const keys = { blue: slot("blue"), green: slot("green") };
const active = artifacts.activeKey ?? "blue";
const counter = (k: string) => new Generated(k, { kind: k, keeper: rotation[k] ?? 0, tags });
const dbPassword = counter("databasePassword");
const adminPassword = counter("adminPassword");
const flaskSecretKey = counter("flaskSecretKey");
const ecs = target.kind === "ecs";
const autheliaSecrets = ecs ? counter("autheliaSecrets") : undefined;
const apiUserPassword = ecs ? counter("apiUserPassword") : undefined;

export const stack = pulumi.getStack();
export { lifecycle, expiresAt };
export const neonProjectId = database.projectId ?? neonProject?.id;
export const databaseBranch = database.branch;
export const bucketId = bucket.id;
export const activeKey = active;
export const s3AccessKey = keys[active].value;
export const s3Keys = { blue: keys.blue.value, green: keys.green.value };
export const databasePassword = dbPassword.value;
export const adminPasswordValue = adminPassword.value;
export const flaskSecret = flaskSecretKey.value;
export const autheliaSecret = autheliaSecrets?.value;
export const apiPassword = apiUserPassword?.value;
