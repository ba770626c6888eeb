// What a visit did to each shelf area, in the shop owner's words: the verdict badges, the
// event's name, and its touched areas and view box read defensively (events from before
// visits have one area and no view box; lighting changes have none).

import {h} from "../dom.js";
import {dateTime} from "../format.js";

/** verdict → [badge text, colour class]; each colour is used for that verdict only. */
export const VERDICT_WORDS = {
  taken: ["Taken", "bad"],
  placed: ["Placed", "info"],
  moved: ["Moved", "warn"],
  unchanged: ["Unchanged", "ok"],
};

// The margin around the changed boxes when an older event has no view box of its own.
const MARGIN = 0.08;

export function isLighting(event) {
  return event.type === "lighting_change";
}

/** What the event is called where a person reads it: "the visit to Aisle 3 at 2 Dec, 14:03:12". */
export function eventTitle(event, deviceName) {
  const what = isLighting(event) ? "the lights change on" : "the visit to";
  return `${what} ${deviceName} at ${dateTime(event.start_ts)}`;
}

/** A normalized [x0, y0, x1, y1] clamped to the frame, or null when it is not one. */
export function normalizedBox(box) {
  if (!Array.isArray(box) || box.length !== 4 || !box.every((v) => typeof v === "number" && Number.isFinite(v))) {
    return null;
  }
  const [x0, y0, x1, y1] = box.map((v) => Math.min(1, Math.max(0, v)));
  return x1 > x0 && y1 > y0 ? [x0, y0, x1, y1] : null;
}

/** The touched shelf areas: the event's `rois`, or its one area from the old fields. */
export function touchedAreas(event) {
  if (isLighting(event)) return [];
  if (Array.isArray(event.rois)) return event.rois;
  if (event.roi_id === null || event.roi_id === undefined) return [];
  return [{roi_id: event.roi_id, roi_name: event.roi_name, verdict: event.verdict, decision: event.decision,
           box: event.box, score: event.decision_score}];
}

export function areaName(area) {
  return area.roi_name || "A deleted shelf area";
}

/** The part of the frame the card shows: the event's view box, else the changed boxes with a
 *  margin, else null (the whole frame). */
export function viewBoxOf(event) {
  if (isLighting(event)) return null;
  const given = normalizedBox(event.view_box);
  if (given) return given;
  const boxes = touchedAreas(event).map((area) => normalizedBox(area.box)).filter(Boolean);
  if (!boxes.length) return null;
  return normalizedBox([Math.min(...boxes.map((b) => b[0])) - MARGIN, Math.min(...boxes.map((b) => b[1])) - MARGIN,
                        Math.max(...boxes.map((b) => b[2])) + MARGIN, Math.max(...boxes.map((b) => b[3])) + MARGIN]);
}

/** The outlines to draw: each touched area's changed box, coloured by what happened. */
export function outlines(event) {
  return touchedAreas(event).map((area) => ({box: normalizedBox(area.box), verdict: area.verdict,
                                             roiId: area.roi_id, name: areaName(area)}))
    .filter((outline) => outline.box);
}

/** The badge for one verdict: its word is the text, so it reads without the colour. */
export function verdictBadge(verdict) {
  const [text, kind] = VERDICT_WORDS[verdict] || ["Not decided", ""];
  return h("span", {class: ["badge", "verdict", kind], dataset: {verdict: verdict || "none"}}, text);
}

/** "Top shelf: Taken" for each touched area, as a list a screen reader reads in order. */
export function areaList(event) {
  return h("ul", {class: "visit-areas", "aria-label": "Shelf areas touched"},
    touchedAreas(event).map((area) => h("li", {dataset: {roi: String(area.roi_id)}},
      h("span", {class: "area-name"}, areaName(area)), h("span", {class: "visually-hidden"}, ": "),
      verdictBadge(area.verdict))));
}
