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
    // 02:30 does not exist in New York on 8 March 2026 (02:00 EST -> 03:00 EDT): 03:30 EDT.
    ["02:30 on the spring-forward day in New York", "02:30", "America/New_York", "2026-03-07T12:00:00Z", "2026-03-08T07:30:00Z"],
    ["the day after, 02:30 EDT again", "02:30", "America/New_York", "2026-03-08T07:30:00Z", "2026-03-09T06:30:00Z"],
    [
      "02:30 in Berlin's spring-forward gap (02:00 CET -> 03:00 CEST)",
      "02:30",
      "Europe/Berlin",
      "2026-03-28T12:00:00Z",
      "2026-03-29T01:30:00Z",
    ],
    [
      "01:30 in London's spring-forward gap (01:00 GMT -> 02:00 BST)",
      "01:30",
      "Europe/London",
      "2026-03-28T12:00:00Z",
      "2026-03-29T01:30:00Z",
    ],
    // 01:30 happens twice in New York on 1 November 2026: the first, in EDT.
    [
      "the repeated hour of fall-back in New York: the first 01:30",
      "01:30",
      "America/New_York",
      "2026-10-31T12:00:00Z",
      "2026-11-01T05:30:00Z",
    ],
    ["and not the second 01:30 after it: the next day's", "01:30", "America/New_York", "2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"],
    [
      "the repeated hour of fall-back in London: the first 01:30, in BST",
      "01:30",
      "Europe/London",
      "2026-10-24T12:00:00Z",
      "2026-10-25T00:30:00Z",
    ],
    ["and not London's second 01:30", "01:30", "Europe/London", "2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"],
    ["02:15 in Lord Howe Island's half-hour gap: 02:45", "02:15", "Australia/Lord_Howe", "2026-10-03T12:00:00Z", "2026-10-03T15:45:00Z"],
  ])("daily: %s", (_, time, timeZone, now, expected) => {
    expect(new Date(nextScheduledRun({ mode: "daily", time, timeZone }, at(now)) as number).toISOString()).toBe(
      new Date(at(expected)).toISOString(),
    );
  });
});
