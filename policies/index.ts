/**
 * mlflow-kit's CrossGuard policy pack: `pulumi preview --policy-pack policies`.
 * Constructing the PolicyPack starts its gRPC Analyzer server (one per process), so the
 * rules live in policies.ts and this file only serves them.
 */
import { PolicyPack } from "@pulumi/policy";
import { PACK_NAME, policies } from "./policies";

new PolicyPack(PACK_NAME, { policies });
