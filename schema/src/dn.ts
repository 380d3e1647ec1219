// Distinguished names as Active Directory writes them: RFC 4514 string syntax, with the
// spacing leniency of RFC 2253 section 4 (see parseDn). Pure TypeScript, no package imports: this
// module runs in the Worker, the browser editor and Node.
import { fail, isAlpha, isDigit, isHex, LdapSyntaxError } from "./ldap-syntax.ts";

/** One attribute type and value of an RDN; multi-valued RDNs (joined by '+') have several. */
export interface Rdn {
  type: string;
  value: string;
}

/** RDN sequence, leftmost (most specific) first; each RDN is an array of its AVAs. */
export type Dn = Rdn[][];

export type DnParseResult = { ok: true; dn: Dn } | { ok: false; message: string; offset: number };

function describe(c: string | undefined): string {
  return c === undefined ? "end of input" : c === "\0" ? "NUL" : `'${c}'`;
}

// RFC 4514 section 3: characters that may follow a backslash (`special`), besides a hex pair.
const PAIR_CHARS = '"+,;<>\\ #=';

// RFC 4514 section 3 `string`: characters outside LUTF1/SUTF1/TUTF1 that must be escaped.
// ',' and '+' are absent because they end the value; '\' starts an escape.
const MUST_ESCAPE: Record<string, string> = {
  '"': '\\"',
  ";": "\\;",
  "<": "\\<",
  ">": "\\>",
  "\0": "\\00",
};

/**
 * Parses an RFC 4514 DN string. The empty string is the root DSE (dn []).
 *
 * Leniency: unescaped spaces after ',' and '+', before ',' and '+', around '=' and at
 * either end are ignored, as RFC 2253 section 4 allows and AD accepts
 * ("OU=Sales, DC=example, DC=com"). A space that belongs to a value at its start or end
 * must therefore be escaped ("\ "), exactly as RFC 4514 section 2.4 requires anyway.
 *
 * Values are returned unescaped. A `#` hex value (RFC 4514 section 2.4, a BER encoding) is
 * decoded when it is a BER string type, and rejected otherwise. Offsets are UTF-16 indexes.
 */
export function parseDn(text: string): DnParseResult {
  if (text === "") return { ok: true, dn: [] };
  try {
    return { ok: true, dn: new DnParser(text).parse() };
  } catch (error) {
    if (error instanceof LdapSyntaxError) {
      return { ok: false, message: error.message, offset: error.offset };
    }
    throw error;
  }
}

class DnParser {
  text: string;
  pos = 0;

  constructor(text: string) {
    this.text = text;
  }

  parse(): Dn {
    const dn: Dn = [];
    let rdn: Rdn[] = [];
    for (;;) {
      rdn.push(this.attributeTypeAndValue());
      const c = this.text[this.pos];
      if (c === undefined) {
        dn.push(rdn);
        return dn;
      }
      // The value parser stops only at ',' '+' or the end.
      if (c === ",") {
        dn.push(rdn);
        rdn = [];
      }
      const separator = this.pos;
      this.pos++;
      this.skipSpaces();
      if (this.pos === this.text.length) {
        fail(
          c === ","
            ? `trailing ',' at position ${separator}: expected another RDN after it`
            : `trailing '+' at position ${separator}: expected another attribute after it`,
          separator,
        );
      }
    }
  }

  skipSpaces(): void {
    while (this.text[this.pos] === " ") this.pos++;
  }

  attributeTypeAndValue(): Rdn {
    this.skipSpaces();
    const type = this.attributeType();
    this.skipSpaces();
    const at = this.pos;
    const c = this.text[at];
    if (c !== "=") {
      if (type.toUpperCase() === "OID" && c === ".") {
        fail(`the "OID." prefix at position ${at - 3} is not allowed by RFC 4514: write the bare OID, e.g. 2.5.4.3=value`, at - 3);
      }
      fail(`expected '=' after attribute type "${type}" at position ${at}, found ${describe(c)}`, at);
    }
    this.pos++;
    this.skipSpaces();
    const value = this.text[this.pos] === "#" ? this.hexValue() : this.stringValue();
    return { type, value };
  }

  // RFC 4514 section 3 / RFC 4512 section 1.4: attributeType = descr / numericoid.
  attributeType(): string {
    const { text } = this;
    const start = this.pos;
    const c = text[start];
    if (isAlpha(c)) {
      let p = start + 1;
      while (isAlpha(text[p]) || isDigit(text[p]) || text[p] === "-") p++;
      this.pos = p;
      return text.slice(start, p);
    }
    if (isDigit(c)) {
      let p = start;
      while (isDigit(text[p]) || text[p] === ".") p++;
      const oid = text.slice(start, p);
      if (!isNumericOid(oid)) {
        fail(
          `invalid OID attribute type "${oid}" at position ${start}: expected dotted numbers without leading zeros, e.g. 2.5.4.3`,
          start,
        );
      }
      this.pos = p;
      return oid;
    }
    if (c === "=") fail(`empty attribute type before '=' at position ${start}`, start);
    if (c === "," || c === "+") fail(`empty RDN: expected an attribute type at position ${start}, found '${c}'`, start);
    if (c === undefined) fail(`expected an attribute type at position ${start}, found end of input`, start);
    fail(`expected an attribute type (a name such as CN or an OID such as 2.5.4.3) at position ${start}, found ${describe(c)}`, start);
  }

  // RFC 4514 section 3 `string`, with escapes resolved. Runs of hex escapes are collected as
  // bytes and decoded as UTF-8 (section 2.4: "\C3\A9" is one character).
  stringValue(): string {
    const { text } = this;
    let out = "";
    let significant = 0; // length of `out` without trailing unescaped spaces
    let bytes: number[] = [];
    let bytesStart = 0;
    const flush = (): void => {
      const decoded = decodeUtf8(bytes);
      if (decoded === undefined) {
        fail(`hex escapes at position ${bytesStart} are not valid UTF-8`, bytesStart);
      }
      out += decoded;
      significant = out.length;
      bytes = [];
    };
    for (;;) {
      const c = text[this.pos];
      if (c === undefined || c === "," || c === "+") break;
      const at = this.pos;
      if (c === "\\") {
        const next = text[at + 1];
        if (isHex(next)) {
          const next2 = text[at + 2];
          if (!isHex(next2)) {
            fail(`invalid hex escape '\\${next}${next2 ?? ""}' at position ${at}: expected two hex digits after '\\'`, at);
          }
          if (bytes.length === 0) bytesStart = at;
          bytes.push(Number.parseInt(`${next}${next2}`, 16));
          this.pos += 3;
          continue;
        }
        if (bytes.length > 0) flush();
        if (next === undefined) {
          fail(`lone '\\' at position ${at} at the end of the value: escape a backslash as \\\\`, at);
        }
        if (!PAIR_CHARS.includes(next)) {
          fail(
            `invalid escape '\\${next}' at position ${at}: '\\' must be followed by two hex digits or one of , + " \\ < > ; = # space`,
            at,
          );
        }
        out += next;
        significant = out.length;
        this.pos += 2;
        continue;
      }
      if (bytes.length > 0) flush();
      const escaped = MUST_ESCAPE[c];
      if (escaped !== undefined) {
        if (c === "\0") fail(`NUL character in value at position ${at}: write it as \\00`, at);
        if (c === ";") {
          fail(`unescaped ';' in value at position ${at}: write it as \\; (RFC 4514 separates RDNs with ',' only)`, at);
        }
        fail(`unescaped '${c}' in value at position ${at}: write it as ${escaped}`, at);
      }
      out += c;
      if (c !== " ") significant = out.length;
      this.pos++;
    }
    if (bytes.length > 0) flush();
    return out.slice(0, significant);
  }

  // RFC 4514 section 2.4: '#' followed by the hex of a BER encoding.
  hexValue(): string {
    const { text } = this;
    const start = this.pos;
    let p = start + 1;
    while (isHex(text[p])) p++;
    const digits = p - start - 1;
    const end = p;
    while (text[p] === " ") p++;
    const c = text[p];
    if (digits === 0 || digits % 2 !== 0 || (c !== undefined && c !== "," && c !== "+")) {
      const where = digits === 0 || digits % 2 !== 0 ? end : p;
      fail(
        `invalid hex value at position ${start}: a value starting with '#' must be hex pairs of a BER encoding (found ${describe(text[where])} at position ${where}); write a literal '#' as \\#`,
        where,
      );
    }
    this.pos = p;
    const bytes: number[] = [];
    for (let i = start + 1; i < end; i += 2) bytes.push(Number.parseInt(text.slice(i, i + 2), 16));
    const value = decodeBerString(bytes);
    if (value === undefined) {
      fail(
        `hex value at position ${start} is not a BER-encoded string (OCTET STRING, UTF8String, PrintableString, IA5String, NumericString or VisibleString holding UTF-8)`,
        start,
      );
    }
    return value;
  }
}

// RFC 4512 section 1.4: numericoid = number 1*( DOT number ), number without leading zeros.
function isNumericOid(oid: string): boolean {
  const parts = oid.split(".");
  if (parts.length < 2) return false;
  for (const part of parts) {
    if (part === "" || (part.length > 1 && part[0] === "0")) return false;
  }
  return true;
}

// X.690 8.1 definite-length BER of a universal string type; undefined if it is anything else.
const BER_STRING_TAGS = new Set([0x04, 0x0c, 0x12, 0x13, 0x16, 0x1a]);

function decodeBerString(bytes: number[]): string | undefined {
  const tag = bytes[0];
  const first = bytes[1];
  if (tag === undefined || first === undefined || !BER_STRING_TAGS.has(tag)) return undefined;
  let length = first;
  let header = 2;
  if (first >= 0x80) {
    const count = first & 0x7f;
    // 0x80 is the indefinite form, which primitive encodings may not use (X.690 8.1.3.2).
    if (count === 0 || count > 4) return undefined;
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + (bytes[2 + i] ?? Number.NaN);
    header += count;
  }
  if (header + length !== bytes.length) return undefined;
  return decodeUtf8(bytes.slice(header));
}

// Strict UTF-8 (RFC 3629 section 3): no overlong forms, surrogates or code points past U+10FFFF.
function decodeUtf8(bytes: number[]): string | undefined {
  let out = "";
  let i = 0;
  while (i < bytes.length) {
    const b0 = bytes[i] ?? 0;
    let need: number;
    let cp: number;
    let min: number;
    if (b0 < 0x80) {
      out += String.fromCharCode(b0);
      i++;
      continue;
    } else if (b0 >= 0xc2 && b0 <= 0xdf) {
      need = 1;
      cp = b0 & 0x1f;
      min = 0x80;
    } else if (b0 >= 0xe0 && b0 <= 0xef) {
      need = 2;
      cp = b0 & 0x0f;
      min = 0x800;
    } else if (b0 >= 0xf0 && b0 <= 0xf4) {
      need = 3;
      cp = b0 & 0x07;
      min = 0x10000;
    } else {
      return undefined;
    }
    for (let k = 1; k <= need; k++) {
      const b = bytes[i + k];
      if (b === undefined || (b & 0xc0) !== 0x80) return undefined;
      cp = (cp << 6) | (b & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return undefined;
    out += String.fromCodePoint(cp);
    i += need + 1;
  }
  return out;
}

// Names for the OIDs of the naming attributes AD uses, so "2.5.4.3=x" and "CN=x" compare equal.
const OID_NAMES: Record<string, string> = {
  "2.5.4.3": "cn",
  "2.5.4.6": "c",
  "2.5.4.7": "l",
  "2.5.4.8": "st",
  "2.5.4.9": "street",
  "2.5.4.10": "o",
  "2.5.4.11": "ou",
  "0.9.2342.19200300.100.1.1": "uid",
  "0.9.2342.19200300.100.1.25": "dc",
};

function normalizeType(type: string): string {
  const lower = type.toLowerCase();
  return OID_NAMES[lower] ?? lower;
}

// AD compares names case-insensitively; upper-then-lower folds more than toLowerCase alone
// (e.g. final sigma), and NFC makes precomposed and combining forms equal.
function foldValue(value: string): string {
  return value.normalize("NFC").toUpperCase().toLowerCase();
}

function normalizeRdn(rdn: Rdn[]): string {
  // An RDN is a set of AVAs (RFC 4512 section 2.3.1), so their order does not matter.
  return rdn
    .map((ava) => `${normalizeType(ava.type)}=${escapeDnValue(foldValue(ava.value))}`)
    .sort()
    .join("+");
}

/**
 * Canonical string for comparing DNs: types lower-cased (known OIDs named), values
 * case-folded and re-escaped with escapeDnValue, AVAs of an RDN sorted, no spaces.
 */
export function normalizeDn(dn: Dn): string {
  return dn.map(normalizeRdn).join(",");
}

/** True when `child` equals `base` or lies below it; false if either does not parse. */
export function isDnWithin(child: string, base: string): boolean {
  const c = parseDn(child);
  return c.ok && baseLengthWithin(c.dn, base) !== undefined;
}

/**
 * When the parsed `child` equals `base` or lies below it, how many RDNs `base` has (what a
 * caller slices the child by); undefined when it does not, or `base` does not parse. Only the
 * child's last RDNs are normalised, those compared.
 */
export function baseLengthWithin(child: Dn, base: string): number | undefined {
  const b = normalRdnsOf(base);
  if (b === null) return undefined;
  const offset = child.length - b.length;
  if (offset < 0) return undefined;
  for (let i = 0; i < b.length; i++) {
    const rdn = child[offset + i];
    if (rdn === undefined || normalizeRdn(rdn) !== b[i]) return undefined;
  }
  return b.length;
}

// The normal RDNs of the bases DNs are compared against: a sync compares every user's DN with
// the same few (the base DN, the OUs of ouRanges and templateExtensions), so each is parsed
// and normalised once rather than once a user. Only bases are kept, never the users' DNs: a
// memo of those (2,048 of them, or even 64) kept the isolate's heap at its peak 20 to 40 MB
// higher over a 10,000-user first sync, for a tenth of its CPU at most. The least recently
// used base goes first.
const BASES_KEPT = 64;
const baseRdns = new Map<string, readonly string[] | null>();

function normalRdnsOf(base: string): readonly string[] | null {
  const known = baseRdns.get(base);
  if (known !== undefined) {
    baseRdns.delete(base);
    baseRdns.set(base, known);
    return known;
  }
  const parsed = parseDn(base);
  const rdns = parsed.ok ? Object.freeze(parsed.dn.map(normalizeRdn)) : null;
  if (baseRdns.size >= BASES_KEPT) baseRdns.delete(baseRdns.keys().next().value as string);
  baseRdns.set(base, rdns);
  return rdns;
}

/**
 * The AD domain a DN lies in: its trailing DC= RDNs, as a DN (types written as given) and
 * as a DNS name (DC=corp,DC=example,DC=com is corp.example.com). Undefined when the DN does
 * not parse or ends in no DC= RDN.
 */
export function domainOfDn(text: string): { dn: string; dns: string } | undefined {
  const parsed = parseDn(text);
  if (!parsed.ok) return undefined;
  const labels: Rdn[] = [];
  for (let i = parsed.dn.length - 1; i >= 0; i--) {
    const rdn = parsed.dn[i] as Rdn[];
    const ava = rdn[0];
    if (rdn.length !== 1 || ava === undefined || ava.type.toLowerCase() !== "dc") break;
    labels.unshift(ava);
  }
  if (labels.length === 0) return undefined;
  return {
    dn: labels.map((ava) => `${ava.type}=${escapeDnValue(ava.value)}`).join(","),
    dns: labels.map((ava) => ava.value).join("."),
  };
}

const ESCAPE_ALWAYS = /["+,;<>\\=\0]/;

/**
 * Escapes an attribute value for a DN string (RFC 4514 section 2.4): '"' '+' ',' ';' '<'
 * '>' '\' and '=' get a backslash, NUL becomes \00, and a leading ' ' or '#' or a trailing
 * ' ' gets a backslash. Other characters, including non-ASCII, are left as they are.
 */
export function escapeDnValue(value: string): string {
  const last = value.length - 1;
  if (last < 0) return "";
  if (!ESCAPE_ALWAYS.test(value) && value[0] !== " " && value[0] !== "#" && value[last] !== " ") {
    return value;
  }
  let out = "";
  for (let i = 0; i <= last; i++) {
    const c = value[i] ?? "";
    if (c === "\0") out += "\\00";
    else if (ESCAPE_ALWAYS.test(c)) out += `\\${c}`;
    else if ((c === " " && (i === 0 || i === last)) || (c === "#" && i === 0)) out += `\\${c}`;
    else out += c;
  }
  return out;
}
