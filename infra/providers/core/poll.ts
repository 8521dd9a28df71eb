/**
 * Waits for asynchronous vendor work (a Neon operation, a Render deploy, a Space build) with a
 * growing interval, until it is done, it failed, or the time limit passed; the error names what
 * it waited for and the last state it saw.
 */
export interface PollState {
  done: boolean;
  /** Set when the work ended in failure: the reason, safe to show. */
  failed?: string;
  /** The state seen, for the timeout message ("build_in_progress"). */
  state: string;
}

export interface PollOptions {
  /** "the Render deploy dep-123 of mlflow-kit-dev to go live" */
  what: string;
  timeoutMs: number;
  initialIntervalMs?: number;
  maxIntervalMs?: number;
}

export async function pollUntil(o: PollOptions, check: () => Promise<PollState>): Promise<PollState> {
  const started = Date.now();
  let interval = o.initialIntervalMs ?? 200;
  for (let polls = 1; ; polls++) {
    const s = await check();
    if (s.failed) throw new Error(`${o.what}: failed (${s.state}): ${s.failed}`);
    if (s.done) return s;
    if (Date.now() - started + interval > o.timeoutMs) {
      throw new Error(`Timed out after ${Math.round((Date.now() - started) / 1000)} s (${polls} checks) waiting for ${o.what}; last state: ${s.state}. Look at it in the vendor's dashboard, then run \`pulumi up\` again (it resumes) or raise the wait limit.`);
    }
    await new Promise((r) => setTimeout(r, interval));
    interval = Math.min(o.maxIntervalMs ?? 5_000, Math.ceil(interval * 1.5));
  }
}
