import { execFileSync } from "node:child_process";

/** The platforms the kit builds for (settings: image.platform). */
export type Platform = "linux/amd64" | "linux/arm64";
export const DEFAULT_PLATFORM: Platform = "linux/amd64";

/** Docker's and the kernel's names for the two architectures. */
const ARCH: Record<string, Platform> = { amd64: "linux/amd64", x86_64: "linux/amd64", arm64: "linux/arm64", aarch64: "linux/arm64" };

/** "linux/arm64", "linux/aarch64", "arm64/v8"... as one of the kit's platforms; undefined when neither. */
export function asPlatform(text: string | undefined): Platform | undefined {
  const t = (text ?? "").trim().toLowerCase();
  const parts = t.split("/");
  const [os, arch] = parts.length >= 2 && parts[0] === "linux" ? [parts[0], parts[1]] : ["linux", parts[0]];
  return os === "linux" ? ARCH[arch] : undefined;
}

/**
 * The Docker engine's own platform (`docker version`: Server.Os/Server.Arch), the one a local
 * build runs on without emulation; undefined when there is no engine to ask (an offline plan on
 * a machine without Docker). Bounded: 5 s.
 */
export function dockerServerPlatform(): Platform | undefined {
  try {
    const out = execFileSync("docker", ["version", "--format", "{{.Server.Os}}/{{.Server.Arch}}"], { timeout: 5000, stdio: ["ignore", "pipe", "ignore"], encoding: "utf8" });
    return asPlatform(out);
  } catch {
    return undefined;
  }
}

/**
 * The platform of the local build (target.kind local), said explicitly so that the build is the
 * same wherever it runs (the docker provider warns when none is set): image.platform when set,
 * else Docker's own DOCKER_DEFAULT_PLATFORM, else the engine's platform, else linux/amd64.
 */
export function localBuildPlatform(setting: Platform | undefined, env: NodeJS.ProcessEnv = process.env, probe: () => Platform | undefined = dockerServerPlatform): Platform {
  return setting ?? asPlatform(env.DOCKER_DEFAULT_PLATFORM) ?? probe() ?? DEFAULT_PLATFORM;
}
