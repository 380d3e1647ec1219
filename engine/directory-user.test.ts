import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { ExtensionNumbers } from "../schema/generated/config.ts";
import { bytesFromBase64, bytesFromGuid, directoryUserFromEntry, entryDisabled, firstValue, guidFromBytes } from "./directory-user.ts";
import { describeRanges, NumberPool, normalizeNumber, rangesFor } from "./extension-numbers.ts";

describe("directoryUserFromEntry", () => {
  const guidBytes = Uint8Array.from([0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff]);

  it("prints objectGUID the way AD does, the first three groups little-endian", () => {
    expect(guidFromBytes(guidBytes)).toBe("33221100-5544-7766-8899-aabbccddeeff");
  });

  it("reads identity, disabled bit and text attributes, and hashes the photo", async () => {
    const user = await directoryUserFromEntry({
      dn: "CN=Ann,DC=example,DC=com",
      attributes: {
        objectGUID: [Buffer.from(guidBytes).toString("base64")],
        userAccountControl: ["66050"],
        displayName: ["Ann"],
        thumbnailPhoto: [Buffer.from("jpeg").toString("base64")],
        objectSid: ["AQUAAAAAAAUVAAAA"],
      },
      binary: ["objectGUID", "thumbnailPhoto", "objectSid"],
    });
    expect(user).toMatchObject({ guid: "33221100-5544-7766-8899-aabbccddeeff", disabled: true, attributes: { displayname: ["Ann"] } });
    expect(user?.attributes.objectsid).toBeUndefined();
    expect(user?.photoHash).toBe(createHash("sha256").update("jpeg").digest("hex"));
  });

  it("turns a GUID back into its bytes, and refuses what is not one", () => {
    expect([...bytesFromGuid("33221100-5544-7766-8899-aabbccddeeff")]).toEqual([...guidBytes]);
    expect([...bytesFromGuid(guidFromBytes(guidBytes).toUpperCase())]).toEqual([...guidBytes]);
    expect(() => bytesFromGuid("33221100-5544-7766-8899-aabbccddeef")).toThrow("not a GUID: 33221100-5544-7766-8899-aabbccddeef");
    expect(() => bytesFromGuid("x33221100-5544-7766-8899-aabbccddeeff")).toThrow(/not a GUID/);
    expect(() => bytesFromGuid("33221100-5544-7766-8899-aabbccddeeffx")).toThrow(/not a GUID/);
    expect(() => guidFromBytes(new Uint8Array(15))).toThrow("an objectGUID has 16 bytes, not 15");
    expect([...bytesFromBase64(Buffer.from([0, 255, 7]).toString("base64"))]).toEqual([0, 255, 7]);
  });

  it("reads a photo sent as text, ignores an empty one, and keeps objectGUID out of the attributes", async () => {
    const guid = Buffer.from(guidBytes).toString("base64");
    const text = await directoryUserFromEntry(
      { dn: "CN=A", attributes: { objectGUID: [guid], jpegPhoto: ["abc"] }, binary: ["objectGUID"] },
      "jpegPhoto",
    );
    expect(text?.photoHash).toBe(createHash("sha256").update("abc").digest("hex"));
    expect(text?.attributes).toEqual({});
    const empty = await directoryUserFromEntry({
      dn: "CN=A",
      attributes: { objectGUID: [guid], thumbnailPhoto: [""] },
      binary: ["objectGUID", "thumbnailPhoto"],
    });
    expect(empty?.photoHash).toBeUndefined();
    const plain = await directoryUserFromEntry({ dn: "CN=A", attributes: { objectGUID: [guid], cn: ["A"] } });
    expect(plain).toMatchObject({ guid: guidFromBytes(guidBytes), disabled: false, attributes: { cn: ["A"] } });
  });

  it("reads the disabled bit (0x2) of userAccountControl, and an account without one as enabled", () => {
    expect(entryDisabled({ dn: "x", attributes: { userAccountControl: ["514"] } })).toBe(true);
    expect(entryDisabled({ dn: "x", attributes: { userAccountControl: ["512"] } })).toBe(false);
    expect(entryDisabled({ dn: "x", attributes: {} })).toBe(false);
  });

  it("gives an attribute's first value trimmed, and nothing for a blank or absent one", () => {
    const user = { guid: "g", dn: "x", disabled: false, attributes: { title: ["  Boss  ", "Other"], blank: ["   "] } };
    expect([firstValue(user, "Title"), firstValue(user, "blank"), firstValue(user, "missing"), firstValue(user, undefined)]).toEqual([
      "Boss",
      undefined,
      undefined,
      undefined,
    ]);
  });

  it("gives no user for an entry without objectGUID", async () => {
    expect(await directoryUserFromEntry({ dn: "CN=x", attributes: { cn: ["x"] } })).toBeUndefined();
  });
});

describe("normalizeNumber", () => {
  it.each([
    ["1234", {}, "1234"],
    [" 12 34 ", {}, "1234"],
    ["+44 (20) 7946-0123", { lastDigits: 4 }, "0123"],
    ["ext. 55", { digitsOnly: true }, "55"],
    ["5", {}, undefined],
    ["12345678901", {}, undefined],
    ["abc", { digitsOnly: false }, undefined],
    ["+1 555 0100", { pattern: "x(\\d+)$" }, undefined],
    ["ext 4455 (desk)", { pattern: "ext (\\d+)" }, "4455"],
    ["4455", { pattern: "\\d{4}" }, "4455"],
    ["9-1234", { stripPrefix: "9-" }, "1234"],
    ["91234", { stripPrefix: "9-" }, "91234"],
    ["12 34", { digitsOnly: false }, undefined],
    ["+44 20 7946 0123", { lastDigits: 3 }, "123"],
  ])("%j with %j gives %s", (value, rules, expected) => {
    expect(normalizeNumber(value, rules)).toBe(expected);
  });
});

describe("NumberPool", () => {
  it("hands out the lowest free number of the first range with room, keeping leading zeros", () => {
    const pool = new NumberPool();
    pool.take("0100");
    const ranges = [
      { start: "0100", end: "0101" },
      { start: "0500", end: "0599" },
    ];
    expect([pool.allocate(ranges), pool.allocate(ranges), pool.allocate(ranges)]).toEqual(["0101", "0500", "0501"]);
    expect(pool.allocate([{ start: "10", end: "10" }])).toBe("10");
    expect(pool.allocate([{ start: "10", end: "10" }])).toBeUndefined();
  });
});

describe("NumberPool over overlapping ranges", () => {
  it("never hands out a number another range handed out, and knows each one handed out", () => {
    const pool = new NumberPool();
    const wide = [{ start: "1000", end: "1009" }];
    const narrow = [{ start: "1002", end: "1004" }];
    const padded = [{ start: "01003", end: "01005" }];
    pool.take("1003");
    const got = [pool.allocate(wide), pool.allocate(wide), pool.allocate(narrow), pool.allocate(narrow), pool.allocate(wide)];
    expect(got).toEqual(["1000", "1001", "1002", "1004", "1005"]);
    expect(pool.allocate(narrow)).toBeUndefined();
    // Another width is another number: 01003 is free although 1003 is taken.
    expect(pool.allocate(padded)).toBe("01003");
    for (const n of [...got, "1003", "01003"]) expect(pool.has(String(n))).toBe(true);
    for (const n of ["1006", "01004", "999", "1003.0", "abc"]) expect(pool.has(n)).toBe(false);
  });
});

describe("ranges", () => {
  const numbers: ExtensionNumbers = {
    ranges: [{ start: "1000", end: "1999" }],
    ouRanges: [
      { ou: "OU=Staff,DC=example,DC=com", ranges: [{ start: "2000", end: "2999" }] },
      { ou: "OU=Sales,OU=Staff,DC=example,DC=com", ranges: [{ start: "3000", end: "3099" }] },
      { ou: "OU=Sales,OU=Staff,DC=example,DC=com", ranges: [{ start: "4000", end: "4099" }] },
    ],
  };
  it("takes the ranges of the deepest OU holding the user, the first listed of equals, else the default ranges", () => {
    expect(rangesFor(numbers, "CN=A,OU=Sales,OU=Staff,DC=example,DC=com")).toEqual([{ start: "3000", end: "3099" }]);
    expect(rangesFor(numbers, "CN=A,OU=Support,OU=Staff,DC=example,DC=com")).toEqual([{ start: "2000", end: "2999" }]);
    expect(rangesFor(numbers, "CN=A,OU=Partners,DC=example,DC=com")).toEqual([{ start: "1000", end: "1999" }]);
    expect(rangesFor({}, "CN=A,DC=example,DC=com")).toEqual([]);
    expect(rangesFor(undefined, "CN=A,DC=example,DC=com")).toEqual([]);
  });

  it("describes ranges as the configuration has them", () => {
    expect(
      describeRanges([
        { start: "1000", end: "1099" },
        { start: "2000", end: "2000" },
      ]),
    ).toBe("1000-1099, 2000-2000");
    expect(describeRanges([])).toBe("no ranges configured");
  });

  it("never hands out a number twice, nor one taken, and goes on after a full range", () => {
    const pool = new NumberPool();
    pool.take("11");
    expect(pool.has("11")).toBe(true);
    expect(pool.has("12")).toBe(false);
    const ranges = [
      { start: "10", end: "12" },
      { start: "20", end: "21" },
    ];
    expect([pool.allocate(ranges), pool.allocate(ranges), pool.allocate(ranges), pool.allocate(ranges), pool.allocate(ranges)]).toEqual([
      "10",
      "12",
      "20",
      "21",
      undefined,
    ]);
    expect(pool.has("12")).toBe(true);
    // A number taken after the cursor passed it stays taken; one before the cursor is not handed out again.
    const other = new NumberPool();
    expect(other.allocate([{ start: "10", end: "19" }])).toBe("10");
    other.take("11");
    expect(other.allocate([{ start: "10", end: "19" }])).toBe("12");
  });
});
