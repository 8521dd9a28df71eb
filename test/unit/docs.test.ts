import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { CONTRACT_VARIABLES } from "../../infra/runtime-contract";
import { parse } from "yaml";
import { configReference, SECRET_KEYS } from "../../infra/settings";
import { README, withReference } from "../../stacks/config-reference";

const root = path.resolve(__dirname, "..", "..");
const read = (p: string) => fs.readFileSync(path.join(root, p), "utf8");

describe("docs stay in step with the code", () => {
  it("README's configuration reference is the one the schema generates (npm run docs:config)", () => {
    const readme = fs.readFileSync(README, "utf8");
    expect(readme).toBe(withReference(readme));
    expect(readme).toContain("| `mlflow-kit:database.backupRetentionDays (rds)` | integer | `7` |");
  });

  it("CI runs the README's test command", () => {
    const firstBlock = /```bash\n([\s\S]*?)```/.exec(read("README.md"))![1];
    const testLine = firstBlock.split("\n").find((l) => l.includes("npm test"))!;
    const command = testLine.split("#")[0].trim();
    expect(command).toBe("npm ci && npm test");
    const ci = read(".ci/run");
    for (const part of command.split("&&").map((p) => p.trim())) expect(ci).toContain(part);
  });

  it("images/mlflow/README.md documents exactly the contract's variables", () => {
    const rows = read("images/mlflow/README.md").split("\n").filter((l) => /^\|\s*`[A-Z0-9_]+`\s*\|/.test(l));
    const documented = rows.map((l) => /^\|\s*`([A-Z0-9_]+)`/.exec(l)![1]).sort();
    expect(documented).toEqual(CONTRACT_VARIABLES.map((v) => v.name).sort());
  });

  it("Pulumi.yaml declares only keys the schema knows, secrets as secret", () => {
    const declared = (parse(read("Pulumi.yaml")) as { config: Record<string, { secret?: boolean; default?: unknown }> }).config;
    const known = new Set(configReference().map((r) => r.key.split(" ")[0].replace(/^mlflow-kit:/, "").split(".")[0]));
    for (const [key, decl] of Object.entries(declared)) {
      expect(known.has(key), key).toBe(true);
      expect(Boolean(decl.secret), key).toBe(key in SECRET_KEYS);
    }
    // A declared key without a default is required in every stack: each shipped stack sets it.
    for (const stack of ["dev", "prod", "local"]) {
      const values = (parse(read(`Pulumi.${stack}.yaml`)) as { config: Record<string, unknown> }).config;
      for (const [key, decl] of Object.entries(declared)) {
        if (decl.default === undefined && !decl.secret) expect(values, `${stack}: ${key}`).toHaveProperty(`mlflow-kit:${key}`);
      }
    }
  });
});
