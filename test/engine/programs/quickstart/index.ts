/**
 * A stand-in for the local stack, for test/engine/quickstart.test.ts (npm start / npm stop): the
 * same outputs the commands read (trackingUri, adminUsername, adminPassword as a secret), data
 * volumes that are protected on a long-lived stack as the kit's are, and a server and passwords
 * that are not. Dynamic resources only: the engine here has no docker or random plugin.
 */
import * as pulumi from "@pulumi/pulumi";
import { Generated } from "../lifecycle/generated";

const cfg = new pulumi.Config("mlflow-kit");
const lifecycle = cfg.require("lifecycle");
const target = cfg.requireObject<{ port: number }>("target");
const server = cfg.getObject<{ adminUsername?: string }>("server") ?? {};
const tags = { "mlflow-kit:stack": pulumi.getStack(), "mlflow-kit:lifecycle": lifecycle };
const keepData: pulumi.CustomResourceOptions = lifecycle === "long-lived" ? { protect: true, retainOnDelete: true } : {};

const pgdata = new Generated("pgdata", { kind: "volume", keeper: 0, tags }, keepData);
const minioData = new Generated("minio-data", { kind: "volume", keeper: 0, tags }, keepData);
const password = new Generated("admin-password", { kind: "password", keeper: 0, tags });
const container = new Generated("server", { kind: "container", keeper: 0, tags });

export const trackingUri = container.id.apply(() => `http://127.0.0.1:${target.port}`);
export const adminUsername = server.adminUsername ?? "admin";
export const adminPassword = password.value;
export const pgdataId = pgdata.id;
export const minioDataId = minioData.id;
