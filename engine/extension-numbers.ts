// Extension numbers: normalising an attribute value into one, the ranges a user draws from,
// and a pool that hands out the lowest free number of the first range with room.
import type { ExtensionNumbers, NumberNormalization, NumberRange } from "../schema/generated/config.ts";
import { isDnWithin, parseDn } from "../schema/src/dn.ts";

const MIN_DIGITS = 2;
const MAX_DIGITS = 10;

/**
 * The number an attribute value gives, after pattern, stripPrefix, digitsOnly and lastDigits
 * in that order; undefined when the result is not 2 to 10 digits.
 */
export function normalizeNumber(value: string | undefined, rules: NumberNormalization = {}): string | undefined {
  if (value === undefined) return undefined;
  let text = value.trim();
  if (rules.pattern !== undefined) {
    const match = new RegExp(rules.pattern).exec(text);
    if (!match) return undefined;
    text = match[1] ?? match[0];
  }
  if (rules.stripPrefix !== undefined && text.startsWith(rules.stripPrefix)) text = text.slice(rules.stripPrefix.length);
  if (rules.digitsOnly !== false) text = text.replace(/\D/g, "");
  if (rules.lastDigits !== undefined) text = text.slice(-rules.lastDigits);
  return new RegExp(`^\\d{${MIN_DIGITS},${MAX_DIGITS}}$`).test(text) ? text : undefined;
}

/** The ranges a user's sequential number comes from: the deepest ouRanges entry holding the user, else ranges. */
export function rangesFor(numbers: ExtensionNumbers | undefined, userDn: string): NumberRange[] {
  let best: { depth: number; ranges: NumberRange[] } | undefined;
  for (const entry of numbers?.ouRanges ?? []) {
    if (!isDnWithin(userDn, entry.ou)) continue;
    const parsed = parseDn(entry.ou);
    const depth = parsed.ok ? parsed.dn.length : 0;
    if (!best || depth > best.depth) best = { depth, ranges: entry.ranges };
  }
  return best?.ranges ?? numbers?.ranges ?? [];
}

export function describeRanges(ranges: NumberRange[]): string {
  return ranges.length === 0 ? "no ranges configured" : ranges.map((r) => `${r.start}-${r.end}`).join(", ");
}

/**
 * Numbers in use, and sequential allocation from ranges. A cursor per range only moves
 * forward, because numbers are never released while a plan is being made: allocation stays
 * linear even for ranges of a hundred thousand numbers. What a range handed out is not kept
 * number by number: every number below its cursor was in use or handed out, so the cursor says
 * it, and a first sync of 100,000 users holds a few cursors instead of 100,000 strings.
 */
export class NumberPool {
  readonly #used = new Set<string>();
  readonly #cursor = new Map<string, { start: string; next: number }>();

  has(number: string): boolean {
    if (this.#used.has(number)) return true;
    const n = Number(number);
    for (const { start, next } of this.#cursor.values()) if (n < next && n >= Number(start) && format(n, start) === number) return true;
    return false;
  }

  take(number: string): void {
    this.#used.add(number);
  }

  /** The lowest free number of the first range with room, taken; undefined when all are full. */
  allocate(ranges: NumberRange[]): string | undefined {
    for (const range of ranges) {
      const key = `${range.start}-${range.end}`;
      const end = Number(range.end);
      const at = this.#cursor.get(key) ?? { start: range.start, next: Number(range.start) };
      this.#cursor.set(key, at);
      for (; at.next <= end; at.next++) {
        const number = format(at.next, range.start);
        // Another range's cursor may have handed it out (ranges can overlap).
        if (this.#used.has(number) || this.#otherHas(number, key)) continue;
        at.next++;
        return number;
      }
    }
    return undefined;
  }

  #otherHas(number: string, key: string): boolean {
    const n = Number(number);
    for (const [k, { start, next }] of this.#cursor)
      if (k !== key && n < next && n >= Number(start) && format(n, start) === number) return true;
    return false;
  }
}

/** `n` as a range starting at `start` writes it: as many digits, leading zeros kept. */
function format(n: number, start: string): string {
  return String(n).padStart(start.length, "0");
}
