/**
 * Times in stack config arrive in two forms. `pulumi config set` writes a string (quoted in
 * Pulumi.<stack>.yaml), which reaches the program as written: RFC 3339. But an unquoted time in
 * the file (a hand edit, or a YAML 1.2 writer such as the `yaml` package, which sees no reason to
 * quote it) is a YAML timestamp to the CLI's Go YAML decoder, and reaches the program as Go's
 * time.Time String(): "2026-12-04 16:01:24 +0000 UTC" (measured with the CLI v3.274.1:
 * `pulumi config --json` and the program's config both carry that text).
 *
 * Readers take both: Go's form is turned back into the RFC 3339 time it was; anything else is
 * left as it is, for the reader's own clear refusal.
 */

/** Go's time.Time.String(): date, time, optional fraction, numeric offset, zone name. */
const GO_TIME = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(\.\d{1,9})? ([+-])(\d{2})(\d{2}) [A-Za-z0-9+-]{1,10}$/;

/** The RFC 3339 text of a time given in Go's form; undefined for any other text. */
export function fromGoTime(text: string): string | undefined {
  const m = GO_TIME.exec(text.trim());
  if (!m) return undefined;
  const [, date, time, fraction, sign, hh, mm] = m;
  const offset = sign === "+" && hh === "00" && mm === "00" ? "Z" : `${sign}${hh}:${mm}`;
  return `${date}T${time}${fraction ?? ""}${offset}`;
}

/** RFC 3339 as given, Go's form turned into RFC 3339, anything else unchanged. */
export function configTime(text: string): string {
  return fromGoTime(text) ?? text;
}

/** What to say when a time setting is neither form. */
export const CONFIG_TIME_HINT = "In Pulumi.<stack>.yaml quote it (\"2026-12-01T12:00:00Z\"), or set it with `pulumi config set`, which quotes it";
