// The directory read of a run, full or incremental. A full read stages every user the scope
// returns; an incremental one stages only the users a plan must decide about again (changed
// since the stored position, new in scope, regrouped, left unsettled by an earlier run) and
// finds who left by sweeping the scope's objectGUIDs. Either way the planner gets the same
// kind of input, and what it decides is the same as a full read would make it decide.
import { positionMismatch, type ReadChoice } from "../../../engine/read-basis.ts";
import { changedGroupMemberships, changedSince, sweepScope } from "../../../engine/read-changes.ts";
import {
  lookUpOutside,
  nestedGroupMembers,
  ReadAccount,
  type ReadStage,
  readDirectory,
  readScope,
  readScopeUsers,
  type SearchStream,
  type StagedRead,
} from "../../../engine/read-directory.ts";
import type { SyncConfig } from "../../../schema/generated/config.ts";
import type { DirectoryPosition, LdapTarget } from "../../../schema/src/agent-protocol.ts";
import type { DirectoryMirror } from "./directory-mirror.ts";

export interface RunRead {
  read: StagedRead;
  mode: "full" | "incremental";
  /** Why a full read: the administrator reads it in the log. */
  why?: string;
  /** For an incremental read: the position it read from, and the one it leaves. */
  since?: DirectoryPosition;
  position?: DirectoryPosition;
  /** For an incremental read: the synced users the sweep did not find (decided about too). */
  left: string[];
  /** For an incremental read: how many users the sweep found in scope. */
  swept?: number;
}

export interface RunReadInput {
  runId: string;
  config: SyncConfig;
  target: LdapTarget;
  synced: string[];
  search: SearchStream;
  mirror: DirectoryMirror;
  stage: ReadStage;
  choice: ReadChoice;
  /** Called when an incremental read turns into a full one, before the full read begins. */
  fallBack(reason: string): void;
}

export async function readForRun(input: RunReadInput): Promise<RunRead> {
  if (input.choice.mode === "incremental") {
    const incremental = await readIncremental(input, input.choice.since);
    if (!("fallback" in incremental)) return incremental;
    input.fallBack(incremental.fallback);
    const read = await readDirectory(input.config, input.target, input.synced, input.search, input.stage);
    return { read, mode: "full", why: incremental.fallback, left: [] };
  }
  const read = await readDirectory(input.config, input.target, input.synced, input.search, input.stage);
  return { read, mode: "full", why: input.choice.reason, left: [] };
}

async function readIncremental(input: RunReadInput, since: DirectoryPosition): Promise<RunRead | { fallback: string }> {
  const { config, target, search, mirror, stage, runId } = input;
  const account = new ReadAccount();
  // Which DC answers, and where it stands, before anything is read: a position of another DC
  // (a failover) or of this DC before a restore means nothing here.
  account.add(
    await search(
      { base: target.connection.baseDn, scope: "base", filter: "(objectClass=*)", attributes: ["1.1"], position: true },
      () => {},
    ),
  );
  const mismatch = positionMismatch(since, account.position, account.positionProblem);
  if (mismatch !== undefined) return { fallback: mismatch };
  const position = account.position as DirectoryPosition;

  const counts = { inScope: 0, present: 0, skipped: 0 };
  const staged = new Set<string>();
  const take = (guid: string, data: string, photo: Uint8Array | undefined) => {
    if (staged.has(guid)) return;
    staged.add(guid);
    stage.user(guid, data, photo);
  };
  const nestedMembers = await nestedGroupMembers(config, target, search, account);
  const reader = { config, target, search, account, counts, nestedMembers, take, stage };
  await readScope(reader, changedSince(since.highestCommittedUsn));
  let swept = 0;
  await sweepScope(config, target, search, account, (guids) => {
    mirror.sweep(runId, guids);
    swept += guids.length;
  });
  const memberships = await changedGroupMemberships(config, target, since.highestCommittedUsn, search, account, nestedMembers);
  const again = new Set([...mirror.arrived(runId), ...mirror.regrouped(runId, memberships), ...mirror.unsettled(runId)]);
  await readScopeUsers(reader, [...again]);
  mirror.synced(runId, input.synced);
  const left = mirror.left(runId);
  await lookUpOutside(left, target, search, account, counts, stage);

  const read = account.result(counts);
  // Searches answered by another DC than the probe (a failover during the read): what they
  // missed cannot be told, so the read is incomplete and nothing is deleted.
  if (read.positionProblem !== undefined && read.complete) {
    read.complete = false;
    read.reason = read.positionProblem;
  }
  return { read, mode: "incremental", since, position, left, swept };
}
