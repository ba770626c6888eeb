// Threshold inputs: each shows the value in force as its placeholder; a value typed in is an
// override, an empty box means "use the default". Used per ROI and for the global defaults.

import {h, uid} from "../dom.js";
import {label} from "../format.js";

export const MAIN_THRESHOLDS = ["start_threshold", "end_threshold", "min_active_frames", "quiet_seconds",
                                "merge_gap_seconds", "max_duration_seconds"];

/** What the thresholds a shop owner tunes mean, in their words (the field titles, the tuning sliders). */
export const THRESHOLD_WORDS = {
  start_threshold: "How much change starts a visit",
  end_threshold: "How little movement counts as still again",
  min_active_frames: "Frames in a row that must change to start",
  quiet_seconds: "Seconds of stillness before a visit ends",
  change_threshold: "How different a spot must look to count as changed",
  max_duration_seconds: "Longest visit before it is closed anyway",
};

function stepFor(name, bounds) {
  if (name === "min_active_frames") return "1";
  const [min, max] = bounds || [0, 1];
  return max - min <= 2 ? "0.005" : "0.1";
}

/**
 * {element, read()} — read() gives {name: number | null} for every field whose override changed
 * (null drops an override), or throws Error naming a field that is not a number.
 */
export function thresholdsForm({overrides = {}, inherited = {}, bounds = {}, help = {}, names, onInput}) {
  const fieldNames = names || Object.keys(inherited);
  const inputs = new Map();
  const make = (name) => {
    const id = uid("thr");
    const [min, max] = bounds[name] || [];
    const input = h("input", {
      id, type: "number", name, inputmode: "decimal", step: stepFor(name, bounds[name]),
      min, max, placeholder: inherited[name] ?? "", value: overrides[name] ?? "",
      title: help[name] || "", class: name in overrides ? "overridden" : null,
    });
    input.addEventListener("input", () => {
      input.classList.toggle("overridden", input.value !== "");
      if (onInput) onInput();
    });
    inputs.set(name, input);
    const title = [THRESHOLD_WORDS[name], help[name]].filter(Boolean).join(". ");
    return h("div", {class: "field"}, h("label", {for: id, title}, label(name)), input);
  };
  const main = fieldNames.filter((n) => MAIN_THRESHOLDS.includes(n));
  const rest = fieldNames.filter((n) => !MAIN_THRESHOLDS.includes(n));
  const element = h("div", {class: "thresholds"},
    h("div", {class: "threshold-grid"}, main.map(make)),
    rest.length ? h("details", {class: "advanced"}, h("summary", {}, "Advanced"),
                    h("div", {class: "threshold-grid"}, rest.map(make))) : "");

  function read() {
    const changes = {};
    for (const [name, input] of inputs) {
      const text = input.value.trim();
      if (text === "") {
        if (name in overrides) changes[name] = null;
        continue;
      }
      const value = Number(text);
      if (!Number.isFinite(value)) throw new Error(`${label(name)} must be a number.`);
      if (overrides[name] !== value) changes[name] = value;
    }
    return changes;
  }

  function dirty() {
    try {
      return Object.keys(read()).length > 0;
    } catch {
      return true;
    }
  }

  return {element, read, dirty};
}
