// Schedule: when the tenant syncs by itself. It is the configuration's `schedule` setting,
// offered here as a form because most administrators only ever change this part.
import type { Schedule } from "../api-types.ts";
import { field, fill, h } from "../dom.ts";
import type { PageContext, Section } from "../page-context.ts";

export function scheduleSection(ctx: PageContext): Section {
  const mode = h(
    "select",
    {},
    h("option", { value: "interval" }, "Every few minutes"),
    h("option", { value: "daily" }, "Once a day"),
    h("option", { value: "manual" }, "Only when I click Sync Now"),
  );
  const every = h("input", { type: "number", min: 15, max: 1440, step: 5, inputMode: "numeric" });
  const time = h("input", { type: "time" });
  const zone = h("input", { type: "text", spellcheck: false, placeholder: "Europe/Berlin", list: "adsync-zones" });
  const zones = h("datalist", { id: "adsync-zones" }, ...timeZones().map((z) => h("option", { value: z })));
  const everyField = field("Interval (minutes)", every);
  const timeField = field("Time of day", time);
  const zoneField = field("Time zone", zone, "An IANA time zone; daily runs keep their local time across daylight saving changes.");
  const next = h("p", { class: "next", role: "status", "aria-live": "polite" });
  const save = h("button", { type: "button", class: "primary" }, "Save schedule");
  const status = h("div", { class: "status", "aria-live": "polite" });

  const showFields = () => {
    everyField.hidden = mode.value !== "interval";
    timeField.hidden = mode.value !== "daily";
    zoneField.hidden = mode.value !== "daily";
  };
  mode.addEventListener("change", showFields);

  function load(): void {
    const s = (ctx.saved.current?.config?.schedule ?? {}) as { mode?: string; everyMinutes?: number; time?: string; timeZone?: string };
    mode.value = s.mode ?? "interval";
    every.value = String(s.everyMinutes ?? 60);
    time.value = s.time ?? "02:00";
    zone.value = s.timeZone ?? "UTC";
    showFields();
  }

  async function refresh(): Promise<void> {
    try {
      await ctx.saved.get();
      const s: Schedule = await ctx.api.schedule();
      next.textContent =
        s.mode === "manual" || !s.nextRunAt
          ? "No sync is scheduled: syncs run only from Sync Now."
          : `Next scheduled sync: ${ctx.formatTime(s.nextRunAt)}${s.timeZone ? ` (${s.timeZone})` : ""}.`;
    } catch (error) {
      ctx.report(error, status);
    }
  }

  save.addEventListener("click", async () => {
    const config = ctx.saved.current?.config;
    if (!config) {
      fill(status, h("p", { class: "error", role: "alert" }, "Save a connection and a configuration first."));
      return;
    }
    const schedule: Record<string, unknown> = { mode: mode.value };
    if (mode.value === "interval") schedule.everyMinutes = Number(every.value);
    if (mode.value === "daily") Object.assign(schedule, { time: time.value, timeZone: zone.value.trim() || "UTC" });
    save.disabled = true;
    try {
      ctx.saved.set(await ctx.api.putConfig({ ...config, schedule }));
      fill(status, h("p", { class: "ok" }, "Schedule saved."));
      await refresh();
    } catch (error) {
      ctx.report(error, status);
    } finally {
      save.disabled = false;
    }
  });

  ctx.saved.listen(load);
  const element = h(
    "div",
    {},
    h(
      "p",
      { class: "intro" },
      "Scheduled syncs apply the same plan as Sync Now. A run that would delete more than the safety limits allow waits for approval under Preview & Sync.",
    ),
    next,
    h("form", { class: "grid", onsubmit: (e: Event) => e.preventDefault() }, field("Run", mode), everyField, timeField, zoneField, zones),
    h("div", { class: "actions" }, save),
    status,
  );
  return { id: "schedule", title: "Schedule", element, shown: () => void refresh() };
}

function timeZones(): string[] {
  const intl = Intl as unknown as { supportedValuesOf?: (key: string) => string[] };
  return intl.supportedValuesOf?.("timeZone") ?? ["UTC"];
}
