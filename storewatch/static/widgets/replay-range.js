// Which stretch of kept frames a what-if replay re-runs: the last hour or day of them, or a
// chosen span (in the shop's time zone), always within what the appliance keeps.

import {h, uid} from "../dom.js";
import {dateTime, epochSeconds, fromWallClockInput, wallClockInput} from "../format.js";

const CHOICES = [["hour", "Last hour", 3600], ["day", "Last day", 86400], ["span", "Chosen span", null]];

/** {element, span() → {since, until} in epoch seconds (throws an Error to show), setKept(kept)}. */
export function replayRange({onChange}) {
  let kept = null;  // {since, until} in epoch seconds, or null: nothing kept
  let choice = "hour";
  const fromId = uid("from");
  const toId = uid("to");
  const from = h("input", {type: "datetime-local", id: fromId, name: "replay_from"});
  const to = h("input", {type: "datetime-local", id: toId, name: "replay_to"});
  const custom = h("div", {class: "form-grid", hidden: true},
    h("div", {class: "field"}, h("label", {for: fromId}, "From"), from),
    h("div", {class: "field"}, h("label", {for: toId}, "To"), to));
  const note = h("p", {class: "field-help"});
  const buttons = CHOICES.map(([key, text]) => {
    const button = h("button", {type: "button", "aria-pressed": String(key === choice)}, text);
    button.addEventListener("click", () => {
      choice = key;
      buttons.forEach((b) => b.setAttribute("aria-pressed", String(b === button)));
      custom.hidden = key !== "span";
      if (onChange) onChange();
    });
    return button;
  });
  for (const input of [from, to]) input.addEventListener("change", () => onChange && onChange());
  const element = h("div", {class: "replay-range"},
    h("div", {class: "segmented", role: "group", "aria-label": "Frames to replay"}, buttons), custom, note);

  function setKept(range) {
    kept = range && range.since ? {since: epochSeconds(range.since), until: epochSeconds(range.until)} : null;
    note.textContent = kept ? `Frames are kept from ${dateTime(kept.since)} to ${dateTime(kept.until)}.`
      : "No frames are kept for replay yet: they are kept from the next analysed frame on.";
    buttons.forEach((b) => { b.disabled = !kept; });
    if (kept) {
      for (const input of [from, to]) {
        input.min = wallClockInput(kept.since);
        input.max = wallClockInput(kept.until + 60);
      }
      if (!from.value) from.value = wallClockInput(Math.max(kept.since, kept.until - 3600));
      if (!to.value) to.value = wallClockInput(kept.until + 60);
    }
  }

  function span() {
    if (!kept) throw new Error("No frames of this camera are kept for replay yet.");
    const seconds = CHOICES.find(([key]) => key === choice)[2];
    if (seconds) {
      const until = kept.until + 0.001;
      return {since: Math.max(kept.since, until - seconds), until};
    }
    const since = epochSeconds(fromWallClockInput(from.value));
    const until = epochSeconds(fromWallClockInput(to.value));
    if (since === null || until === null) throw new Error("Pick both ends of the span.");
    if (since >= until) throw new Error("The span must end after it starts.");
    return {since, until};
  }

  return {element, span, setKept};
}
