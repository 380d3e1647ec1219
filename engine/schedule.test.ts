import { describe, expect, it } from "vitest";
import { nextScheduledRun } from "./schedule.ts";

const at = (iso: string) => Date.parse(iso);

describe("nextScheduledRun", () => {
  it("runs every N minutes, and never for manual", () => {
    expect(nextScheduledRun({ mode: "interval", everyMinutes: 15 }, at("2026-03-01T10:00:00Z"))).toBe(at("2026-03-01T10:15:00Z"));
    expect(nextScheduledRun(undefined, at("2026-03-01T10:00:00Z"))).toBe(at("2026-03-01T11:00:00Z"));
    expect(nextScheduledRun({ mode: "manual" }, at("2026-03-01T10:00:00Z"))).toBeNull();
  });

  it.each([
    ["later today in London (winter)", "02:30", "Europe/London", "2026-01-10T01:00:00Z", "2026-01-10T02:30:00Z"],
    ["tomorrow when today's time has passed", "02:30", "Europe/London", "2026-01-10T03:00:00Z", "2026-01-11T02:30:00Z"],
    ["London in summer time", "02:30", "Europe/London", "2026-07-10T00:00:00Z", "2026-07-10T01:30:00Z"],
    ["New York", "23:00", "America/New_York", "2026-01-10T12:00:00Z", "2026-01-11T04:00:00Z"],
    ["across the spring-forward night in New York", "06:00", "America/New_York", "2026-03-08T05:00:00Z", "2026-03-08T10:00:00Z"],
    ["Kolkata, half-hour offset", "09:00", "Asia/Kolkata", "2026-01-10T00:00:00Z", "2026-01-10T03:30:00Z"],
  ])("daily: %s", (_, time, timeZone, now, expected) => {
    expect(new Date(nextScheduledRun({ mode: "daily", time, timeZone }, at(now)) as number).toISOString()).toBe(
      new Date(at(expected)).toISOString(),
    );
  });
});
