import { describe, expect, it } from "vitest";
import { readCsv as parse } from "../../test/support/read-csv.ts";
import { csv } from "./csv.ts";
import { attemptsCsv, type LoginAttempt } from "./login/login-attempts.ts";
import { eventsCsv, type RunEvent } from "./sync/sync-runs.ts";

/** What a spreadsheet would take for a formula: a cell whose first non-space character is one of these. */
const formulaStart = /^[=+\-@\t\r]/;
/** Every cell a reader splitting on `separator` would make of the text, trimmed of spaces as spreadsheets do. */
const cellsAsRead = (text: string, separator: string) => parse(text, separator).flatMap((row) => row.map((c) => c.replace(/^ +/, "")));

/** Text crafted to become a formula in a spreadsheet, at the start of a cell or after a separator or line break. */
const payloads = [
  "x;=2*21;@SUM(1)@example.com",
  " =1+1",
  "\t=cmd",
  "-2+3",
  "+1 555 0100",
  "@SUM(A1)",
  "\r=1",
  '=HYPERLINK("http://x")',
  "a,=1+1",
  'x;"=1+1',
  'x"";=1',
  "Jones; -Judy",
  "one\n=two",
  "one\r\n@two",
  "x\t=1",
  '";=1;"',
  "  \t  -1",
];

describe("csv", () => {
  it.each([
    ["plain text", "Judy Jones", '"Judy Jones"'],
    ["a comma", "Jones, Judy", '"Jones, Judy"'],
    ["quotes, doubled", 'Judy "JJ" Jones', '"Judy ""JJ"" Jones"'],
    ["a line break", "line one\nline two", '"line one\nline two"'],
    ["a CRLF", "one\r\ntwo", '"one\r\ntwo"'],
    ["a leading =, as text", '=HYPERLINK("http://x")', '"\'=HYPERLINK(""http://x"")"'],
    ["a leading +", "+1 555 0100", '"\'+1 555 0100"'],
    ["a leading -", "-2+3", '"\'-2+3"'],
    ["a leading @", "@SUM(A1)", '"\'@SUM(A1)"'],
    // A tab or CR also separates cells for some readers: what follows it is neutralised too.
    ["a leading tab", "\t=1", "\"'\t'=1\""],
    ["a leading carriage return", "\r=1", "\"'\r'=1\""],
    ["spaces before the =", " =1+1", '"\' =1+1"'],
    ["a quote before the =", '"=1', '"\'""=1"'],
    ["a formula character later on", "a=b+c", '"a=b+c"'],
    ["a hyphenated name", "Mary-Jane", '"Mary-Jane"'],
    ["a formula after a semicolon", "x;=2*21;@SUM(1)@example.com", "\"x;'=2*21;'@SUM(1)@example.com\""],
    ["a formula after a comma and spaces", "a,  -1", '"a,\'  -1"'],
    ["a formula on a second line", "one\n=two", '"one\n\'=two"'],
  ])("writes a cell with %s quoted, and as text", (_what, value, written) => {
    const text = csv(["Value"], [[value]]);
    expect(text).toBe(`"Value"\r\n${written}\r\n`);
    const read = parse(text)[1]?.[0] as string;
    // The cell reads back as written, with the apostrophes a spreadsheet shows or hides.
    expect(read).toBe(written.slice(1, -1).replace(/""/g, '"'));
    expect(read.replace(/'/g, "")).toBe(value);
  });

  it("quotes every cell: empty ones for null and undefined, numbers, the header; one CRLF per row", () => {
    const text = csv(
      ["A", "B", "C"],
      [
        [null, undefined, 42],
        ["x", "", 0],
      ],
    );
    expect(text).toBe('"A","B","C"\r\n"","","42"\r\n"x","","0"\r\n');
    expect(parse(text)).toEqual([
      ["A", "B", "C"],
      ["", "", "42"],
      ["x", "", "0"],
    ]);
  });

  it("keeps every row and column of a mixed table", () => {
    const rows = [
      ["Ann, Jr.", 'said "hi"', "=1+1"],
      ["multi\nline", "-", "@"],
    ];
    expect(parse(csv(["a", "b", "c"], rows))).toEqual([
      ["a", "b", "c"],
      ["Ann, Jr.", 'said "hi"', "'=1+1"],
      ["multi\nline", "'-", "'@"],
    ]);
  });

  it.each([",", ";", "\t"])("leaves no cell starting with a formula when read with %j as the separator, in any column", (separator) => {
    // Each payload in the first, a middle and the last column: from the second column on, a
    // reader with another separator than the file's reads the quoted cell as plain text.
    const rows = payloads.map((p) => [p, "middle", p, p]);
    const text = csv(["First", "Second", "Third", "Fourth"], rows);
    expect(cellsAsRead(text, separator).filter((c) => formulaStart.test(c))).toEqual([]);
    if (separator === ",") return;
    // Read with another separator, cells that are only quoted and prefixed where they start
    // (OWASP's advice taken alone) do still start formulas: the check above is not vacuous.
    const quotedOnly = rows.map((r) => r.map((c) => `"${/^ *[=+\-@\t\r]/.test(c) ? "'" : ""}${c.replace(/"/g, '""')}"`).join(","));
    expect(cellsAsRead(`${quotedOnly.join("\r\n")}\r\n`, separator).filter((c) => formulaStart.test(c)).length).toBeGreaterThan(0);
  });
});

describe("the Log's CSV exports", () => {
  const at = Date.UTC(2027, 5, 1);
  const attempt = (username: string, source: string, detail: string): LoginAttempt => ({
    at,
    username,
    source,
    outcome: "failure",
    reason: "invalid_credentials",
    adCode: null,
    extension: null,
    detail,
    durationMs: 12.6,
  });
  const event = (eventText: string, user: string): RunEvent => ({ at, type: "info", event: eventText, user, operation: "create" });

  it.each([
    ["domain-login attempts", () => attemptsCsv(payloads.map((p) => attempt(p, p, p)))],
    ["a run's events", () => eventsCsv(payloads.map((p) => event(p, p)))],
  ])("writes %s with every cell quoted and no formula for a spreadsheet, with , or ; as separator", (_what, make) => {
    const text = make();
    for (const line of text.split("\r\n").slice(0, 2)) expect(line).toMatch(/^"(?:[^"]|"")*"(?:,"(?:[^"]|"")*")*$/);
    for (const separator of [",", ";"]) {
      expect(cellsAsRead(text, separator).filter((c) => formulaStart.test(c))).toEqual([]);
    }
    // Read as written, each payload is one cell, whole but for the apostrophes.
    const [, ...rows] = parse(text);
    expect(rows).toHaveLength(payloads.length);
    for (const [i, row] of rows.entries()) expect(row.map((c) => c.replace(/'/g, ""))).toContain(payloads[i]);
  });
});
