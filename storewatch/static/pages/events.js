// Events, newest first: filter by camera, shelf area, what happened (an event matches when any
// of its touched areas did), decision, type and date; each is a card (widgets/visit-card.js);
// mark false alarms there. The filters live in the URL, so a filtered list can be bookmarked.

import * as api from "../api.js";
import {h, replace} from "../dom.js";
import {epochSeconds} from "../format.js";
import {busy, field} from "../widgets/fields.js";
import {viewEvent} from "../widgets/event-viewer.js";
import {deviceNameOf, visitCard} from "../widgets/visit-card.js";
import {toast} from "../widgets/toast.js";

const PAGE_SIZE = 20;
const DECISIONS = [["", "Any decision"], ["changed", "Changed (item taken or placed)"],
                   ["unchanged", "Unchanged (touched)"], ["unknown", "Unknown"]];
// What happened to at least one touched shelf area of the visit.
const VERDICTS = [["", "Anything"], ["taken", "Taken"], ["placed", "Put back / placed"], ["moved", "Moved"],
                  ["unchanged", "No change"]];
// The API's default type is visits; "" keeps the URL short for the common case.
const TYPES = [["", "Shelf visits"], ["lighting_change", "Lighting changes"], ["all", "All events"]];

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

export async function render(main, context) {
  document.title = "Events · storewatch";
  const q = context.query;
  const {devices} = await api.get("/admin/devices", {signal: context.signal});
  const deviceNames = new Map(devices.map((d) => [d.id, d.name]));
  const deviceSelect = select("device", [["", "All devices"], ...devices.map((d) => [d.id, d.name])], q.get("device") || "");
  const roiSelect = select("roi", [["", "All shelf areas"]], "");
  const verdictSelect = select("verdict", VERDICTS, q.get("verdict") || "");
  const decisionSelect = select("decision", DECISIONS, q.get("decision") || "");
  const typeSelect = select("type", TYPES, q.get("type") || "");
  const since = h("input", {type: "datetime-local", name: "since", value: toLocalInput(q.get("since"))});
  const until = h("input", {type: "datetime-local", name: "until", value: toLocalInput(q.get("until"))});
  const form = h("form", {class: "card filters", role: "search", "aria-label": "Filter events"},
    field("Device", deviceSelect), field("Shelf area", roiSelect), field("What happened", verdictSelect),
    field("Decision", decisionSelect),
    field("Type", typeSelect), field("From", since), field("To", until),
    h("div", {class: "actions"}, h("button", {type: "reset", class: "small"}, "Clear")));
  const list = h("div", {class: "event-list", id: "event-list"});
  const more = h("button", {type: "button", hidden: true}, "Load older events");
  const summary = h("p", {class: "muted"});

  async function loadRois() {
    const device = deviceSelect.value;
    const wanted = roiSelect.value || q.get("roi") || "";
    replace(roiSelect, h("option", {value: ""}, "All shelf areas"));
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
    answer.events.forEach((event) => list.append(visitCard(event, deviceNames)));
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
      .then((event) => viewEvent(event, "post", deviceNameOf(event, deviceNames))).catch((exc) => toast(exc.message, "error"));
  }
}
