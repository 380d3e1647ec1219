// CSV for the Log's exports (RFC 4180), safe to open in a spreadsheet.

/** One row per line, CRLF-terminated; null and undefined are empty cells. */
export function csv(header: readonly string[], rows: Iterable<ReadonlyArray<string | number | null | undefined>>): string {
  const lines = [header.map(cell).join(",")];
  for (const row of rows) lines.push(row.map(cell).join(","));
  return `${lines.join("\r\n")}\r\n`;
}

function cell(value: string | number | null | undefined): string {
  const text = value === null || value === undefined ? "" : String(value);
  // A leading = + - @ would be a formula to a spreadsheet: quote it as text.
  const safe = /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
  return /[",\r\n]/.test(safe) || safe !== text ? `"${safe.replace(/"/g, '""')}"` : safe;
}
