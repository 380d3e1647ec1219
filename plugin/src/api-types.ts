// The API's shapes as the worker and the agent protocol declare them, so a changed response
// shape fails the page's type check. Only planActions is a value; the rest bundles nothing.

export type { FieldChange, PlanItem } from "../../engine/plan.ts";
export { type PlanAction, planActions, summaryText } from "../../engine/plan-actions.ts";
export type { ConnectionStep, OuNode, TestConnectionResult } from "../../schema/src/agent-protocol.ts";
export type { Problem } from "../../schema/src/problem.ts";
export type { AttemptOutcome, LoginAttempt } from "../../worker/src/login/login-attempts.ts";
export type { ExtensionView as Extension } from "../../worker/src/pbx/builtin/builtin-pbx.ts";
export type { RunEvent, RunInfo, RunStatus } from "../../worker/src/sync/sync-runs.ts";
export type { AgentEvent, AgentInfo, EnrollmentTokenInfo, StoredConfig } from "../../worker/src/tenant/tenant-types.ts";

/** GET …/schedule. */
export interface Schedule {
  mode: string;
  nextRunAt: string | null;
  timeZone?: string;
}
