import { describe, expect, it } from "vitest";
import { BOT_LOGIN, COMMENT_MARKER, logTail, offlineSection, parseReport, previewSection, renderComment, ReportError, upsertReportComment, type GitHubClient, type PrReport } from "../../stacks/lifecycle/pr-report";

const SHA = "a".repeat(40);
const plan = (violations?: unknown[]) => JSON.stringify({ stack: "dev", resources: [{}, {}, {}], outputs: {}, ...(violations ? { violations } : {}) });

const report = (over: Partial<PrReport> = {}): PrReport => ({
  pr: 12,
  headSha: SHA,
  affected: { dev: ["infra/settings.ts"] },
  sections: [offlineSection("dev", plan([{ policy: "s3-tls-only", level: "mandatory", urn: "urn:x", message: "bucket allows plain HTTP" }]), "", 1)],
  ...over,
});

describe("sections", () => {
  it("offline: counts resources and takes the policy pack's violations from the plan; a mandatory one fails", () => {
    const ok = offlineSection("dev", plan([{ policy: "tags", level: "advisory", message: "missing owner tag" }]), "note: x\n", 0);
    expect(ok).toMatchObject({ stack: "dev", kind: "offline", ok: true, summary: "3 resources planned offline; 0 mandatory, 1 other policy violations", log: "note: x\n" });
    const bad = offlineSection("dev", plan([{ policy: "s3-tls-only", level: "mandatory", message: "m" }]), "", 1);
    expect(bad.ok).toBe(false);
    expect(bad.summary).toContain("1 mandatory");
  });

  it("offline: a plan without a verdict says so; a plan that failed shows its error", () => {
    expect(offlineSection("dev", plan(), "", 0).summary).toBe("3 resources planned offline; policy verdict not available from this plan");
    const failed = offlineSection("prod", "", "mlflow-kit: the stack config has 1 problem", 1);
    expect(failed).toMatchObject({ ok: false, summary: "offline plan failed (exit 1)", log: "mlflow-kit: the stack config has 1 problem" });
  });

  it("offline: drops violations of the wrong shape", () => {
    expect(offlineSection("dev", plan([{ policy: "x", level: "fatal", message: "m" }, { nope: 1 }]), "", 0).violations).toEqual([]);
  });

  it("preview: the resource counts on success, the exit code on failure", () => {
    const out = "Previewing update (dev)\n\nResources:\n    + 3 to create\n    ~ 1 to update\n    4 changes\n";
    expect(previewSection("dev", out, 0).summary).toBe("preview succeeded: + 3 to create, ~ 1 to update, 4 changes");
    expect(previewSection("dev", "error: policy violation", 255)).toMatchObject({ ok: false, summary: "preview failed (exit 255): see the output" });
  });

  it("logTail keeps the end on a line boundary and strips colours", () => {
    expect(logTail("\u001b[32mgreen\u001b[0m")).toBe("green");
    const long = Array.from({ length: 100 }, (_, i) => `line ${i}`).join("\n");
    const tail = logTail(long, 50);
    expect(tail.startsWith("[... ")).toBe(true);
    expect(tail.endsWith("line 99")).toBe(true);
    expect(tail.split("\n")[1]).toMatch(/^line \d+$/);
  });
});

describe("parseReport: the report is untrusted data", () => {
  it("accepts a valid report", () => {
    expect(parseReport(JSON.stringify(report())).pr).toBe(12);
  });

  it.each([
    ["not JSON", "{", "report: is not JSON"],
    ["a short sha", JSON.stringify({ ...report(), headSha: "abc" }), "report: headSha:"],
    ["a bad stack name", JSON.stringify({ ...report(), sections: [{ ...report().sections[0], stack: "../etc" }] }), "report: sections.0.stack:"],
    ["an unknown key", JSON.stringify({ ...report(), run: "curl" }), "report: (root):"],
    ["a huge log", JSON.stringify({ ...report(), sections: [{ ...report().sections[0], log: "x".repeat(20_000) }] }), "report: sections.0.log:"],
    ["a pr of zero", JSON.stringify({ ...report(), pr: 0 }), "report: pr:"],
  ])("refuses %s", (_what, text, message) => {
    expect(() => parseReport(text)).toThrow(ReportError);
    expect(() => parseReport(text)).toThrow(message);
  });
});

describe("renderComment", () => {
  it("starts with the marker and has a row per stack and the violations", () => {
    const body = renderComment(report(), "https://example.invalid/run/1");
    expect(body.startsWith(COMMENT_MARKER)).toBe(true);
    expect(body).toContain("| dev | offline plan + policy pack (no credentials) | ❌ 3 resources planned offline; 1 mandatory, 0 other policy violations |");
    expect(body).toContain("- **mandatory** s3-tls-only: bucket allows plain HTTP (urn:x)");
    expect(body).toContain("Affected by: infra/settings.ts");
  });

  it("keeps untrusted text inert: a log cannot close its code block, mentions do not ping, markup is escaped", () => {
    const r = report();
    r.sections[0].log = "```\n<img src=x onerror=alert(1)>\n````";
    r.sections[0].violations = [{ policy: "p|x", level: "advisory", message: "ping @org/admins [click](http://x)" }];
    const body = renderComment(r);
    expect(body).toContain("`````\n```\n<img src=x onerror=alert(1)>\n````\n`````");
    expect(body).toContain("@\u200borg/admins");
    expect(body).toContain("\\[click\\]\\(http://x\\)");
    expect(body).toContain("p\\|x");
  });

  it("says so when no stack is affected", () => {
    expect(renderComment(report({ sections: [], affected: {} }))).toContain("No stack is affected");
  });
});

class FakeGitHub implements GitHubClient {
  readonly calls: string[] = [];
  constructor(
    public pull: { head: { sha: string; repo: { full_name: string } | null } },
    public pages: Array<Array<{ id: number; body?: string; user: { login: string; type: string } | null }>>,
  ) {}
  async getPull(repo: string, pr: number) {
    this.calls.push(`GET pull ${repo}#${pr}`);
    return this.pull;
  }
  async listComments(_repo: string, _pr: number, page: number) {
    this.calls.push(`GET comments page ${page}`);
    return this.pages[page - 1] ?? [];
  }
  async createComment(_repo: string, pr: number, body: string) {
    this.calls.push(`POST #${pr} ${body.slice(0, COMMENT_MARKER.length)}`);
  }
  async updateComment(_repo: string, id: number, body: string) {
    this.calls.push(`PATCH ${id} ${body.slice(0, COMMENT_MARKER.length)}`);
  }
}

describe("upsertReportComment: one comment, updated in place", () => {
  const opts = { repo: "org/mlflow-kit", report: report(), runHeadSha: SHA, runHeadRepo: "fork/mlflow-kit" };
  const pull = { head: { sha: SHA, repo: { full_name: "fork/mlflow-kit" } } };
  const bot = { login: BOT_LOGIN, type: "Bot" };

  it("creates the comment on the first push", async () => {
    const gh = new FakeGitHub(pull, [[{ id: 1, body: "LGTM", user: { login: "alice", type: "User" } }]]);
    expect(await upsertReportComment(gh, opts)).toBe("created");
    expect(gh.calls).toEqual(["GET pull org/mlflow-kit#12", "GET comments page 1", `POST #12 ${COMMENT_MARKER}`]);
  });

  it("updates its own comment on later pushes, also past the first page", async () => {
    const filler = Array.from({ length: 100 }, (_, i) => ({ id: 100 + i, body: "x", user: { login: "alice", type: "User" } }));
    const gh = new FakeGitHub(pull, [filler, [{ id: 7, body: `${COMMENT_MARKER}\nold`, user: bot }]]);
    expect(await upsertReportComment(gh, opts)).toBe("updated");
    expect(gh.calls.at(-1)).toBe(`PATCH 7 ${COMMENT_MARKER}`);
  });

  it("ignores a marker in someone else's comment (it would be theirs to edit)", async () => {
    const gh = new FakeGitHub(pull, [[{ id: 3, body: `${COMMENT_MARKER} spoof`, user: { login: "mallory", type: "User" } }]]);
    expect(await upsertReportComment(gh, opts)).toBe("created");
  });

  it("refuses a report for another commit or another pull request, posting nothing", async () => {
    const gh = new FakeGitHub(pull, [[]]);
    await expect(upsertReportComment(gh, { ...opts, runHeadSha: "b".repeat(40) })).rejects.toThrow("but the run built");
    const moved = new FakeGitHub({ head: { sha: "c".repeat(40), repo: { full_name: "fork/mlflow-kit" } } }, [[]]);
    await expect(upsertReportComment(moved, opts)).rejects.toThrow("pull request #12 is at cccc");
    const otherRepo = new FakeGitHub({ head: { sha: SHA, repo: { full_name: "someone/else" } } }, [[]]);
    await expect(upsertReportComment(otherRepo, opts)).rejects.toThrow("from someone/else");
    for (const g of [gh, moved, otherRepo]) expect(g.calls.some((c) => c.startsWith("POST") || c.startsWith("PATCH"))).toBe(false);
  });
});
