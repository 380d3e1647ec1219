// An RFC 4180 reader for the tests: quoted cells, doubled quotes, CRLF rows; text that does
// not end in CRLF is an error, so a truncated export fails instead of reading short. Outside
// quotes it reads as lenient readers do (spreadsheets, Python's csv): a quote opens a quoted
// cell only at the start of a cell and is text elsewhere, and a bare CR or LF ends the row.
// Read with another separator than the file's (";", as spreadsheets in many locales do), it
// shows the cells such a reader would make, formulas included.
/** RFC 4180 read back: what a spreadsheet makes of the text, split on `separator`. */
export function readCsv(text: string, separator = ","): string[][] {
  if (text !== "" && !text.endsWith("\r\n")) throw new Error(`the text does not end with CRLF: ${JSON.stringify(text.slice(-20))}`);
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"' && cell === "") quoted = true;
    else if (ch === separator) {
      row.push(cell);
      cell = "";
    } else if (ch === "\r" || ch === "\n") {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = "";
      if (ch === "\r" && text[i + 1] === "\n") i++;
    } else cell += ch;
  }
  // A quote opened by a reader with another separator may run to the end: it still shows it.
  if (quoted) rows.push([...row, cell]);
  return rows;
}
