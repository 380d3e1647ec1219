// A vendor target's API tokens, sealed in the tenant's SQLite. Vendors limit live tokens (Yeastar:
// 8 per application; 3CX: one per client, a new one revoking the last), so a Durable Object that
// restarts must find its token again rather than fetch another; and a token is a credential, so
// it is encrypted like the secret it was obtained with.
import type { SecretBox } from "../secret-box.ts";
import type { Sql } from "../sql.ts";

/** Where a client keeps its tokens between invocations. */
export interface TokenStore<T> {
  load(): Promise<T | undefined>;
  save(tokens: T | undefined): Promise<void>;
}

export const pbxTokensSchema = "CREATE TABLE IF NOT EXISTS pbx_tokens (target TEXT PRIMARY KEY, sealed TEXT NOT NULL)";

/** `target` names the API and the application, e.g. "yeastar|https://acme.ras.yeastar.com|client-id". */
export function sealedTokenStore<T>(sql: Sql, box: () => Promise<SecretBox>, target: string, tenant: string): TokenStore<T> {
  sql.exec(pbxTokensSchema);
  const context = `${tenant}/pbx-token/${target}`;
  return {
    async load() {
      const sealed = sql.exec<{ sealed: string }>("SELECT sealed FROM pbx_tokens WHERE target = ?", target).toArray()[0]?.sealed;
      if (sealed === undefined) return undefined;
      try {
        return JSON.parse(await (await box()).open(sealed, context)) as T;
      } catch {
        // Sealed with a key that is gone, or damaged: a new token is fetched.
        return undefined;
      }
    },
    async save(tokens) {
      if (tokens === undefined) {
        sql.exec("DELETE FROM pbx_tokens WHERE target = ?", target);
        return;
      }
      const sealed = await (await box()).seal(JSON.stringify(tokens), context);
      sql.exec(
        "INSERT INTO pbx_tokens (target, sealed) VALUES (?, ?) ON CONFLICT (target) DO UPDATE SET sealed = excluded.sealed",
        target,
        sealed,
      );
    },
  };
}
