/**
 * infra/monitoring/mlflow-dashboard.json against @grafana/schema's dashboard types: the JSON is
 * type-checked by the TypeScript compiler as an object literal of type `Dashboard`, so a field of
 * the wrong type, an unknown enum value, a missing required field or an unknown key where the type
 * lists its keys (excess property check) is an error.
 * What the queries name is checked against the real server's scrape in test/metrics/.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const root = path.resolve(__dirname, "..", "..");
const DASHBOARD = path.join(root, "infra", "monitoring", "mlflow-dashboard.json");

/** The compiler's errors for `const d: Dashboard = <json>` in a virtual file at the repo root. */
function schemaErrors(json: string): string[] {
  const file = path.join(root, "__dashboard_check__.ts");
  const source = `import type { Dashboard } from "@grafana/schema";\nexport const dashboard: Dashboard = ${json};\n`;
  const options: ts.CompilerOptions = {
    strict: true, noEmit: true, skipLibCheck: true, target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext, moduleResolution: ts.ModuleResolutionKind.Bundler,
  };
  const host = ts.createCompilerHost(options);
  const { getSourceFile, fileExists, readFile } = host;
  host.fileExists = (f) => f === file || fileExists(f);
  host.readFile = (f) => (f === file ? source : readFile(f));
  host.getSourceFile = (f, lang, ...rest) =>
    f === file ? ts.createSourceFile(f, source, lang) : getSourceFile(f, lang, ...rest);
  const program = ts.createProgram([file], options, host);
  return ts.getPreEmitDiagnostics(program, program.getSourceFile(file))
    .map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n"));
}

describe("the kit's Grafana dashboard", () => {
  const text = fs.readFileSync(DASHBOARD, "utf8");
  const dashboard = JSON.parse(text);

  it("type-checks as @grafana/schema's Dashboard", () => {
    expect(schemaErrors(text)).toEqual([]);
  }, 120_000);

  it("the check refuses a broken dashboard (wrong types, an unknown key)", () => {
    const broken = structuredClone(dashboard);
    broken.panels[0].gridPos.h = "eight";
    broken.refresh = 30;
    broken.templating.list[0].sorting = 1;
    const errors = schemaErrors(JSON.stringify(broken)).join("\n");
    expect(errors).toMatch(/'string' is not assignable to type 'number'/);
    expect(errors).toMatch(/'number' is not assignable to type 'string'/);
    expect(errors).toMatch(/'"sorting"' does not exist in type 'VariableModel'/);
  }, 120_000);

  it("has the panels issue 17 asks for, each with a Prometheus query", () => {
    const titles = dashboard.panels.map((p: { title: string }) => p.title);
    for (const want of ["Requests by endpoint and status", "Latency percentiles", "Worker memory (RSS)", "Database pool", "Artifact bytes"]) {
      expect(titles).toContain(want);
    }
    for (const panel of dashboard.panels) {
      expect(panel.targets.length, panel.title).toBeGreaterThan(0);
      for (const t of panel.targets) expect(t.expr, panel.title).toMatch(/mlflow_/);
    }
    expect(new Set(dashboard.panels.map((p: { id: number }) => p.id)).size).toBe(dashboard.panels.length);
  });
});
