import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { CONTRACT_VARIABLES } from "../../infra/runtime-contract";
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
});
