// The PBX steps of Test Connection for a Yeastar target: can the worker reach it, does the API
// application authenticate, may it read and write what the sync needs, and how many extensions
// are there. Each failure names its fix in the words of Yeastar's console.

import type { PbxYeastar } from "../../../../schema/generated/config.ts";
import type { ConnectionStep } from "../../../../schema/src/agent-protocol.ts";
import { timed } from "../timed-step.ts";
import type { YeastarClient } from "./yeastar-client.ts";
import { YeastarError } from "./yeastar-errors.ts";

export async function yeastarSteps(client: YeastarClient, settings: PbxYeastar): Promise<ConnectionStep[]> {
  const steps: ConnectionStep[] = [];

  const auth = await timed(() => client.authenticate());
  if ("error" in auth) {
    const e = auth.error;
    const unreachable = e instanceof YeastarError && e.kind === "unavailable";
    steps.push({
      id: unreachable ? "pbxReachable" : "pbxAuth",
      title: unreachable ? "PBX reachable" : "PBX API application signs in",
      status: "failed",
      durationMs: auth.ms,
      detail: e.message,
      fix: unreachable
        ? `Check pbx.baseUrl (${settings.baseUrl}): the PBX must be reachable from the internet over HTTPS, and its Open API enabled (Integrations > API).`
        : "Check pbx.clientId and the secret (Connection > PBX > Secret) against the application in Integrations > API; the API must be enabled and the plan must include API access.",
      code: unreachable ? "pbx_unreachable" : "pbx_auth_failed",
    });
    return steps;
  }
  // Which PBX and firmware the credentials reach; a PBX that does not say is still usable.
  const info = await timed(() => client.get("system/information"));
  const device =
    "value" in info && typeof info.value.data === "object" && info.value.data !== null ? (info.value.data as Record<string, unknown>) : {};
  const model = typeof device.model_name === "string" ? device.model_name : "Yeastar P-Series";
  const firmware = typeof device.firmware_version === "string" ? `, firmware ${device.firmware_version}` : "";
  steps.push({
    id: "pbxReachable",
    title: "PBX reachable",
    status: "ok",
    durationMs: info.ms,
    detail: `${settings.baseUrl} answers Open API v1.0 (${model}${firmware}).`,
  });
  steps.push({
    id: "pbxAuth",
    title: "PBX API application signs in",
    status: "ok",
    durationMs: auth.ms,
    detail: `Signed in as ${settings.clientId}.`,
  });

  const list = await timed(() => client.get("extension/list", { page: 1, page_size: 1 }));
  const orgs = settings.departments === false ? undefined : await timed(() => client.get("organization/list", { is_all: 2 }));
  const denied = [list, orgs].find((r) => r !== undefined && "error" in r) as { error: Error; ms: number } | undefined;
  if (denied) {
    steps.push({
      id: "pbxAccess",
      title: "PBX API may manage extensions and departments",
      status: "failed",
      durationMs: denied.ms,
      detail: denied.error.message,
      fix: "Give the API application in Integrations > API the permissions for Extension and Organization (read and write).",
      code: "pbx_access_denied",
    });
    return steps;
  }
  const total = "value" in list && typeof list.value.total_number === "number" ? list.value.total_number : 0;
  steps.push({
    id: "pbxAccess",
    title: "PBX API may manage extensions and departments",
    status: "ok",
    durationMs: list.ms + (orgs?.ms ?? 0),
    detail: `The PBX has ${total} extension${total === 1 ? "" : "s"}; extensions sync did not create are never changed.`,
  });
  return steps;
}
