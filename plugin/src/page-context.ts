import type { ApiClient } from "./api-client.ts";
import type { StoredConfig } from "./api-types.ts";

/** What every section of the page shares. */
export interface PageContext {
  api: ApiClient;
  /** Where the bundle was loaded from, ending in "/": Monaco's workers sit beside it. */
  assetBaseUrl: string;
  /** The worker's origin as the agent should dial it, for the install command. */
  apiOrigin: string;
  theme(): "light" | "dark";
  formatTime(at: number | string | null): string;
  /** Shows a failure: in `where`, and for an expired session or offline agent in the page banner too. */
  report(error: unknown, where: HTMLElement): void;
  /** The saved configuration, shared so that a save in one section is seen by the others. */
  saved: SavedConfig;
  /** Switches to another section. */
  show(section: SectionId): void;
}

export type SectionId = "connection" | "synchronization" | "preview" | "schedule" | "log" | "agents" | "extensions";

export interface Section {
  id: SectionId;
  title: string;
  element: HTMLElement;
  /** Called each time the section is shown. */
  shown?(): void;
}

/** The saved configuration and who wants to hear of a new one. */
export class SavedConfig {
  #current: StoredConfig | null = null;
  readonly #listeners = new Set<(stored: StoredConfig) => void>();
  readonly #load: () => Promise<StoredConfig>;
  #loading: Promise<StoredConfig> | null = null;

  constructor(load: () => Promise<StoredConfig>) {
    this.#load = load;
  }

  get current(): StoredConfig | null {
    return this.#current;
  }

  /** The saved configuration, loading it the first time. */
  get(): Promise<StoredConfig> {
    if (this.#current) return Promise.resolve(this.#current);
    this.#loading ??= this.#load().then(
      (stored) => {
        this.set(stored);
        return stored;
      },
      (error: unknown) => {
        this.#loading = null;
        throw error;
      },
    );
    return this.#loading;
  }

  set(stored: StoredConfig): void {
    this.#current = stored;
    for (const listener of this.#listeners) listener(stored);
  }

  listen(listener: (stored: StoredConfig) => void): void {
    this.#listeners.add(listener);
  }
}
