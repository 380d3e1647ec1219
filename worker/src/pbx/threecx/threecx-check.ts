// The PBX steps of Test Connection for a 3CX target: does the 3CX answer, does the API client
// sign in, may it manage users and groups, and how many users are there. Each failure names
// its fix in the words of 3CX's console.
import type { Pbx3Cx } from "../../../../schema/generated/config.ts";
import type { ConnectionStep } from "../../../../schema/src/agent-protocol.ts";
import { timed } from "../timed-step.ts";
import type { ThreeCxClient } from "./threecx-client.ts";
import { ThreeCxError } from "./threecx-errors.ts";

export async function threeCxSteps(client: ThreeCxClient, settings: Pbx3Cx): Promise<ConnectionStep[]> {
  const steps: ConnectionStep[] = [];
  const auth = await timed(() => client.authenticate());
  if ("error" in auth) {
    const e = auth.error;
    const unreachable = e instanceof ThreeCxError && (e.kind === "unavailable" || (e.kind === "failure" && e.status === 404));
    steps.push({
      id: unreachable ? "pbxReachable" : "pbxAuth",
      title: unreachable ? "PBX reachable" : "3CX API client signs in",
      status: "failed",
      durationMs: auth.ms,
      detail: e.message,
      fix: unreachable
        ? `Check pbx.baseUrl (${settings.baseUrl}): the 3CX's FQDN, reachable from the internet over HTTPS.`
        : "Check pbx.clientId and the API key (Connection > PBX > Secret) against the client in Admin > Integrations > API, with 3CX Configuration API Access on; the Configuration API needs an Enterprise licence.",
      code: unreachable ? "pbx_unreachable" : "pbx_auth_failed",
    });
    return steps;
  }
  steps.push({
    id: "pbxReachable",
    title: "PBX reachable",
    status: "ok",
    durationMs: 0,
    detail: `${settings.baseUrl} answers the Configuration API (XAPI v1).`,
  });
  steps.push({
    id: "pbxAuth",
    title: "3CX API client signs in",
    status: "ok",
    durationMs: auth.ms,
    detail: `Signed in as ${settings.clientId}.`,
  });
  const users = await timed(() => client.request("GET", "Users", { query: { $top: 1, $count: "true", $select: "Id" } }));
  const groups = await timed(() => client.request("GET", "Groups", { query: { $top: 1, $select: "Id" } }));
  const denied = [users, groups].find((r) => "error" in r) as { error: Error; ms: number } | undefined;
  if (denied) {
    steps.push({
      id: "pbxAccess",
      title: "3CX API client may manage users and departments",
      status: "failed",
      durationMs: denied.ms,
      detail: denied.error.message,
      fix: "Give the API client in Admin > Integrations > API a role that manages users (System Admin, or the department's Group Admin) and the departments sync writes to.",
      code: "pbx_access_denied",
    });
    return steps;
  }
  const total = "value" in users && typeof users.value?.["@odata.count"] === "number" ? (users.value["@odata.count"] as number) : 0;
  steps.push({
    id: "pbxAccess",
    title: "3CX API client may manage users and departments",
    status: "ok",
    durationMs: users.ms + groups.ms,
    detail: `The PBX has ${total} user${total === 1 ? "" : "s"}; users sync did not create are never changed.`,
  });
  return steps;
}
