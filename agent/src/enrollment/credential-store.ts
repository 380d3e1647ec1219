// Where the agent keeps the credential its enrollment token bought: one JSON file in its state
// directory, readable by the agent's account only. It is the agent's whole identity towards
// the worker, so it is written atomically (a crash cannot leave half a credential) and never
// logged.
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

export interface StoredCredential {
  /** The worker's origin the agent enrolled with: the credential is good there only. */
  worker: string;
  tenant: string;
  agentId: string;
  credential: string;
  enrolledAt: string;
}

export const credentialFileName = "agent-credential.json";

/**
 * The state directory when none is given. A systemd unit with StateDirectory= names its own
 * ($STATE_DIRECTORY); root gets /var/lib; anyone else the XDG state home. On Windows the
 * account's local application data, which only it, SYSTEM and Administrators can read (for
 * a service running as LocalSystem, under the system profile).
 */
export function defaultStateDir(
  env: NodeJS.ProcessEnv = process.env,
  platform: NodeJS.Platform = process.platform,
  uid: number | undefined = process.getuid?.(),
): string {
  const dir = "pbx-ad-sync-agent";
  if (platform === "win32") return join(env.LOCALAPPDATA ?? join(homedir(), "AppData", "Local"), "pbx-ad-sync", "agent");
  if (env.STATE_DIRECTORY) return (env.STATE_DIRECTORY.split(":")[0] as string) || env.STATE_DIRECTORY;
  if (platform === "darwin") return join(homedir(), "Library", "Application Support", dir);
  if (uid === 0) return join("/var/lib", dir);
  return join(env.XDG_STATE_HOME || join(homedir(), ".local", "state"), dir);
}

export class CredentialStore {
  readonly dir: string;
  readonly file: string;

  constructor(dir: string) {
    this.dir = dir;
    this.file = join(dir, credentialFileName);
  }

  /** The saved credential, or undefined before the first enrollment. A damaged file is an error, not a fresh start. */
  read(warn: (line: string) => void): StoredCredential | undefined {
    if (!existsSync(this.file)) return undefined;
    if (process.platform !== "win32") {
      const mode = statSync(this.file).mode & 0o777;
      if ((mode & 0o077) !== 0) {
        warn(
          `${this.file} was readable by other accounts (mode ${mode.toString(8)}); made it 600. ` +
            "If someone else may have read it, revoke this agent (Agents > Revoke) and enroll it again.",
        );
        chmodSync(this.file, 0o600);
      }
    }
    const text = readFileSync(this.file, "utf8");
    let parsed: Partial<StoredCredential>;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new Error(`${this.file} is not JSON; delete it and enroll the agent again with a new token`);
    }
    for (const key of ["worker", "tenant", "agentId", "credential"] as const)
      if (typeof parsed[key] !== "string" || parsed[key] === "")
        throw new Error(`${this.file} has no ${key}; delete it and enroll the agent again with a new token`);
    return parsed as StoredCredential;
  }

  /**
   * Checks, before a token is spent, that the credential can be kept here: a token spent
   * with nowhere to keep what it bought is lost.
   */
  ensureWritable(): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const probe = join(this.dir, `.write-test-${process.pid}`);
    writeFileSync(probe, "", { mode: 0o600 });
    unlinkSync(probe);
  }

  save(credential: StoredCredential): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const temporary = `${this.file}.${process.pid}.tmp`;
    writeFileSync(temporary, `${JSON.stringify(credential, null, 2)}\n`, { mode: 0o600 });
    renameSync(temporary, this.file);
  }
}
