// The directory read of a run, full or incremental. A full read stages every user the scope
// returns; an incremental one stages only the users a plan must decide about again (changed
// since the stored position, new in scope, regrouped, left unsettled by an earlier run) and
// finds who left from the tombstones of deleted users and the users changed out of the scope,
// or, where those cannot tell it, by sweeping the scope's objectGUIDs. Either way the planner gets the same
// kind of input, and what it decides is the same as a full read would make it decide.
import { positionMismatch, type ReadChoice } from "../../../engine/read-basis.ts";
import {
  changedContainers,
  changedGroupMemberships,
  changedSince,
  changedUsers,
  deletedObjectsOf,
  deletedUsers,
  sweepScope,
  tombstonesVisible,
} from "../../../engine/read-changes.ts";
import {
  lookUpOutside,
  nestedGroupSets,
  ReadAccount,
  type ReadStage,
  readDirectory,
  readScope,
  readScopeUsers,
  type SearchStream,
  type StagedRead,
  type StageUser,
} from "../../../engine/read-directory.ts";
import type { SyncConfig } from "../../../schema/generated/config.ts";
import type { DirectoryPosition, LdapTarget } from "../../../schema/src/agent-protocol.ts";
import { isDnWithin } from "../../../schema/src/dn.ts";
import { sweepNeeded } from "../../../schema/src/scope-filter.ts";
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
  /** For an incremental read: how it found who left, and why it swept. */
  evidence?: "sweep" | "tombstones";
  sweepWhy?: string;
  /** For an incremental read from the changes: who is out of the mirror (out of scope now, or deleted). */
  removed?: string[];
}

export interface RunReadInput {
  runId: string;
  config: SyncConfig;
  target: LdapTarget;
  /** The objectGUIDs of the synced users (PbxDirectory.syncedGuids): asked for only when a read needs them. */
  synced(): Promise<string[]>;
  search: SearchStream;
  mirror: DirectoryMirror;
  /**
   * `keyStaged`: makes the users staged so far findable by objectGUID, which the mirror's
   * questions about who was read already need (the stage keys them in bulk, not as they come).
   */
  stage: ReadStage & { keyStaged(): void };
  choice: ReadChoice;
  /** Called when an incremental read turns into a full one, before the full read begins. */
  fallBack(reason: string): void;
}

export async function readForRun(input: RunReadInput): Promise<RunRead> {
  if (input.choice.mode === "incremental") {
    const incremental = await readIncremental(input, input.choice.since);
    if (!("fallback" in incremental)) return incremental;
    input.fallBack(incremental.fallback);
    const read = await readDirectory(input.config, input.target, await input.synced(), input.search, input.stage);
    return { read, mode: "full", why: incremental.fallback, left: [] };
  }
  const read = await readDirectory(input.config, input.target, await input.synced(), input.search, input.stage);
  return { read, mode: "full", why: input.choice.reason, left: [] };
}

async function readIncremental(input: RunReadInput, since: DirectoryPosition): Promise<RunRead | { fallback: string }> {
  const { config, target, search, mirror, stage, runId } = input;
  const account = new ReadAccount();
  // Which DC answers, where it stands and which domain it holds, before anything is read: a
  // position of another DC (a failover) or of this DC before a restore means nothing here.
  let domainNc: string | undefined;
  account.add(
    await search(
      { base: "", scope: "base", filter: "(objectClass=*)", attributes: ["defaultNamingContext"], position: true },
      (entries) => {
        domainNc = entries[0]?.attributes.defaultNamingContext?.[0];
      },
    ),
  );
  const mismatch = positionMismatch(since, account.position, account.positionProblem);
  if (mismatch !== undefined) return { fallback: mismatch };
  const position = account.position as DirectoryPosition;
  const usn = since.highestCommittedUsn;
  // Independent searches go out together: each is a round trip through the agent, and a run
  // with nothing to do is mostly round trips.
  const sweepFirst =
    sweepNeeded(config.scope) ??
    (domainNc === undefined || !isDnWithin(target.connection.baseDn, domainNc)
      ? "the base DN is not in the domain the domain controller holds"
      : undefined);
  const nc = domainNc as string;
  const [moved, visible, nestedGroups] = await Promise.all([
    changedContainers(search, target.connection.baseDn, usn, account),
    sweepFirst === undefined ? tombstonesVisible(search, nc) : Promise.resolve(false),
    nestedGroupSets(config, target, search, account),
  ]);
  if (moved.length > 0)
    return {
      fallback: `${moved.length === 1 ? `the OU or container ${moved[0]} was` : `${moved.length} OUs or containers (${moved.slice(0, 3).join("; ")}${moved.length > 3 ? "; …" : ""}) were`} changed, and a rename or move changes its users' DNs without changing the users`,
    };

  // Who left is told by the tombstones and the changes when they can tell it, else by a sweep.
  const sweepWhy =
    sweepFirst ??
    (visible
      ? undefined
      : `the service account cannot list deleted objects (grant it List Contents and Read Property on ${deletedObjectsOf(domainNc as string)})`);

  const counts = { inScope: 0, present: 0, skipped: 0 };
  const staged = new Set<string>();
  const take: StageUser = (user, data, photo) => {
    if (staged.has(user.guid)) return;
    staged.add(user.guid);
    stage.user(user, data, photo);
  };
  const reader = { config, target, search, account, counts, nestedGroups, take, stage };
  const memberships = () => changedGroupMemberships(config, target, usn, search, account, nestedGroups);
  if (sweepWhy === undefined) {
    // Changed anywhere in the domain, so that a user moved out of the base DN is seen too; read
    // again within the scope, so that whoever is not found is out of it now.
    const [changed, deleted, groups] = await Promise.all([
      changedUsers(search, nc, usn, account),
      deletedUsers(search, nc, usn, account),
      memberships(),
    ]);
    stage.keyStaged();
    const unsettled = mirror.unsettled(runId);
    await readScopeUsers(reader, [...new Set([...changed, ...mirror.regrouped(runId, groups), ...unsettled])]);
    // An unsettled user not found in scope left it (or AD) as a changed one did: the tombstone
    // that said so may be older than the position, when the run that saw it did not finish.
    const removed = [...new Set([...changed, ...deleted, ...unsettled])].filter((g) => !staged.has(g));
    // Only when someone left: listing who is synced costs as much as the PBX is large.
    const synced = removed.length === 0 ? new Set<string>() : new Set(await input.synced());
    const left = removed.filter((g) => synced.has(g));
    await lookUpOutside(left, target, search, account, counts, stage);
    return finish({ read: account.result(counts), mode: "incremental", since, position, left, removed, evidence: "tombstones" });
  }

  mirror.synced(runId, await input.synced());
  let swept = 0;
  const [, , groups] = await Promise.all([
    readScope(reader, changedSince(usn)),
    sweepScope(config, target, search, account, (guids) => {
      mirror.sweep(runId, guids);
      swept += guids.length;
    }),
    memberships(),
  ]);
  stage.keyStaged();
  await readScopeUsers(reader, [...new Set([...mirror.arrived(runId), ...mirror.regrouped(runId, groups), ...mirror.unsettled(runId)])]);
  const left = mirror.left(runId);
  await lookUpOutside(left, target, search, account, counts, stage);
  return finish({ read: account.result(counts), mode: "incremental", since, position, left, swept, evidence: "sweep", sweepWhy });
}

/**
 * Searches answered by another DC than the probe (a failover during the read): what they
 * missed cannot be told, so the read is incomplete and nothing is deleted.
 */
function finish(run: RunRead): RunRead {
  const { read } = run;
  if (read.positionProblem !== undefined && read.complete) {
    read.complete = false;
    read.reason = read.positionProblem;
  }
  return run;
}
