// Ranged retrieval of large multi-valued attributes ([MS-ADTS] 3.1.1.3.1.3.3): AD returns
// at most MaxValRange (1500) values of an attribute such as member in one entry, named
// "member;range=0-1499" instead of "member", and the client asks for the rest with
// "member;range=1500-*" until a range ends in "*". Pure logic; the caller does the I/O.

export interface RangeChunk {
  /** The attribute without the range option, as the server spelled it. */
  attribute: string;
  low: number;
  /** Undefined for "*": these are the last values. */
  high: number | undefined;
  values: Buffer[];
}

/** The parts of "member;range=0-1499", or undefined for a type without a range option. */
export function parseRangedType(type: string): { attribute: string; low: number; high: number | undefined } | undefined {
  const match = /^(.+);range=(\d+)-(\d+|\*)$/i.exec(type);
  if (!match) return undefined;
  const [, attribute = "", low = "0", high = "*"] = match;
  return { attribute, low: Number(low), high: high === "*" ? undefined : Number(high) };
}

/**
 * The chunk to go on from when a response holds several for one attribute. Samba answers
 * "member;range=6-10" with the values as "member;range=6-*" and an empty "member;range=6-10"
 * beside it; the one ending in "*", else the one reaching furthest, is the real one.
 */
export function pickChunk(chunks: RangeChunk[]): RangeChunk | undefined {
  let best: RangeChunk | undefined;
  for (const chunk of chunks) {
    if (best === undefined) best = chunk;
    else if (chunk.high === undefined) {
      if (best.high !== undefined || chunk.values.length > best.values.length) best = chunk;
    } else if (best.high !== undefined && chunk.high > best.high) best = chunk;
  }
  return best;
}

export type FetchRange = (attributeWithRange: string) => Promise<RangeChunk[]>;

export interface RangedValues {
  values: Buffer[];
  complete: boolean;
  /** Why not complete. */
  reason?: string;
}

// Far beyond any real attribute (AD's own limit on linked values is in the millions), and a
// guard against a server that keeps answering with the same range.
const MAX_ROUND_TRIPS = 100_000;

/**
 * All values of a ranged attribute: the first chunk's, then whatever `fetch` returns for
 * "attr;range=N-*" until a range ends in "*". Incomplete, never guessed, when the server
 * stops answering with the next range (e.g. the values changed meanwhile).
 */
export async function readRemainingRanges(first: RangeChunk, fetch: FetchRange): Promise<RangedValues> {
  const values = [...first.values];
  let current = first;
  for (let trip = 0; current.high !== undefined; trip++) {
    const next = current.high + 1;
    if (trip >= MAX_ROUND_TRIPS) {
      return { values, complete: false, reason: `ranged retrieval of ${first.attribute} did not end after ${MAX_ROUND_TRIPS} requests` };
    }
    const chunk = pickChunk((await fetch(`${first.attribute};range=${next}-*`)).filter((c) => c.low === next));
    if (chunk === undefined) {
      return {
        values,
        complete: false,
        reason: `the server returned no values of ${first.attribute} from ${next} on, though the previous range did not end in "*"`,
      };
    }
    if (chunk.high !== undefined && chunk.high < next) {
      return { values, complete: false, reason: `the server returned the empty range ${next}-${chunk.high} of ${first.attribute}` };
    }
    values.push(...chunk.values);
    current = chunk;
  }
  return { values, complete: true };
}
