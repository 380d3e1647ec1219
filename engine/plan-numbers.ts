// Which number each active user gets, and which users get none and why: numbers from an AD
// attribute first (claims, in rounds, so that a number changes hands only once its holder
// lets go of it), then sequential numbers from what no extension holds after this run. Pure.
import type { SyncConfig } from "../schema/generated/config.ts";
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

export function assignNumbers(input: NumberInput): { numberOf: Map<string, AssignedNumber>; conflicts: Map<string, NumberConflict> } {
  const { config, active, byGuid, byNumber, extensions } = input;
  const numbersConfig = config.extensionNumbers;
  const source = numbersConfig?.source ?? "sequential";
  const archiveNumber = config.deprovisioning?.archive?.extension;
  // Numbers change hands only when their holder lets go of them in this run: it is deleted,
  // or it takes another number itself. `released` holds those numbers; `round` orders the
  // renumbering so each update finds its new number already free.
  const released = new Set<string>(input.deleted);
  const numberOf = new Map<string, AssignedNumber>();
  const conflicts = new Map<string, NumberConflict>();
  const claims = new Map<string, DesiredUser[]>();
  for (const u of active) {
    const current = byGuid.get(u.guid);
    const fromAttribute = source !== "sequential" ? u.attributeNumber : undefined;
    if (fromAttribute !== undefined && fromAttribute !== current?.number) {
      claims.set(fromAttribute, [...(claims.get(fromAttribute) ?? []), u]);
    } else if (current && (fromAttribute !== undefined || source !== "attribute")) {
      numberOf.set(u.guid, {
        number: current.number,
        source: fromAttribute !== undefined ? "attribute" : (current.numberSource ?? "sequential"),
        round: 0,
      });
    } else if (source === "attribute") {
      const attribute = numbersConfig?.attribute ?? "the number attribute";
      conflicts.set(u.guid, {
        code: "no_number",
        reason:
          u.attributeValue === undefined
            ? `${attribute} is empty, so there is no extension number`
            : `${attribute} "${u.attributeValue}" does not give an extension number`,
      });
    }
  }
  const taken = new Set<string>();
  const pool = new NumberPool();
  for (let round = 1, progress = true; progress; round++) {
    progress = false;
    // A number a user lets go of in this round is free only once that update is applied, so
    // only the next round (the next wave) may give it to someone else.
    const freed: string[] = [];
    for (const number of [...claims.keys()].sort()) {
      const claimants = claims.get(number) as DesiredUser[];
      const holder = byNumber.get(number);
      const reject = (code: string, reason: string, who = claimants) => {
        for (const u of who) conflicts.set(u.guid, { code, reason });
        claims.delete(number);
      };
      if (holder?.origin === "manual") {
        reject("number_taken_manual", `number ${number} belongs to a hand-made extension, which sync never overwrites`);
      } else if (number === archiveNumber) {
        reject("number_is_archive", `number ${number} is the archive extension (deprovisioning.archive)`);
      } else if (taken.has(number)) {
        reject("number_duplicate", `number ${number} is already given to another user in this run`);
      } else if (holder === undefined || released.has(number)) {
        // Claimants are in DN order, so the first by DN wins, the same way every run.
        const winner = claimants[0] as DesiredUser;
        numberOf.set(winner.guid, { number, source: "attribute", round });
        taken.add(number);
        pool.take(number);
        const old = byGuid.get(winner.guid);
        if (old) freed.push(old.number);
        reject("number_duplicate", `number ${number} is also wanted by ${winner.name}, who gets it`, claimants.slice(1));
        progress = true;
      }
    }
    for (const number of freed) released.add(number);
  }
  for (const [number, claimants] of claims) {
    const holder = byNumber.get(number);
    for (const u of claimants)
      conflicts.set(u.guid, {
        code: "number_taken",
        reason: `number ${number} is held by extension ${number} (${holder?.displayName ?? "another user"}), which keeps it`,
      });
  }
  // Sequential numbers come from what no extension holds after this run's deletes and
  // renumbering (which the apply order runs first), and never the archive extension's.
  for (const e of extensions) if (!released.has(e.number)) pool.take(e.number);
  if (archiveNumber !== undefined) pool.take(archiveNumber);
  for (const u of active) {
    if (numberOf.has(u.guid) || conflicts.has(u.guid)) continue;
    const ranges = rangesFor(numbersConfig, u.dn);
    const number = pool.allocate(ranges);
    if (number === undefined)
      conflicts.set(u.guid, { code: "range_exhausted", reason: `no free number left in ${describeRanges(ranges)}` });
    else numberOf.set(u.guid, { number, source: "sequential", round: 0 });
  }
  return { numberOf, conflicts };
}
