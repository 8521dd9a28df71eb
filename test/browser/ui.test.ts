/**
 * The MLflow UI driven by a real browser (Debian's chromium through puppeteer-core) on a stack's
 * public host name, as a person uses it. Two profiles, the same steps:
 *
 * - basic-auth (default, test/browser/run.sh): https://mlflow-kit-dev.onrender.com/ mapped to a
 *   TLS edge on 127.0.0.1 in front of the built image, which runs with the env the runtime
 *   contract computes for the stack; the person answers MLflow's Basic challenge.
 * - ECS (MLFLOW_KIT_BROWSER_ECS_TARGET, given by test/edge/test_browser_ecs.py): the prod stack's
 *   https://mlflow.example.com/ through TLS, the load balancer stand-in, the real Traefik with
 *   the rendered config and the forward-auth stand-in to MLflow (its auth app behind the edge,
 *   images/mlflow/edge_auth.py); the person signs in at the portal.
 *
 * A test on http://127.0.0.1 would pass while the public host fails: MLflow refuses
 * state-changing requests (and the UI sends its reads as POST) whose Origin it does not allow,
 * and only the public host's Origin shows whether it does.
 *
 * Asserts on what the page shows and on the answers the browser got; a screenshot of every
 * step goes to .cache/browser/<stack>/ (not committed), with each page's requests, console
 * errors and failed loads (person-<n>.log), and what every page showed when a step failed.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import puppeteer, { type Browser, type BrowserContext, type HTTPRequest, type HTTPResponse, type Page } from "puppeteer-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  type Container, type Databases, type Edge, freePort, ROOT, type S3, stackEnv, startContainer, startDatabases,
  startEdge, startS3, tempDir, token,
} from "./fixtures";

interface Credentials {
  username: string;
  password: string;
}

/** The ECS edge test/edge runs (its session fixtures), handed over as a JSON file (mode 0600). */
interface EcsTarget {
  stack: string;
  host: string;
  /** Authelia's portal host: where the edge sends a browser without a session. */
  portalHost: string;
  /** The load balancer stand-in's HTTPS listener (plain HTTP; TLS is added here). */
  upstreamPort: number;
  /** MLflow itself, for the REST calls that prepare a run and read the server's state. */
  mlflowUrl: string;
  /** The API client (Basic, MLflow's own check): owns the logged run, so a person only READs it. */
  api: Credentials;
  /** A person of target.users with a portal password. */
  person: Credentials;
}
const ECS: EcsTarget | undefined = process.env.MLFLOW_KIT_BROWSER_ECS_TARGET
  ? (JSON.parse(fs.readFileSync(process.env.MLFLOW_KIT_BROWSER_ECS_TARGET, "utf8")) as EcsTarget)
  : undefined;
const STACK = ECS?.stack ?? process.env.MLFLOW_KIT_BROWSER_STACK ?? "dev";
const IMAGE = process.env.MLFLOW_KIT_TEST_IMAGE;
const CHROMIUM = process.env.MLFLOW_KIT_CHROMIUM ?? "/usr/bin/chromium";
const SHOTS = path.join(ROOT, ".cache", "browser", STACK);
/** How long the UI gets to show what a step expects (the 2 cores are shared). */
const UI_WAIT_MS = 30_000;

interface Answer {
  method: string;
  path: string;
  status: number;
  body: string;
}

/** A signed-in person: a browser context of their own, its page, and what the page saw. */
interface Person {
  context: BrowserContext;
  page: Page;
  /** Every API answer (path under /api or /ajax-api). */
  answers: Answer[];
  /** Every request, console error, page error and failed load, for the failure log. */
  trace: string[];
  /** Requests sent and not yet answered. */
  inFlight: Set<HTTPRequest>;
}

let dir: string;
let db: Databases | undefined;
let s3: S3 | undefined;
let server: Container | undefined;
let edge: Edge | undefined;
let browser: Browser | undefined;
let env: Record<string, string>;
let host: string;
/** Who logs the run through the REST API and owns its experiment: the admin, or ECS's API client. */
let owner: Credentials;
/** Who signs in to the browser and makes, renames and registers: the admin, or ECS's person. */
let me: Credentials;
/** Who has READ on the owner's experiment: a user the admin creates, or ECS's person (default_permission READ). */
let reader: Credentials;
let run: { experimentId: string; experimentName: string; runId: string; note: string };
let shot = 0;
const people: Person[] = [];

/** The server's REST API straight on 127.0.0.1 (no Origin: what MLflow's clients send). */
async function api<T = Record<string, unknown>>(method: string, p: string, body?: unknown, who = owner): Promise<T> {
  const answer = await fetch(`${server!.url}${p}`, {
    method,
    headers: { authorization: `Basic ${Buffer.from(`${who.username}:${who.password}`).toString("base64")}`, "content-type": "application/json" },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await answer.text();
  if (!answer.ok) throw new Error(`${method} ${p}: ${answer.status} ${text}`);
  return (text ? JSON.parse(text) : {}) as T;
}

/** A run with a param, a metric, a text file and a model directory, logged through the REST API. */
async function logRun(experimentId: string) {
  const created = await api<{ run: { info: { run_id: string; artifact_uri: string } } }>("POST", "/api/2.0/mlflow/runs/create", { experiment_id: experimentId, run_name: "trained-by-rest", start_time: Date.now() });
  const { run_id: runId, artifact_uri: artifactUri } = created.run.info;
  await api("POST", "/api/2.0/mlflow/runs/log-parameter", { run_id: runId, key: "learning_rate", value: "0.01" });
  await api("POST", "/api/2.0/mlflow/runs/log-metric", { run_id: runId, key: "loss", value: 0.25, timestamp: Date.now(), step: 0 });
  // Proxied artifacts (--serve-artifacts): the run's mlflow-artifacts:/<experiment>/<run>/artifacts.
  const base = artifactUri.replace(/^mlflow-artifacts:\//, "");
  const note = `model card ${token(6)}`;
  const files: Record<string, string> = {
    "docs/model-card.txt": `${note}\n`,
    // The UI offers "Register model" on a directory holding an MLmodel file.
    "model/MLmodel": `artifact_path: model\nflavors:\n  python_function:\n    loader_module: mlflow.pyfunc.model\n    python_version: 3.11.0\nmlflow_version: 3.17.2\nrun_id: ${runId}\n`,
  };
  for (const [file, content] of Object.entries(files)) await api("PUT", `/api/2.0/mlflow-artifacts/artifacts/${base}/${file}`, content);
  await api("POST", "/api/2.0/mlflow/runs/update", { run_id: runId, status: "FINISHED", end_time: Date.now() });
  return { runId, note };
}

async function newPerson(): Promise<Person> {
  const context = await browser!.createBrowserContext();
  const page = await context.newPage();
  page.setDefaultTimeout(UI_WAIT_MS);
  await page.setViewport({ width: 1400, height: 900 });
  const answers: Answer[] = [];
  const trace: string[] = [];
  const started = Date.now();
  const note = (line: string) => trace.push(`${((Date.now() - started) / 1000).toFixed(1)}s ${line}`);
  page.on("response", (r: HTTPResponse) => {
    const url = new URL(r.url());
    note(`${r.status()} ${r.request().method()} ${url.host}${url.pathname}${url.search.slice(0, 120)}`);
    if (!/^\/(ajax-)?api\//.test(url.pathname)) return;
    const answer: Answer = { method: r.request().method(), path: url.pathname, status: r.status(), body: "" };
    answers.push(answer);
    if (r.status() >= 400) void r.text().then((t) => { answer.body = t; }, () => undefined);
  });
  const inFlight = new Set<HTTPRequest>();
  // The UI's telemetry worker script: the page never sees its request finish (it loads in the
  // worker), so it would keep the page from ever settling.
  page.on("request", (r) => { if (!r.url().endsWith(".worker.js")) inFlight.add(r); });
  page.on("requestfinished", (r) => inFlight.delete(r));
  page.on("requestfailed", (r) => {
    inFlight.delete(r);
    note(`FAILED ${r.method()} ${r.url()} ${r.failure()?.errorText ?? ""}`);
  });
  page.on("console", (m) => { if (m.type() === "error") note(`console.error ${m.text().slice(0, 500)}`); });
  page.on("pageerror", (e) => note(`pageerror ${String(e).slice(0, 500)}`));
  page.on("framenavigated", (f) => { if (f === page.mainFrame()) note(`at ${f.url()}`); });
  const person = { context, page, answers, trace, inFlight };
  people.push(person);
  return person;
}

async function signIn(who: Credentials): Promise<Person> {
  const person = await newPerson();
  if (!ECS) {
    // Answers MLflow's Basic challenge, as a person types into the browser's sign-in prompt.
    await person.page.authenticate(who);
    return person;
  }
  // Behind Authelia: without a session the edge sends the browser to the portal (302 with rd);
  // the portal's sign-in sets the session cookie for the parent domain and sends it back.
  const { page } = person;
  await page.goto(`https://${host}/`, { waitUntil: "domcontentloaded" });
  const portal = new URL(page.url());
  expect(portal.host).toBe(ECS.portalHost);
  expect(portal.searchParams.get("rd")).toBe(`https://${host}/`);
  await page.waitForSelector("#username", { visible: true });
  await page.type("#username", who.username);
  await page.type("#password", `${who.password}-wrong`);
  const refused = answerTo(page, "POST", "/api/firstfactor");
  await page.click("#sign-in");
  expect((await refused).status()).toBe(401);
  await textShown(page, "Incorrect username or password");
  expect(new URL(page.url()).host).toBe(ECS.portalHost);
  await screenshot(page, "portal-refuses-a-wrong-password");
  await replaceInput(page, "#password", who.password);
  const signed = answerTo(page, "POST", "/api/firstfactor");
  await page.click("#sign-in");
  expect((await signed).status()).toBe(200);
  await page.waitForFunction(`location.host === ${JSON.stringify(host)}`, { timeout: UI_WAIT_MS });
  const cookies = await person.context.cookies();
  expect(cookies.map((c) => [c.domain.replace(/^\./, ""), c.secure, c.httpOnly])).toContainEqual([host.slice(host.indexOf(".") + 1), true, true]);
  return person;
}

/** Until no request has been in flight for 500 ms (at most 10 s): the UI re-renders as its requests settle. */
async function settle(page: Page) {
  const person = people.find((p) => p.page === page);
  const deadline = Date.now() + 10_000;
  let quietSince = Date.now();
  while (person && Date.now() < deadline) {
    if (person.inFlight.size > 0) quietSince = Date.now();
    else if (Date.now() - quietSince >= 500) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * The viewport only: MLflow's pages fill it and scroll inside. A full-page screenshot (CDP's
 * captureBeyondViewport) makes MLflow 3.17's run page mount its artifact browser twice anew,
 * which drops the open preview and, under load, can leave the pane a loading skeleton for good.
 */
async function screenshot(page: Page, name: string) {
  await settle(page);
  shot += 1;
  await page.screenshot({ path: path.join(SHOTS, `${String(shot).padStart(2, "0")}-${name}.png`) });
}

/** The first answer to `method path-suffix` from now on. */
function answerTo(page: Page, method: string, suffix: string) {
  return page.waitForResponse((r) => r.request().method() === method && new URL(r.url()).pathname.endsWith(suffix), { timeout: UI_WAIT_MS });
}

async function click(page: Page, xpath: string) {
  await (await page.waitForSelector(`xpath/${xpath}`, { visible: true }))!.click();
}

/**
 * Clicks `xpath` once it is what the pointer would hit: the artifact tree slides a folder's
 * children in (the new rows are laid out, but hidden under the rows below until the slide ends),
 * and a click before that lands on the row shown there. Waits at most UI_WAIT_MS.
 */
async function clickShown(page: Page, xpath: string) {
  const element = (await page.waitForSelector(`xpath/${xpath}`, { visible: true }))!;
  // Runs in the page (the tests are compiled without the DOM's types).
  interface Node { getBoundingClientRect(): { left: number; top: number; width: number; height: number }; contains(other: Node): boolean }
  await page.waitForFunction((el: Node) => {
    const box = el.getBoundingClientRect();
    const hit = (globalThis as unknown as { document: { elementFromPoint(x: number, y: number): Node | null } }).document
      .elementFromPoint(box.left + box.width / 2, box.top + box.height / 2);
    return hit !== null && (el.contains(hit) || hit.contains(el));
  }, { timeout: UI_WAIT_MS, polling: 100 }, element);
  await element.click();
}

const button = (label: string, within = "") => `${within}//button[.//span[normalize-space(text())="${label}"] or normalize-space(.)="${label}"]`;
const inDialog = (label: string) => button(label, `//div[@role="dialog"]`);

// The functions below run in the page: given as source text, since the tests are compiled for Node.
async function hashShows(page: Page, part: string) {
  await page.waitForFunction(`location.hash.includes(${JSON.stringify(part)})`, { timeout: UI_WAIT_MS });
}

async function textShown(page: Page, text: string) {
  await page.waitForFunction(`document.body.innerText.includes(${JSON.stringify(text)})`, { timeout: UI_WAIT_MS });
}

/** Every API answer so far was neither refused (403, the cross-origin block) nor an error (5xx). */
function expectNoRefusal(person: Person, allowed: (a: Answer) => boolean = () => false) {
  const bad = person.answers.filter((a) => (a.status === 403 || a.status >= 500) && !allowed(a));
  expect(bad.map((a) => `${a.status} ${a.method} ${a.path} ${a.body}`)).toEqual([]);
}

/**
 * Clicks into `selector`'s input and types `value` over its text. While the dialog opens, React
 * may render the input again after it was found, and the found node is then detached ("Node is
 * either not clickable or not an Element", seen once in CI): found again and clicked again, as a
 * person would (5 tries, 200 ms apart).
 */
async function replaceInput(page: Page, selector: string, value: string) {
  let input = (await page.waitForSelector(selector, { visible: true }))!;
  for (let attempt = 1; ; attempt++) {
    try {
      await input.click();
      break;
    } catch (err) {
      if (attempt === 5 || !/not clickable|detached/i.test(String(err))) throw err;
      await new Promise((resolve) => setTimeout(resolve, 200));
      input = (await page.waitForSelector(selector, { visible: true }))!;
    }
  }
  await page.keyboard.down("Control");
  await page.keyboard.press("a");
  await page.keyboard.up("Control");
  await page.keyboard.press("Backspace");
  await input.type(value);
}

/**
 * Clicks `xpath` until `then` shows (3 tries): a click that lands while React is still wiring the
 * element up (the page was just routed) does nothing, as it would for a person, who clicks again.
 */
async function clickUntil(page: Page, xpath: string, then: string) {
  for (let attempt = 1; ; attempt++) {
    await click(page, xpath);
    try {
      await page.waitForSelector(`xpath/${then}`, { visible: true, timeout: 5_000 });
      return;
    } catch (err) {
      if (attempt === 3) throw err;
    }
  }
}

async function openEditExperiment(page: Page) {
  await clickUntil(page, `//button[@aria-label="Open header dropdown menu"]`, `//*[@role="menuitem"][contains(., "Edit experiment")]`);
  await clickUntil(page, `//*[@role="menuitem"][contains(., "Edit experiment")]`, `//div[@role="dialog"]//input[@id="mlflow.experiment.edit.name"]`);
}

/** The experiment's runs page (Model training view), shown once its runs/search answered. */
async function openRunsPage(page: Page, experimentId: string) {
  const searched = answerTo(page, "POST", "/runs/search");
  await page.goto(`https://${host}/#/experiments/${experimentId}/runs?workflowType=machine_learning`, { waitUntil: "domcontentloaded" });
  const answer = await searched;
  expect(answer.status(), await answer.text()).toBe(200);
  await page.waitForFunction("/matching runs?|No runs logged/.test(document.body.innerText)", { timeout: UI_WAIT_MS });
}

/** The browser, the given names mapped to this machine's edge and nothing else resolving. */
function launchBrowser(names: string[], edgePort: number) {
  return puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    // The edge's certificate is a throwaway self-signed one.
    acceptInsecureCerts: true,
    args: [
      "--no-sandbox",
      // The public hosts are this machine's edge; every other name resolves to nothing, so the
      // browser reaches nothing outside 127.0.0.1.
      `--host-resolver-rules=${names.map((n) => `MAP ${n}:443 127.0.0.1:${edgePort}`).join(", ")}, MAP * ~NOTFOUND`,
      "--disable-background-networking",
      "--no-first-run",
    ],
  });
}

/** The ECS edge test/edge started: MLflow, Traefik and the stand-ins are its; TLS and the browser are ours. */
async function startOnEcs(target: EcsTarget) {
  host = target.host;
  server = { id: "test/edge's", url: target.mlflowUrl, logs: async () => "", stop: async () => undefined };
  owner = target.api;
  me = target.person;
  reader = target.person;
  edge = await startEdge([host, target.portalHost], target.upstreamPort, dir, { forwarded: false });
  browser = await launchBrowser([host, target.portalHost], edge.port);
}

/** The image with the stack's env behind a TLS edge; the admin owns the run, a READ user is created. */
async function startImage(image: string) {
  db = await startDatabases();
  s3 = await startS3(dir);
  const port = await freePort();
  const admin = { username: "", password: "Admin-" + token() };
  const bucket = `browser-${token(4).toLowerCase()}`;
  env = await stackEnv(STACK, db, s3, port, { adminPassword: admin.password, flaskSecretKey: token(40) }, bucket);
  admin.username = env.MLFLOW_ADMIN_USERNAME;
  owner = admin;
  me = admin;
  reader = { username: "reader", password: "Reader-" + token() };
  host = env.MLFLOW_PUBLIC_HOSTNAME;
  await s3.createBucket(bucket, env.AWS_DEFAULT_REGION);
  server = await startContainer(image, env, dir);
  edge = await startEdge(host, port, dir);
  browser = await launchBrowser([host], edge.port);
  await api("POST", "/api/2.0/mlflow/users/create", reader);
}

beforeAll(async () => {
  if (!ECS && !IMAGE) throw new Error("MLFLOW_KIT_TEST_IMAGE is not set: run bash test/browser/run.sh, which builds the image");
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} missing: run bash test/browser/setup.sh (apt-get install chromium)`);
  fs.rmSync(SHOTS, { recursive: true, force: true });
  fs.mkdirSync(SHOTS, { recursive: true });
  dir = tempDir("mlflow-kit-browser-");
  await (ECS ? startOnEcs(ECS) : startImage(IMAGE!));
  const experimentName = `logged-by-rest-${token(4)}`;
  const experimentId = (await api<{ experiment_id: string }>("POST", "/api/2.0/mlflow/experiments/create", { name: experimentName })).experiment_id;
  run = { experimentId, experimentName, ...(await logRun(experimentId)) };
}, 300_000);

afterAll(async () => {
  // What each page requested and saw (status, method, path; console errors; failed loads).
  for (const [i, p] of people.entries()) fs.writeFileSync(path.join(SHOTS, `person-${i}.log`), `${p.trace.join("\n")}\n`);
  await browser?.close().catch(() => undefined);
  await edge?.stop().catch(() => undefined);
  if (server && !ECS) {
    fs.writeFileSync(path.join(SHOTS, "server.log"), await server.logs());
    await server.stop();
  }
  await s3?.stop().catch(() => undefined);
  await db?.cluster.stop().catch(() => undefined);
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
}, 120_000);

describe(`the MLflow UI in Chromium on the ${STACK} stack's public host${ECS ? " (ECS: Traefik, forward-auth, the portal)" : ""}`, () => {
  let person: Person;
  // What the page showed and saw when a step failed, beside the steps' own screenshots.
  afterEach(async (context) => {
    if (context.task.result?.state !== "fail" || !browser) return;
    const step = context.task.name.replace(/\W+/g, "-");
    for (const [i, p] of people.entries()) {
      await p.page.screenshot({ path: path.join(SHOTS, `failed-${step}-${i}.png`) }).catch(() => undefined);
      fs.writeFileSync(path.join(SHOTS, `failed-${step}-${i}.log`), `${p.trace.join("\n")}\n`);
    }
  });
  let experimentId: string;
  const name = `made-in-the-browser-${token(4)}`;
  const renamed = `${name}-renamed`;
  const model = `registered-in-the-browser-${token(4)}`;

  it("signs in and lists the experiments", async () => {
    person = await signIn(me);
    const { page } = person;
    const current = answerTo(page, "GET", "/users/current");
    await page.goto(`https://${host}/#/experiments`, { waitUntil: "domcontentloaded" });
    expect((await current).status()).toBe(200);
    await textShown(page, run.experimentName);
    await textShown(page, me.username);
    expect(new URL(page.url()).host).toBe(host);
    // The person works on classic ML runs: "Model training" rather than the GenAI view MLflow
    // 3.17 opens by default. The choice is kept in the browser (localStorage), so a run opened
    // from the runs table gets the classic run page too.
    await settle(page);
    await click(page, `//*[normalize-space(text())="Model training"]`);
    await page.waitForFunction(`localStorage.getItem("mlflow.workflowType_v1") === '"machine_learning"'`, { timeout: UI_WAIT_MS });
    await screenshot(page, "signed-in-experiments");
    expectNoRefusal(person);
  });

  it("creates an experiment", async () => {
    const { page } = person;
    await click(page, button("Create"));
    await page.waitForSelector("#experimentName", { visible: true });
    await page.type("#experimentName", name);
    const created = answerTo(page, "POST", "/experiments/create");
    await click(page, inDialog("Create"));
    const answer = await created;
    expect(answer.status(), await answer.text()).toBe(200);
    experimentId = ((await answer.json()) as { experiment_id: string }).experiment_id;
    await hashShows(page, `/experiments/${experimentId}`);
    await textShown(page, name);
    await screenshot(page, "experiment-created");
    expectNoRefusal(person);
  });

  it("renames it", async () => {
    const { page } = person;
    await openRunsPage(page, experimentId);
    await textShown(page, name);
    await openEditExperiment(page);
    await replaceInput(page, `[role=dialog] input[id="mlflow.experiment.edit.name"]`, renamed);
    const updated = answerTo(page, "POST", "/experiments/update");
    await click(page, inDialog("Save"));
    expect((await updated).status()).toBe(200);
    await textShown(page, renamed);
    const stored = await api<{ experiment: { name: string } }>("GET", `/api/2.0/mlflow/experiments/get?experiment_id=${experimentId}`);
    expect(stored.experiment.name).toBe(renamed);
    await screenshot(page, "experiment-renamed");
    expectNoRefusal(person);
  });

  it("lists the runs, opens one and shows an artifact's content", async () => {
    const { page } = person;
    // The runs table: the view MLflow's POST runs/search feeds, the first to break on a refused Origin.
    await openRunsPage(page, run.experimentId);
    await textShown(page, "trained-by-rest");
    await textShown(page, "1 matching run");
    await screenshot(page, "runs-table");
    await click(page, `//a[normalize-space(.)="trained-by-rest"]`);
    await hashShows(page, `/runs/${run.runId}`);
    await textShown(page, "learning_rate");
    // The classic run page (breadcrumb "<experiment> > Runs"), not the GenAI one ("Evaluations").
    await page.waitForSelector(`xpath///a[normalize-space(.)="Runs"]`, { visible: true });
    expect(await page.$(`xpath///a[normalize-space(.)="Evaluations"]`)).toBeNull();
    await screenshot(page, "run-overview");
    const listed = answerTo(page, "GET", "/artifacts/list");
    await click(page, `//*[@role="tab"][normalize-space(.)="Artifacts"]`);
    expect((await listed).status()).toBe(200);
    // The tree, once the run page's own requests are answered (it re-renders as they come in).
    await page.waitForSelector(`xpath///*[normalize-space(text())="docs"]`, { visible: true });
    await settle(page);
    const listedDocs = answerTo(page, "GET", "/artifacts/list");
    await clickShown(page, `//*[normalize-space(text())="docs"]`);
    expect((await listedDocs).url()).toContain("path=docs");
    expect((await listedDocs).status()).toBe(200);
    const fetched = answerTo(page, "GET", "/get-artifact");
    await clickShown(page, `//*[normalize-space(text())="model-card.txt"]`);
    expect((await fetched).url()).toContain("path=docs%2Fmodel-card.txt");
    expect((await fetched).status()).toBe(200);
    await textShown(page, run.note);
    await screenshot(page, "run-artifact-preview");
    // Still shown once the page settled: the pane did not fall back to a loading skeleton.
    expect(await page.evaluate(`document.body.innerText.includes(${JSON.stringify(run.note)})`)).toBe(true);
    expectNoRefusal(person);
  });

  it("registers the run's model", async () => {
    const { page } = person;
    await clickShown(page, `//*[normalize-space(text())="model"]`);
    await click(page, button("Register model"));
    await page.waitForSelector("#selectedModel", { visible: true });
    await page.click("#selectedModel");
    // The first option of the model list is "Create New Model".
    await textShown(page, "Create New Model");
    await page.keyboard.press("Enter");
    await page.waitForSelector("#modelName", { visible: true });
    await page.type("#modelName", model);
    const createdModel = answerTo(page, "POST", "/registered-models/create");
    const createdVersion = answerTo(page, "POST", "/model-versions/create");
    await click(page, inDialog("Register"));
    expect((await createdModel).status()).toBe(200);
    expect((await createdVersion).status()).toBe(200);
    await screenshot(page, "model-registered");
    await page.goto(`https://${host}/#/models`, { waitUntil: "domcontentloaded" });
    await textShown(page, model);
    await textShown(page, "Version 1");
    // MLflow announces its new registry view in a dialog over the list: closed, as a person would.
    if (await page.$(`xpath/${inDialog("Try it now")}`)) {
      await click(page, `//div[@role="dialog"]//button[@aria-label="Close"]`);
      await page.waitForSelector(`xpath/${inDialog("Try it now")}`, { hidden: true });
    }
    const versions = await api<{ model_versions: { version: string; run_id: string }[] }>("GET", `/api/2.0/mlflow/model-versions/search?filter=${encodeURIComponent(`name='${model}'`)}`);
    expect(versions.model_versions.map((v) => [v.version, v.run_id])).toEqual([["1", run.runId]]);
    await screenshot(page, "model-registry");
    expectNoRefusal(person);
  });

  it("a READ user sees another's experiment but cannot rename it", async () => {
    // On ECS the person has READ on the API client's experiment (default_permission READ); with
    // basic auth a second user, created by the admin, has READ on the admin's.
    const readerPerson = ECS ? person : await signIn(reader);
    const { page } = readerPerson;
    await openRunsPage(page, run.experimentId);
    await textShown(page, run.experimentName);
    await textShown(page, reader.username);
    await openEditExperiment(page);
    await replaceInput(page, `[role=dialog] input[id="mlflow.experiment.edit.name"]`, `taken-over-${token(4)}`);
    const updated = answerTo(page, "POST", "/experiments/update");
    await click(page, inDialog("Save"));
    const answer = await updated;
    // Refused by MLflow's permissions, not by the origin check ("Cross-origin request blocked").
    expect([answer.status(), await answer.text()]).toEqual([403, "Permission denied"]);
    await page.waitForFunction(`document.querySelector("[role=dialog]")?.textContent?.includes("Permission denied")`, { timeout: UI_WAIT_MS });
    await screenshot(page, "read-user-refused");
    const stored = await api<{ experiment: { name: string } }>("GET", `/api/2.0/mlflow/experiments/get?experiment_id=${run.experimentId}`);
    expect(stored.experiment.name).toBe(run.experimentName);
    expectNoRefusal(readerPerson, (a) => a.status === 403 && a.path.endsWith("/experiments/update") && a.body === "Permission denied");
  });
});
