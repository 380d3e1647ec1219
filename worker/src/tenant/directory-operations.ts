// What the portal asks of the directory through an agent: Test Connection (on the saved
// configuration or a draft) and the browsing the editor's pickers use. Every call is a read.
import type { SyncConfig } from "../../../schema/generated/config.ts";
import type { ConnectionStep, LdapTarget, OuNode, TestConnectionResult, UserAttribute } from "../../../schema/src/agent-protocol.ts";
import { domainOfDn } from "../../../schema/src/dn.ts";
import { filter } from "../../../schema/src/ldap-filter.ts";
import { validateConfig } from "../../../schema/src/validate-config.ts";
import { ApiError } from "../api-error.ts";
import { lockoutStep } from "../login/lockout-check.ts";
import { pbxSteps } from "../pbx/pbx-targets.ts";
import type { AgentLink } from "./agent-link.ts";
import type { OpenAgent } from "./tenant-agents.ts";
import type { TenantConfig } from "./tenant-config.ts";
import type { GroupList, GroupSummary } from "./tenant-types.ts";

export const agentTimeoutMs = 60_000;

export interface DirectoryDeps {
  config: Pick<TenantConfig, "config" | "validDraft" | "target" | "savedTarget" | "pbxSecret">;
  link: Pick<AgentLink, "call" | "stream">;
  openAgents(): OpenAgent[];
}

export class DirectoryOperations {
  readonly #deps: DirectoryDeps;

  constructor(deps: DirectoryDeps) {
    this.#deps = deps;
  }

  /** Test Connection on the saved configuration, or on a draft (with a draft password). */
  async testConnection(tenant: string, draft: unknown, draftPassword: string | undefined): Promise<TestConnectionResult> {
    const { config: store, link } = this.#deps;
    const open = this.#deps.openAgents();
    const started = Date.now();
    const config = draft === undefined ? store.config() : store.validDraft(draft);
    if (!config?.connection)
      throw new ApiError(409, "not_configured", "Fill in the connection (domain controllers, bind account, base DN) first.");
    if (open.length === 0) {
      const step: ConnectionStep = {
        id: "agent",
        title: "Connector agent connected",
        status: "failed",
        durationMs: 0,
        detail: "No connector agent is connected for this tenant, so nothing can reach the domain controller.",
        fix: "Install and start the connector agent on a host inside your network (Agents > Add agent).",
        code: "agent_offline",
      };
      return { ok: false, steps: [step, ...(await this.#pbxSteps(tenant, config))] };
    }
    const first = (open[0] as OpenAgent).agent;
    const agentStep: ConnectionStep = {
      id: "agent",
      title: "Connector agent connected",
      status: "ok",
      durationMs: Date.now() - started,
      detail: `${open.length} agent${open.length > 1 ? "s" : ""} connected (${first.hostname}, version ${first.version}).`,
    };
    const target = await store.target(tenant, config, draftPassword);
    const result = await link.call<TestConnectionResult>({ op: "testConnection", target, scope: config.scope }, agentTimeoutMs);
    const steps = [agentStep, ...result.steps];
    if (result.ok && config.domainLogin?.enabled === true) steps.push(await this.#lockoutStep(target, config));
    const pbx = await this.#pbxSteps(tenant, config);
    return { ...result, ok: result.ok && pbx.every((s) => s.status !== "failed"), steps: [...steps, ...pbx] };
  }

  /** The PBX target's own checks (none for the built-in directory), with the stored secret or a draft one. */
  async #pbxSteps(tenant: string, config: SyncConfig, draftSecret?: string): Promise<ConnectionStep[]> {
    const secret = async () => (draftSecret !== undefined && draftSecret !== "" ? draftSecret : this.#deps.config.pbxSecret(tenant));
    return pbxSteps(config, secret);
  }

  /**
   * The PBX panel's Test: the PBX steps alone, for the saved configuration or a draft. A draft
   * is checked for its `pbx` only: the panel can be tested before the rest is filled in.
   */
  async testPbx(tenant: string, draft: unknown, draftSecret: string | undefined): Promise<TestConnectionResult> {
    const pbx = draft === undefined ? this.#deps.config.config()?.pbx : pbxDraft(draft);
    if (pbx === undefined || pbx.kind === "builtin")
      return {
        ok: true,
        steps: [{ id: "pbxReachable", title: "PBX", status: "ok", durationMs: 0, detail: "The built-in PBX directory: nothing to reach." }],
      };
    const steps = await this.#pbxSteps(tenant, { pbx } as SyncConfig, draftSecret);
    return { ok: steps.every((s) => s.status !== "failed"), steps };
  }

  /** What keeps domain login from locking accounts in this domain: its lockout policy, and the limits that follow. */
  async #lockoutStep(target: LdapTarget, config: SyncConfig): Promise<ConnectionStep> {
    const started = Date.now();
    const domain = domainOfDn(target.connection.baseDn)?.dn;
    let threshold: number | undefined;
    let windowMinutes: number | undefined;
    if (domain !== undefined) {
      await this.#deps.link
        .stream(
          {
            op: "search",
            target,
            base: domain,
            scope: "base",
            filter: "(objectClass=domain)",
            attributes: ["lockoutThreshold", "lockOutObservationWindow"],
          },
          agentTimeoutMs,
          {
            page: (entries) => {
              const value = entries[0]?.attributes.lockoutThreshold?.[0];
              if (value !== undefined && /^\d+$/.test(value)) threshold = Number(value);
              // A negative count of 100-nanosecond units.
              const window = entries[0]?.attributes.lockOutObservationWindow?.[0];
              if (window !== undefined && /^-?\d+$/.test(window)) windowMinutes = Math.round(Math.abs(Number(window)) / 600_000_000);
            },
          },
        )
        .catch(() => undefined);
    }
    return lockoutStep(config.domainLogin?.maxFailures ?? 5, threshold, Date.now() - started, windowMinutes);
  }

  async listOus(tenant: string): Promise<OuNode> {
    return this.#deps.link.call<OuNode>({ op: "listOus", target: await this.#deps.config.savedTarget(tenant) }, agentTimeoutMs);
  }

  /** Groups under the base DN whose name contains `query`, for the editor's group pickers. */
  async findGroups(tenant: string, query: string, limit: number): Promise<GroupList> {
    const target = await this.#deps.config.savedTarget(tenant);
    const groups: GroupSummary[] = [];
    const complete = await this.#deps.link.stream(
      {
        op: "search",
        target,
        base: target.connection.baseDn,
        scope: "sub",
        filter: query === "" ? "(objectCategory=group)" : filter`(&(objectCategory=group)(|(cn=*${query}*)(description=*${query}*)))`,
        attributes: ["cn", "description"],
        sizeLimit: limit,
      },
      agentTimeoutMs,
      {
        page: (entries) => {
          for (const e of entries)
            groups.push({ dn: e.dn, name: e.attributes.cn?.[0] ?? e.dn, description: e.attributes.description?.[0] ?? null });
        },
        restart: () => {
          groups.length = 0;
        },
      },
    );
    groups.sort((a, b) => a.name.localeCompare(b.name));
    return { groups, truncated: !complete.complete };
  }

  async listUserAttributes(tenant: string): Promise<UserAttribute[]> {
    return this.#deps.link.call<UserAttribute[]>(
      { op: "listUserAttributes", target: await this.#deps.config.savedTarget(tenant) },
      agentTimeoutMs,
    );
  }
}

/** The `pbx` of a draft, checked by the schema's own rules for it; 400 with the problems otherwise. */
function pbxDraft(draft: unknown): SyncConfig["pbx"] {
  const pbx = (draft as { pbx?: unknown } | null)?.pbx;
  if (pbx === undefined) return undefined;
  const problems = validateConfig({ pbx }).filter((p) => p.severity === "error" && p.path.startsWith("/pbx"));
  if (problems.length > 0) throw new ApiError(400, "invalid_config", "The PBX settings have errors.", { problems });
  return pbx as SyncConfig["pbx"];
}
