// One event's whole frames, full size: Before, During, After and the Difference, switchable by
// tabs, each with the changed boxes of the touched shelf areas drawn where they are.

import {h, replace} from "../dom.js";
import {dateTime, duration} from "../format.js";
import {openDialog} from "./dialog.js";
import {framedPicture} from "./framed-picture.js";
import {areaList, eventTitle, isLighting, outlines} from "./verdicts.js";

export const KIND_LABELS = {pre: "Before", peak: "During", post: "After", diff: "Difference"};

export function viewEvent(event, startKind = "post", deviceName = event.device_name || event.device_id) {
  const kinds = Object.keys(KIND_LABELS).filter((kind) => event.images && event.images[kind]);
  const picture = h("div", {class: "viewer-picture"});
  const boxes = outlines(event);
  const show = (kind) => {
    tabs.forEach((tab) => tab.setAttribute("aria-pressed", String(tab.dataset.kind === kind)));
    replace(picture, framedPicture({src: event.images[kind], kind, outlines: boxes, fit: "frame",
      alt: `${KIND_LABELS[kind]} picture, the whole frame, of ${eventTitle(event, deviceName)}`}));
  };
  const tabs = kinds.map((kind) => h("button", {type: "button", class: "small", dataset: {kind},
                                                onclick: () => show(kind)}, KIND_LABELS[kind]));
  if (kinds.length) show(kinds.includes(startKind) ? startKind : kinds[0]);
  else replace(picture, h("p", {class: "empty"}, event.images_expired ? "The pictures have expired." : "No pictures."));
  return openDialog({
    title: `Event ${event.id} · ${deviceName}`,
    wide: true,
    content: h("div", {class: "viewer"},
      h("div", {class: "viewer-tabs", role: "group", "aria-label": "Picture"}, tabs),
      picture,
      h("dl", {class: "facts"},
        h("dt", {}, "Device"), h("dd", {}, deviceName),
        h("dt", {}, "Started"), h("dd", {}, dateTime(event.start_ts)),
        isLighting(event) ? "" : [h("dt", {}, "Duration"), h("dd", {}, duration(event.duration_s))],
        h("dt", {}, "What happened"),
        h("dd", {}, isLighting(event) ? "Lights changed" : areaList(event)))),
  });
}
