import { type PlanAction, planActions } from "./api-types.ts";

/** A plan's counts as a person reads them: "12 create, 1 conflict", or "nothing to do". */
export function summaryText(summary: Record<PlanAction, number> | null): string {
  if (!summary) return "";
  return (
    planActions
      .filter((a) => summary[a] > 0)
      .map((a) => `${summary[a]} ${a}`)
      .join(", ") || "nothing to do"
  );
}
