// When the next scheduled run is due: every N minutes, or daily at a wall-clock time in an
// IANA time zone (Intl knows the zones; Workers ship the full ICU data).
import type { Schedule } from "../schema/generated/config.ts";

/** Milliseconds since the epoch of the next run after `now`, or null for manual. */
export function nextScheduledRun(schedule: Schedule | undefined, now: number): number | null {
  const mode = schedule?.mode ?? "interval";
  if (mode === "manual") return null;
  if (mode === "interval") return now + (schedule?.everyMinutes ?? 60) * 60_000;
  const [h, m] = (schedule?.time ?? "00:00").split(":").map(Number) as [number, number];
  const zone = schedule?.timeZone ?? "UTC";
  for (let day = 0; day <= 2; day++) {
    const { year, month, date } = wallDate(now + day * 86_400_000, zone);
    const candidate = instantOf(Date.UTC(year, month - 1, date, h, m), zone);
    // On a fall-back night the run is at the first of the two times; the second, after it, is
    // not a second run that day.
    if (candidate > now) return candidate;
  }
  return now + 86_400_000;
}

/**
 * The instant a wall-clock time (given as if it were UTC) falls on in `zone`. Where a
 * fall-back repeats it, the first of the two; where a spring-forward gap skips it, the time
 * the gap pushes it to (02:30 in a 02:00-03:00 gap is 03:30), as Java's ZonedDateTime does.
 */
function instantOf(wall: number, zone: string): number {
  // The offsets a day either side: a zone changes its offset at most once in between.
  const before = wall - offset(wall - 86_400_000, zone);
  const after = wall - offset(wall + 86_400_000, zone);
  const real = [before, after].filter((t) => t + offset(t, zone) === wall).sort((a, b) => a - b);
  return real[0] ?? before;
}

function parts(instant: number, zone: string): Record<string, number> {
  const out: Record<string, number> = {};
  const format = new Intl.DateTimeFormat("en-US", {
    timeZone: zone,
    hourCycle: "h23",
    year: "numeric",
    month: "numeric",
    day: "numeric",
    hour: "numeric",
    minute: "numeric",
    second: "numeric",
  });
  for (const p of format.formatToParts(new Date(instant))) if (p.type !== "literal") out[p.type] = Number(p.value);
  return out;
}

function wallDate(instant: number, zone: string): { year: number; month: number; date: number } {
  const p = parts(instant, zone);
  return { year: p.year as number, month: p.month as number, date: p.day as number };
}

/** The zone's offset from UTC at `instant`, in milliseconds (positive east of Greenwich). */
function offset(instant: number, zone: string): number {
  const p = parts(instant, zone);
  const asUtc = Date.UTC(
    p.year as number,
    (p.month as number) - 1,
    p.day as number,
    p.hour as number,
    p.minute as number,
    p.second as number,
  );
  return asUtc - Math.floor(instant / 1000) * 1000;
}
