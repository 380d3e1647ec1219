// The parts of the worker's JSON responses the page reads. Written out here rather than
// imported because the worker's modules pull in Workers-only types a browser build cannot see.

export type PlanAction = "create" | "update" | "enable" | "disable" | "delete" | "unchanged" | "conflict" | "excluded";
export const planActions: readonly PlanAction[] = ["create", "update", "enable", "disable", "delete", "unchanged", "conflict", "excluded"];

export interface Problem {
  path: string;
  message: string;
  severity: "error" | "warning";
}

export interface StoredConfig {
  config: Record<string, unknown> | null;
  bindPasswordSet: boolean;
  updatedAt: number | null;
  updatedBy: string | null;
}

export interface ConnectionStep {
  id: string;
  title: string;
  status: "ok" | "failed" | "warning" | "skipped";
  durationMs: number;
  detail: string;
  fix?: string;
  code?: string;
}

export interface TestConnectionResult {
  ok: boolean;
  server?: string;
  steps: ConnectionStep[];
  counts?: Record<string, number>;
}

export interface FieldChange {
  field: string;
  from: string | null;
  to: string | null;
}

export interface PlanItem {
  action: PlanAction;
  dn: string | null;
  name: string;
  number: string | null;
  reason: string;
  code?: string;
  changes?: FieldChange[];
}

export type RunStatus =
  | "queued"
  | "reading"
  | "awaiting-approval"
  | "applying"
  | "succeeded"
  | "partial"
  | "failed"
  | "rejected"
  | "missed"
  | "previewed";

export interface RunInfo {
  id: string;
  kind: "preview" | "sync";
  trigger: "manual" | "schedule";
  status: RunStatus;
  requestedBy: string | null;
  startedAt: number;
  finishedAt: number | null;
  complete: boolean | null;
  incompleteReason: string | null;
  summary: Record<PlanAction, number> | null;
  held: { reason: string; deletes: number; limit: string } | null;
  progress: { phase: string; read?: number; present?: number; done?: number; failed?: number; total?: number } | null;
  error: string | null;
}

export interface RunEvent {
  at: number;
  type: "info" | "warning" | "error";
  event: string;
  user: string | null;
  operation: string | null;
}

export interface Schedule {
  mode: string;
  nextRunAt: string | null;
  timeZone?: string;
}

export interface AgentInfo {
  id: string;
  hostname: string;
  version: string;
  connected: boolean;
  connectedSince: number | null;
  lastSeen: number;
  inFlight: number;
}

export interface EnrollmentTokenInfo {
  id: string;
  label: string;
  createdAt: number;
  createdBy: string;
  revokedAt: number | null;
}

export interface Extension {
  number: string;
  origin: "ad" | "manual";
  enabled: boolean;
  firstName: string | null;
  lastName: string | null;
  displayName: string | null;
  email: string | null;
  mobile: string | null;
  workPhone: string | null;
  department: string | null;
  jobTitle: string | null;
  departmentPath: string | null;
  groups: string[];
  updatedAt: number;
}

export interface OuNode {
  dn: string;
  name: string;
  children: OuNode[];
}
