// A strict RFC 4180 reader for the tests: quoted cells, doubled quotes, CRLF rows; text that
// does not end in CRLF is an error, so a truncated export fails instead of reading short.
/** RFC 4180 read back: what a spreadsheet makes of the text. */
export function readCsv(text: string): string[][] {
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
    else if (ch === ",") {
      row.push(cell);
      cell = "";
    } else if (ch === "\r" && text[i + 1] === "\n") {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = "";
      i++;
    } else cell += ch;
  }
  if (cell !== "" || row.length > 0) throw new Error(`the text does not end with CRLF: ${JSON.stringify(text.slice(-20))}`);
  return rows;
}
