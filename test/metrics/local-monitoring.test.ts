/**
 * Prometheus and Grafana beside the local server (infra/targets/local-monitoring.ts), evaluated
 * under mocks as the offline plan does: off by default; when on, pinned by digest, published on
 * 127.0.0.1 only, Prometheus on the server's network scraping it with the admin's credentials
 * as a secret file, Grafana provisioned with the datasource and the kit's dashboard, and no
 * secret in plain text anywhere. Bad settings are refused before anything is registered.
 */
import * as fs from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { DIGEST_PINNED } from "../../infra/docker/pinned-images";
import { DASHBOARD_FILE, grafanaProvisioning, LocalMonitoring, prometheusConfig } from "../../infra/targets/local-monitoring";
import { parseSettings, SettingsError } from "../../infra/settings";
import { hasMandatory, plan } from "../../stacks/plan";
import { readStackConfig } from "../../stacks/stack-config";

const CONTAINER = "docker:index/container:Container";
const ON = { "mlflow-kit:monitoring": JSON.stringify({ enabled: true }) };
type Plan = Awaited<ReturnType<typeof plan>>;
let off: Plan;
let on: Plan;
let revealed: Plan;

const container = (p: Plan, name: string) => p.resources.find((r) => r.type === CONTAINER && r.inputs.name === name);

beforeAll(async () => {
  off = await plan("local", { strict: true });
  on = await plan("local", { strict: true, overrides: ON });
  revealed = await plan("local", { strict: true, overrides: ON, revealSecrets: true });
});

describe("local monitoring", () => {
  it("is off by default: no Prometheus, no Grafana, no MLFLOW_METRICS", () => {
    expect(container(off, "mlflow-kit-local-prometheus")).toBeUndefined();
    expect(container(off, "mlflow-kit-local-grafana")).toBeUndefined();
    expect(off.resources.some((r) => r.type === "docker:index/network:Network" && r.inputs.name === "mlflow-kit-local-monitoring")).toBe(false);
  });

  it("on: the server serves /metrics", async () => {
    const envs = container(revealed, "mlflow-kit-local-server")!.inputs.envs as string[];
    expect(envs).toContain("MLFLOW_METRICS=on");
    const offEnvs = (await plan("local", { strict: true, revealSecrets: true })).resources
      .find((r) => r.type === CONTAINER && r.inputs.name === "mlflow-kit-local-server")!.inputs.envs as string[];
    expect(offEnvs.some((e) => e.startsWith("MLFLOW_METRICS="))).toBe(false);
  });

  it("on: both pinned by digest and published on 127.0.0.1 only", () => {
    for (const name of ["mlflow-kit-local-prometheus", "mlflow-kit-local-grafana"]) {
      const c = container(on, name)!;
      expect(c, name).toBeDefined();
      const ports = c.inputs.ports as Array<{ ip: string; external: number }>;
      expect(ports.length).toBe(1);
      expect(ports[0].ip).toBe("127.0.0.1");
      expect(c.inputs.securityOpts).toContain("no-new-privileges:true");
    }
    const images = on.resources.filter((r) => r.type === "docker:index/remoteImage:RemoteImage").map((r) => String(r.inputs.name));
    expect(images.some((i) => i.startsWith("prom/prometheus:"))).toBe(true);
    expect(images.some((i) => i.startsWith("grafana/grafana:"))).toBe(true);
    for (const i of images) expect(i).toMatch(DIGEST_PINNED);
    expect((container(on, "mlflow-kit-local-prometheus")!.inputs.ports as Array<{ external: number }>)[0].external).toBe(9090);
    expect((container(on, "mlflow-kit-local-grafana")!.inputs.ports as Array<{ external: number }>)[0].external).toBe(3000);
    expect(hasMandatory(on)).toBe(false);
  });

  it("on: Prometheus scrapes the server by name on its network, with the admin's password as a secret file", () => {
    const p = container(on, "mlflow-kit-local-prometheus")!;
    const networks = (p.inputs.networksAdvanced as Array<{ name: string }>).map((n) => n.name);
    expect(networks).toContain("mlflow-kit-local-private");
    const uploads = p.inputs.uploads as Array<{ file: string; content: string }>;
    const config = JSON.parse(uploads.find((u) => u.file === "/etc/prometheus/prometheus.yml")!.content);
    expect(config.scrape_configs[0].static_configs[0].targets).toEqual(["mlflow-kit-local-server:5000"]);
    expect(config.scrape_configs[0].basic_auth.password_file).toBe("/etc/prometheus/scrape-password");
    expect(uploads.find((u) => u.file === "/etc/prometheus/scrape-password")!.content).toBe("[secret]");
    // Revealed, the file holds the server's admin password, the same one the server runs with.
    const rp = container(revealed, "mlflow-kit-local-prometheus")!.inputs.uploads as Array<{ file: string; content: string }>;
    const password = rp.find((u) => u.file === "/etc/prometheus/scrape-password")!.content;
    const serverEnvs = container(revealed, "mlflow-kit-local-server")!.inputs.envs as string[];
    expect(serverEnvs).toContain(`MLFLOW_ADMIN_PASSWORD=${password}`);
    expect(JSON.stringify(p.inputs.command)).not.toContain(password);
  });

  it("on: Grafana is provisioned with the datasource and the kit's dashboard; its password is a secret", () => {
    const g = container(on, "mlflow-kit-local-grafana")!;
    expect(g.inputs.envs).toBe("[secret]");
    const uploads = g.inputs.uploads as Array<{ file: string; content: string }>;
    expect(uploads.find((u) => u.file.endsWith("mlflow-dashboard.json"))!.content).toBe(fs.readFileSync(DASHBOARD_FILE, "utf8"));
    const ds = JSON.parse(uploads.find((u) => u.file.includes("datasources"))!.content);
    expect(ds.datasources[0]).toMatchObject({ type: "prometheus", url: "http://prometheus:9090" });
    const envs = container(revealed, "mlflow-kit-local-grafana")!.inputs.envs as string[];
    const pw = envs.find((e) => e.startsWith("GF_SECURITY_ADMIN_PASSWORD="))!.split("=")[1];
    expect(pw.length).toBeGreaterThanOrEqual(32);
    expect(envs).toContain("GF_AUTH_ANONYMOUS_ENABLED=false");
    expect(JSON.stringify(on.resources.map((r) => r.inputs))).not.toContain(pw);
    expect(Object.keys(grafanaProvisioning()).length).toBe(3);
  });

  it("the scrape config names no credentials when there is no auth", () => {
    const c = JSON.parse(prometheusConfig({ serverHost: "s", serverPort: 5000, auth: false }));
    expect(c.scrape_configs[0].basic_auth).toBeUndefined();
  });

  it("refuses bad settings before anything exists, naming the setting", () => {
    const problems = (stack: string, monitoring: object): string[] => {
      const cfg = readStackConfig(stack, {});
      try {
        parseSettings({ project: "mlflow-kit", stack, values: { ...cfg.config, "mlflow-kit:monitoring": JSON.stringify(monitoring) }, secretKeys: new Set(cfg.secretKeys) });
      } catch (err) {
        expect(err).toBeInstanceOf(SettingsError);
        return (err as SettingsError).problems;
      }
      throw new Error("expected a SettingsError");
    };
    expect(problems("local", { enabled: true, grafanaPort: 5000 }).join("\n")).toMatch(/monitoring: prometheusPort and grafanaPort must differ from target.port/);
    expect(problems("local", { enabled: true, prometheusImage: "prom/prometheus:latest" }).join("\n")).toMatch(/monitoring.prometheusImage.*pinned by digest/);
    expect(problems("local", { grafanaPort: 9090 }).join("\n")).toMatch(/monitoring.grafanaPort: 9090 is also monitoring.prometheusPort/);
    // ECS is no longer refused (the edge refuses /metrics: test/edge); its own option is ECS-only.
    expect(problems("local", { enabled: true, managedPrometheus: true }).join("\n")).toMatch(/monitoring.managedPrometheus: .*needs target.kind ecs and monitoring.enabled true \(this stack: target.kind local/);
    expect(() => new LocalMonitoring("x", {
      namePrefix: "p", serverNetworkName: "n", serverHost: "s", serverPort: 5000, prometheusImage: "prom/prometheus:v3", grafanaImage: "g@sha256:" + "0".repeat(64),
      prometheusPort: 80, grafanaPort: 3000, tags: {},
    })).toThrow(/monitoring.prometheusPort: must be 1024-65535.*monitoring.prometheusImage/);
  });
});
