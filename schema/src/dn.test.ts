import { describe, expect, it } from "vitest";
import type { Dn } from "./dn.ts";
import { baseLengthWithin, domainOfDn, escapeDnValue, isDnWithin, normalizeDn, parseDn } from "./dn.ts";

function rdns(...pairs: [string, string][]): Dn {
  return pairs.map(([type, value]) => [{ type, value }]);
}

describe("parseDn accepts", () => {
  it.each<[string, Dn]>([
    ["", []],
    ["DC=example,DC=com", rdns(["DC", "example"], ["DC", "com"])],
    ["CN=Smith\\, John,OU=Sales", rdns(["CN", "Smith, John"], ["OU", "Sales"])],
    ["CN=\\4A\\6f\\68\\6E", rdns(["CN", "John"])],
    ["CN=Ren\\C3\\A9", rdns(["CN", "René"])],
    ["CN=\\F0\\9F\\98\\80 smile", rdns(["CN", "😀 smile"])],
    ["CN=René", rdns(["CN", "René"])],
    ["CN=a\\2Cb", rdns(["CN", "a,b"])],
    ["CN=\\00", rdns(["CN", "\0"])],
    ['CN=\\"q\\"\\+\\;\\<\\>\\\\\\=', rdns(["CN", '"q"+;<>\\='])],
    ["CN=\\#1", rdns(["CN", "#1"])],
    ["CN=\\ lead and trail\\ ", rdns(["CN", " lead and trail "])],
    ["CN=a=b#c", rdns(["CN", "a=b#c"])],
    ["CN=John Smith", rdns(["CN", "John Smith"])],
    ["CN=", rdns(["CN", ""])],
    ["CN=#0c024869", rdns(["CN", "Hi"])],
    ["CN=#04024869,DC=x", rdns(["CN", "Hi"], ["DC", "x"])],
    ["CN=#0C03C3A978", rdns(["CN", "éx"])],
    ["CN=#0400", rdns(["CN", ""])],
    ["2.5.4.3=x,0.9.2342.19200300.100.1.25=com", rdns(["2.5.4.3", "x"], ["0.9.2342.19200300.100.1.25", "com"])],
    ["msDS-Attr-1=v", rdns(["msDS-Attr-1", "v"])],
    [
      "CN=Kim+UID=kim,DC=x",
      [
        [
          { type: "CN", value: "Kim" },
          { type: "UID", value: "kim" },
        ],
        [{ type: "DC", value: "x" }],
      ],
    ],
    // RFC 2253 section 4 leniency: unescaped spaces around separators and '=' are ignored.
    ["OU=Sales, DC=example, DC=com", rdns(["OU", "Sales"], ["DC", "example"], ["DC", "com"])],
    ["OU = Sales , DC = com ", rdns(["OU", "Sales"], ["DC", "com"])],
    [
      " CN=a + UID=b",
      [
        [
          { type: "CN", value: "a" },
          { type: "UID", value: "b" },
        ],
      ],
    ],
    ["CN=a\\  ,DC=x", rdns(["CN", "a "], ["DC", "x"])],
    ["CN=a\\20 ,DC=x", rdns(["CN", "a "], ["DC", "x"])],
    ["CN=#0c0161 ,DC=x", rdns(["CN", "a"], ["DC", "x"])],
  ])("%j", (text, dn) => {
    expect(parseDn(text)).toEqual({ ok: true, dn });
  });
});

describe("parseDn rejects", () => {
  it.each<[string, string, number]>([
    ["OU Sales", `expected '=' after attribute type "OU" at position 3`, 3],
    ["OU,DC=x", `expected '=' after attribute type "OU" at position 2, found ','`, 2],
    ["CN", "found end of input", 2],
    ["=x", "empty attribute type before '=' at position 0", 0],
    ["CN=a,=x", "empty attribute type before '=' at position 5", 5],
    [",DC=x", "empty RDN", 0],
    ["CN=a,,DC=x", "empty RDN", 5],
    ["CN=a+,DC=x", "empty RDN", 5],
    ["DC=x,", "trailing ',' at position 4", 4],
    ["DC=x, ", "trailing ',' at position 4", 4],
    ["CN=a+", "trailing '+' at position 4", 4],
    ["   ", "expected an attribute type at position 3", 3],
    ["_CN=x", "expected an attribute type", 0],
    ["C_N=x", `expected '=' after attribute type "C" at position 1, found '_'`, 1],
    ["OID.2.5.4.3=x", `"OID." prefix`, 0],
    ["2=x", `invalid OID attribute type "2"`, 0],
    ["2.05.4=x", `invalid OID attribute type "2.05.4"`, 0],
    ["2..5=x", `invalid OID attribute type "2..5"`, 0],
    ["CN=\\4G", "invalid hex escape '\\4G' at position 3", 3],
    ["CN=\\4", "invalid hex escape '\\4' at position 3", 3],
    ["CN=a\\", "lone '\\' at position 4", 4],
    ["CN=a\\x", "invalid escape '\\x' at position 4", 4],
    ["CN=\\C3", "hex escapes at position 3 are not valid UTF-8", 3],
    ["CN=x\\C3\\28", "hex escapes at position 4 are not valid UTF-8", 4],
    ["CN=\\C3\\,", "hex escapes at position 3 are not valid UTF-8", 3],
    ["CN=\\C0\\80", "not valid UTF-8", 3],
    ["CN=\\ED\\A0\\80", "not valid UTF-8", 3],
    ['CN=a"b', `unescaped '"' in value at position 4: write it as \\"`, 4],
    ["CN=a;b", "unescaped ';' in value at position 4: write it as \\;", 4],
    ["CN=a<b", "unescaped '<' in value at position 4", 4],
    ["CN=a>b", "unescaped '>' in value at position 4", 4],
    ["CN=a\0b", "NUL character in value at position 4: write it as \\00", 4],
    ["CN=#", "invalid hex value at position 3", 4],
    ["CN=#abc", "invalid hex value at position 3", 7],
    ["CN=#0c01zz", "invalid hex value at position 3", 8],
    ["CN=#1", "invalid hex value", 5],
    ["CN=#04", "not a BER-encoded string", 3],
    ["CN=#020101", "not a BER-encoded string", 3],
    ["CN=#0c0261", "not a BER-encoded string", 3],
    ["CN=#0c80", "not a BER-encoded string", 3],
  ])("%j", (text, message, offset) => {
    const result = parseDn(text);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.message).toContain(message);
    expect(result.offset).toBe(offset);
  });
});

describe("normalizeDn", () => {
  it.each<[string, string]>([
    ["", ""],
    ["OU=Sales, DC=Example, DC=COM", "ou=sales,dc=example,dc=com"],
    ["CN=Smith\\, John,DC=X", "cn=smith\\, john,dc=x"],
    ["CN=Smith\\2C John", "cn=smith\\, john"],
    ["CN=\\ Lead,DC=x", "cn=\\ lead,dc=x"],
    ["CN=#0C024869", "cn=hi"],
    ["2.5.4.3=Kim,0.9.2342.19200300.100.1.25=COM", "cn=kim,dc=com"],
    ["UID=b+CN=A", "cn=a+uid=b"],
    ["CN=ÉCOLE", "cn=école"],
    ["CN=E\\CC\\81cole", "cn=école"],
    ["CN=ΟΔΟΣ", "cn=οδος"],
    ["CN=a\\=b", "cn=a\\=b"],
    ["CN=a=b", "cn=a\\=b"],
  ])("%j", (text, normalized) => {
    const result = parseDn(text);
    if (!result.ok) throw new Error(result.message);
    expect(normalizeDn(result.dn)).toBe(normalized);
  });

  it("makes equal DNs written differently compare equal", () => {
    const a = parseDn("CN=Smith\\, John , OU=Sales,DC=example,DC=com");
    const b = parseDn("cn=smith\\2c JOHN,ou=SALES,dc=EXAMPLE,dc=com");
    if (!a.ok || !b.ok) throw new Error("parse failed");
    expect(normalizeDn(a.dn)).toBe(normalizeDn(b.dn));
  });
});

describe("isDnWithin", () => {
  it.each<[string, string, boolean]>([
    ["OU=Sales,OU=Staff,DC=Example,DC=COM", "dc=example,dc=com", true],
    ["DC=example,DC=com", "DC=example,DC=com", true],
    ["dc=EXAMPLE, dc=com", "DC=example,DC=com", true],
    ["OU=Sales,DC=example,DC=community", "DC=example,DC=com", false],
    ["OU=Sales,DC=myexample,DC=com", "DC=example,DC=com", false],
    ["DC=com", "DC=example,DC=com", false],
    ["CN=Smith\\, John,OU=Sales,DC=x", "OU=Sales,DC=x", true],
    ["CN=John,OU=Smith\\, Sales,DC=x", "OU=Smith\\2C Sales,DC=x", true],
    ["CN=John,OU=Smith\\, Sales,DC=x", "OU=Sales,DC=x", false],
    ["CN=x,2.5.4.11=Sales,DC=x", "OU=sales,DC=x", true],
    ["CN=a+UID=b,DC=x", "DC=x", true],
    ["CN=a+UID=b,DC=x", "UID=b+CN=a,DC=x", true],
    ["CN=a+UID=b,DC=x", "CN=a,DC=x", false],
    ["DC=example,DC=com", "", true],
    ["", "", true],
    ["", "DC=com", false],
    ["OU=Sales,DC=example,DC=com,", "DC=example,DC=com", false],
    ["OU=Sales,DC=example,DC=com", "DC=example,", false],
  ])("%j within %j is %s", (child, base, expected) => {
    expect(isDnWithin(child, base)).toBe(expected);
  });
});

describe("baseLengthWithin", () => {
  const parsed = (text: string) => {
    const p = parseDn(text);
    if (!p.ok) throw new Error(`${text} does not parse`);
    return p.dn;
  };
  it.each<[string, string, number | undefined]>([
    ["CN=Ann,OU=Sales,OU=Staff,DC=example,DC=com", "ou=staff,dc=Example,dc=com", 3],
    ["CN=Ann,OU=Sales,OU=Staff,DC=example,DC=com", "", 0],
    ["DC=example,DC=com", "DC=example,DC=com", 2],
    ["CN=Ann,OU=Sales,DC=example,DC=com", "OU=Staff,DC=example,DC=com", undefined],
    ["DC=com", "DC=example,DC=com", undefined],
    ["CN=Ann,DC=example,DC=com", "DC=example,,", undefined],
  ])("%j within %j: %s", (child, base, expected) => {
    expect(baseLengthWithin(parsed(child), base)).toBe(expected);
  });

  it("answers right past as many bases as it keeps, those that do not parse included", () => {
    for (let i = 0; i < 500; i++) {
      const dn = `CN=User ${i},OU=Team ${i % 100},DC=example,DC=com`;
      expect(isDnWithin(dn, `OU=team ${i % 100},DC=Example,DC=com`)).toBe(true);
      expect(isDnWithin(dn, `OU=Team ${(i + 1) % 100},DC=example,DC=com`)).toBe(false);
      expect(isDnWithin(dn, `OU=Team ${i % 100},,DC=com`)).toBe(false);
    }
  });
});

describe("domainOfDn", () => {
  it.each([
    ["OU=Staff,DC=example,DC=com", { dn: "DC=example,DC=com", dns: "example.com" }],
    ["dc=corp,dc=example,dc=com", { dn: "dc=corp,dc=example,dc=com", dns: "corp.example.com" }],
    ["CN=Smith\\, John,OU=Sales, DC=example, DC=com", { dn: "DC=example,DC=com", dns: "example.com" }],
    ["OU=Staff,O=Example", undefined],
    ["DC=example,OU=Staff", undefined],
    ["not a DN", undefined],
  ])("%s lies in %j", (dn, domain) => {
    expect(domainOfDn(dn)).toEqual(domain);
  });
});

describe("escapeDnValue", () => {
  it.each<[string, string]>([
    ["", ""],
    ["plain", "plain"],
    ["Smith, John", "Smith\\, John"],
    ['a"b+c;d<e>f\\g=h', 'a\\"b\\+c\\;d\\<e\\>f\\\\g\\=h'],
    ["#1 fan", "\\#1 fan"],
    ["mid#dle", "mid#dle"],
    [" padded ", "\\ padded\\ "],
    [" ", "\\ "],
    ["  ", "\\ \\ "],
    ["a\0b", "a\\00b"],
    ["René", "René"],
  ])("%j", (value, escaped) => {
    expect(escapeDnValue(value)).toBe(escaped);
  });

  it.each([
    "",
    "plain",
    "Smith, John",
    ' ,+"\\<>;=#\0 ',
    "#",
    "   ",
    "a  b",
    "\\4A",
    "René Ünïcødé 😀",
    "tab\there\nnewline",
    "=leading equals",
    "trailing backslash\\",
  ])("round-trips %j through parseDn", (value) => {
    expect(parseDn(`CN=${escapeDnValue(value)},DC=x`)).toEqual({
      ok: true,
      dn: rdns(["CN", value], ["DC", "x"]),
    });
  });
});

describe("parseDn performance", () => {
  it("handles a long DN in linear time", () => {
    const text = `${"OU=a\\2C\\C3\\A9 b,".repeat(20_000)}DC=x`;
    const started = Date.now();
    const result = parseDn(text);
    expect(result.ok && result.dn.length).toBe(20_001);
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});
