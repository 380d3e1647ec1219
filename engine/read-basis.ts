// Whether a run may read only what changed, or must read the whole scope: pure, from what the
// last complete read left and what the DC answers now. An incremental read is right only when
// it starts from a position of the same DC with the same database, under the same
// configuration; anything else reads everything again and says why.
import type { SyncConfig } from "../schema/generated/config.ts";
import type { DirectoryPosition } from "../schema/src/agent-protocol.ts";

/** What a complete read leaves for the next run. */
export interface ReadBasis {
  /** configKey of the configuration the mirror was read with. */
  configKey: string;
  /** When the last full read began (ms since the epoch). */
  fullAt: number;
  /** Where the DC stood before the last complete read; null when the read could not say. */
  position: DirectoryPosition | null;
  /** Why the last read has no position. */
  positionProblem: string | null;
}

export type ReadChoice = { mode: "full"; reason: string } | { mode: "incremental"; since: DirectoryPosition };

/**
 * The parts of the configuration that decide who is read, how each user is mapped and what
 * the PBX holds; a change to any of them makes the next read a full one. The schedule, the
 * safety limits, domain login and the log decide none of it.
 */
export function configKey(config: SyncConfig): string {
  const { connection, scope, extensionNumbers, fields, organisation, deprovisioning, pbx } = config;
  return canonical({ baseDn: connection?.baseDn ?? null, scope, extensionNumbers, fields, organisation, deprovisioning, pbx });
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value !== null && typeof value === "object")
    return `{${Object.keys(value)
      .sort()
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`)
      .join(",")}}`;
  return JSON.stringify(value ?? null);
}

export const defaultFullReadEveryHours = 24;

/** Before the read: full or incremental, from the stored basis alone. */
export function chooseRead(basis: ReadBasis | undefined, now: { config: SyncConfig; at: number; full?: boolean }): ReadChoice {
  const schedule = now.config.schedule;
  if (now.full === true) return { mode: "full", reason: "a full read was asked for" };
  if (schedule?.incremental === false) return { mode: "full", reason: "incremental reads are off (schedule.incremental)" };
  if (basis === undefined) return { mode: "full", reason: "there is no complete read to start from" };
  if (basis.configKey !== configKey(now.config))
    return { mode: "full", reason: "the configuration changed since the last full read (scope, mapping, deprovisioning or PBX)" };
  if (basis.position === null)
    return { mode: "full", reason: `the last read could not say where the directory stood: ${basis.positionProblem ?? "no position"}` };
  const every = schedule?.fullReadEveryHours ?? defaultFullReadEveryHours;
  if (now.at - basis.fullAt >= every * 3_600_000)
    return { mode: "full", reason: `the full read every ${every} hours is due (schedule.fullReadEveryHours)` };
  return { mode: "incremental", since: basis.position };
}

/**
 * Once the DC has answered: the reason the stored position does not hold there, or undefined
 * when it does. USNs are a DC's own, and a DC restored from a backup takes a new invocationId
 * and gives out again USNs it had given before the restore.
 */
export function positionMismatch(since: DirectoryPosition, now: DirectoryPosition | undefined, problem?: string): string | undefined {
  if (now === undefined) return `the domain controller did not say where it stands: ${problem ?? "no position"}`;
  if (now.dsServiceName !== since.dsServiceName)
    return `another domain controller answered (${now.server}, ${serverName(now)}) than the one the last read came from (${since.server}, ${serverName(since)})`;
  if (now.invocationId !== since.invocationId)
    return `the domain controller ${now.server} was restored from a backup since the last read (its invocationId changed)`;
  if (BigInt(now.highestCommittedUsn) < BigInt(since.highestCommittedUsn))
    return `the domain controller's update sequence number went back (${now.highestCommittedUsn}, after ${since.highestCommittedUsn})`;
  return undefined;
}

/** The DC's name from its NTDS Settings DN: CN=NTDS Settings,CN=DC1,CN=Servers,… */
function serverName(p: DirectoryPosition): string {
  return /^CN=NTDS Settings,CN=([^,]+),/i.exec(p.dsServiceName)?.[1] ?? p.dsServiceName;
}
