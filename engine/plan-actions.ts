// A plan's actions and how its counts read, apart from the planner so that the portal can
// use them without bundling the planner.

export const planActions = [
  "create",
  "adopt",
  "update",
  "recreate",
  "enable",
  "disable",
  "delete",
  "unchanged",
  "conflict",
  "excluded",
] as const;
export type PlanAction = (typeof planActions)[number];

/** The actions that change the PBX; the others only report. */
export const operationActions: readonly PlanAction[] = ["create", "adopt", "update", "recreate", "enable", "disable", "delete"];

export function isOperation(item: { action: PlanAction }): boolean {
  return operationActions.includes(item.action);
}

/** A plan's counts as a person reads them: "12 create, 1 conflict", or "nothing to do". */
export function summaryText(summary: Record<PlanAction, number>): string {
  return (
    planActions
      .filter((a) => summary[a] > 0)
      .map((a) => `${summary[a]} ${a}`)
      .join(", ") || "nothing to do"
  );
}
