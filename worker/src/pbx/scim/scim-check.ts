// The PBX steps of Test Connection for a SCIM target: does the service answer, does it take the
// bearer token, may the token read users (and groups, when they are mirrored), and how many
// users are there. Each failure names its fix.
import type { PbxScim } from "../../../../schema/generated/config.ts";
import type { ConnectionStep } from "../../../../schema/src/agent-protocol.ts";
import { timed } from "../timed-step.ts";
import type { ScimClient } from "./scim-client.ts";
import { ScimError } from "./scim-errors.ts";

export async function scimSteps(client: ScimClient, settings: PbxScim): Promise<ConnectionStep[]> {
  const steps: ConnectionStep[] = [];

  // RFC 7644 4: every service provider has /ServiceProviderConfig.
  const config = await timed(() => client.request("GET", "/ServiceProviderConfig"));
  if ("error" in config) {
    const e = config.error;
    const unreachable = e instanceof ScimError && (e.kind === "unavailable" || e.kind === "not_found");
    // Refused by the service, or no token to send (none stored yet).
    const auth = !(e instanceof ScimError) || e.kind === "auth" || e.kind === "denied";
    steps.push({
      id: auth ? "pbxAuth" : "pbxReachable",
      title: auth ? "SCIM service takes the token" : "SCIM service reachable",
      status: "failed",
      durationMs: config.ms,
      detail: e.message,
      fix: auth
        ? "Check the bearer token (Connection > PBX > Secret): create a new one in the service's SCIM or directory-integration settings and paste it there."
        : unreachable
          ? `Check pbx.baseUrl (${settings.baseUrl}): it must be the SCIM base that /Users is under, reachable over HTTPS.`
          : `The service answered ${settings.baseUrl}/ServiceProviderConfig with an error: check pbx.baseUrl.`,
      code: auth ? "pbx_auth_failed" : "pbx_unreachable",
    });
    return steps;
  }
  const patch = (config.value.body?.patch as { supported?: unknown } | undefined)?.supported;
  steps.push({
    id: "pbxReachable",
    title: "SCIM service reachable",
    status: "ok",
    durationMs: config.ms,
    detail: `${settings.baseUrl} answers SCIM 2.0${patch === false ? " (without PATCH: set pbx.updateMethod to put)" : ""}.`,
  });
  steps.push({
    id: "pbxAuth",
    title: "SCIM service takes the token",
    status: "ok",
    durationMs: 0,
    detail: "The bearer token is accepted.",
  });

  const users = await timed(() => client.request("GET", "/Users", { query: { startIndex: 1, count: 1 } }));
  const groups =
    settings.groups === true ? await timed(() => client.request("GET", "/Groups", { query: { startIndex: 1, count: 1 } })) : undefined;
  const denied = [users, groups].find((r) => r !== undefined && "error" in r) as { error: Error; ms: number } | undefined;
  if (denied) {
    steps.push({
      id: "pbxAccess",
      title: "SCIM token may manage users and groups",
      status: "failed",
      durationMs: denied.ms,
      detail: denied.error.message,
      fix:
        denied === groups
          ? "The service does not offer /Groups to this token: turn pbx.groups off, or give the token group provisioning."
          : "Give the token user provisioning (read and write) in the service's SCIM settings.",
      code: "pbx_access_denied",
    });
    return steps;
  }
  const total = "value" in users && typeof users.value.body?.totalResults === "number" ? users.value.body.totalResults : 0;
  steps.push({
    id: "pbxAccess",
    title: "SCIM token may manage users and groups",
    status: "ok",
    durationMs: users.ms + (groups?.ms ?? 0),
    detail: `The service has ${total} user${total === 1 ? "" : "s"}; users sync did not create are never changed.`,
  });
  return steps;
}
