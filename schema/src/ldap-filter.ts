// LDAP search filters in the RFC 4515 string syntax: a syntax check with plain-English
// messages, value escaping, and a tagged template that assembles filters safely. Pure
// TypeScript, no package imports: this module runs in the Worker, the browser editor and Node.
import { fail, isAlpha, isDigit, isHex, LdapSyntaxError } from "./ldap-syntax.ts";

export type FilterCheck = { ok: true } | { ok: false; message: string; offset: number };

// Far beyond any real filter; bounds the work a server is asked to do and keeps messages sane.
const MAX_DEPTH = 100;

type Frame = { kind: "&" | "|" | "!"; open: number; count: number };

function isKeychar(c: string | undefined): boolean {
  return isAlpha(c) || isDigit(c) || c === "-";
}

function describe(c: string | undefined): string {
  if (c === undefined) return "end of input";
  if (c === "\0") return "NUL";
  if (c === " ") return "space";
  return `'${c}'`;
}

function neverClosed(open: number): never {
  fail(`unbalanced parentheses: '(' at position ${open} is never closed`, open);
}

/**
 * Checks `text` against the RFC 4515 section 3 grammar, with RFC 4526 absolute true "(&)"
 * and false "(|)". The outer parentheses are required. No whitespace is allowed between
 * filters (the grammar has none). Nesting deeper than 100 is rejected. Runs in linear time
 * without recursion. Offsets are UTF-16 indexes into `text`.
 */
export function checkFilter(text: string): FilterCheck {
  try {
    parseFilter(text);
    return { ok: true };
  } catch (error) {
    if (error instanceof LdapSyntaxError) {
      return { ok: false, message: error.message, offset: error.offset };
    }
    throw error;
  }
}

function parseFilter(text: string): void {
  const first = text[0];
  if (first === undefined) {
    fail("empty filter: expected a filter in parentheses such as (objectClass=user)", 0);
  }
  if (first !== "(") {
    if (first === " " || first === "\t" || first === "\n" || first === "\r") {
      fail("unexpected whitespace at position 0: the filter must start with '('", 0);
    }
    fail(`the filter must be enclosed in parentheses: expected '(' at position 0, found ${describe(first)}`, 0);
  }
  const stack: Frame[] = [];
  let pos = 0;
  // Position of the ')' that closed the last simple item, for the "unescaped ')'" hint.
  let itemClose = -1;
  for (;;) {
    // Here text[pos] is the '(' of a filter.
    const open = pos;
    const c = text[pos + 1];
    if (c === "&" || c === "|" || c === "!") {
      if (stack.length >= MAX_DEPTH) {
        fail(`filter nested more than ${MAX_DEPTH} levels deep at position ${open}`, open);
      }
      stack.push({ kind: c, open, count: 0 });
      pos += 2;
    } else {
      pos = parseItem(text, open);
      itemClose = pos - 1;
      const parent = stack.at(-1);
      if (parent === undefined) {
        expectEnd(text, pos, itemClose);
        return;
      }
      parent.count++;
    }
    // Close every filter that ends here, until the next '(' starts a sibling or child.
    for (;;) {
      const top = stack.at(-1);
      if (top === undefined) {
        expectEnd(text, pos, itemClose);
        return;
      }
      const ch = text[pos];
      if (ch === "(") {
        if (top.kind === "!" && top.count > 0) {
          fail(
            `'!' at position ${top.open + 1} takes exactly one filter, but another starts at position ${pos}: combine them with (&…) or (|…) inside the (!…)`,
            pos,
          );
        }
        break;
      }
      if (ch === ")") {
        if (top.kind === "!" && top.count === 0) {
          fail(`'!' at position ${top.open + 1} needs a filter to negate before ')' at position ${pos}`, pos);
        }
        stack.pop();
        pos++;
        const parent = stack.at(-1);
        if (parent !== undefined) parent.count++;
        continue;
      }
      if (ch === undefined) neverClosed(top.open);
      fail(unexpectedAfter(ch, pos, itemClose, `expected '(' or ')' to close the '(${top.kind}' at position ${top.open}`), pos);
    }
  }
}

function unexpectedAfter(ch: string, pos: number, itemClose: number, expected: string): string {
  let message = `unexpected ${describe(ch)} at position ${pos}: ${expected}`;
  if (ch === " ") message += " (RFC 4515 allows no spaces between filters)";
  else if (itemClose === pos - 1) {
    message += ` — if the ')' at position ${itemClose} belongs to the value, write it as \\29`;
  }
  return message;
}

function expectEnd(text: string, pos: number, itemClose: number): void {
  const ch = text[pos];
  if (ch === undefined) return;
  if (ch === ")") fail(`unbalanced parentheses: ')' at position ${pos} has no matching '('`, pos);
  if (ch === "(") {
    fail(`unexpected second filter at position ${pos}: combine several filters with (&…) or (|…)`, pos);
  }
  fail(unexpectedAfter(ch, pos, itemClose, "expected the end of the filter"), pos);
}

// RFC 4515 section 3 `item`: simple / present / substring / extensible, from the '(' at
// `open` to its ')'. Returns the position after the ')'.
function parseItem(text: string, open: number): number {
  let pos = open + 1;
  const c = text[pos];
  if (c === ")") fail(`empty filter '()' at position ${open}`, open);
  if (c === undefined) neverClosed(open);
  let attr = "";
  if (c !== ":") {
    const end = scanAttributeDescription(text, pos);
    attr = text.slice(pos, end);
    pos = end;
  }
  const op = text[pos];
  if (op === "=") return scanValue(text, pos + 1, open, true);
  if (op === "~" || op === ">" || op === "<") {
    if (text[pos + 1] !== "=") {
      fail(`expected '=' after '${op}' at position ${pos + 1}, found ${describe(text[pos + 1])}`, pos + 1);
    }
    return scanValue(text, pos + 2, open, false);
  }
  if (op === ":") return scanValue(text, scanExtensible(text, pos, open, attr), open, false);
  if (op === undefined) neverClosed(open);
  if (op === ")") {
    fail(`missing comparison after attribute "${attr}" at position ${pos}: expected '=', '~=', '>=', '<=' or ':='`, pos);
  }
  fail(`unexpected ${describe(op)} at position ${pos} after attribute "${attr}": expected '=', '~=', '>=', '<=' or ':'`, pos);
}

// RFC 4512 section 2.5: attributedescription = attributetype options, where attributetype is
// descr (keystring) or numericoid and each option is ';' followed by keychars.
function scanAttributeDescription(text: string, start: number): number {
  const end = scanOid(text, start);
  if (end === start) {
    const c = text[start];
    if (c === "=" || c === "~" || c === ">" || c === "<") {
      fail(`missing attribute description before '${c}' at position ${start}`, start);
    }
    fail(`expected an attribute description (such as cn or an OID), '&', '|' or '!' at position ${start}, found ${describe(c)}`, start);
  }
  let pos = end;
  while (text[pos] === ";") {
    const optionStart = pos + 1;
    pos = optionStart;
    while (isKeychar(text[pos])) pos++;
    if (pos === optionStart) {
      fail(`empty attribute option after ';' at position ${optionStart - 1}`, optionStart - 1);
    }
  }
  return pos;
}

// RFC 4512 section 1.4: oid = descr / numericoid. Returns `start` when there is none.
function scanOid(text: string, start: number): number {
  let pos = start;
  if (isAlpha(text[pos])) {
    while (isKeychar(text[pos])) pos++;
    return pos;
  }
  if (!isDigit(text[pos])) return start;
  let dots = 0;
  for (;;) {
    const numberStart = pos;
    while (isDigit(text[pos])) pos++;
    if (pos === numberStart) {
      fail(`invalid OID at position ${start}: expected a number at position ${pos}`, pos);
    }
    if (text[numberStart] === "0" && pos - numberStart > 1) {
      fail(`invalid OID at position ${start}: number with a leading zero at position ${numberStart}`, numberStart);
    }
    if (text[pos] !== ".") break;
    dots++;
    pos++;
  }
  if (dots === 0) {
    fail(`invalid OID at position ${start}: "${text.slice(start, pos)}" needs at least two dotted numbers`, start);
  }
  return pos;
}

// RFC 4515 section 3 `extensible`: attr [":dn"] [":" matchingrule] ":=" or
// [":dn"] ":" matchingrule ":=". `pos` is at the first ':'. Returns the position after ":=".
function scanExtensible(text: string, pos: number, open: number, attr: string): number {
  let dn = false;
  let rule = false;
  for (;;) {
    // Here text[pos] === ':'.
    pos++;
    if (text[pos] === "=") break;
    const c0 = text[pos];
    const c1 = text[pos + 1];
    if (!dn && !rule && (c0 === "d" || c0 === "D") && (c1 === "n" || c1 === "N") && text[pos + 2] === ":") {
      dn = true;
      pos += 2;
      continue;
    }
    if (rule) fail(`expected '=' after ':' at position ${pos}, found ${describe(c0)}`, pos);
    const ruleStart = pos;
    const end = scanOid(text, pos);
    if (end === pos) {
      fail(`expected a matching rule (an OID or name) or '=' after ':' at position ${pos}, found ${describe(c0)}`, pos);
    }
    rule = true;
    pos = end;
    if (text[pos] !== ":") {
      fail(`expected ':=' after matching rule "${text.slice(ruleStart, end)}" at position ${pos}, found ${describe(text[pos])}`, pos);
    }
  }
  if (attr === "" && !rule) {
    fail(
      `extensible match at position ${open} needs an attribute or a matching rule, e.g. (cn:dn:=x) or (:1.2.840.113556.1.4.1941:=x)`,
      open,
    );
  }
  return pos + 1;
}

// RFC 4515 section 3 `assertionvalue` up to the closing ')'; with `star`, '*' separates
// substrings (and "=*" is presence). Returns the position after the ')'.
function scanValue(text: string, pos: number, open: number, star: boolean): number {
  for (;;) {
    const c = text[pos];
    if (c === undefined) neverClosed(open);
    if (c === ")") return pos + 1;
    if (c === "(") fail(`unescaped '(' in value at position ${pos} — write it as \\28`, pos);
    if (c === "\\") {
      if (!isHex(text[pos + 1]) || !isHex(text[pos + 2])) {
        fail(`invalid escape at position ${pos}: '\\' must be followed by two hex digits — write a literal backslash as \\5c`, pos);
      }
      pos += 3;
      continue;
    }
    if (c === "\0") fail(`NUL character in value at position ${pos} — write it as \\00`, pos);
    if (c === "*" && !star) {
      fail(`unescaped '*' in value at position ${pos} — '*' is a wildcard only after '='; write a literal '*' as \\2a`, pos);
    }
    pos++;
  }
}

const FILTER_ESCAPES: Record<string, string> = {
  "*": "\\2a",
  "(": "\\28",
  ")": "\\29",
  "\\": "\\5c",
  "\0": "\\00",
};

/**
 * Escapes a string for use as an assertion value (RFC 4515 section 3): '*' '(' ')' '\' and
 * NUL become \2a \28 \29 \5c \00. Non-ASCII characters stay as they are (sent as UTF-8).
 */
export function escapeFilterValue(value: string): string {
  return value.replace(/[*()\\\0]/g, (c) => FILTER_ESCAPES[c] ?? c);
}

function interpolate(value: unknown, index: number): string {
  switch (typeof value) {
    case "string":
      return escapeFilterValue(value);
    case "number":
    case "bigint":
    case "boolean":
      return escapeFilterValue(String(value));
  }
  // Binary values such as objectGUID: every octet escaped (RFC 4515 section 3 allows any octet).
  if (value instanceof Uint8Array) {
    let out = "";
    for (const byte of value) out += `\\${byte.toString(16).padStart(2, "0")}`;
    return out;
  }
  const kind = value === null ? "null" : typeof value;
  throw new TypeError(`filter: value ${index + 1} is ${kind}; only strings, numbers, booleans and bytes can be interpolated`);
}

/**
 * Tagged template that escapes every interpolated value exactly once:
 * filter`(sAMAccountName=${name})`. Strings, numbers, bigints and booleans are escaped with
 * escapeFilterValue; Uint8Array (and Buffer) values have every byte hex-escaped; anything
 * else throws a TypeError. The template text is taken raw, like String.raw, so LDAP escapes
 * such as \2a can be written in it directly. Throws if the assembled filter fails
 * checkFilter, since that is a bug in the template.
 */
export function filter(strings: TemplateStringsArray, ...values: unknown[]): string {
  let out = strings.raw[0] ?? "";
  for (let i = 0; i < values.length; i++) {
    out += interpolate(values[i], i) + (strings.raw[i + 1] ?? "");
  }
  const check = checkFilter(out);
  if (!check.ok) throw new SyntaxError(`invalid LDAP filter ${JSON.stringify(out)}: ${check.message}`);
  return out;
}
