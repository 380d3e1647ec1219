// CSV for the Log's exports (RFC 4180), safe to open in a spreadsheet (OWASP's advice on CSV
// injection: every cell quoted, quotes doubled, a formula-leading cell prefixed with ').

/** One row per line, CRLF-terminated; every cell quoted; null and undefined are empty cells. */
export function csv(header: readonly string[], rows: Iterable<ReadonlyArray<string | number | null | undefined>>): string {
  const lines = [header.map(cell).join(",")];
  for (const row of rows) lines.push(row.map(cell).join(","));
  return `${lines.join("\r\n")}\r\n`;
}

/**
 * A spreadsheet may start a formula at the first character that is not a space (or a quote,
 * which a lenient reader drops at the start of a cell) when it is = + - @, or a tab or CR.
 */
const formulaAhead = /(?:[^\S\t\r\n]|")*[=+\-@\t\r]/y;

/**
 * Where a cell may begin when the file is read with another separator than the comma it was
 * written with (a spreadsheet set to ";" reads a quoted cell from the second column on as
 * unquoted text, so a ";" or a line break inside it starts a new cell), or as tab-separated.
 */
const cellBreak = /[,;\t\r\n]/;

function cell(value: string | number | null | undefined): string {
  const text = value === null || value === undefined ? "" : String(value);
  return `"${neutralise(text).replace(/"/g, '""')}"`;
}

/** Prefixes ' wherever a cell could start with a formula: the text's start, and after each cell break. */
function neutralise(text: string): string {
  let out = "";
  for (let i = 0; i < text.length; i++) {
    if (i === 0 || cellBreak.test(text[i - 1] as string)) {
      formulaAhead.lastIndex = i;
      if (formulaAhead.test(text)) out += "'";
    }
    out += text[i];
  }
  return out;
}
