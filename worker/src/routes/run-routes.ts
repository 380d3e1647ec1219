// Preview, Sync Now, the schedule, and the run log with its items, events, approvals and cancelling.
import { Hono } from "hono";
import { planActions } from "../../../engine/plan-actions.ts";
import { ApiError } from "../api-error.ts";
import { unwrap } from "../tenant/outcome.ts";
import { type AppEnv, by, pageLimit, pageOffset, searchTerm, tenantName, tenantOf } from "./route-helpers.ts";

export const runRoutes = new Hono<AppEnv>();

function fullRead(value: string | undefined): { full?: boolean } {
  if (value === undefined || value === "false") return {};
  if (value === "true") return { full: true };
  throw new ApiError(400, "invalid_query", "full is true or false.");
}

// ?full=true reads the whole scope even where an incremental read would do.
runRoutes.post("/preview", async (c) =>
  c.json(unwrap(await tenantOf(c).preview(tenantName(c), by(c), pageLimit(c.req.query("limit")), fullRead(c.req.query("full"))))),
);
runRoutes.post("/sync", async (c) => c.json(unwrap(await tenantOf(c).startSync(tenantName(c), by(c), fullRead(c.req.query("full")))), 202));
runRoutes.get("/schedule", async (c) => c.json(unwrap(await tenantOf(c).getSchedule())));
runRoutes.get("/runs", async (c) =>
  c.json(unwrap(await tenantOf(c).listRuns(pageLimit(c.req.query("limit")), pageOffset(c.req.query("offset"))))),
);
runRoutes.delete("/runs", async (c) => c.json(unwrap(await tenantOf(c).clearRuns(by(c)))));
runRoutes.get("/runs/:id", async (c) => c.json(unwrap(await tenantOf(c).getRun(c.req.param("id")))));
runRoutes.get("/runs/:id/items", async (c) => {
  const action = c.req.query("action");
  if (action !== undefined && !planActions.includes(action as never))
    throw new ApiError(400, "invalid_query", `action is one of ${planActions.join(", ")}.`);
  const options = {
    ...(action ? { action } : {}),
    ...searchTerm(c.req.query("q")),
    limit: pageLimit(c.req.query("limit")),
    offset: pageOffset(c.req.query("offset")),
  };
  return c.json(unwrap(await tenantOf(c).runItems(c.req.param("id"), options)));
});
runRoutes.get("/runs/:id/events", async (c) => {
  const format = c.req.query("format") ?? "json";
  if (format !== "json" && format !== "csv") throw new ApiError(400, "invalid_query", "format is json or csv.");
  const events = unwrap(await tenantOf(c).runEvents(c.req.param("id"), format));
  if (format === "json") return c.json(events);
  return c.body(events as string, 200, {
    "Content-Type": "text/csv; charset=utf-8",
    "Content-Disposition": `attachment; filename="sync-log-${c.req.param("id")}.csv"`,
  });
});
runRoutes.post("/runs/:id/approve", async (c) => c.json(unwrap(await tenantOf(c).decideRun(c.req.param("id"), true, by(c)))));
runRoutes.post("/runs/:id/reject", async (c) => c.json(unwrap(await tenantOf(c).decideRun(c.req.param("id"), false, by(c)))));
// Ends a run that holds the lock (queued, reading, applying or awaiting approval); 409 once it has ended.
runRoutes.post("/runs/:id/cancel", async (c) => c.json(unwrap(await tenantOf(c).cancelRun(c.req.param("id"), by(c)))));
