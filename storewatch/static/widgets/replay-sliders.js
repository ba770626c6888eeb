// The what-if sliders: the thresholds a shop owner tunes, each a slider with its number shown,
// labelled in the owner's words (thresholds-form.js holds them) with the setting's name beside.

import {h, uid} from "../dom.js";
import {label, number} from "../format.js";
import {THRESHOLD_WORDS} from "./thresholds-form.js";

// [name, slider low, slider high, step]: the useful part of each threshold's allowed range
// (the API's bounds still apply; a value in force outside this widens the slider).
const SLIDERS = [
  ["start_threshold", 0.005, 0.3, 0.005],
  ["end_threshold", 0, 0.2, 0.005],
  ["min_active_frames", 1, 10, 1],
  ["quiet_seconds", 0, 20, 0.5],
  ["change_threshold", 0.05, 1, 0.05],
];
export const SLIDER_NAMES = SLIDERS.map(([name]) => name);

const digits = (step) => (String(step).split(".")[1] || "").length;

/**
 * {element, values(), changes(), set(values), setBase(base)}: values() is every slider's number;
 * changes() only those moved away from `base` (the thresholds in force), as replay overrides.
 */
export function replaySliders({base = {}, bounds = {}, help = {}, onInput}) {
  let inForce = {...base};
  const rows = new Map();
  for (const [name, low, high, step] of SLIDERS) {
    const id = uid("slider");
    const input = h("input", {id, type: "range", name, step, min: low, max: high, "aria-describedby": `${id}-help`});
    const shown = h("output", {for: id, class: "slider-value mono"});
    input.addEventListener("input", () => {
      keepOrder(name);
      show();
      if (onInput) onInput();
    });
    const element = h("div", {class: "field slider-field", dataset: {threshold: name}},
      h("label", {for: id}, THRESHOLD_WORDS[name] || label(name)),
      h("div", {class: "slider-row"}, input, shown),
      h("p", {class: "field-help", id: `${id}-help`}, `${label(name)}${help[name] ? ` · ${help[name]}` : ""}`));
    rows.set(name, {input, shown, element, step, bounds: bounds[name]});
  }
  const element = h("div", {class: "slider-grid"}, [...rows.values()].map((row) => row.element));

  /** The end of a visit can never be asked above its start: the other slider follows. */
  function keepOrder(moved) {
    const start = rows.get("start_threshold").input;
    const end = rows.get("end_threshold").input;
    if (Number(end.value) <= Number(start.value)) return;
    if (moved === "end_threshold") start.value = end.value;
    else end.value = start.value;
  }

  function show() {
    for (const [name, row] of rows) {
      const value = Number(row.input.value);
      row.shown.value = number(value, digits(row.step));
      row.element.classList.toggle("moved", name in changes());
    }
  }

  /** Put the sliders at `wanted` (the others stay); `base` stays what they are compared with. */
  function set(wanted) {
    for (const [name, row] of rows) {
      const value = Number(wanted[name]);
      if (!Number.isFinite(value)) continue;
      if (value < Number(row.input.min)) row.input.min = value;
      if (value > Number(row.input.max)) row.input.max = value;
      row.input.step = row.step;
      row.input.value = value;
      if (Math.abs(Number(row.input.value) - value) > 1e-9) {  // off the slider's steps: kept exactly
        row.input.step = "any";
        row.input.value = value;
      }
    }
    show();
  }

  function setBase(next) {
    inForce = {...next};
    set(inForce);
  }

  function values() {
    return Object.fromEntries([...rows].map(([name, row]) => [name, Number(row.input.value)]));
  }

  function changes() {
    const moved = {};
    for (const [name, value] of Object.entries(values())) {
      const was = Number(inForce[name]);
      if (!Number.isFinite(was) || Math.abs(value - was) > 1e-9) moved[name] = value;
    }
    return moved;
  }

  setBase(base);
  return {element, values, changes, set, setBase};
}
