import { describe, expect, it } from "vitest";
import { DirectoryCache, type DirectoryLookups } from "./directory-cache.ts";

function lookups(overrides: Partial<DirectoryLookups> = {}): DirectoryLookups & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    ous: async () => {
      calls.push("ous");
      return [{ dn: "OU=Sales,DC=example,DC=com", name: "Sales" }];
    },
    groups: async (query) => {
      calls.push(`groups:${query}`);
      return [{ dn: `CN=${query},DC=example,DC=com`, name: query, description: null }];
    },
    attributes: async () => {
      calls.push("attributes");
      return [{ name: "ipPhone" }];
    },
    ...overrides,
  };
}

describe("DirectoryCache", () => {
  it("asks the directory once per editor and question", async () => {
    const directory = lookups();
    const cache = new DirectoryCache(directory);
    expect(await cache.ous()).toEqual({ items: [{ dn: "OU=Sales,DC=example,DC=com", name: "Sales" }], complete: true });
    await cache.ous();
    await cache.groups("Sa");
    await cache.groups("Sa");
    await cache.groups("Sal");
    expect(directory.calls).toEqual(["ous", "groups:Sa", "groups:Sal"]);
  });

  it("turns a failure into no suggestions, and retries only after a while", async () => {
    let now = 0;
    let fail = true;
    const directory = lookups({
      attributes: async () => {
        if (fail) throw new Error("agent offline");
        return [{ name: "mail" }];
      },
    });
    const cache = new DirectoryCache(directory, { retryAfterMs: 1000, now: () => now });
    expect(await cache.attributes()).toEqual({ items: [], complete: true });
    fail = false;
    now = 500;
    expect(await cache.attributes()).toEqual({ items: [], complete: true });
    now = 1000;
    expect(await cache.attributes()).toEqual({ items: [{ name: "mail" }], complete: true });
  });

  it("does not hold up completions for a slow directory, and remembers the late answer", async () => {
    let answer: (value: Array<{ dn: string; name: string }>) => void = () => {};
    const directory = lookups({ ous: () => new Promise((resolve) => (answer = resolve)) });
    const cache = new DirectoryCache(directory, { waitMs: 10 });
    expect(await cache.ous()).toEqual({ items: [], complete: false });
    answer([{ dn: "OU=Late,DC=example,DC=com", name: "Late" }]);
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(await cache.ous()).toEqual({ items: [{ dn: "OU=Late,DC=example,DC=com", name: "Late" }], complete: true });
  });

  it("survives a lookup that throws synchronously", async () => {
    const cache = new DirectoryCache(
      lookups({
        groups: () => {
          throw new Error("no client");
        },
      }),
    );
    expect(await cache.groups("x")).toEqual({ items: [], complete: true });
  });
});
