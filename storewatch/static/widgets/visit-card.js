// One event as a card: a visit (when, how long, which camera, each touched shelf area with what
// happened to it, Before / After / Difference cropped to those areas with the changed boxes)
// or a lighting change (Before and After, whole). A tap on a picture opens the full frames.

import * as api from "../api.js";
import {h} from "../dom.js";
import {ago, dateTime, duration} from "../format.js";
import {busy} from "./fields.js";
import {KIND_LABELS, viewEvent} from "./event-viewer.js";
import {framedPicture} from "./framed-picture.js";
import {toast} from "./toast.js";
import {areaList, eventTitle, isLighting, outlines, viewBoxOf} from "./verdicts.js";

export function deviceNameOf(event, deviceNames = new Map()) {
  return event.device_name || deviceNames.get(event.device_id) || event.device_id;
}

function picture(event, kind, deviceName) {
  const label = KIND_LABELS[kind];
  const caption = h("figcaption", {}, label);
  const src = event.images && event.images[kind];
  if (!src) {
    return h("figure", {}, h("div", {class: "expired"}, event.images_expired ? "Pictures expired" : "No picture"),
             caption);
  }
  const framed = framedPicture({src, kind, view: viewBoxOf(event), outlines: outlines(event),
                                alt: `${label} picture of ${eventTitle(event, deviceName)}`});
  return h("figure", {},
    h("button", {type: "button", class: "picture-button", onclick: () => viewEvent(event, kind, deviceName),
                 "aria-label": `Open the ${label.toLowerCase()} picture of event ${event.id} full size`}, framed),
    caption);
}

function falseAlarmToggle(event, card, mark) {
  const toggle = h("button", {type: "button", class: "small", "aria-pressed": String(event.false_alarm)},
                   event.false_alarm ? "Not a false alarm" : "Mark as false alarm");
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
    mark.hidden = !event.false_alarm;
    card.classList.toggle("false-alarm", event.false_alarm);
    toast(event.false_alarm ? `Event ${event.id} marked as a false alarm.` : `Event ${event.id} is no longer a false alarm.`,
          "success");
  }));
  return toggle;
}

export function visitCard(event, deviceNames) {
  const deviceName = deviceNameOf(event, deviceNames);
  const lighting = isLighting(event);
  const kinds = lighting ? ["pre", "post"] : ["pre", "post", "diff"];
  const mark = h("span", {class: "badge warn plain", hidden: !event.false_alarm}, "false alarm");
  const card = h("article", {class: ["card", "event-card", lighting && "lighting", event.false_alarm && "false-alarm"],
                             dataset: {event: String(event.id), type: event.type || ""},
                             "aria-label": `Event ${event.id}: ${eventTitle(event, deviceName)}`});
  const when = h("p", {class: "event-when muted small"},
    h("time", {datetime: event.start_ts}, dateTime(event.start_ts)),
    lighting ? "" : [" · ", h("span", {class: "event-duration"}, duration(event.duration_s))],
    " · ", ago(event.start_ts));
  card.append(
    h("header", {}, h("h2", {}, deviceName), mark, when),
    lighting ? h("p", {class: "lights-changed"}, "Lights changed") : areaList(event),
    h("div", {class: "event-images"}, kinds.map((kind) => picture(event, kind, deviceName))),
    h("div", {class: "event-foot"},
      h("span", {}, `Event ${event.id}`),
      h("span", {class: "actions"},
        h("button", {type: "button", class: "small", onclick: () => viewEvent(event, "post", deviceName)},
          "Full pictures"),
        falseAlarmToggle(event, card, mark))));
  return card;
}
