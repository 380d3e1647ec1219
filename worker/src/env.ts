import type { TenantRegistry } from "./registry/tenant-registry.ts";
import type { TenantObject } from "./tenant/tenant-object.ts";

/** The worker's bindings (wrangler.toml) and secrets (`wrangler secret put`, or .dev.vars locally). */
export interface Env {
  TENANT: DurableObjectNamespace<TenantObject>;
  /** One object: which tenants have domain login on (registry/tenant-registry.ts). */
  REGISTRY: DurableObjectNamespace<TenantRegistry>;
  /** HS256 secret shared with the host portal, which mints administrator sessions. */
  ADMIN_JWT_SECRET?: string;
  /** Alternatively, the host portal's public key as a JWK (RS256 or ES256), JSON text. */
  ADMIN_JWT_PUBLIC_KEY?: string;
  /** When set, administrator tokens must carry this `iss` (a var, not a secret). */
  ADMIN_JWT_ISSUER?: string;
  /** When set, administrator tokens must carry this `aud`, as the string or in an array. */
  ADMIN_JWT_AUDIENCE?: string;
  /**
   * The longest session an administrator token may grant, in seconds: `exp - iat`, or
   * `exp - now` when it has no `iat`. Unset: 86400 (24 hours). `exp`, `nbf` and `iat` are
   * checked with 60 seconds of leeway for the portal's clock.
   */
  ADMIN_JWT_MAX_LIFETIME_SECONDS?: string | number;
  /** 32 random bytes, base64: encrypts stored bind passwords (AES-256-GCM). */
  CONFIG_ENCRYPTION_KEY?: string;
  /** At least 32 characters: signs UC client session tokens. Unset: a key derived from CONFIG_ENCRYPTION_KEY. */
  UC_SESSION_SECRET?: string;
}
