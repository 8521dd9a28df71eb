import { describe, expect, it } from "vitest";
import { parseExpiry } from "../../stacks/lifecycle/expiry";

const at = (text: string) => {
  const p = parseExpiry(text);
  if (!p.ok) throw new Error(p.reason);
  return p.at.toISOString();
};

describe("parseExpiry: RFC 3339 with an explicit offset", () => {
  it("reads Z, positive and negative offsets as the same instant", () => {
    expect(at("2026-12-01T18:00:00Z")).toBe("2026-12-01T18:00:00.000Z");
    expect(at("2026-12-01T19:00:00+01:00")).toBe("2026-12-01T18:00:00.000Z");
    expect(at("2026-12-01T13:00:00-05:00")).toBe("2026-12-01T18:00:00.000Z");
    expect(at("2026-12-01t18:00:00z")).toBe("2026-12-01T18:00:00.000Z");
  });

  it("crosses the date line and the year with half-hour and 45-minute offsets", () => {
    expect(at("2027-01-01T05:30:00+05:30")).toBe("2027-01-01T00:00:00.000Z");
    expect(at("2026-12-31T23:59:59-12:00")).toBe("2027-01-01T11:59:59.000Z");
    expect(at("2027-01-01T12:45:00+12:45")).toBe("2027-01-01T00:00:00.000Z");
    expect(at("2027-01-01T00:00:00+14:00")).toBe("2026-12-31T10:00:00.000Z");
  });

  it("keeps fractions of a second (milliseconds)", () => {
    expect(at("2026-12-01T18:00:00.250Z")).toBe("2026-12-01T18:00:00.250Z");
    expect(at("2026-12-01T18:00:00.123456789+00:00")).toBe("2026-12-01T18:00:00.123Z");
  });

  it("accepts 29 February in a leap year only", () => {
    expect(at("2028-02-29T00:00:00Z")).toBe("2028-02-29T00:00:00.000Z");
    const p = parseExpiry("2027-02-29T00:00:00Z");
    expect(p.ok).toBe(false);
    if (!p.ok) expect(p.reason).toContain("not a real date");
  });

  it.each([
    ["2026-12-01T18:00:00", "without an offset: a different instant in every time zone"],
    ["2026-12-01", "a date alone"],
    ["2026-12-01 18:00:00Z", "a space instead of T"],
    ["1764612000", "epoch seconds"],
    ["next tuesday", "prose"],
    ["", "empty"],
  ])("refuses %j (%s), saying what form to use", (text) => {
    const p = parseExpiry(text);
    expect(p.ok).toBe(false);
    if (!p.ok) expect(p.reason).toContain("2026-12-01T18:00:00Z");
  });

  it.each(["2026-13-01T00:00:00Z", "2026-04-31T00:00:00Z", "2026-12-01T24:00:00Z", "2026-12-01T23:60:00Z", "2026-12-01T23:00:60Z", "2026-12-01T23:00:00+24:00", "2026-12-01T23:00:00+01:60"])(
    "refuses the impossible %s",
    (text) => {
      const p = parseExpiry(text);
      expect(p.ok).toBe(false);
      if (!p.ok) expect(p.reason).toContain("not a real date and time");
    },
  );

});

describe("parseExpiry: an unquoted time in Pulumi.<stack>.yaml, as the CLI hands it on (Go's time.Time String())", () => {
  it("reads Go's form as the instant it was (UTC, offsets, fractions)", () => {
    expect(at("2026-12-04 16:01:24 +0000 UTC")).toBe("2026-12-04T16:01:24.000Z");
    expect(at("2026-12-04 17:01:24 +0100 +0100")).toBe("2026-12-04T16:01:24.000Z");
    expect(at("2026-12-04 11:01:24 -0500 EST")).toBe("2026-12-04T16:01:24.000Z");
    expect(at("2026-12-04 16:01:24.5 +0000 UTC")).toBe("2026-12-04T16:01:24.500Z");
  });

  it("refuses anything else with the fix: quote it", () => {
    for (const text of ["next tuesday", "2026-12-04 16:01:24", "2026-12-04 16:01:24 UTC", "2026-12-04 16:01:24 +00:00 UTC"]) {
      const p = parseExpiry(text);
      expect(p.ok, text).toBe(false);
      if (!p.ok) expect(p.reason).toMatch(/not an RFC 3339 timestamp.*quote it/);
    }
  });
});
