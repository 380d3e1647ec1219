export interface DirectoryOu {
  dn: string;
  name: string;
}

export interface DirectoryGroup {
  dn: string;
  name: string;
  description: string | null;
}

export interface DirectoryAttribute {
  name: string;
  description?: string;
}

/** How the editor reaches the customer's directory (through the plugin's API client and the agent). */
export interface DirectoryLookups {
  /** OU distinguished names (flattened tree) */
  ous(): Promise<Array<DirectoryOu>>;
  groups(query: string): Promise<Array<DirectoryGroup>>;
  /** LDAP attribute names users have; shape from schema/src/agent-protocol.ts UserAttribute */
  attributes(): Promise<Array<DirectoryAttribute>>;
}

/** An answer, or `complete: false` when the directory did not answer (yet). */
export interface Lookup<T> {
  items: T[];
  complete: boolean;
}

export interface DirectoryCacheOptions {
  /** How long a completion waits for the directory before showing the other suggestions. */
  waitMs?: number;
  /** How long a failed lookup is not retried, so an offline agent is not asked at every keystroke. */
  retryAfterMs?: number;
  now?: () => number;
}

const maxEntries = 200;

/**
 * Directory lookups as completions need them: asked once per editor and remembered, never
 * rejecting (an offline agent means no directory suggestions, not an error inside Monaco),
 * and never holding up the schema's suggestions for longer than `waitMs`.
 */
export class DirectoryCache {
  readonly #lookups: DirectoryLookups;
  readonly #waitMs: number;
  readonly #retryAfterMs: number;
  readonly #now: () => number;
  readonly #entries = new Map<string, { promise: Promise<unknown[]>; settled?: unknown[]; failedAt?: number }>();

  constructor(lookups: DirectoryLookups, options: DirectoryCacheOptions = {}) {
    this.#lookups = lookups;
    this.#waitMs = options.waitMs ?? 1500;
    this.#retryAfterMs = options.retryAfterMs ?? 30_000;
    this.#now = options.now ?? Date.now;
  }

  ous(): Promise<Lookup<DirectoryOu>> {
    return this.#get("ous", () => this.#lookups.ous());
  }

  groups(query: string): Promise<Lookup<DirectoryGroup>> {
    return this.#get(`groups\u0000${query}`, () => this.#lookups.groups(query));
  }

  attributes(): Promise<Lookup<DirectoryAttribute>> {
    return this.#get("attributes", () => this.#lookups.attributes());
  }

  async #get<T>(key: string, ask: () => Promise<T[]>): Promise<Lookup<T>> {
    let entry = this.#entries.get(key);
    if (entry?.failedAt !== undefined && this.#now() - entry.failedAt >= this.#retryAfterMs) {
      this.#entries.delete(key);
      entry = undefined;
    }
    if (!entry) {
      const created: { promise: Promise<unknown[]>; settled?: unknown[]; failedAt?: number } = { promise: Promise.resolve([]) };
      created.promise = Promise.resolve()
        .then(ask)
        .then(
          (items) => {
            created.settled = Array.isArray(items) ? items : [];
            return created.settled;
          },
          () => {
            created.failedAt = this.#now();
            return [];
          },
        );
      this.#entries.set(key, created);
      // Group searches are per typed text; keep the most recent ones only.
      if (this.#entries.size > maxEntries) this.#entries.delete(this.#entries.keys().next().value as string);
      entry = created;
    }
    if (entry.settled) return { items: entry.settled as T[], complete: true };
    if (entry.failedAt !== undefined) return { items: [], complete: true };
    const current = entry;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), this.#waitMs);
    });
    const result = await Promise.race([current.promise, timeout]);
    clearTimeout(timer);
    if (result === "timeout") return { items: [], complete: false };
    return { items: result as T[], complete: true };
  }
}
