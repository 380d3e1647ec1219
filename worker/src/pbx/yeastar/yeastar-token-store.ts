// The tenant's Yeastar tokens, sealed in its SQLite: an application may hold only 8 live
// access tokens, so a Durable Object that restarts must find its token again rather than
// fetch a new one, and a token is a credential, so it is encrypted like the secret.

import type { SecretBox } from "../../secret-box.ts";
import type { Sql } from "../../sql.ts";
import type { TokenStore, YeastarTokens } from "./yeastar-client.ts";

export const yeastarTokensSchema = "CREATE TABLE IF NOT EXISTS yeastar_tokens (pbx TEXT PRIMARY KEY, sealed TEXT NOT NULL)";

export function sqlTokenStore(sql: Sql, box: () => Promise<SecretBox>, pbx: string, tenant: string): TokenStore {
  sql.exec(yeastarTokensSchema);
  const context = `${tenant}/yeastar-token/${pbx}`;
  return {
    async load() {
      const sealed = sql.exec<{ sealed: string }>("SELECT sealed FROM yeastar_tokens WHERE pbx = ?", pbx).toArray()[0]?.sealed;
      if (sealed === undefined) return undefined;
      try {
        return JSON.parse(await (await box()).open(sealed, context)) as YeastarTokens;
      } catch {
        return undefined;
      }
    },
    async save(tokens) {
      if (tokens === undefined) {
        sql.exec("DELETE FROM yeastar_tokens WHERE pbx = ?", pbx);
        return;
      }
      const sealed = await (await box()).seal(JSON.stringify(tokens), context);
      sql.exec(
        "INSERT INTO yeastar_tokens (pbx, sealed) VALUES (?, ?) ON CONFLICT (pbx) DO UPDATE SET sealed = excluded.sealed",
        pbx,
        sealed,
      );
    },
  };
}
