// Events, newest first: filter by device, ROI, verdict, decision, type and date; each shows the
// before and after pictures side by side with the difference; open one full size; mark
// false alarms. The filters live in the URL, so a filtered list can be bookmarked.

import * as api from "../api.js";
import {h, replace} from "../dom.js";
import {ago, dateTime, duration, epochSeconds, number} from "../format.js";
import {busy, field} from "../widgets/fields.js";
import {KIND_LABELS, viewEvent} from "../widgets/event-viewer.js";
import {toast} from "../widgets/toast.js";

const PAGE_SIZE = 20;
const DECISIONS = [["", "Any decision"], ["changed", "Changed (item taken or placed)"],
                   ["unchanged", "Unchanged (touched)"], ["unknown", "Unknown"]];
const VERDICTS = [["", "Anything"], ["taken", "Taken"], ["placed", "Placed"], ["moved", "Moved"],
                  ["unchanged", "Unchanged"]];
// What happened on the shelf, as the card's badge says it.
const VERDICT_BADGE = {taken: ["Taken", "bad"], placed: ["Placed", "info"], moved: ["Moved", "warn"],
                       unchanged: ["Unchanged", "ok"]};
const TYPES = [["", "Interactions"], ["lighting_change", "Lighting changes"], ["all", "All events"]];
// The API's default type is interactions; "" keeps the URL short for the common case.
const DECISION_KIND = {changed: "bad", unchanged: "ok", unknown: "warn"};

function select(name, options, value) {
  return h("select", {name}, options.map(([v, text]) => h("option", {value: v, selected: v === value}, text)));
}

function toLocalInput(value) {
  const seconds = epochSeconds(value);
  if (seconds === null) return "";
  const date = new Date(seconds * 1000);
  return new Date(date.getTime() - date.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
}

function fromLocalInput(text) {
  return text ? new Date(text).toISOString() : "";
}

function thumbnail(event, kind, onOpen) {
  const src = event.images && event.images[kind];
  const caption = h("figcaption", {}, KIND_LABELS[kind]);
  if (!src) {
    return h("figure", {}, h("div", {class: "expired"}, event.images_expired ? "expired" : "no picture"), caption);
  }
  return h("figure", {},
    h("button", {type: "button", "aria-label": `Open the ${KIND_LABELS[kind].toLowerCase()} picture of event ${event.id}`,
                 onclick: () => onOpen(kind)},
      h("img", {src, alt: "", loading: "lazy", dataset: {kind}})),
    caption);
}

function eventCard(event, deviceNames) {
  const [verdictText, verdictKind] = VERDICT_BADGE[event.verdict] || [];
  const decision = verdictText
    ? h("span", {class: ["badge", verdictKind], dataset: {verdict: event.verdict}}, verdictText)
    : event.decision ? h("span", {class: ["badge", DECISION_KIND[event.decision] || "info"]}, event.decision) : "";
  const alarm = h("span", {class: "badge warn plain", hidden: !event.false_alarm}, "false alarm");
  const toggle = h("button", {type: "button", class: "small", "aria-pressed": String(event.false_alarm)},
                   event.false_alarm ? "Not a false alarm" : "Mark as false alarm");
  const card = h("article", {class: ["card", "event-card", event.false_alarm && "false-alarm"],
                             dataset: {event: event.id}},
    h("header", {},
      h("h2", {}, event.type === "lighting_change" ? "Lighting change" : (event.roi_name || "Deleted ROI")),
      decision, alarm,
      h("span", {class: "muted small"}, deviceNames.get(event.device_id) || event.device_id, " · ",
        h("time", {datetime: event.start_ts, title: dateTime(event.start_ts)}, ago(event.start_ts)))),
    h("div", {class: "event-images"}, ["pre", "post", "diff"].map((kind) =>
      thumbnail(event, kind, (k) => viewEvent(event, k)))),
    h("div", {class: "event-foot"},
      h("span", {}, dateTime(event.start_ts), " · ", duration(event.duration_s),
        event.peak_score !== null ? ` · peak ${number(event.peak_score, 3)}` : ""),
      h("span", {class: "actions"},
        h("button", {type: "button", class: "small", onclick: () => viewEvent(event, "peak")}, "Open"),
        toggle)));
  toggle.addEventListener("click", () => busy(toggle, async () => {
    try {
      const updated = await api.patch(`/admin/events/${event.id}`, {false_alarm: !event.false_alarm});
      event.false_alarm = updated.false_alarm;
    } catch (exc) {
      toast(exc.message, "error");
      return;
    }
    toggle.setAttribute("aria-pressed", String(event.false_alarm));
    toggle.textContent = event.false_alarm ? "Not a false alarm" : "Mark as false alarm";
    alarm.hidden = !event.false_alarm;
    card.classList.toggle("false-alarm", event.false_alarm);
    toast(event.false_alarm ? `Event ${event.id} marked as a false alarm.` : `Event ${event.id} is no longer a false alarm.`,
          "success");
  }));
  return card;
}

export async function render(main, context) {
  document.title = "Events · storewatch";
  const q = context.query;
  const {devices} = await api.get("/admin/devices", {signal: context.signal});
  const deviceNames = new Map(devices.map((d) => [d.id, d.name]));
  const deviceSelect = select("device", [["", "All devices"], ...devices.map((d) => [d.id, d.name])], q.get("device") || "");
  const roiSelect = select("roi", [["", "All ROIs"]], "");
  const verdictSelect = select("verdict", VERDICTS, q.get("verdict") || "");
  const decisionSelect = select("decision", DECISIONS, q.get("decision") || "");
  const typeSelect = select("type", TYPES, q.get("type") || "");
  const since = h("input", {type: "datetime-local", name: "since", value: toLocalInput(q.get("since"))});
  const until = h("input", {type: "datetime-local", name: "until", value: toLocalInput(q.get("until"))});
  const form = h("form", {class: "card filters", role: "search", "aria-label": "Filter events"},
    field("Device", deviceSelect), field("ROI", roiSelect), field("What happened", verdictSelect),
    field("Decision", decisionSelect),
    field("Type", typeSelect), field("From", since), field("To", until),
    h("div", {class: "actions"}, h("button", {type: "reset", class: "small"}, "Clear")));
  const list = h("div", {class: "event-list", id: "event-list"});
  const more = h("button", {type: "button", hidden: true}, "Load older events");
  const summary = h("p", {class: "muted"});

  async function loadRois() {
    const device = deviceSelect.value;
    const wanted = roiSelect.value || q.get("roi") || "";
    replace(roiSelect, h("option", {value: ""}, "All ROIs"));
    roiSelect.disabled = !device;
    if (!device) return;
    const {rois} = await api.get(`/admin/devices/${encodeURIComponent(device)}/rois`, {signal: context.signal});
    rois.forEach((roi) => roiSelect.append(h("option", {value: roi.id, selected: String(roi.id) === wanted}, roi.name)));
  }

  function filters() {
    return {device: deviceSelect.value, roi: deviceSelect.value ? roiSelect.value : "", verdict: verdictSelect.value,
            decision: decisionSelect.value,
            type: typeSelect.value, since: fromLocalInput(since.value), until: fromLocalInput(until.value)};
  }

  let shown = 0;
  async function load(beforeId) {
    const answer = await api.get("/admin/events" + api.query({...filters(), limit: PAGE_SIZE, before_id: beforeId}),
                                 {signal: context.signal});
    if (!beforeId) list.replaceChildren();
    answer.events.forEach((event) => list.append(eventCard(event, deviceNames)));
    shown = beforeId ? shown + answer.events.length : answer.events.length;
    if (!shown) list.append(h("div", {class: "card empty"}, "No events match these filters."));
    summary.textContent = shown ? `${shown} event${shown === 1 ? "" : "s"} shown, newest first` : "";
    more.hidden = answer.events.length < PAGE_SIZE;
    more.onclick = () => busy(more, () => load(answer.events[answer.events.length - 1].id).catch((e) => toast(e.message, "error")));
  }

  async function apply() {
    const url = "/events" + api.query(filters());
    history.replaceState(null, "", url);
    try {
      await load();
    } catch (exc) {
      if (exc.name !== "AbortError") replace(list, h("p", {class: "error", role: "alert"}, exc.message));
    }
  }
  deviceSelect.addEventListener("change", async () => { roiSelect.value = ""; await loadRois(); apply(); });
  for (const control of [roiSelect, verdictSelect, decisionSelect, typeSelect, since, until]) control.addEventListener("change", apply);
  form.addEventListener("submit", (event) => { event.preventDefault(); apply(); });
  form.addEventListener("reset", () => setTimeout(async () => { await loadRois(); apply(); }, 0));

  main.append(h("div", {class: "page-header"}, h("div", {}, h("h1", {}, "Events"), summary)), form, list,
              h("div", {class: "actions section"}, more));
  await loadRois();
  await load();
  if (q.get("open")) {
    api.get(`/admin/events/${encodeURIComponent(q.get("open"))}`, {signal: context.signal})
      .then((event) => viewEvent(event, "peak")).catch((exc) => toast(exc.message, "error"));
  }
}
