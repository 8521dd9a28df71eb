/**
 * The pull-request report: one section per affected stack (a real `pulumi preview` with the
 * policy pack, or for a fork the offline plan and its policy verdict), merged into one report,
 * rendered as one comment that each push updates in place.
 *
 * The report is built where the pull request's code runs (no write token there) and posted by
 * a workflow that never runs that code: everything read back from the report is untrusted data,
 * validated here, shown inside code blocks, and tied to the pull request by its head commit.
 */
import { z } from "zod";

/** Hidden marker that finds the comment to update. */
export const COMMENT_MARKER = "<!-- mlflow-kit:pr-report -->";
const MAX_LOG_CHARS = 12_000;
/** Every stack a pull request can affect; the comment stays under GitHub's limit whatever the count. */
const MAX_SECTIONS = 500;
const MAX_VIOLATIONS = 50;
/** GitHub refuses a comment body over 65,536 characters; a margin for what GitHub adds. */
export const MAX_COMMENT_CHARS = 65_000;

const stackName = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/);
const violation = z.object({
  policy: z.string().max(200),
  level: z.enum(["mandatory", "advisory", "remediate", "disabled"]),
  urn: z.string().max(1000).optional(),
  message: z.string().max(2000),
});
export type ReportViolation = z.infer<typeof violation>;

const section = z.strictObject({
  stack: stackName,
  /** preview: `pulumi preview --policy-pack policies` with credentials; offline: `npm run plan` (forks). */
  kind: z.enum(["preview", "offline"]),
  ok: z.boolean(),
  /** A one-line summary, e.g. "12 resources, 0 mandatory violations". */
  summary: z.string().max(500),
  violations: z.array(violation).max(MAX_VIOLATIONS),
  /** The tail of the command's output (the CLI masks secrets; the offline plan prints [secret]). */
  log: z.string().max(MAX_LOG_CHARS),
});
export type ReportSection = z.infer<typeof section>;

const report = z.strictObject({
  pr: z.number().int().positive(),
  headSha: z.string().regex(/^[0-9a-f]{40}$/),
  affected: z.record(stackName, z.array(z.string().max(300)).max(5)),
  sections: z.array(section).max(MAX_SECTIONS),
});
export type PrReport = z.infer<typeof report>;

export class ReportError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ReportError";
  }
}

/** Untrusted JSON text in, a valid report out, or a ReportError saying what is wrong. */
export function parseReport(text: string): PrReport {
  const most = 20_000 * MAX_SECTIONS;
  if (text.length > most) throw new ReportError(`report: ${text.length} characters is more than a report can be (${most})`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ReportError("report: is not JSON");
  }
  const parsed = report.safeParse(json);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw new ReportError(`report: ${first.path.join(".") || "(root)"}: ${first.message}`);
  }
  return parsed.data;
}

export function parseSection(text: string): ReportSection {
  const parsed = section.safeParse(JSON.parse(text));
  if (!parsed.success) throw new ReportError(`section: ${parsed.error.issues[0].path.join(".")}: ${parsed.error.issues[0].message}`);
  return parsed.data;
}

/** The last `max` characters of a log, on a line boundary, ANSI colours stripped. */
export function logTail(text: string, max = MAX_LOG_CHARS): string {
  // eslint-disable-next-line no-control-regex
  const plain = text.replace(/\u001b\[[0-9;]*m/g, "");
  if (plain.length <= max) return plain;
  // The marker counts against max too: the result is never longer than max.
  const room = Math.max(0, max - `[... ${plain.length} characters before this ...]\n`.length);
  const cut = plain.slice(plain.length - room);
  const nl = cut.indexOf("\n");
  return `[... ${plain.length - room + (nl + 1)} characters before this ...]\n${nl >= 0 ? cut.slice(nl + 1) : cut}`;
}

/** The section for a fork: the offline plan's JSON (with the policy pack's violations) and exit code. */
export function offlineSection(stack: string, planStdout: string, planStderr: string, exitCode: number): ReportSection {
  let plan: { resources?: unknown[]; violations?: unknown[] } | undefined;
  try {
    plan = JSON.parse(planStdout);
  } catch {
    plan = undefined;
  }
  if (!plan || !Array.isArray(plan.resources)) {
    return { stack, kind: "offline", ok: false, summary: `offline plan failed (exit ${exitCode})`, violations: [], log: logTail(planStderr || planStdout) };
  }
  const violations: ReportViolation[] = [];
  for (const v of (plan.violations ?? []).slice(0, MAX_VIOLATIONS)) {
    const parsed = violation.safeParse(v);
    if (parsed.success) violations.push(parsed.data);
  }
  const mandatory = violations.filter((v) => v.level === "mandatory").length;
  const verdict = plan.violations === undefined ? "policy verdict not available from this plan" : `${mandatory} mandatory, ${violations.length - mandatory} other policy violations`;
  return {
    stack,
    kind: "offline",
    ok: exitCode === 0 && mandatory === 0,
    summary: `${plan.resources.length} resources planned offline; ${verdict}`,
    violations,
    log: logTail(planStderr),
  };
}

/** The section for a same-repository pull request: `pulumi preview --policy-pack` output. */
export function previewSection(stack: string, output: string, exitCode: number): ReportSection {
  const change = /Resources:\s*\n((?:\s+.+\n?)+)/.exec(output.replace(/\u001b\[[0-9;]*m/g, ""));
  const counts = change ? change[1].split("\n").map((l) => l.trim()).filter(Boolean).join(", ") : "";
  // A mandatory policy violation fails the preview; the CLI's own output (below) names it.
  return {
    stack,
    kind: "preview",
    ok: exitCode === 0,
    summary: exitCode === 0 ? `preview succeeded${counts ? `: ${counts}` : ""}` : `preview failed (exit ${exitCode}): see the output`,
    violations: [],
    log: logTail(output),
  };
}

/** A fence longer than any run of backticks in the text, so the text cannot close it. */
function fence(text: string): string {
  const longest = Math.max(2, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  return "`".repeat(longest + 1);
}

/** One line of untrusted text for a table or list: no markup, no mentions, bounded. */
function inline(text: string, max = 300): string {
  const flat = text.replace(/\s+/g, " ").slice(0, max);
  return flat.replace(/[\\`*_{}[\]()#+!|<>~]/g, (c) => `\\${c}`).replace(/@/g, "@\u200b");
}

/**
 * The comment body: a marker, a table of stacks (every summary, first), then per stack its
 * violations and log. Always under MAX_COMMENT_CHARS: the logs share what the table and the
 * violations leave, each cut to its tail with a pointer to the run; past that, the table itself
 * is cut with a count of the stacks left out.
 */
export function renderComment(r: PrReport, runUrl?: string, limit = MAX_COMMENT_CHARS): string {
  const run = runUrl ? `[the run](${runUrl})` : "the workflow run";
  const head = [COMMENT_MARKER, `### mlflow-kit: stacks affected by this pull request`, "", `Commit \`${r.headSha.slice(0, 12)}\`${runUrl ? ` ([run](${runUrl}))` : ""}.`, ""];
  if (r.sections.length === 0) {
    head.push("No stack is affected: nothing under `infra/`, `images/`, `policies/`, `index.ts`, `Pulumi*.yaml` or the package files changed.");
    return head.join("\n");
  }
  const length = (lines: string[]) => lines.reduce((n, l) => n + l.length + 1, 0);
  const reserve = 400; // the closing notes below
  // 1. Summaries first: the table, cut (with a count) only if it alone would not fit.
  const table = ["| stack | check | result |", "| --- | --- | --- |"];
  let shownRows = 0;
  for (const s of r.sections) {
    const check = s.kind === "preview" ? "`pulumi preview --policy-pack policies`" : "offline plan + policy pack (no credentials)";
    const row = `| ${inline(s.stack)} | ${check} | ${s.ok ? "✅" : "❌"} ${inline(s.summary)} |`;
    if (length(head) + length(table) + row.length + 1 + reserve > limit) break;
    table.push(row);
    shownRows++;
  }
  const lines = [...head, ...table];
  if (shownRows < r.sections.length) {
    const failed = r.sections.slice(shownRows).filter((s) => !s.ok).length;
    lines.push("", `${r.sections.length - shownRows} more stacks (${failed} failed) are not shown: GitHub limits a comment to 65,536 characters. See ${run}.`);
    return lines.join("\n");
  }
  // 2. Per stack: why, violations (bounded), and a log placeholder to fill with what is left.
  const blocks = r.sections.map((s) => {
    const block = ["", `<details><summary>${inline(s.stack)}: ${s.ok ? "passed" : "failed"}</summary>`, ""];
    const why = r.affected[s.stack];
    if (why?.length) block.push(`Affected by: ${why.map((p) => inline(p, 120)).join(", ")}`, "");
    for (const v of s.violations) block.push(`- **${v.level}** ${inline(v.policy, 100)}: ${inline(v.message)}${v.urn ? ` (${inline(v.urn, 200)})` : ""}`);
    return block;
  });
  const tail = ["", "</details>"];
  let fixed = length(lines) + blocks.reduce((n, b) => n + length(b) + length(tail), 0) + reserve;
  let dropViolations = false;
  if (fixed > limit) {
    // Many violations on many stacks: keep the first line of each block, count the rest.
    dropViolations = true;
    for (const [i, s] of r.sections.entries()) {
      const keep = blocks[i].slice(0, 3);
      if (s.violations.length) keep.push(`${s.violations.length} policy violation${s.violations.length === 1 ? "" : "s"}: see ${run}`);
      blocks[i] = keep;
    }
    fixed = length(lines) + blocks.reduce((n, b) => n + length(b) + length(tail), 0) + reserve;
  }
  // 3. Logs share the rest evenly; each keeps its tail (where errors are) and says where the rest is.
  const withLog = r.sections.filter((s) => s.log).length;
  const perLog = withLog ? Math.floor((limit - fixed) / withLog) - 120 : 0;
  let cut = 0;
  for (const [i, s] of r.sections.entries()) {
    if (s.log && perLog >= 200) {
      const text = s.log.length > perLog ? logTail(s.log, perLog) : s.log;
      if (text !== s.log) cut++;
      const f = fence(text);
      blocks[i].push("", f, text, f);
    } else if (s.log) {
      cut++;
      blocks[i].push("", `(log left out to stay under GitHub's comment limit: see ${run})`);
    }
    lines.push(...blocks[i], ...tail);
  }
  if (cut || dropViolations) lines.push("", `${cut ? `${cut} log${cut === 1 ? "" : "s"} cut to ${cut === 1 ? "its" : "their"} last lines` : "Violations counted, not listed"}: GitHub limits a comment to 65,536 characters. The full output is in ${run}.`);
  const body = lines.join("\n");
  // The budget above keeps every body inside the limit; this never cuts in practice.
  return body.length <= limit ? body : `${body.slice(0, limit - 200)}\n\n(cut at GitHub's comment limit: see ${run})`;
}

// ---------------------------------------------------------------------------------------------
// Posting: one comment per pull request, updated in place.

export interface GitHubClient {
  getPull(repo: string, pr: number): Promise<{ head: { sha: string; repo: { full_name: string } | null } }>;
  listComments(repo: string, pr: number, page: number): Promise<Array<{ id: number; body?: string; user: { login: string; type: string } | null }>>;
  createComment(repo: string, pr: number, body: string): Promise<void>;
  updateComment(repo: string, id: number, body: string): Promise<void>;
}

/** The login the workflow's GITHUB_TOKEN comments as. */
export const BOT_LOGIN = "github-actions[bot]";

/**
 * Posts or updates the report's comment, after checking that the pull request the report names
 * really is at the commit the finished run built (a report cannot steer the comment elsewhere).
 */
export async function upsertReportComment(gh: GitHubClient, opts: { repo: string; report: PrReport; runHeadSha: string; runHeadRepo: string; runUrl?: string }): Promise<"created" | "updated"> {
  const { repo, report: r } = opts;
  if (r.headSha !== opts.runHeadSha) throw new ReportError(`report: names commit ${r.headSha}, but the run built ${opts.runHeadSha}; not posted`);
  const pull = await gh.getPull(repo, r.pr);
  if (pull.head.sha !== opts.runHeadSha || pull.head.repo?.full_name !== opts.runHeadRepo) {
    throw new ReportError(`report: pull request #${r.pr} is at ${pull.head.sha} from ${pull.head.repo?.full_name ?? "a deleted repository"}, not the run's ${opts.runHeadSha} from ${opts.runHeadRepo} (a newer push, or a report for another pull request); not posted`);
  }
  const body = renderComment(r, opts.runUrl);
  for (let page = 1; page <= 30; page++) {
    const comments = await gh.listComments(repo, r.pr, page);
    const mine = comments.find((c) => c.user?.login === BOT_LOGIN && c.body?.startsWith(COMMENT_MARKER));
    if (mine) {
      await gh.updateComment(repo, mine.id, body);
      return "updated";
    }
    if (comments.length < 100) break;
  }
  await gh.createComment(repo, r.pr, body);
  return "created";
}

/** GitHub's REST API with the workflow's token (fetch; no token in any message). */
export function restClient(token: string, api = "https://api.github.com"): GitHubClient {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const call = async (method: string, path: string, body?: unknown): Promise<any> => {
    const res = await fetch(`${api}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, accept: "application/vnd.github+json", "x-github-api-version": "2022-11-28", "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!res.ok) throw new ReportError(`GitHub ${method} ${path}: ${res.status} ${res.statusText}`);
    return res.status === 204 ? undefined : res.json();
  };
  return {
    getPull: (repo, pr) => call("GET", `/repos/${repo}/pulls/${pr}`),
    listComments: (repo, pr, page) => call("GET", `/repos/${repo}/issues/${pr}/comments?per_page=100&page=${page}`),
    createComment: async (repo, pr, body) => {
      await call("POST", `/repos/${repo}/issues/${pr}/comments`, { body });
    },
    updateComment: async (repo, id, body) => {
      await call("PATCH", `/repos/${repo}/issues/comments/${id}`, { body });
    },
  };
}
