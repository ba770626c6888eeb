// Events, newest first: filter by camera, shelf area, what happened (an event matches when any
// of its touched areas did), decision, type and date; each is a card (widgets/visit-card.js);
// review them there. The filters live in the URL, so a filtered list can be bookmarked.
// Live: every POLL_MS the page asks for events newer than the newest it has (after_id) and
// puts them on top, keeping the scroll position and an open viewer; it says when it last
// asked and, when asking fails, since when the list is not up to date (poll.js). Polling,
// not server-sent events: each poll is one short request, so it never holds one of the
// connections the appliance allows per address, and it resumes by itself.
// On a phone the filters fold behind a "Filters" button.

import * as api from "../api.js";
import {h, replace} from "../dom.js";
import {clockTime, fromWallClockInput, wallClockInput} from "../format.js";
import {poll} from "../poll.js";
import {busy, field} from "../widgets/fields.js";
import {viewEvent} from "../widgets/event-viewer.js";
import {deviceNameOf, visitCard} from "../widgets/visit-card.js";
import {toast} from "../widgets/toast.js";

const PAGE_SIZE = 20;
const POLL_MS = 5000;
const REVIEWED = [["", "Reviewed or not"], ["false", "Not reviewed yet"], ["true", "Reviewed"]];
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

// From / To are wall-clock times in the appliance's time zone.
const toLocalInput = wallClockInput;
const fromLocalInput = fromWallClockInput;

/**
 * The filter form, set from the URL's query `q`, with its "Filters" fold button (phones):
 * {form, foldButton, filters(), loadRois(), onChange(apply)}. loadRois() fills the shelf
 * areas of the chosen device.
 */
function eventFilters(q, devices, signal) {
  const deviceSelect = select("device", [["", "All devices"], ...devices.map((d) => [d.id, d.name])], q.get("device") || "");
  const roiSelect = select("roi", [["", "All shelf areas"]], "");
  const verdictSelect = select("verdict", VERDICTS, q.get("verdict") || "");
  const decisionSelect = select("decision", DECISIONS, q.get("decision") || "");
  const typeSelect = select("type", TYPES, q.get("type") || "");
  const reviewedSelect = select("reviewed", REVIEWED, q.get("reviewed") || "");
  const since = h("input", {type: "datetime-local", name: "since", value: toLocalInput(q.get("since"))});
  const until = h("input", {type: "datetime-local", name: "until", value: toLocalInput(q.get("until"))});
  const form = h("form", {class: "card filters", role: "search", "aria-label": "Filter events"},
    field("Device", deviceSelect), field("Shelf area", roiSelect), field("What happened", verdictSelect),
    field("Decision", decisionSelect), field("Review", reviewedSelect),
    field("Type", typeSelect), field("From", since), field("To", until),
    h("div", {class: "actions"}, h("button", {type: "reset", class: "small"}, "Clear")));
  form.id = "event-filters";
  const foldButton = h("button", {type: "button", class: "small filters-toggle", "aria-controls": "event-filters",
                                  "aria-expanded": "false"}, "Filters");
  form.classList.add("folded");  // folded only where the screen is narrow (style.css)
  foldButton.addEventListener("click", () => {
    const open = form.classList.toggle("folded") === false;
    foldButton.setAttribute("aria-expanded", String(open));
  });

  async function loadRois() {
    const device = deviceSelect.value;
    const wanted = roiSelect.value || q.get("roi") || "";
    replace(roiSelect, h("option", {value: ""}, "All shelf areas"));
    roiSelect.disabled = !device;
    if (!device) return;
    const {rois} = await api.get(`/admin/devices/${encodeURIComponent(device)}/rois`, {signal});
    rois.forEach((roi) => roiSelect.append(h("option", {value: roi.id, selected: String(roi.id) === wanted}, roi.name)));
  }

  function filters() {
    return {device: deviceSelect.value, roi: deviceSelect.value ? roiSelect.value : "", verdict: verdictSelect.value,
            decision: decisionSelect.value, reviewed: reviewedSelect.value,
            type: typeSelect.value, since: fromLocalInput(since.value), until: fromLocalInput(until.value)};
  }

  /** Run `apply()` after every change (a new device refills its shelf areas first; so does Clear). */
  function onChange(apply) {
    deviceSelect.addEventListener("change", async () => { roiSelect.value = ""; await loadRois(); apply(); });
    for (const control of [roiSelect, verdictSelect, decisionSelect, reviewedSelect, typeSelect, since, until]) {
      control.addEventListener("change", apply);
    }
    form.addEventListener("submit", (event) => { event.preventDefault(); apply(); });
    form.addEventListener("reset", () => setTimeout(async () => { await loadRois(); apply(); }, 0));
  }

  return {form, foldButton, filters, loadRois, onChange};
}

/** The filters that are set, as "Mark all reviewed" sends them. */
function reviewScope({device, roi, verdict, decision, reviewed, type, since, until}) {
  return Object.fromEntries(Object.entries({device, roi, verdict, decision, reviewed, type, since, until})
    .filter(([, v]) => v !== ""));
}

export async function render(main, context) {
  document.title = "Events · storewatch";
  const q = context.query;
  const {devices} = await api.get("/admin/devices", {signal: context.signal});
  const deviceNames = new Map(devices.map((d) => [d.id, d.name]));
  const {form, foldButton, filters, loadRois, onChange} = eventFilters(q, devices, context.signal);
  const list = h("div", {class: "event-list", id: "event-list"});
  const more = h("button", {type: "button", hidden: true}, "Load older events");
  const summary = h("p", {class: "muted"});
  const updated = h("p", {class: "muted small live-status", role: "status"});
  const reviewAll = h("button", {type: "button", class: "small"}, "Mark all reviewed");
  const shown = [];  // the events on the page, newest first: the viewer's previous / next
  const nameOf = (event) => deviceNameOf(event, deviceNames);
  const watchers = new Set();  // open viewers, told when the list changes
  const watch = (callback) => { watchers.add(callback); return () => watchers.delete(callback); };
  const open = (event, kind) => viewEvent(event, kind, nameOf(event), {list: () => shown, nameOf, watch});
  const card = (event) => visitCard(event, deviceNames, {open});

  function describe() {
    const count = shown.length;
    summary.textContent = count ? `${count} event${count === 1 ? "" : "s"} shown, newest first` : "";
    reviewAll.hidden = !shown.some((event) => !event.reviewed);
    watchers.forEach((callback) => callback());
    if (!count && !list.querySelector(".empty")) list.append(h("div", {class: "card empty"}, "No events match these filters."));
  }

  let generation = 0;  // a newer load makes an older poll's answer stale
  async function load(beforeId) {
    const mine = beforeId ? generation : ++generation;
    const answer = await api.get("/admin/events" + api.query({...filters(), limit: PAGE_SIZE, before_id: beforeId}),
                                 {signal: context.signal});
    if (mine !== generation) return;
    if (!beforeId) {
      list.replaceChildren();
      shown.length = 0;
    }
    answer.events.forEach((event) => list.append(card(event)));
    shown.push(...answer.events);
    describe();
    updated.textContent = `Updated ${clockTime(new Date())}`;
    more.hidden = answer.events.length < PAGE_SIZE;
    more.onclick = () => busy(more, () => load(answer.events[answer.events.length - 1].id).catch((e) => toast(e.message, "error")));
  }

  /** New events on top; the page stays where the owner is reading. */
  async function loadNewer() {
    const mine = generation;
    const newest = shown.length ? shown[0].id : 0;
    const answer = await api.get("/admin/events" + api.query({...filters(), limit: PAGE_SIZE * 5, after_id: newest}),
                                 {signal: context.signal});
    if (mine !== generation) return;
    updated.textContent = `Updated ${clockTime(new Date())}`;
    const fresh = answer.events.filter((event) => event.id > newest);
    if (!fresh.length) return;
    const scroller = document.scrollingElement;
    const height = scroller.scrollHeight;
    list.querySelector(".empty")?.remove();
    list.prepend(...fresh.map(card));
    shown.unshift(...fresh);
    if (scroller.scrollTop > list.offsetTop) scroller.scrollTop += scroller.scrollHeight - height;
    describe();
  }
  // a failed round says "Not updated since HH:MM" under the heading, until one works again
  const live = poll(loadNewer, {everyMs: POLL_MS, signal: context.signal});

  reviewAll.addEventListener("click", () => busy(reviewAll, async () => {
    if (!shown.length) return;
    try {
      const answer = await api.post("/admin/events/review-all", {until_id: shown[0].id, ...reviewScope(filters())});
      toast(`${answer.reviewed} event${answer.reviewed === 1 ? "" : "s"} marked reviewed.`, "success");
      await live.now(load);
    } catch (exc) {
      toast(exc.message, "error");
    }
  }));

  async function apply() {
    const url = "/events" + api.query(filters());
    history.replaceState(null, "", url);
    try {
      await live.now(load);
    } catch (exc) {
      if (exc.name !== "AbortError") replace(list, h("p", {class: "error", role: "alert"}, exc.message));
    }
  }
  onChange(apply);

  main.append(h("div", {class: "page-header"}, h("div", {}, h("h1", {}, "Events"), summary, updated, live.note),
                h("div", {class: "actions"}, reviewAll, foldButton)), form, list,
              h("div", {class: "actions section"}, more));
  await loadRois();
  await live.start({first: load});
  if (q.get("open")) {
    api.get(`/admin/events/${encodeURIComponent(q.get("open"))}`, {signal: context.signal})
      .then((event) => open(shown.find((e) => e.id === event.id) || event, "post"))
      .catch((exc) => toast(exc.message, "error"));
  }
  return live.stop;
}
