import { DurableObject } from "cloudflare:workers";
import type { Env } from "../env.ts";

/** What the public login route needs to know of a tenant before it touches the tenant's object. */
export interface LoginRegistration {
  /** Domain login is on, over verified TLS. */
  enabled: boolean;
  /** domainLogin.allowedOrigins: the web origins that get CORS headers. */
  origins: string[];
}

/**
 * The tenants whose domain login is on, in one small object of its own. The login route is
 * public and takes any tenant-shaped name: asking the tenant's own object would create it
 * (workerd makes an object's database as soon as the object runs), so the route asks here
 * first, and only a tenant listed here is ever reached. A tenant's object keeps its entry up
 * to date whenever its configuration is saved, and whenever it starts.
 */
export class TenantRegistry extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS logins (tenant TEXT PRIMARY KEY, origins TEXT NOT NULL)");
  }

  setLogin(tenant: string, registration: LoginRegistration): void {
    if (registration.enabled)
      this.ctx.storage.sql.exec(
        "INSERT INTO logins (tenant, origins) VALUES (?, ?) ON CONFLICT (tenant) DO UPDATE SET origins = excluded.origins",
        tenant,
        JSON.stringify(registration.origins),
      );
    else this.ctx.storage.sql.exec("DELETE FROM logins WHERE tenant = ?", tenant);
  }

  login(tenant: string): LoginRegistration {
    const row = this.ctx.storage.sql.exec<{ origins: string }>("SELECT origins FROM logins WHERE tenant = ?", tenant).toArray()[0];
    return row === undefined ? { enabled: false, origins: [] } : { enabled: true, origins: JSON.parse(row.origins) as string[] };
  }
}

export function registryStub(env: Env) {
  return env.REGISTRY.get(env.REGISTRY.idFromName("tenants"));
}

/**
 * Lookups cached in the isolate for a few seconds, so a burst of logins asks the registry
 * once; bounded, so a spray of random names cannot grow it.
 */
const cache = new Map<string, { at: number; value: LoginRegistration }>();
const cacheMs = 5_000;
const cacheEntries = 10_000;

export async function loginRegistration(env: Env, tenant: string): Promise<LoginRegistration> {
  const hit = cache.get(tenant);
  if (hit !== undefined && Date.now() - hit.at < cacheMs) return hit.value;
  const value = await registryStub(env).login(tenant);
  if (cache.size >= cacheEntries) cache.delete(cache.keys().next().value as string);
  cache.set(tenant, { at: Date.now(), value });
  return value;
}

/** Forgets a cached entry, after this isolate changed it. */
export function forgetRegistration(tenant: string): void {
  cache.delete(tenant);
}
