/**
 * Durations for the Docker provider (healthcheck interval, timeout, startPeriod, ...). The
 * provider reads them back from the engine in Go's form (time.Duration's String(): "2m0s",
 * "1h0m0s", "15s"), so a value written any other way ("120s") differs from the state at every
 * preview: a diff that never goes away. Write them with this function.
 */
export function dockerDuration(seconds: number): string {
  if (!Number.isInteger(seconds) || seconds < 0) throw new Error(`dockerDuration: ${seconds} is not a whole, non-negative number of seconds`);
  if (seconds === 0) return "0s";
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  // Go prints every smaller unit once a larger one is printed: 1h0m0s, 2m0s.
  if (h > 0) return `${h}h${m}m${s}s`;
  if (m > 0) return `${m}m${s}s`;
  return `${s}s`;
}
