// One event as a card: a visit (when, how long, which camera, each touched shelf area with what
// happened to it, Before / After / Difference cropped to those areas with the changed boxes)
// or a lighting change (Before and After, whole). A tap on a picture opens the full frames.
// The card shows the server's small thumbnails where the event has them (the originals,
// CSS-cropped, for older events) and the owner's review: reviewed or not, a false alarm
// with an optional reason (always written as text, never as HTML).

import * as api from "../api.js";
import {h} from "../dom.js";
import {ago, dateTime, duration} from "../format.js";
import {busy, field} from "./fields.js";
import {KIND_LABELS, viewEvent} from "./event-viewer.js";
import {framedPicture} from "./framed-picture.js";
import {toast} from "./toast.js";
import {areaList, eventTitle, isLighting, outlines, viewBoxOf} from "./verdicts.js";

export function deviceNameOf(event, deviceNames = new Map()) {
  return event.device_name || deviceNames.get(event.device_id) || event.device_id;
}

function picture(event, kind, deviceName, open) {
  const label = KIND_LABELS[kind];
  const caption = h("figcaption", {}, label);
  const src = event.images && event.images[kind];
  if (!src) {
    return h("figure", {}, h("div", {class: "expired"}, event.images_expired ? "Pictures expired" : "No picture"),
             caption);
  }
  const thumb = event.thumbnails && event.thumbnails[kind];
  const framed = framedPicture({src: thumb || src, kind, view: viewBoxOf(event), outlines: outlines(event),
                                region: thumb ? event.thumbnail_region : null,
                                alt: `${label} picture of ${eventTitle(event, deviceName)}`});
  return h("figure", {},
    h("button", {type: "button", class: "picture-button", onclick: () => open(kind),
                 "aria-label": `Open the ${label.toLowerCase()} picture of event ${event.id} full size`}, framed),
    caption);
}

/** PATCH the review and copy the answer into `event`; the card redraws its review parts. */
async function sendReview(event, body, refresh) {
  try {
    Object.assign(event, await api.patch(`/admin/events/${event.id}`, body));
  } catch (exc) {
    toast(exc.message, "error");
    return false;
  }
  refresh();
  return true;
}

function reviewControls(event, refresh) {
  const reviewed = h("button", {type: "button", class: "small", "aria-pressed": String(event.reviewed),
                                dataset: {action: "review"}},
                     event.reviewed ? "Reviewed ✓" : "Mark reviewed");
  reviewed.addEventListener("click", () => busy(reviewed, () => sendReview(event, {reviewed: !event.reviewed}, refresh)));
  const toggle = h("button", {type: "button", class: "small", "aria-pressed": String(event.false_alarm),
                              dataset: {action: "false-alarm"}},
                   event.false_alarm ? "Not a false alarm" : "Mark as false alarm");
  toggle.addEventListener("click", () => busy(toggle, async () => {
    if (await sendReview(event, {false_alarm: !event.false_alarm}, refresh)) {
      toast(event.false_alarm ? `Event ${event.id} marked as a false alarm.`
                              : `Event ${event.id} is no longer a false alarm.`, "success");
    }
  }));
  return [reviewed, toggle];
}

/** A false alarm's reason: shown as text, and a small form to give or change it. */
function reasonForm(event, refresh) {
  const input = h("input", {type: "text", name: "reason", maxlength: 200, value: event.false_alarm_reason || "",
                            placeholder: "for example: the cat, a shadow"});
  const save = h("button", {type: "submit", class: "small"}, "Save reason");
  const form = h("form", {class: "reason-form"}, field("Why was it a false alarm? (optional)", input), save);
  form.addEventListener("submit", (submitted) => {
    submitted.preventDefault();
    busy(save, () => sendReview(event, {false_alarm: true, reason: input.value}, refresh));
  });
  return form;
}

function reviewState(event) {
  if (event.false_alarm) {
    return h("p", {class: "review-state"}, h("span", {class: "badge warn plain"}, "false alarm"),
             event.false_alarm_reason ? [" ", h("span", {class: "false-alarm-reason"}, event.false_alarm_reason)] : "");
  }
  return event.reviewed ? "" : h("span", {class: "badge info plain unreviewed-badge"}, "new");
}

/**
 * The card of `event`. `open(event, kind)` opens the full pictures (the events page passes one
 * that knows the list, for previous / next); `onReview(event)` is told after a review.
 */
export function visitCard(event, deviceNames, {open = null, onReview = () => {}} = {}) {
  const deviceName = deviceNameOf(event, deviceNames);
  const lighting = isLighting(event);
  const kinds = lighting ? ["pre", "post"] : ["pre", "post", "diff"];
  const show = (kind) => (open ? open(event, kind) : viewEvent(event, kind, deviceName));
  const state = h("span", {class: "review-slot"});
  const controls = h("span", {class: "actions"});
  const reason = h("div", {class: "reason-slot"});
  const card = h("article", {class: ["card", "event-card", lighting && "lighting"],
                             dataset: {event: String(event.id), type: event.type || ""},
                             "aria-label": `Event ${event.id}: ${eventTitle(event, deviceName)}`});
  const refresh = () => {
    card.classList.toggle("false-alarm", Boolean(event.false_alarm));
    card.classList.toggle("unreviewed", !event.reviewed);
    card.dataset.reviewed = String(Boolean(event.reviewed));
    state.replaceChildren(reviewState(event));
    controls.replaceChildren(
      h("button", {type: "button", class: "small", onclick: () => show("post")}, "Full pictures"),
      ...reviewControls(event, () => { refresh(); onReview(event); }));
    reason.replaceChildren(event.false_alarm ? reasonForm(event, () => { refresh(); onReview(event); }) : "");
  };
  const when = h("p", {class: "event-when muted small"},
    h("time", {datetime: event.start_ts}, dateTime(event.start_ts)),
    lighting ? "" : [" · ", h("span", {class: "event-duration"}, duration(event.duration_s))],
    " · ", ago(event.start_ts));
  card.append(
    h("header", {}, h("h2", {}, deviceName), state, when),
    lighting ? h("p", {class: "lights-changed"}, "Lights changed") : areaList(event),
    h("div", {class: "event-images"}, kinds.map((kind) => picture(event, kind, deviceName, show))),
    h("div", {class: "event-foot"}, h("span", {}, `Event ${event.id}`), controls),
    reason);
  refresh();
  return card;
}
