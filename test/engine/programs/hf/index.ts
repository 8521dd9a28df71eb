/**
 * A stand-in program for test/engine/hf.test.ts: the kit's Hugging Face resources (the Space and
 * its release: files, secrets, variables) against the Hub fake at `engine:apiUrl`. The token is
 * the stack's secret mlflow-kit:hfToken (read in configure()); the release's secrets come from
 * secret config, as the kit's do.
 *   engine:spaceName     the Space's name (a change is a replace of both resources)
 *   engine:adminPassword secret; a change updates the release in place (the Space restarts)
 *   engine:adoptName     when set, a Space of this name that exists at the Hub is declared: its
 *                        create adopts it (the engine cannot `import` a dynamic resource: its
 *                        import Read carries no inputs, so no serialized provider)
 */
import * as pulumi from "@pulumi/pulumi";
import { hfSpaceFiles } from "../../../../infra/image/hf-space-files";
import { Space } from "../../../../infra/providers/hf/space";
import { SpaceRelease } from "../../../../infra/providers/hf/space-release";

const cfg = new pulumi.Config("engine");
const apiUrl = cfg.require("apiUrl");
const name = cfg.get("spaceName") ?? "mlflow-engine";
const adminPassword = cfg.requireSecret("adminPassword");

const space = new Space("space", { apiUrl, owner: "alice", name, visibility: "private", hardware: "cpu-basic" });
const release = new SpaceRelease("release", {
  apiUrl,
  repoId: space.repoId,
  files: hfSpaceFiles({ imageRef: `ghcr.io/acme/mlflow-kit-server@sha256:${"1".repeat(64)}`, title: "mlflow-kit engine test", appPort: 7860 }),
  secrets: { MLFLOW_ADMIN_PASSWORD: adminPassword },
  variables: { PORT: "7860", MLFLOW_WORKERS: "1" },
  waitTimeoutSeconds: 120,
});

const adoptName = cfg.get("adoptName");
const adopted = adoptName ? new Space("adopted", { apiUrl, owner: "alice", name: adoptName, visibility: "private", hardware: "cpu-basic" }) : undefined;

export const repoId = space.repoId;
export const pageUrl = space.pageUrl;
export const stage = release.stage;
export const adoptedRepoId = adopted?.repoId;
