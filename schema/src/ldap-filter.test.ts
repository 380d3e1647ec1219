import { describe, expect, it } from "vitest";
import { checkFilter, escapeFilterValue, filter } from "./ldap-filter.ts";

describe("checkFilter accepts", () => {
  it.each([
    "(objectClass=user)",
    "(cn=John Smith)",
    "(cn=)",
    "(cn=*)",
    "(cn=J*)",
    "(cn=*son)",
    "(cn=J*o*n)",
    "(cn=*o*)",
    "(cn=a**b)",
    "(uSNChanged>=12345)",
    "(uSNChanged<=12345)",
    "(cn~=jon)",
    "(&(objectCategory=person)(objectClass=user))",
    "(|(cn=a)(cn=b)(cn=c))",
    "(!(userAccountControl:1.2.840.113556.1.4.803:=2))",
    "(&(objectClass=user)(!(cn=x))(|(a=1)(b=2)))",
    "(&)",
    "(|)",
    "(&(|)(!(&)))",
    "(memberOf:1.2.840.113556.1.4.1941:=CN=Staff\\2cOU=Groups,DC=example,DC=com)",
    "(member:dn:1.2.840.113556.1.4.1941:=CN=x)",
    "(cn:dn:=John)",
    "(cn:DN:=John)",
    "(cn:=John)",
    "(:1.2.3:=v)",
    "(:dn:1.2.3:=v)",
    "(:caseExactMatch:=v)",
    "(cn:caseExactMatch:=v)",
    "(dnQualifier:dn:=v)",
    "(cn:dn:dn:=v)",
    "(userCertificate;binary=\\30\\82)",
    "(cn;lang-en;x-opt=v)",
    "(2.5.4.3=x)",
    "(0.9.2342.19200300.100.1.25=com)",
    "(msDS-UserAccountDisabled=TRUE)",
    "(objectGUID=\\a1\\B2\\c3\\d4\\e5\\f6\\07\\08\\09\\0a\\0b\\0c\\0d\\0e\\0f\\10)",
    "(cn=\\2a\\28\\29\\5c\\00)",
    "(cn=Ren\\c3\\a9)",
    "(cn=René 😀)",
    "(description=a=b&c|d!e~f>g<h:i;j)",
    "(cn= leading and trailing )",
  ])("%j", (text) => {
    expect(checkFilter(text)).toEqual({ ok: true });
  });
});

describe("checkFilter rejects", () => {
  it.each<[string, string, number]>([
    ["", "empty filter", 0],
    ["objectClass=user", "the filter must be enclosed in parentheses: expected '(' at position 0", 0],
    [" (cn=a)", "unexpected whitespace at position 0", 0],
    ["(cn=a", "unbalanced parentheses: '(' at position 0 is never closed", 0],
    ["(&(cn=a)", "unbalanced parentheses: '(' at position 0 is never closed", 0],
    ["(&(cn=a)(cn=b", "unbalanced parentheses: '(' at position 8 is never closed", 8],
    ["(&", "unbalanced parentheses: '(' at position 0 is never closed", 0],
    ["(!(cn=a)", "unbalanced parentheses: '(' at position 0 is never closed", 0],
    ["(cn", "unbalanced parentheses: '(' at position 0 is never closed", 0],
    ["(cn=a))", "unbalanced parentheses: ')' at position 6 has no matching '('", 6],
    ["(cn=a)(cn=b)", "unexpected second filter at position 6", 6],
    ["(cn=a) ", "unexpected space at position 6", 6],
    ["(cn=a)x", "if the ')' at position 5 belongs to the value, write it as \\29", 6],
    ["(&(cn=a)b))", "if the ')' at position 7 belongs to the value, write it as \\29", 8],
    ["(&(cn=a) (cn=b))", "unexpected space at position 8", 8],
    ["( cn=a)", "expected an attribute description", 1],
    ["(cn =a)", 'unexpected space at position 3 after attribute "cn"', 3],
    ["(cn=a(b)", "unescaped '(' in value at position 5 — write it as \\28", 5],
    ["(&(objectClass=user)(cn=a(b))", "unescaped '(' in value at position 25", 25],
    ["(cn=a\\)", "invalid escape at position 5: '\\' must be followed by two hex digits", 5],
    ["(cn=a\\4)", "invalid escape at position 5", 5],
    ["(cn=a\\zz)", "invalid escape at position 5", 5],
    ["(cn=a\\", "invalid escape at position 5", 5],
    ["(cn=a\0)", "NUL character in value at position 5 — write it as \\00", 5],
    ["(cn>=a*)", "unescaped '*' in value at position 6", 6],
    ["(cn<=*)", "unescaped '*' in value at position 5", 5],
    ["(cn~=*a)", "unescaped '*' in value at position 5", 5],
    ["(cn:=a*)", "unescaped '*' in value at position 6", 6],
    ["(cn>a)", "expected '=' after '>' at position 4", 4],
    ["(cn~a)", "expected '=' after '~' at position 4", 4],
    ["(cn)", 'missing comparison after attribute "cn" at position 3', 3],
    ["()", "empty filter '()' at position 0", 0],
    ["(&())", "empty filter '()' at position 2", 2],
    ["(=a)", "missing attribute description before '=' at position 1", 1],
    ["(>=a)", "missing attribute description before '>' at position 1", 1],
    ["(!)", "'!' at position 1 needs a filter to negate before ')' at position 2", 2],
    ["(!(a=b)(c=d))", "'!' at position 1 takes exactly one filter, but another starts at position 7", 7],
    ["(&cn=a)", "expected '(' or ')' to close the '(&' at position 0", 2],
    ["(!cn=a)", "expected '(' or ')' to close the '(!' at position 0", 2],
    ["(:=a)", "extensible match at position 0 needs an attribute or a matching rule", 0],
    ["(:dn=a)", "expected ':=' after matching rule \"dn\" at position 4, found '='", 4],
    ["(cn: =a)", "expected a matching rule (an OID or name) or '=' after ':' at position 4, found space", 4],
    ["(:dn:=a)", "extensible match at position 0 needs an attribute or a matching rule", 0],
    ["(cn:dn:1.2.3=a)", "expected ':=' after matching rule \"1.2.3\" at position 12", 12],
    ["(cn:1.2.3:x=a)", "expected '=' after ':' at position 10", 10],
    ["(cn:dn:x-rule=a)", "expected ':=' after matching rule \"x-rule\" at position 13", 13],
    ["(cn;=a)", "empty attribute option after ';' at position 3", 3],
    ["(c_n=a)", "unexpected '_' at position 2 after attribute \"c\"", 2],
    ["(1=a)", "invalid OID at position 1", 1],
    ["(1.=a)", "invalid OID at position 1: expected a number at position 3", 3],
    ["(1.02=a)", "leading zero at position 3", 3],
    ["(-cn=a)", "expected an attribute description", 1],
  ])("%j", (text, message, offset) => {
    const result = checkFilter(text);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.message).toContain(message);
    expect(result.offset).toBe(offset);
  });
});

describe("checkFilter limits", () => {
  const nested = (depth: number): string => `${"(&".repeat(depth)}(cn=a)${")".repeat(depth)}`;

  it("accepts nesting 100 deep", () => {
    expect(checkFilter(nested(100))).toEqual({ ok: true });
  });

  it.each([101, 100_000])("rejects nesting %i deep without overflowing the stack", (depth) => {
    expect(checkFilter(nested(depth))).toEqual({
      ok: false,
      message: "filter nested more than 100 levels deep at position 200",
      offset: 200,
    });
  });

  it.each([
    ["a long OR", `(|${"(cn=abc*def)".repeat(200_000)})`],
    ["a long value", `(cn=${"a\\2a".repeat(500_000)})`],
    ["unclosed parentheses", "(".repeat(1_000_000)],
  ])("checks %s in linear time", (_name, text) => {
    const started = Date.now();
    checkFilter(text);
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});

describe("escapeFilterValue", () => {
  it.each<[string, string]>([
    ["", ""],
    ["plain", "plain"],
    ["a*b", "a\\2ab"],
    ["(x)", "\\28x\\29"],
    ["back\\slash", "back\\5cslash"],
    ["nul\0", "nul\\00"],
    ["*)(sAMAccountName=*", "\\2a\\29\\28sAMAccountName=\\2a"],
    ["René 😀", "René 😀"],
    ["\\2a", "\\5c2a"],
  ])("%j", (value, escaped) => {
    expect(escapeFilterValue(value)).toBe(escaped);
  });

  it.each(["", "*", "()", "\\", "\0", "a*b(c)d\\e\0f", "René"])("makes %j a valid value", (value) => {
    expect(checkFilter(`(cn=${escapeFilterValue(value)})`)).toEqual({ ok: true });
    expect(checkFilter(`(cn>=${escapeFilterValue(value)})`)).toEqual({ ok: true });
  });
});

describe("filter tagged template", () => {
  it.each<[string, string]>([
    ["jdoe", "(&(objectClass=user)(sAMAccountName=jdoe))"],
    ["*", "(&(objectClass=user)(sAMAccountName=\\2a))"],
    ["*)(sAMAccountName=*", "(&(objectClass=user)(sAMAccountName=\\2a\\29\\28sAMAccountName=\\2a))"],
    ["admin)(|(a=*", "(&(objectClass=user)(sAMAccountName=admin\\29\\28|\\28a=\\2a))"],
    ["x\\29", "(&(objectClass=user)(sAMAccountName=x\\5c29))"],
    ["a\0b", "(&(objectClass=user)(sAMAccountName=a\\00b))"],
  ])("escapes %j", (name, expected) => {
    const result = filter`(&(objectClass=user)(sAMAccountName=${name}))`;
    expect(result).toBe(expected);
    expect(checkFilter(result)).toEqual({ ok: true });
  });

  it("escapes each value exactly once", () => {
    const once = filter`(cn=${"a*"})`;
    expect(once).toBe("(cn=a\\2a)");
    expect(filter`(description=${once})`).toBe("(description=\\28cn=a\\5c2a\\29)");
  });

  it("interpolates several values and leaves template wildcards alone", () => {
    expect(filter`(&(givenName=${"J*"}*)(sn=*${"(x)"}))`).toBe("(&(givenName=J\\2a*)(sn=*\\28x\\29))");
  });

  it.each<[unknown, string]>([
    [42, "(uSNChanged>=42)"],
    [12345678901234567890n, "(uSNChanged>=12345678901234567890)"],
    [true, "(uSNChanged>=true)"],
  ])("formats %s", (value, expected) => {
    expect(filter`(uSNChanged>=${value})`).toBe(expected);
  });

  it("hex-escapes every byte of binary values", () => {
    const guid = new Uint8Array([0x00, 0x0f, 0x2a, 0x28, 0xff]);
    expect(filter`(objectGUID=${guid})`).toBe("(objectGUID=\\00\\0f\\2a\\28\\ff)");
  });

  it("takes the template text raw", () => {
    expect(filter`(cn=\2a${"x"}\5c)`).toBe("(cn=\\2ax\\5c)");
  });

  it.each<[unknown, string]>([
    [undefined, "value 1 is undefined"],
    [null, "value 1 is null"],
    [{}, "value 1 is object"],
    [["a"], "value 1 is object"],
  ])("refuses %j", (value, message) => {
    expect(() => filter`(cn=${value})`).toThrow(message);
  });

  it("throws when the template itself is not a valid filter", () => {
    expect(() => filter`cn=${"x"}`).toThrow("must be enclosed in parentheses");
    expect(() => filter`(&(cn=${"x"})`).toThrow("never closed");
    expect(() => filter`(${"c n"}=x)`).toThrow("unexpected space at position 2");
  });
});
