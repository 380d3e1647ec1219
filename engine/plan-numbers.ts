// Which number each active user gets, and which users get none and why: numbers from an AD
// attribute first (claims, in rounds, so that a number changes hands only once its holder
// lets go of it), then sequential numbers from what no extension holds after this run. Pure.
import type { NumberRange, SyncConfig } from "../schema/generated/config.ts";
import { describeRanges, NumberPool, rangesFor } from "./extension-numbers.ts";
import type { DesiredUser } from "./map-user.ts";
import type { Extension } from "./pbx/pbx-port.ts";

export interface AssignedNumber {
  number: string;
  source: "attribute" | "sequential";
  /** The renumbering round the number is free in (0: no renumbering): the apply order. */
  round: number;
}

export interface NumberConflict {
  code: string;
  reason: string;
}

export interface NumberInput {
  config: SyncConfig;
  /** The users in scope and not excluded, in DN order: the first by DN wins a number. */
  active: readonly DesiredUser[];
  /** Synced extensions by objectGUID, and every extension by number (adopted ones as synced). */
  byGuid: ReadonlyMap<string, Extension>;
  byNumber: ReadonlyMap<string, Extension>;
  extensions: Iterable<Extension>;
  /** The numbers of the extensions this run deletes. */
  deleted: Iterable<string>;
}

/** What a user's number comes from before any claim is settled: pure, per user. */
export type NumberStart =
  | { kind: "claim"; number: string }
  | { kind: "keep"; assigned: AssignedNumber }
  | { kind: "conflict"; conflict: NumberConflict }
  | { kind: "sequential" };

export function numberStart(
  config: SyncConfig,
  u: Pick<DesiredUser, "attributeNumber" | "attributeValue">,
  current: Pick<Extension, "number" | "numberSource"> | undefined,
): NumberStart {
  const numbersConfig = config.extensionNumbers;
  const source = numbersConfig?.source ?? "sequential";
  const fromAttribute = source !== "sequential" ? u.attributeNumber : undefined;
  if (fromAttribute !== undefined && fromAttribute !== current?.number) return { kind: "claim", number: fromAttribute };
  if (current && (fromAttribute !== undefined || source !== "attribute"))
    return {
      kind: "keep",
      assigned: {
        number: current.number,
        source: fromAttribute !== undefined ? "attribute" : (current.numberSource ?? "sequential"),
        round: 0,
      },
    };
  if (source === "attribute") {
    const attribute = numbersConfig?.attribute ?? "the number attribute";
    return {
      kind: "conflict",
      conflict: {
        code: "no_number",
        reason:
          u.attributeValue === undefined
            ? `${attribute} is empty, so there is no extension number`
            : `${attribute} "${u.attributeValue}" does not give an extension number`,
      },
    };
  }
  return { kind: "sequential" };
}

/**
 * What one round does with a claimed number: refused for good (a hand-made extension or the
 * archive has it), given to its first claimant by DN (nobody holds it, or its holder lets go
 * of it before this round), or left for a later round.
 */
export function claimOutcome(
  number: string,
  holder: Pick<Extension, "origin"> | undefined,
  releasedBefore: boolean,
  archiveNumber: string | undefined,
): { refuse: NumberConflict } | "win" | "wait" {
  if (holder?.origin === "manual")
    return {
      refuse: { code: "number_taken_manual", reason: `number ${number} belongs to a hand-made extension, which sync never overwrites` },
    };
  if (number === archiveNumber)
    return { refuse: { code: "number_is_archive", reason: `number ${number} is the archive extension (deprovisioning.archive)` } };
  return holder === undefined || releasedBefore ? "win" : "wait";
}

/** The claimants after the first by DN of a number it won. */
export function lostClaim(number: string, winnerName: string): NumberConflict {
  return { code: "number_duplicate", reason: `number ${number} is also wanted by ${winnerName}, who gets it` };
}

/** A claim no round settled: the number's holder keeps it. */
export function heldClaim(number: string, holderName: string | null | undefined): NumberConflict {
  return {
    code: "number_taken",
    reason: `number ${number} is held by extension ${number} (${holderName ?? "another user"}), which keeps it`,
  };
}

export function rangeExhausted(ranges: NumberRange[]): NumberConflict {
  return { code: "range_exhausted", reason: `no free number left in ${describeRanges(ranges)}` };
}

export function assignNumbers(input: NumberInput): { numberOf: Map<string, AssignedNumber>; conflicts: Map<string, NumberConflict> } {
  const { config, active, byGuid, byNumber, extensions } = input;
  const numbersConfig = config.extensionNumbers;
  const archiveNumber = config.deprovisioning?.archive?.extension;
  // Numbers change hands only when their holder lets go of them in this run: it is deleted,
  // or it takes another number itself. `released` holds those numbers; `round` orders the
  // renumbering so each update finds its new number already free.
  const released = new Set<string>(input.deleted);
  const numberOf = new Map<string, AssignedNumber>();
  const conflicts = new Map<string, NumberConflict>();
  const claims = new Map<string, DesiredUser[]>();
  for (const u of active) {
    const start = numberStart(config, u, byGuid.get(u.guid));
    if (start.kind === "claim") claims.set(start.number, [...(claims.get(start.number) ?? []), u]);
    else if (start.kind === "keep") numberOf.set(u.guid, start.assigned);
    else if (start.kind === "conflict") conflicts.set(u.guid, start.conflict);
  }
  const pool = new NumberPool();
  for (let round = 1, progress = true; progress; round++) {
    progress = false;
    // A number a user lets go of in this round is free only once that update is applied, so
    // only the next round (the next wave) may give it to someone else.
    const freed: string[] = [];
    for (const number of [...claims.keys()].sort()) {
      const claimants = claims.get(number) as DesiredUser[];
      const reject = (conflict: NumberConflict, who = claimants) => {
        for (const u of who) conflicts.set(u.guid, conflict);
        claims.delete(number);
      };
      const outcome = claimOutcome(number, byNumber.get(number), released.has(number), archiveNumber);
      if (outcome === "wait") continue;
      if (outcome !== "win") {
        reject(outcome.refuse);
        continue;
      }
      // Claimants are in DN order, so the first by DN wins, the same way every run.
      const winner = claimants[0] as DesiredUser;
      numberOf.set(winner.guid, { number, source: "attribute", round });
      pool.take(number);
      const old = byGuid.get(winner.guid);
      if (old) freed.push(old.number);
      reject(lostClaim(number, winner.name), claimants.slice(1));
      progress = true;
    }
    for (const number of freed) released.add(number);
  }
  for (const [number, claimants] of claims) {
    const conflict = heldClaim(number, byNumber.get(number)?.displayName);
    for (const u of claimants) conflicts.set(u.guid, conflict);
  }
  // Sequential numbers come from what no extension holds after this run's deletes and
  // renumbering (which the apply order runs first), and never the archive extension's.
  for (const e of extensions) if (!released.has(e.number)) pool.take(e.number);
  if (archiveNumber !== undefined) pool.take(archiveNumber);
  for (const u of active) {
    if (numberOf.has(u.guid) || conflicts.has(u.guid)) continue;
    const ranges = rangesFor(numbersConfig, u.dn);
    const number = pool.allocate(ranges);
    if (number === undefined) conflicts.set(u.guid, rangeExhausted(ranges));
    else numberOf.set(u.guid, { number, source: "sequential", round: 0 });
  }
  return { numberOf, conflicts };
}
