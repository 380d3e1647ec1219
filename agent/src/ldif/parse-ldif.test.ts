import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { LdifSyntaxError, parseLdif } from "./parse-ldif.ts";

const FIXTURE = readFileSync(fileURLToPath(new URL("../../../test/fixtures/directory.ldif", import.meta.url)), "utf8");

const GUID = Buffer.from("d1a8c8f2e3b44c9a9f0e7d6c5b4a3921", "hex");

// As `ldifde -f export.ldf` writes it: CRLF, a blank line first, changetype: add in every
// record, lines folded at 80 columns with one leading space, binary and non-ASCII values in
// base64 (here a folded DN, objectGUID and a folded member value).
const LDIFDE = [
  "",
  "dn:: Q049Wm/DqyBNw7xsbGVyLE9VPVNhbGVzLE9VPVN0YWZmLERDPWV4YW1wbG",
  " UsREM9Y29t",
  "changetype: add",
  "objectClass: top",
  "objectClass: person",
  "objectClass: organizationalPerson",
  "objectClass: user",
  "cn:: Wm/DqyBNw7xsbGVy",
  "description: A description long enough that ldifde folds it onto a second line, a",
  " s it does at column eighty",
  `objectGUID:: ${GUID.toString("base64")}`,
  "memberOf: CN=Sales Team,OU=Groups,DC=example,DC=com",
  "sAMAccountName: zmueller",
  "",
  "dn: CN=Sales Team,OU=Groups,DC=example,DC=com",
  "changetype: add",
  "objectClass: top",
  "objectClass: group",
  "member:: Q049Wm/DqyBNw7xsbGVyLE9VPVNhbGVzLE9VPVN0YWZmLERDPWV4YW1wbGUsREM9Y29",
  " t",
  "Member: CN=Bob Baker,OU=Sales,OU=Staff,DC=example,DC=com",
  "",
  "",
].join("\r\n");

// As `ldapsearch -x -L -b DC=example,DC=com "(objectClass=*)"` writes it: a comment header,
// version, comments above each record, a search reference, and the result trailer.
const LDAPSEARCH = `# extended LDIF
#
# LDAPv3
# base <DC=example,DC=com> with scope subtree
# filter: (objectClass=*)
# requesting: ALL
#

version: 1

# Staff, example.com
dn: OU=Staff,DC=example,DC=com
objectClass: top
objectClass: organizationalUnit
ou: Staff

# search reference
ref: ldap://example.com/CN=Configuration,DC=example,DC=com

# Judy Jones, Staff, example.com
dn: CN=Judy Jones,OU=Staff,DC=example,DC=com
objectClass: user
# a comment inside a record, folded
  onto a second line
sAMAccountName: jjones

# search result
search: 2
result: 0 Success

# numResponses: 4
# numEntries: 2
# numReferences: 1
`;

describe("parseLdif", () => {
  it("reads the test fixture: every OU, user and group, with base64 DNs and values decoded", () => {
    const entries = parseLdif(FIXTURE);
    // 7 OUs, 13 people and svc-pbx, 3 groups.
    expect(entries).toHaveLength(7 + 14 + 3);
    const zoe = entries.find((e) => e.attributes.sAMAccountName?.[0] === "zmueller");
    expect(zoe?.dn).toBe("CN=Zoë Müller,OU=Sales,OU=Staff,DC=example,DC=com");
    expect(zoe?.attributes.displayName).toEqual(["Zoë Müller"]);
    const sales = entries.find((e) => e.dn === "CN=Sales Team,OU=Groups,DC=example,DC=com");
    expect(sales?.attributes.member).toContain("CN=Zoë Müller,OU=Sales,OU=Staff,DC=example,DC=com");
    expect(entries.find((e) => e.attributes.sAMAccountName?.[0] === "jsmith")?.dn).toBe(
      "CN=Smith\\, John,OU=Sales,OU=Staff,DC=example,DC=com",
    );
  });

  it("reads ldifde output: CRLF, changetype: add, folded lines, base64 objectGUID as bytes", () => {
    const entries = parseLdif(LDIFDE);
    expect(entries).toEqual([
      {
        dn: "CN=Zoë Müller,OU=Sales,OU=Staff,DC=example,DC=com",
        attributes: {
          objectClass: ["top", "person", "organizationalPerson", "user"],
          cn: ["Zoë Müller"],
          description: ["A description long enough that ldifde folds it onto a second line, as it does at column eighty"],
          objectGUID: [GUID],
          memberOf: ["CN=Sales Team,OU=Groups,DC=example,DC=com"],
          sAMAccountName: ["zmueller"],
        },
      },
      {
        dn: "CN=Sales Team,OU=Groups,DC=example,DC=com",
        attributes: {
          objectClass: ["top", "group"],
          // "Member" joins the values of the "member" written first.
          member: ["CN=Zoë Müller,OU=Sales,OU=Staff,DC=example,DC=com", "CN=Bob Baker,OU=Sales,OU=Staff,DC=example,DC=com"],
        },
      },
    ]);
    expect(Buffer.isBuffer(entries[0]?.attributes.objectGUID?.[0])).toBe(true);
  });

  it("reads ldapsearch output: skips comments, version, search references and the result trailer", () => {
    expect(parseLdif(LDAPSEARCH)).toEqual([
      { dn: "OU=Staff,DC=example,DC=com", attributes: { objectClass: ["top", "organizationalUnit"], ou: ["Staff"] } },
      { dn: "CN=Judy Jones,OU=Staff,DC=example,DC=com", attributes: { objectClass: ["user"], sAMAccountName: ["jjones"] } },
    ]);
  });

  it("takes a byte-order mark, LF or CRLF, and several blank lines alike", () => {
    const text = "\uFEFFdn: OU=A,DC=x\n\n\n \ndn: OU=B,DC=x\r\nou: B\r\n";
    expect(parseLdif(text)).toEqual([
      { dn: "OU=A,DC=x", attributes: {} },
      { dn: "OU=B,DC=x", attributes: { ou: ["B"] } },
    ]);
  });

  it("keeps base64 values that are not UTF-8 as bytes, and UTF-8 ones as text", () => {
    const [entry] = parseLdif("dn: CN=x,DC=x\nobjectSid:: AQUAAAAAAAUVAAAA/w==\nsn:: TcO8bGxlcg==\n");
    expect(entry?.attributes.objectSid).toEqual([Buffer.from("AQUAAAAAAAUVAAAA/w==", "base64")]);
    expect(entry?.attributes.sn).toEqual(["Müller"]);
  });

  it("unfolds a long value in linear time", () => {
    const value = "x".repeat(2_000_000);
    const folded = `dn: CN=big,DC=x\ndescription: ${value.slice(0, 60)}\n${(value.slice(60).match(/.{1,76}/g) ?? []).map((l) => ` ${l}`).join("\n")}\n`;
    const started = performance.now();
    const [entry] = parseLdif(folded);
    expect(entry?.attributes.description?.[0]).toBe(value);
    expect(performance.now() - started).toBeLessThan(2_000);
  });
});

describe("parseLdif refuses, naming the physical line", () => {
  it.each<[string, string, number, string]>([
    ["a change record", "dn: CN=a,DC=x\nchangetype: modify\nreplace: sn\n", 2, '"changetype: modify" is a change'],
    ["a delete record", "dn: CN=a,DC=x\r\nchangetype: delete\r\n", 2, '"changetype: delete" is a change'],
    ["a record not starting with dn:", "version: 1\n\ncn: a\n", 3, "a record must start with dn:, not cn:"],
    ["an unknown version", "version: 2\n", 1, "LDIF version 2 is not supported"],
    ["a line without a colon", "dn: CN=a,DC=x\nthis is not ldif\n", 2, "cannot parse"],
    ["bad base64", "dn: CN=a,DC=x\nobjectGUID:: not*base64\n", 2, "not valid base64"],
    ["a DN that is not UTF-8", "dn:: /w==\n", 1, "the base64 DN is not UTF-8 text"],
    ["a URL value", "dn: CN=a,DC=x\njpegPhoto:< file:///tmp/a.jpg\n", 2, "URL values"],
    ["a control", "dn: CN=a,DC=x\ncontrol: 1.2.840.113556.1.4.805 true\n", 2, "controls"],
    ["a continuation with nothing before it", "\n continued\n", 2, "must follow a line it continues"],
    ["an error after folded lines", "dn: CN=a,\n DC=x\ndescription: one\n two\n three\nbroken\n", 6, "cannot parse"],
  ])("%s", (_, text, line, message) => {
    let caught: unknown;
    try {
      parseLdif(text);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(LdifSyntaxError);
    expect((caught as LdifSyntaxError).line).toBe(line);
    expect((caught as Error).message).toContain(`LDIF line ${line}: `);
    expect((caught as Error).message).toContain(message);
  });
});
