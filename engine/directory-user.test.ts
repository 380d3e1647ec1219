import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { directoryUserFromEntry, guidFromBytes } from "./directory-user.ts";
import { NumberPool, normalizeNumber } from "./extension-numbers.ts";

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
