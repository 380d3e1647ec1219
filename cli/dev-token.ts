// Local development sessions: the secrets `wrangler dev` reads from .dev.vars, made once
// per clone, and administrator tokens signed with them, as a host portal would sign them.
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { sign } from "hono/jwt";
import { UsageError } from "./validate.ts";

export const devVarsPath = fileURLToPath(new URL("../.dev.vars", import.meta.url));

const tenantPattern = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** The development secrets, written to .dev.vars (mode 600) the first time they are needed. */
export function devSecrets(path = devVarsPath): { ADMIN_JWT_SECRET: string; CONFIG_ENCRYPTION_KEY: string } {
  if (!existsSync(path)) {
    const vars = [
      "# Local development secrets for `wrangler dev`; made by `adsync dev-token`, never deployed.",
      `ADMIN_JWT_SECRET=${randomBytes(32).toString("base64url")}`,
      `CONFIG_ENCRYPTION_KEY=${randomBytes(32).toString("base64")}`,
      "",
    ].join("\n");
    writeFileSync(path, vars, { mode: 0o600 });
  }
  const values = new Map<string, string>();
  for (const line of readFileSync(path, "utf8").split("\n")) {
    const m = /^\s*([A-Z0-9_]+)\s*=\s*"?([^"]*)"?\s*$/.exec(line);
    if (m) values.set(m[1] as string, m[2] as string);
  }
  const secret = values.get("ADMIN_JWT_SECRET");
  const key = values.get("CONFIG_ENCRYPTION_KEY");
  if (!secret || !key) throw new UsageError(`${path} lacks ADMIN_JWT_SECRET or CONFIG_ENCRYPTION_KEY; delete it to have a new one made`);
  return { ADMIN_JWT_SECRET: secret, CONFIG_ENCRYPTION_KEY: key };
}

export interface DevTokenOptions {
  tenant: string;
  role?: "admin" | "viewer";
  hours?: number;
  subject?: string;
}

export async function devToken(options: DevTokenOptions, secret = devSecrets().ADMIN_JWT_SECRET): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return sign(
    {
      sub: options.subject ?? "developer@localhost",
      tenant: options.tenant,
      role: options.role ?? "admin",
      iat: now,
      exp: now + Math.round((options.hours ?? 8) * 3600),
    },
    secret,
  );
}

/** `adsync dev-token --tenant demo [--role admin|viewer] [--hours 8] [--sub NAME]` */
export function parseDevTokenArgs(args: string[]): DevTokenOptions {
  const options: Partial<Record<string, string>> = {};
  for (let i = 0; i < args.length; i++) {
    const flag = args[i] as string;
    const name = flag.replace(/^--/, "");
    if (!["tenant", "role", "hours", "sub"].includes(name) || !flag.startsWith("--"))
      throw new UsageError(`dev-token: unknown option ${flag}`);
    const value = args[++i];
    if (value === undefined) throw new UsageError(`dev-token: ${flag} needs a value`);
    options[name] = value;
  }
  if (!options.tenant) throw new UsageError("dev-token: --tenant is required, e.g. --tenant demo");
  if (!tenantPattern.test(options.tenant)) throw new UsageError("dev-token: --tenant is lower-case letters, digits and dashes");
  if (options.role !== undefined && options.role !== "admin" && options.role !== "viewer")
    throw new UsageError("dev-token: --role is admin or viewer");
  const hours = options.hours === undefined ? undefined : Number(options.hours);
  // The worker refuses sessions longer than ADMIN_JWT_MAX_LIFETIME_SECONDS, 24 hours by default.
  if (hours !== undefined && !(hours > 0 && hours <= 24)) throw new UsageError("dev-token: --hours is a number from 0 to 24");
  return {
    tenant: options.tenant,
    ...(options.role ? { role: options.role as "admin" | "viewer" } : {}),
    ...(hours !== undefined ? { hours } : {}),
    ...(options.sub ? { subject: options.sub } : {}),
  };
}
