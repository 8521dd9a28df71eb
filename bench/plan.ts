/**
 * `npm run bench:plan`: the offline plan of prod beside its floor, merely importing @pulumi/aws,
 * in the same run on the same machine. Each sample is a fresh process (what a reviewer or CI
 * pays), wall time from spawn to exit, and the process's peak RSS.
 */
import { spawnSync } from "node:child_process";
import * as path from "node:path";

const root = path.resolve(__dirname, "..");
const runs = Number(process.env.BENCH_RUNS ?? 7);
const preload = ["--require", path.join(root, "bench", "report-rss.js")];
const tsx = ["--import", "tsx"];

const cases: Array<{ name: string; args: string[] }> = [
  { name: "baseline: require('@pulumi/aws')", args: [...preload, "-e", "require('@pulumi/aws')"] },
  { name: "offline plan --stack prod --json", args: [...preload, ...tsx, path.join(root, "stacks", "plan.ts"), "--stack", "prod", "--json"] },
];

function sample(args: string[]): { ms: number; rssMb: number } {
  const start = process.hrtime.bigint();
  const r = spawnSync(process.execPath, args, { cwd: root, encoding: "utf8", maxBuffer: 64 << 20 });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (r.status !== 0) throw new Error(`exit ${r.status}: ${r.stderr.slice(-2000)}`);
  const rss = /BENCH_MAXRSS_KB=(\d+)/.exec(r.stderr);
  return { ms, rssMb: rss ? Number(rss[1]) / 1024 : NaN };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const results = cases.map((c) => {
  sample(c.args); // warm the file cache; not counted
  const samples = Array.from({ length: runs }, () => sample(c.args));
  return { name: c.name, ms: median(samples.map((s) => s.ms)), min: Math.min(...samples.map((s) => s.ms)), rssMb: median(samples.map((s) => s.rssMb)) };
});

console.log(`node ${process.version}, ${runs} runs each, median (min) wall time per fresh process, median peak RSS`);
for (const r of results) console.log(`${r.name.padEnd(40)} ${r.ms.toFixed(0).padStart(6)} ms (${r.min.toFixed(0)})  ${r.rssMb.toFixed(0).padStart(5)} MB`);
const [base, plan] = results;
console.log(`plan / baseline: ${(plan.ms / base.ms).toFixed(2)}x time, ${(plan.rssMb / base.rssMb).toFixed(2)}x memory; plan's own work: ${(plan.ms - base.ms).toFixed(0)} ms`);
