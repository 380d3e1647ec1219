import { describe, expect, it } from "vitest";
import { sqliteStorage } from "../../../test/support/sqlite-storage.ts";
import { addressKeys, expandIpv6, LoginThrottle, nameKey, type ThrottleLimits } from "./login-throttle.ts";

const limits: ThrottleLimits = { maxFailures: 3, maxFailuresPerAddress: 10, windowMs: 15 * 60_000, blockMs: 10 * 60_000 };
const minute = 60_000;
const address = (a: string) => (addressKeys(a)[0] as { key: string }).key;

describe("LoginThrottle", () => {
  const key = nameKey("Judy@Example.com");

  it("pauses a key at the limit, and the first failure after the pause pauses it again: the count does not restart", () => {
    const throttle = new LoginThrottle(sqliteStorage());
    expect(throttle.fail(key, 3, limits, 0)).toBeUndefined();
    expect(throttle.fail(key, 3, limits, minute)).toBeUndefined();
    expect(throttle.blockedUntil(key, minute)).toBeUndefined();
    expect(throttle.fail(key, 3, limits, 2 * minute)).toBe(12 * minute);
    expect(throttle.blockedUntil(key, 11 * minute)).toBe(12 * minute);
    expect(throttle.blockedUntil(key, 12 * minute)).toBeUndefined();
    // Within the window of the last failure: one more pauses again, as AD would still count it.
    expect(throttle.fail(key, 3, limits, 13 * minute)).toBe(23 * minute);
    expect(throttle.failures(key)).toBe(4);
  });

  it("forgets failures once the window has passed since the last one, as AD's observation window does", () => {
    const throttle = new LoginThrottle(sqliteStorage());
    throttle.fail(key, 3, limits, 0);
    throttle.fail(key, 3, limits, 10 * minute);
    // 15 minutes after the first failure but 5 after the last: still counted.
    expect(throttle.fail(key, 3, limits, 15 * minute)).toBe(25 * minute);
    const other = nameKey("bob@example.com");
    throttle.fail(other, 3, limits, 0);
    throttle.fail(other, 3, limits, 14 * minute);
    // Exactly the window after the last failure: a new count of one.
    expect(throttle.fail(other, 3, limits, 29 * minute)).toBeUndefined();
    expect(throttle.failures(other)).toBe(1);
  });

  it("clears a name's failures on a successful login", () => {
    const throttle = new LoginThrottle(sqliteStorage());
    throttle.fail(key, 3, limits, 0);
    throttle.fail(key, 3, limits, 0);
    throttle.succeed(key);
    expect(throttle.fail(key, 3, limits, 0)).toBeUndefined();
    expect(throttle.failures(key)).toBe(1);
  });

  it("keys both forms of a name alike, from what was typed alone", () => {
    expect(nameKey("  Judy@Example.COM ")).toBe("name:judy");
    expect(nameKey("EXAMPLE\\JUDY")).toBe(nameKey("judy@other.example"));
    expect(nameKey("nobody@example.com")).toBe(nameKey("EXAMPLE\\nobody"));
    expect(nameKey("no-at-sign")).toBe("name:no-at-sign");
  });

  it("pauses at once with a limit of one, and reports no pause for a key never seen", () => {
    const throttle = new LoginThrottle(sqliteStorage());
    expect(throttle.blockedUntil(key, 0)).toBeUndefined();
    expect(throttle.failures(key)).toBe(0);
    expect(throttle.fail(key, 1, limits, 5)).toBe(5 + 10 * minute);
    expect(throttle.blockedUntil(key, 5 + 10 * minute - 1)).toBe(5 + 10 * minute);
  });

  it("drops, every hundredth failure, keys whose window and pause are both over, and keeps the others", () => {
    const throttle = new LoginThrottle(sqliteStorage());
    const old = nameKey("old@example.com");
    const paused = nameKey("paused@example.com");
    throttle.fail(old, 10, limits, 0);
    throttle.fail(paused, 1, limits, 30 * minute);
    const later = 26 * minute;
    for (let i = 3; i < 100; i++) throttle.fail(address(`192.0.2.${i}`), 50, limits, later + 5 * minute);
    expect(throttle.failures(old)).toBe(1);
    throttle.fail(address("192.0.2.200"), 50, limits, later + 5 * minute);
    expect(throttle.failures(old)).toBe(0);
    expect(throttle.blockedUntil(paused, later + 5 * minute)).toBe(40 * minute);
    expect(throttle.failures(address("192.0.2.3"))).toBe(1);
  });
});

describe("address keys", () => {
  it("keep an IPv4 address, also one seen through IPv6, as itself", () => {
    expect(addressKeys("192.0.2.1")).toEqual([{ key: "address:192.0.2.1", factor: 1 }]);
    expect(addressKeys("::ffff:192.0.2.1")).toEqual([{ key: "address:192.0.2.1", factor: 1 }]);
    expect(address("192.0.2.1")).not.toBe(nameKey("192.0.2.1"));
  });

  it("fold an IPv6 address into its /64 and its /48, however it is written", () => {
    const keys = ["2001:db8:1:2::5", "2001:0DB8:0001:0002:FFFF:0:0:1", "[2001:db8:1:2:0:0:0:9]", "2001:db8:1:2::7%eth0"].map(addressKeys);
    for (const k of keys)
      expect(k).toEqual([
        { key: "address:2001:db8:1:2::/64", factor: 1 },
        { key: "address:2001:db8:1::/48", factor: 4 },
      ]);
  });

  it("refuse what is not IPv6", () => {
    expect(expandIpv6("1:2:3")).toBeUndefined();
    expect(expandIpv6("1::2::3")).toBeUndefined();
    expect(expandIpv6("g::1")).toBeUndefined();
    expect(expandIpv6("::1")).toEqual(["0", "0", "0", "0", "0", "0", "0", "1"]);
  });
});
