import { describe, expect, it } from "vitest";
import { readCsv as parse } from "../../test/support/read-csv.ts";
import { csv } from "./csv.ts";

describe("csv", () => {
  it.each([
    ["plain text", "Judy Jones", "Judy Jones"],
    ["a comma", "Jones, Judy", '"Jones, Judy"'],
    ["quotes, doubled", 'Judy "JJ" Jones', '"Judy ""JJ"" Jones"'],
    ["a line break", "line one\nline two", '"line one\nline two"'],
    ["a CRLF", "one\r\ntwo", '"one\r\ntwo"'],
    ["a leading =, as text", '=HYPERLINK("http://x")', '"\'=HYPERLINK(""http://x"")"'],
    ["a leading +", "+1 555 0100", '"\'+1 555 0100"'],
    ["a leading -", "-2+3", '"\'-2+3"'],
    ["a leading @", "@SUM(A1)", '"\'@SUM(A1)"'],
    ["a leading tab", "\t=1", '"\'\t=1"'],
    ["a leading carriage return", "\r=1", '"\'\r=1"'],
    ["a formula character later on", "a=b+c", "a=b+c"],
  ])("writes a cell with %s so that it reads back as the text", (_what, value, written) => {
    const text = csv(["Value"], [[value]]);
    expect(text).toBe(`Value\r\n${written}\r\n`);
    const [, [read]] = parse(text) as [string[], string[]];
    // A formula-leading cell keeps its text after the apostrophe a spreadsheet hides.
    expect(read).toBe(/^[=+\-@\t\r]/.test(value) ? `'${value}` : value);
  });

  it("writes empty cells for null and undefined, numbers as they are, and one CRLF per row", () => {
    const text = csv(
      ["A", "B", "C"],
      [
        [null, undefined, 42],
        ["x", "", 0],
      ],
    );
    expect(text).toBe("A,B,C\r\n,,42\r\nx,,0\r\n");
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
});
