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
    const wall = Date.UTC(year, month - 1, date, h, m);
    // The zone's offset at the candidate itself (a DST change may lie between now and then).
    let candidate = wall - offset(wall, zone);
    candidate = wall - offset(candidate, zone);
    if (candidate > now) return candidate;
  }
  return now + 86_400_000;
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
