/**
 * `npm run bench:plan`: issue 18's first figure, the offline plan of prod beside its floor
 * (merely importing @pulumi/aws), in the same run on the same machine, printed beside its target.
 * Each sample is a fresh process (what a reviewer or CI pays), wall time from spawn to exit, and
 * the process's peak RSS. The plan runs as the pull request runs it (stacks/plan-command.ts):
 * - warm: its caches (.cache/ts-run: transformed TypeScript, V8's code cache) filled by an
 *   earlier run, as on a developer's machine and as measured for the previous release;
 * - cold: empty caches each sample (and the Lambda bundle's) and CI=true, as on the fresh runner
 *   of the pull request's own job;
 * - tsx: the same code under `tsx stacks/plan.ts`, the launcher before this version.
 * The cases take turns sample by sample, so a change of load on a shared machine hits each alike;
 * the load average is printed before and after. Every sample's output must be the whole plan with
 * the policy verdict (resources and a violations list), or the bench fails.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { offlinePlanArgs } from "../stacks/plan-command";

const root = path.resolve(__dirname, "..");
const runs = Number(process.env.BENCH_RUNS ?? 7);
const preload = ["--require", path.join(root, "bench", "report-rss.js")];
const TARGET_RATIO = 2; // issue 18: at most 2x the bare import
const PREVIOUS = { ms: 1269, ratio: 2.95 }; // issue 18, the previous release

interface Case { name: string; args: string[]; env?: () => Record<string, string>; plan: boolean; cold?: boolean }
const coldDirs: string[] = [];
const cases: Case[] = [
  { name: "baseline: require('@pulumi/aws')", args: [...preload, "-e", "require('@pulumi/aws')"], plan: false },
  // A developer's machine: not a CI runner, whatever the bench's own environment says.
  { name: "offline plan prod --json (warm cache)", args: [...preload, ...offlinePlanArgs("prod", ["--json"])], env: () => ({ CI: "" }), plan: true },
  {
    name: "offline plan prod --json (cold cache)",
    args: [...preload, ...offlinePlanArgs("prod", ["--json"])],
    env: () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mlflow-kit-ts-run-"));
      coldDirs.push(dir);
      // The Lambda bundle's cache too (infra/database/bootstrap/bundle.ts): this sample builds it again.
      fs.rmSync(path.join(root, ".cache", "bootstrap-bundle.json"), { force: true });
      return { MLFLOW_KIT_TS_RUN_CACHE: dir, CI: "true" };
    },
    plan: true,
    cold: true,
  },
  { name: "same code under tsx", args: [...preload, "--import", "tsx", path.join(root, "stacks", "plan.ts"), "--stack", "prod", "--json"], plan: true },
];

function sample(c: Case): { ms: number; rssMb: number } {
  const env = { ...process.env, ...c.env?.() };
  const start = process.hrtime.bigint();
  const r = spawnSync(process.execPath, c.args, { cwd: root, encoding: "utf8", maxBuffer: 64 << 20, env });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (r.status !== 0) throw new Error(`${c.name}: exit ${r.status}: ${r.stderr.slice(-2000)}`);
  if (c.plan) {
    const out = JSON.parse(r.stdout) as { resources?: unknown[]; violations?: unknown };
    if (!out.resources?.length || !Array.isArray(out.violations)) throw new Error(`${c.name}: the output is not a whole plan with its policy verdict`);
  }
  const rss = /BENCH_MAXRSS_KB=(\d+)/.exec(r.stderr);
  return { ms, rssMb: rss ? Number(rss[1]) / 1024 : NaN };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const load = () => os.loadavg().map((x) => x.toFixed(2)).join(" ");

const loadBefore = load();
for (const c of cases) if (!c.cold) sample(c); // warm the file cache and the plan's caches; not counted
const samples = cases.map(() => [] as Array<{ ms: number; rssMb: number }>);
try {
  for (let i = 0; i < runs; i++) cases.forEach((c, k) => samples[k].push(sample(c)));
} finally {
  for (const d of coldDirs) fs.rmSync(d, { recursive: true, force: true });
}
const results = cases.map((c, k) => ({
  name: c.name,
  ms: median(samples[k].map((s) => s.ms)),
  min: Math.min(...samples[k].map((s) => s.ms)),
  rssMb: median(samples[k].map((s) => s.rssMb)),
}));

console.log(`node ${process.version}, ${os.cpus().length} CPUs, ${runs} runs each (taking turns), median (min) wall time per fresh process, median peak RSS`);
console.log(`load average before: ${loadBefore}; after: ${load()}`);
for (const r of results) console.log(`${r.name.padEnd(40)} ${r.ms.toFixed(0).padStart(6)} ms (${r.min.toFixed(0)})  ${r.rssMb.toFixed(0).padStart(5)} MB`);
const [base, warm, cold, tsx] = results;
const ratio = (r: typeof base) => r.ms / base.ms;
const verdict = (x: number) => (x <= TARGET_RATIO ? "met" : "NOT met");
console.log("");
console.log("| figure | now | before (previous release) | target |");
console.log("|---|---|---|---|");
console.log(`| offline plan of prod vs a bare require('@pulumi/aws') | ${warm.ms.toFixed(0)} ms vs ${base.ms.toFixed(0)} ms = ${ratio(warm).toFixed(2)}x (${verdict(ratio(warm))}) | ${PREVIOUS.ms} ms = ${PREVIOUS.ratio}x | at most ${TARGET_RATIO}x |`);
console.log(`| the same on a fresh CI runner (empty caches) | ${cold.ms.toFixed(0)} ms = ${ratio(cold).toFixed(2)}x (${verdict(ratio(cold))}) | | at most ${TARGET_RATIO}x |`);
console.log(`| the same code under tsx (the launcher before) | ${tsx.ms.toFixed(0)} ms = ${ratio(tsx).toFixed(2)}x | | |`);
