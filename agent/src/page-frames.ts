// Pages as the worker accepts them: at most maxPageEntries entries and maxMessageBytes of
// JSON per message. A DC's page (up to 1,000 entries) of users with photos can be far larger
// than that, so the agent splits it before sending; the worker closes an agent that does not.
import { frameTargetBytes, maxMessageBytes, maxPageEntries, type WireEntry } from "../../schema/src/agent-protocol.ts";

/** Room for the envelope around the entries: {"type":"page","id":"<uuid>","entries":[…]}. */
const envelopeBytes = 128;

export class EntryTooLargeError extends Error {
  readonly code = "entry_too_large";
  constructor(dn: string, bytes: number, limit: number) {
    super(`The entry ${dn} is ${bytes} bytes as sent, more than the ${limit} bytes one message may carry; it cannot be sent.`);
    this.name = "EntryTooLargeError";
  }
}

/**
 * Splits `entries` into pages within the limits, in order, each aimed at `target` bytes (an
 * entry larger than that goes alone); one entry too large to send at all throws.
 */
export function pageFrames(
  entries: WireEntry[],
  limits: { bytes: number; entries: number; target?: number } = {
    bytes: maxMessageBytes,
    entries: maxPageEntries,
    target: frameTargetBytes,
  },
): WireEntry[][] {
  const target = Math.min(limits.target ?? limits.bytes, limits.bytes);
  const frames: WireEntry[][] = [];
  let frame: WireEntry[] = [];
  let bytes = envelopeBytes;
  for (const entry of entries) {
    // UTF-8 bytes of the entry's JSON, and the comma between entries.
    const size = Buffer.byteLength(JSON.stringify(entry)) + 1;
    if (size + envelopeBytes > limits.bytes) throw new EntryTooLargeError(entry.dn, size, limits.bytes);
    if (frame.length > 0 && (bytes + size > target || frame.length >= limits.entries)) {
      frames.push(frame);
      frame = [];
      bytes = envelopeBytes;
    }
    frame.push(entry);
    bytes += size;
  }
  if (frame.length > 0) frames.push(frame);
  return frames;
}
