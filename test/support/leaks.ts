/** Where a secret shows in plain text: shared by the gRPC-host provider tests and the engine tests. */

/** Paths (".a.b", "" for `value` itself) of the strings in `value` that contain any of `secrets`. */
export function plainTextLeaks(value: unknown, secrets: string[]): string[] {
  const leaks: string[] = [];
  const walk = (v: unknown, p: string) => {
    if (typeof v === "string") {
      for (const s of secrets) if (s && v.includes(s)) leaks.push(p);
    } else if (v && typeof v === "object") {
      for (const [k, x] of Object.entries(v)) walk(x, `${p}.${k}`);
    }
  };
  walk(value, "");
  return leaks;
}
