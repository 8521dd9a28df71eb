/**
 * The fork path end to end, as the workflow runs it: `pr-report section --kind offline` (the real
 * offline plan with the policy pack), `collect`, then the report the privileged workflow reads.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { parseReport, renderComment } from "../../stacks/lifecycle/pr-report";

const ROOT = path.resolve(__dirname, "../..");
const tsx = (args: string[]) => spawnSync(process.execPath, [require.resolve("tsx/cli"), path.join(ROOT, "stacks/pr-report.ts"), ...args], { cwd: ROOT, encoding: "utf8", timeout: 200_000 });

describe("pr-report CLI", () => {
  it("section (offline) + collect give a valid report for the fork's comment", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pr-report-"));
    const sections = path.join(dir, "sections");
    fs.mkdirSync(sections);
    const section = tsx(["section", "--stack", "dev", "--kind", "offline", "--out", path.join(sections, "report-dev.json")]);
    expect(section.status, section.stderr).toBe(0);
    fs.writeFileSync(path.join(dir, "affected.json"), JSON.stringify({ stacks: ["dev"], reasons: { dev: ["infra/settings.ts"] } }));
    const sha = "0123456789abcdef0123456789abcdef01234567";
    const collect = tsx(["collect", "--dir", sections, "--pr", "5", "--head-sha", sha, "--affected", path.join(dir, "affected.json"), "--out", path.join(dir, "pr-report.json")]);
    expect(collect.status, collect.stderr).toBe(0);
    const report = parseReport(fs.readFileSync(path.join(dir, "pr-report.json"), "utf8"));
    expect(report).toMatchObject({ pr: 5, headSha: sha, affected: { dev: ["infra/settings.ts"] } });
    expect(report.sections).toHaveLength(1);
    expect(report.sections[0]).toMatchObject({ stack: "dev", kind: "offline", ok: true });
    expect(report.sections[0].summary).toMatch(/^\d+ resources planned offline; 0 mandatory, \d+ other policy violations$/);
    expect(renderComment(report)).toContain("| dev | offline plan + policy pack (no credentials) | ✅");
    fs.rmSync(dir, { recursive: true, force: true });
  }, 240_000); // a whole offline plan in a child process: slow on a loaded machine

  it("post refuses to run without the run's identity, before reading anything", () => {
    const r = spawnSync(process.execPath, [require.resolve("tsx/cli"), path.join(ROOT, "stacks/pr-report.ts"), "post", "--report", "/nonexistent"], { cwd: ROOT, encoding: "utf8", env: { PATH: process.env.PATH }, timeout: 60_000 });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("post: GITHUB_TOKEN is not set");
  });
});
