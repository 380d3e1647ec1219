// RFC 4515 search filters as a tree of RFC 4511 section 4.5.1 filters, with every value's
// escapes decoded to the exact bytes. The tree is what the agent sends a DC (ldapts's own
// string parser loses escaped bytes of 0x80 and up) and what an LDIF directory evaluates.
import { checkFilter } from "./ldap-filter.ts";
import { isHex, LdapSyntaxError } from "./ldap-syntax.ts";

/** An assertion value with its RFC 4515 escapes decoded; `text` is undefined when the bytes are not UTF-8. */
export interface AssertionValue {
  readonly bytes: Uint8Array;
  readonly text: string | undefined;
}

/** A parsed filter (RFC 4511 section 4.5.1); attribute names as written, options included. */
export type FilterNode =
  | { kind: "and" | "or"; filters: FilterNode[] }
  | { kind: "not"; filter: FilterNode }
  | { kind: "equality" | "approx" | "greaterOrEqual" | "lessOrEqual"; attribute: string; value: AssertionValue }
  | { kind: "present"; attribute: string }
  | {
      kind: "substrings";
      attribute: string;
      initial: AssertionValue | undefined;
      any: AssertionValue[];
      final: AssertionValue | undefined;
    }
  | { kind: "extensible"; attribute: string | undefined; rule: string | undefined; dnAttributes: boolean; value: AssertionValue };

/**
 * Parses an RFC 4515 filter string. The syntax is checked by checkFilter first, so an
 * invalid filter gets the same message (with its offset) here as everywhere else; throws
 * LdapSyntaxError.
 */
export function parseFilterAst(text: string): FilterNode {
  const check = checkFilter(text);
  if (!check.ok) throw new LdapSyntaxError(`invalid LDAP filter ${JSON.stringify(text)}: ${check.message}`, check.offset);
  return new FilterReader(text).filter();
}

// ---------------------------------------------------------------------------------------
// Reading the AST. checkFilter has accepted the text, so only the shape is read here: every
// '(' has its ')', a value holds no unescaped '(' or ')', and '\' is always followed by two
// hex digits. Nesting is at most 100 deep (checkFilter's limit), so recursion is safe.

class FilterReader {
  readonly text: string;
  pos = 0;

  constructor(text: string) {
    this.text = text;
  }

  filter(): FilterNode {
    const c = this.text[this.pos + 1];
    if (c === "&" || c === "|") {
      this.pos += 2;
      const filters: FilterNode[] = [];
      while (this.text[this.pos] === "(") filters.push(this.filter());
      this.pos++;
      return { kind: c === "&" ? "and" : "or", filters };
    }
    if (c === "!") {
      this.pos += 2;
      const filter = this.filter();
      this.pos++;
      return { kind: "not", filter };
    }
    return this.item();
  }

  item(): FilterNode {
    const { text } = this;
    const start = this.pos + 1;
    let p = start;
    while (!"=~<>:".includes(text[p] ?? "=")) p++;
    const attribute = text.slice(start, p);
    const op = text[p];
    if (op === ":") return this.extensible(attribute, p);
    const valueStart = op === "=" ? p + 1 : p + 2;
    const close = text.indexOf(")", valueStart);
    const raw = text.slice(valueStart, close);
    this.pos = close + 1;
    if (op === "~") return { kind: "approx", attribute, value: decodeValue(raw) };
    if (op === ">") return { kind: "greaterOrEqual", attribute, value: decodeValue(raw) };
    if (op === "<") return { kind: "lessOrEqual", attribute, value: decodeValue(raw) };
    if (raw === "*") return { kind: "present", attribute };
    // A literal '*' is always written \2a, so every '*' left is a wildcard.
    if (!raw.includes("*")) return { kind: "equality", attribute, value: decodeValue(raw) };
    const parts = raw.split("*");
    const first = parts[0] ?? "";
    const last = parts[parts.length - 1] ?? "";
    return {
      kind: "substrings",
      attribute,
      initial: first === "" ? undefined : decodeValue(first),
      // "a**b" has an empty any-part, which matches anywhere: dropping it changes nothing.
      any: parts
        .slice(1, -1)
        .filter((s) => s !== "")
        .map(decodeValue),
      final: last === "" ? undefined : decodeValue(last),
    };
  }

  // attr [":dn"] [":" rule] ":=" value, or [":dn"] ":" rule ":=" value. Neither "dn" nor a
  // rule holds '=', so the first ":=" ends them.
  extensible(attribute: string, colon: number): FilterNode {
    const { text } = this;
    const assign = text.indexOf(":=", colon);
    let dnAttributes = false;
    let rule: string | undefined;
    for (const part of text.slice(colon + 1, assign).split(":")) {
      if (part === "") continue;
      if (part.toLowerCase() === "dn" && !dnAttributes && rule === undefined) dnAttributes = true;
      else rule = part;
    }
    const close = text.indexOf(")", assign + 2);
    this.pos = close + 1;
    return {
      kind: "extensible",
      attribute: attribute === "" ? undefined : attribute,
      rule,
      dnAttributes,
      value: decodeValue(text.slice(assign + 2, close)),
    };
  }
}

const encoder = new TextEncoder();
const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

// \XX escapes are octets, not characters: "\c3\a9" is one é, and \01\02 in an objectGUID
// assertion is two raw bytes. So the value is decoded to bytes first and read as UTF-8 after.
function decodeValue(raw: string): AssertionValue {
  if (!raw.includes("\\")) return { bytes: encoder.encode(raw), text: raw };
  const chunks: Uint8Array[] = [];
  let literal = 0;
  let length = 0;
  const push = (chunk: Uint8Array) => {
    chunks.push(chunk);
    length += chunk.length;
  };
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] !== "\\" || !isHex(raw[i + 1]) || !isHex(raw[i + 2])) continue;
    if (i > literal) push(encoder.encode(raw.slice(literal, i)));
    push(Uint8Array.of(Number.parseInt(raw.slice(i + 1, i + 3), 16)));
    i += 2;
    literal = i + 1;
  }
  if (literal < raw.length) push(encoder.encode(raw.slice(literal)));
  const bytes = new Uint8Array(length);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.length;
  }
  let text: string | undefined;
  try {
    text = strictUtf8.decode(bytes);
  } catch {
    text = undefined;
  }
  return { bytes, text };
}
