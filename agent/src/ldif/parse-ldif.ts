// LDIF (RFC 2849) content records, as the two tools a partner has at hand write them:
// `ldifde -f export.ldf` on Windows (CRLF, `changetype: add` in every record, lines folded at
// 80 columns, objectGUID and non-ASCII values in base64) and `ldapsearch -L… > export.ldif`
// (comments, search references and a result trailer between the records). Anything that
// is not a directory entry is skipped rather than refused, so an export can be used exactly
// as the tool wrote it; anything that would change what an entry holds is refused, with the
// line it is on, because a silently misread entry would end up in a sync plan.

/** One entry of an LDIF file. */
export interface LdifEntry {
  dn: string;
  /** Attribute name as first written; base64 values decoded to text when they are UTF-8, else bytes. */
  attributes: Record<string, Array<string | Buffer>>;
}

/** An LDIF file that cannot be read; `line` is the 1-based physical line the problem is on. */
export class LdifSyntaxError extends Error {
  readonly line: number;
  constructor(line: number, message: string) {
    super(`LDIF line ${line}: ${message}`);
    this.name = "LdifSyntaxError";
    this.line = line;
  }
}

// attributeType (RFC 4512 descr or numericoid) with options, then ":", "::" or ":<". '_' is
// not in RFC 4512's descr, but some exporters write it, and it cannot be mistaken for anything.
const LINE = /^((?:[A-Za-z][\w-]*|\d+(?:\.\d+)+)(?:;[\w-]+)*)(::|:<|:) *(.*)$/;

// What a record is, decided by its first line.
type RecordKind = "entry" | "skip";

/**
 * The entries of an LDIF text, in file order. Skipped: comments, a leading `version: 1`,
 * `changetype: add`, and whole records that are not entries (ldapsearch's `ref:` search
 * references and its `search:`/`result:` trailer). Refused with an LdifSyntaxError: other
 * change types, controls, URL values (`:<`), bad base64 and a DN that is not UTF-8.
 * Linear in the length of the text.
 */
export function parseLdif(text: string): LdifEntry[] {
  const physical = text.split(/\r?\n/);
  // A byte-order mark is what Notepad and PowerShell put in front of UTF-8 they write.
  if (physical[0]?.startsWith("\uFEFF")) physical[0] = physical[0].slice(1);

  const entries: LdifEntry[] = [];
  let kind: RecordKind | undefined;
  let current: LdifEntry | undefined;
  // Lower-case name to the spelling first written, so values of "member" and "Member" meet.
  let names = new Map<string, string>();

  const take = (line: string, lineNo: number): void => {
    if (line.startsWith("#")) return;
    const match = LINE.exec(line);
    if (!match) throw new LdifSyntaxError(lineNo, `cannot parse ${JSON.stringify(line)}: expected "attribute: value"`);
    const [, name = "", sep, raw = ""] = match;
    const lower = name.toLowerCase();
    if (kind === undefined) {
      if (lower === "version" && entries.length === 0) {
        if (raw.trim() !== "1") throw new LdifSyntaxError(lineNo, `LDIF version ${raw.trim()} is not supported (only version: 1)`);
        return;
      }
      // ldapsearch writes a search reference as a record of "ref:" lines, and its result as
      // "search: <id>" then "result: <code> <text>"; neither is an entry.
      if (lower === "ref" || lower === "search" || lower === "result") {
        kind = "skip";
        return;
      }
      if (lower !== "dn") throw new LdifSyntaxError(lineNo, `a record must start with dn:, not ${name}:`);
      const dn = value(sep, raw, lineNo);
      if (typeof dn !== "string") throw new LdifSyntaxError(lineNo, "the base64 DN is not UTF-8 text");
      kind = "entry";
      current = { dn, attributes: {} };
      names = new Map();
      entries.push(current);
      return;
    }
    if (kind === "skip" || current === undefined) return;
    if (lower === "changetype") {
      const type = String(value(sep, raw, lineNo))
        .trim()
        .toLowerCase();
      if (type !== "add") {
        throw new LdifSyntaxError(
          lineNo,
          `"changetype: ${type}" is a change, not an entry: only content records (or changetype: add) are read`,
        );
      }
      return;
    }
    if (lower === "control") throw new LdifSyntaxError(lineNo, "controls belong to change records, which are not read");
    const key = names.get(lower) ?? name;
    names.set(lower, key);
    const values = current.attributes[key] ?? [];
    values.push(value(sep, raw, lineNo));
    current.attributes[key] = values;
  };

  // A logical line is gathered as pieces and joined once, so long folded values (a
  // thumbnailPhoto is thousands of lines) stay linear.
  let pieces: string[] = [];
  let start = 0;
  const flush = (): void => {
    if (pieces.length === 0) return;
    take(pieces.length === 1 ? (pieces[0] ?? "") : pieces.join(""), start);
    pieces = [];
  };
  for (let i = 0; i < physical.length; i++) {
    const line = physical[i] ?? "";
    const lineNo = i + 1;
    if (line.startsWith(" ")) {
      if (pieces.length > 0) {
        pieces.push(line.slice(1));
        continue;
      }
      // Only spaces after a separator: an editor's stray indentation, still a separator.
      if (line.trim() === "") {
        endRecord();
        continue;
      }
      throw new LdifSyntaxError(lineNo, "a continuation line (starting with a space) must follow a line it continues");
    }
    flush();
    if (line === "") {
      endRecord();
      continue;
    }
    pieces.push(line);
    start = lineNo;
  }
  flush();
  return entries;

  function endRecord(): void {
    flush();
    kind = undefined;
    current = undefined;
  }
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function value(sep: string | undefined, raw: string, lineNo: number): string | Buffer {
  if (sep === ":<") throw new LdifSyntaxError(lineNo, "URL values (attribute:< file:///…) are not supported: export the value inline");
  if (sep === "::") return decodeBase64(raw.trimEnd(), lineNo);
  return raw;
}

// Base64 values are text whenever they decode as UTF-8: tools base64 every non-ASCII name,
// and consumers want "Zoë", not bytes. Binary attributes (objectGUID, objectSid) are told
// apart by name where they are used, not here.
function decodeBase64(text: string, lineNo: number): string | Buffer {
  // Node's decoder skips characters it does not know, which would hand back a wrong value.
  if (!BASE64.test(text)) throw new LdifSyntaxError(lineNo, "the value after '::' is not valid base64");
  const bytes = Buffer.from(text, "base64");
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return bytes;
  }
}

/**
 * Why an export is not the whole directory, when it says so itself: ldapsearch ends its output
 * with "result: 4 Size limit exceeded" (or another non-zero code) when the server stopped
 * early. A plan from such an export must not take missing users for deleted ones.
 */
export function exportIncompleteReason(text: string): string | undefined {
  for (const match of text.matchAll(/^result: (\d+)(?: (.*?))?\r?$/gm)) {
    if (match[1] !== "0") return `the export ends with "result: ${match[1]}${match[2] ? ` ${match[2]}` : ""}": the server stopped early`;
  }
  return undefined;
}
