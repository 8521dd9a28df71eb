/**
 * `npm run pr-report -- section --stack S --kind preview|offline --out F`: runs the stack's check
 *   (`pulumi preview --policy-pack policies`, or the offline plan with the policy pack for a
 *   fork), writes its report section, and exits with the check's exit code.
 * `npm run pr-report -- collect --dir D --pr N --head-sha SHA --affected F --out F`: merges the
 *   sections into one report.
 * `npm run pr-report -- post --report F`: in the privileged workflow (never the pull request's
 *   code): validates the report and creates or updates the one comment. Needs GITHUB_TOKEN,
 *   GITHUB_REPOSITORY, RUN_HEAD_SHA, RUN_HEAD_REPO; RUN_URL optional.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { offlineSection, parseReport, parseSection, previewSection, restClient, upsertReportComment, type PrReport } from "./lifecycle/pr-report";
import { offlinePlanArgs } from "./plan-command";
import { REPO_ROOT } from "./stack-config";

function runSection(stack: string, kind: string): { section: ReturnType<typeof offlineSection>; code: number } {
  if (!/^[A-Za-z0-9_.-]+$/.test(stack)) throw new Error(`--stack: "${stack}" is not a stack name`);
  if (kind === "offline") {
    const r = spawnSync(process.execPath, offlinePlanArgs(stack, ["--json"]), { cwd: REPO_ROOT, encoding: "utf8", maxBuffer: 64 << 20, timeout: 300_000 });
    const code = r.status ?? 1;
    return { section: offlineSection(stack, r.stdout ?? "", r.stderr ?? String(r.error ?? ""), code), code };
  }
  if (kind === "preview") {
    const packs = fs.existsSync(path.join(REPO_ROOT, "policies")) ? ["--policy-pack", path.join(REPO_ROOT, "policies")] : [];
    const r = spawnSync("pulumi", ["preview", "--stack", stack, "--diff", "--non-interactive", "--color", "never", ...packs], { cwd: REPO_ROOT, encoding: "utf8", maxBuffer: 64 << 20, timeout: 1_800_000 });
    const code = r.status ?? 1;
    return { section: previewSection(stack, `${r.stdout ?? ""}${r.stderr ?? ""}${r.error ? String(r.error) : ""}`, code), code };
  }
  throw new Error(`--kind: "${kind}" is not preview or offline`);
}

function main(): number {
  const [command, ...rest] = process.argv.slice(2);
  const { values } = parseArgs({
    args: rest,
    options: {
      stack: { type: "string" }, kind: { type: "string" }, out: { type: "string" }, dir: { type: "string" },
      pr: { type: "string" }, "head-sha": { type: "string" }, affected: { type: "string" }, report: { type: "string" },
    },
    allowPositionals: false,
  });
  if (command === "section") {
    if (!values.stack || !values.kind || !values.out) throw new Error("section: needs --stack, --kind and --out");
    const { section, code } = runSection(values.stack, values.kind);
    fs.writeFileSync(values.out, JSON.stringify(section));
    process.stdout.write(`${section.stack}: ${section.ok ? "ok" : "FAILED"}: ${section.summary}\n${section.log}\n`);
    return code;
  }
  if (command === "collect") {
    if (!values.dir || !values.pr || !values["head-sha"] || !values.affected || !values.out) throw new Error("collect: needs --dir, --pr, --head-sha, --affected and --out");
    const files = fs.existsSync(values.dir) ? fs.readdirSync(values.dir, { recursive: true }).map(String).filter((f) => f.endsWith(".json")).sort() : [];
    const report: PrReport = parseReport(JSON.stringify({
      pr: Number(values.pr),
      headSha: values["head-sha"],
      affected: JSON.parse(fs.readFileSync(values.affected, "utf8")).reasons ?? {},
      sections: files.map((f) => parseSection(fs.readFileSync(path.join(values.dir!, f), "utf8"))),
    }));
    fs.writeFileSync(values.out, JSON.stringify(report));
    return 0;
  }
  if (command === "post") {
    if (!values.report) throw new Error("post: needs --report");
    const env = process.env;
    for (const k of ["GITHUB_TOKEN", "GITHUB_REPOSITORY", "RUN_HEAD_SHA", "RUN_HEAD_REPO"]) if (!env[k]) throw new Error(`post: ${k} is not set`);
    const report = parseReport(fs.readFileSync(values.report, "utf8"));
    void upsertReportComment(restClient(env.GITHUB_TOKEN!), { repo: env.GITHUB_REPOSITORY!, report, runHeadSha: env.RUN_HEAD_SHA!, runHeadRepo: env.RUN_HEAD_REPO!, runUrl: env.RUN_URL }).then(
      (what) => process.stdout.write(`comment ${what} on #${report.pr}\n`),
      (err: unknown) => {
        process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
        process.exitCode = 1;
      },
    );
    return 0;
  }
  throw new Error("pr-report: say section, collect or post");
}

if (require.main === module) {
  try {
    process.exitCode = main();
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  }
}
