/**
 * Expiry timestamps of ephemeral stacks as the teardown reads them back from config, stack
 * outputs and resource tags: RFC 3339 with an explicit offset, so that a stack expires at the
 * same instant wherever the teardown runs. Anything else is refused, never guessed.
 */

import { CONFIG_TIME_HINT, configTime } from "../../infra/config-time";

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-](\d{2}):(\d{2}))$/;

/** The instant an RFC 3339 timestamp names, or a reason it names none. */
export function parseExpiry(text: string): { ok: true; at: Date } | { ok: false; reason: string } {
  // An unquoted time in Pulumi.<stack>.yaml reaches us in Go's form (infra/config-time.ts).
  const m = RFC3339.exec(configTime(text.trim()));
  if (!m) {
    return {
      ok: false,
      reason: `"${text}" is not an RFC 3339 timestamp with an offset, such as 2026-12-01T18:00:00Z or 2026-12-01T19:00:00+01:00 (a time without Z or an offset would mean a different instant in every time zone). ${CONFIG_TIME_HINT}`,
    };
  }
  const [, y, mo, d, h, mi, s, , zone, oh, om] = m;
  const [year, month, day, hour, minute, second] = [y, mo, d, h, mi, s].map(Number);
  const offsetHours = oh === undefined ? 0 : Number(oh);
  const offsetMinutes = om === undefined ? 0 : Number(om);
  // Date.UTC rolls 2026-02-30 over to March: compare the fields back to refuse such dates.
  const local = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
  const valid =
    local.getUTCFullYear() === year && local.getUTCMonth() === month - 1 && local.getUTCDate() === day &&
    hour <= 23 && minute <= 59 && second <= 59 && offsetHours <= 23 && offsetMinutes <= 59;
  if (!valid) return { ok: false, reason: `"${text}" is not a real date and time` };
  const sign = zone.startsWith("-") ? -1 : 1;
  const offsetMs = sign * (offsetHours * 60 + offsetMinutes) * 60_000;
  const fraction = m[7] ? Math.floor(Number(`0${m[7]}`) * 1000) : 0;
  return { ok: true, at: new Date(local.getTime() - offsetMs + fraction) };
}

