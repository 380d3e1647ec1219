import type { TenantObject } from "./tenant/tenant-object.ts";

/** The worker's bindings (wrangler.toml) and secrets (`wrangler secret put`, or .dev.vars locally). */
export interface Env {
  TENANT: DurableObjectNamespace<TenantObject>;
  /** HS256 secret shared with the host portal, which mints administrator sessions. */
  ADMIN_JWT_SECRET?: string;
  /** Alternatively, the host portal's public key as a JWK (RS256 or ES256), JSON text. */
  ADMIN_JWT_PUBLIC_KEY?: string;
  /** 32 random bytes, base64: encrypts stored bind passwords (AES-256-GCM). */
  CONFIG_ENCRYPTION_KEY?: string;
  /** At least 32 characters: signs UC client session tokens. Unset: a key derived from CONFIG_ENCRYPTION_KEY. */
  UC_SESSION_SECRET?: string;
}
