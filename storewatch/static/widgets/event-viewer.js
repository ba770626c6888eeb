// One event's whole frames, full size: Before, During, After and the Difference, switchable by
// tabs, each with the changed boxes of the touched shelf areas drawn where they are. Given the
// page's list, "Previous" / "Next" (and the arrow keys) step through it without closing.

import {h, replace} from "../dom.js";
import {dateTime, duration} from "../format.js";
import {openDialog} from "./dialog.js";
import {framedPicture} from "./framed-picture.js";
import {areaList, eventTitle, isLighting, outlines} from "./verdicts.js";

export const KIND_LABELS = {pre: "Before", peak: "During", post: "After", diff: "Difference"};

function facts(event, deviceName) {
  return h("dl", {class: "facts"},
    h("dt", {}, "Device"), h("dd", {}, deviceName),
    h("dt", {}, "Started"), h("dd", {}, dateTime(event.start_ts)),
    isLighting(event) ? "" : [h("dt", {}, "Duration"), h("dd", {}, duration(event.duration_s))],
    h("dt", {}, "What happened"),
    h("dd", {}, isLighting(event) ? "Lights changed" : areaList(event)),
    event.false_alarm ? [h("dt", {}, "Review"),
                         h("dd", {}, "False alarm", event.false_alarm_reason ? `: ${event.false_alarm_reason}` : "")]
      : "");
}

function pictures(event, startKind, deviceName) {
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
  return [h("div", {class: "viewer-tabs", role: "group", "aria-label": "Picture"}, tabs), picture];
}

/**
 * Open the viewer on `event`. `nav`: {list: () => the events shown, in order; nameOf(event)}
 * adds Previous / Next through that list (read anew at each step, so live arrivals count);
 * nav.watch(callback), if given, is how the page says the list changed (returns an unwatch).
 */
export function viewEvent(event, startKind = "post", deviceName = event.device_name || event.device_id, nav = null) {
  const body = h("div", {class: "viewer"});
  let current = event;
  let kind = startKind;
  const prev = h("button", {type: "button", class: "small", "aria-keyshortcuts": "ArrowLeft"}, "← Previous");
  const next = h("button", {type: "button", class: "small", "aria-keyshortcuts": "ArrowRight"}, "Next →");
  const position = h("span", {class: "muted small viewer-position"});
  const placeInList = () => {
    const list = nav ? nav.list() : [current];
    const at = list.findIndex((e) => e.id === current.id);
    prev.disabled = at <= 0;
    next.disabled = at < 0 || at >= list.length - 1;
    position.textContent = at >= 0 && nav ? `${at + 1} of ${list.length}` : "";
  };
  const render = () => {
    const name = nav ? nav.nameOf(current) : deviceName;
    placeInList();
    const heading = body.closest("dialog") && body.closest("dialog").querySelector(".dialog-header h2");
    if (heading) heading.textContent = `Event ${current.id} · ${name}`;
    body.dataset.event = String(current.id);
    replace(body, nav ? h("div", {class: "viewer-nav"}, prev, position, next) : "",
            pictures(current, kind, name), facts(current, name));
  };
  const step = (offset) => {
    const list = nav.list();
    const at = list.findIndex((e) => e.id === current.id);
    const target = list[at + offset];
    if (at < 0 || !target) return;
    current = target;
    const pressed = body.querySelector(".viewer-tabs [aria-pressed=true]");
    kind = pressed ? pressed.dataset.kind : kind;  // keep looking at the same kind of picture
    render();
  };
  const stepFrom = (button, offset, other) => {
    step(offset);
    if (button.disabled) other.focus();  // keep the focus in the dialog
  };
  prev.addEventListener("click", () => stepFrom(prev, -1, next));
  next.addEventListener("click", () => stepFrom(next, 1, prev));
  render();
  const opened = openDialog({title: `Event ${event.id} · ${deviceName}`, wide: true, content: body});
  if (nav) {
    const dialog = body.closest("dialog");
    const unwatch = nav.watch ? nav.watch(placeInList) : () => {};
    dialog.addEventListener("close", unwatch);
    // On the document: a button that became disabled (the end of the list) drops the focus to the body.
    const onKey = (key) => {
      if (key.target.closest && key.target.closest("input, textarea, select")) return;
      if (key.key === "ArrowLeft") { key.preventDefault(); step(-1); }
      if (key.key === "ArrowRight") { key.preventDefault(); step(1); }
    };
    document.addEventListener("keydown", onKey);
    dialog.addEventListener("close", () => document.removeEventListener("keydown", onKey));
  }
  return opened;
}
