// One event full size: pre, peak, post and the difference picture, switchable by tabs.

import {h, replace} from "../dom.js";
import {dateTime, duration, number} from "../format.js";
import {openDialog} from "./dialog.js";

export const KIND_LABELS = {pre: "Before", peak: "Peak", post: "After", diff: "Difference"};

export function viewEvent(event, startKind = "post") {
  const kinds = Object.keys(KIND_LABELS).filter((kind) => event.images && event.images[kind]);
  const picture = h("div", {class: "viewer-picture"});
  const show = (kind) => {
    tabs.forEach((tab) => tab.setAttribute("aria-pressed", String(tab.dataset.kind === kind)));
    replace(picture, h("img", {src: event.images[kind], alt: `${KIND_LABELS[kind]} picture of event ${event.id}`}));
  };
  const tabs = kinds.map((kind) => h("button", {type: "button", class: "small", dataset: {kind},
                                                onclick: () => show(kind)}, KIND_LABELS[kind]));
  if (kinds.length) show(kinds.includes(startKind) ? startKind : kinds[0]);
  else replace(picture, h("p", {class: "empty"}, event.images_expired ? "The pictures have expired." : "No pictures."));
  return openDialog({
    title: `Event ${event.id} · ${event.roi_name || event.type}`,
    wide: true,
    content: h("div", {class: "viewer"},
      h("div", {class: "viewer-tabs", role: "group", "aria-label": "Picture"}, tabs),
      picture,
      h("dl", {class: "facts"},
        h("dt", {}, "Device"), h("dd", {}, event.device_id),
        h("dt", {}, "Started"), h("dd", {}, dateTime(event.start_ts)),
        h("dt", {}, "Duration"), h("dd", {}, duration(event.duration_s)),
        h("dt", {}, "What happened"), h("dd", {}, event.verdict || "—"),
        h("dt", {}, "Decision"), h("dd", {}, event.decision || "—",
                                   event.decision_score !== null ? ` (score ${number(event.decision_score, 3)})` : ""),
        h("dt", {}, "Peak score"), h("dd", {}, number(event.peak_score, 3)))),
  });
}
