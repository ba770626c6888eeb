// "What if": re-run the camera's kept frames with other thresholds. Pick the frames and the
// area, move the sliders, press Replay; the summary says what would have changed (the tuning
// charts draw it) and Apply saves the moved thresholds for the area, or for every area of
// the camera, through the ROI endpoint.

import * as api from "../api.js";
import {h, replace} from "../dom.js";
import {label, number} from "../format.js";
import {busy} from "./fields.js";
import {replayRange} from "./replay-range.js";
import {replayRun} from "./replay-run.js";
import {replaySliders} from "./replay-sliders.js";
import {toast} from "./toast.js";

const ALL = "";

export const sentence = (text) => (text ? `${text.charAt(0).toUpperCase()}${text.slice(1)}${/[.!?]$/.test(text) ? "" : "."}` : "");

function describe(overrides) {
  return Object.entries(overrides).map(([name, value]) => `${label(name)} ${number(value, 3)}`).join(", ");
}

/**
 * {element, load()}; onResult(run) when a replay is done, onClear() when its drawing should go,
 * onApplied(rois) with the ROIs as saved when Apply saved thresholds.
 */
export function replayPanel({deviceId, signal, onResult, onClear, onApplied}) {
  const base = `/admin/devices/${encodeURIComponent(deviceId)}`;
  let rois = [];
  let defaults = {};
  let shown = null;  // the replay whose result is on screen
  const range = replayRange({});
  const run = replayRun({signal});
  const area = h("select", {name: "replay_roi", id: "replay-roi"}, h("option", {value: ALL}, "All areas"));
  let sliders = null;
  const sliderSlot = h("div", {}, h("p", {class: "loading"}, "Loading thresholds…"));
  const replayButton = h("button", {type: "button", class: "primary"}, "Replay");
  const suggestButton = h("button", {type: "button"}, "Suggest settings");
  const summary = h("p", {class: "replay-summary", role: "status"});
  const result = h("div", {class: "replay-result", hidden: true});
  const problem = h("p", {class: "form-error", role: "alert"});

  const element = h("div", {class: "replay-panel"},
    h("h3", {}, "What if…"),
    h("p", {class: "muted small"}, "Re-run the frames this camera kept with other settings, and see which visits "
      + "would have been events. Nothing changes until you save."),
    range.element,
    h("div", {class: "field"}, h("label", {for: "replay-roi"}, "Shelf area"), area),
    sliderSlot,
    h("div", {class: "actions"}, replayButton, suggestButton),
    problem, run.element, result);

  const chosenRoi = () => rois.find((roi) => String(roi.id) === area.value) || null;
  const inForce = () => (chosenRoi() ? chosenRoi().effective_thresholds : defaults);
  area.addEventListener("change", () => sliders && sliders.setBase(inForce()));

  function request(kind) {
    const span = range.span();  // throws with words to show
    const body = {device_id: deviceId, since: span.since, until: span.until, roi_id: chosenRoi() ? chosenRoi().id : null};
    if (kind === "replay") body.overrides = sliders.changes();
    return body;
  }

  async function go(kind, button) {
    problem.textContent = "";
    let body;
    try {
      body = request(kind);
    } catch (exc) {
      problem.textContent = exc.message;
      return;
    }
    replayButton.disabled = suggestButton.disabled = true;
    try {
      await busy(button, async () => ended(await run.start(kind, body)));
    } catch (exc) {
      if (exc.name !== "AbortError") problem.textContent = exc.message;
    } finally {
      replayButton.disabled = suggestButton.disabled = false;
    }
  }

  function ended(finished) {
    if (!finished) return;
    if (finished.state === "cancelled") { problem.textContent = "Replay cancelled; nothing was changed."; return; }
    if (finished.state === "failed") { problem.textContent = finished.error || "The replay failed."; return; }
    if (finished.kind === "suggest") { showSuggestion(finished.suggestion); return; }
    shown = finished;
    showReport(finished);
    onResult(finished);
  }

  function showReport(finished) {
    const overrides = finished.overrides || {};
    const roi = rois.find((r) => r.id === finished.roi_id);
    const moved = Object.keys(overrides).length > 0;
    const applyOne = h("button", {type: "button", class: "primary small"}, roi ? `Save for ${roi.name}` : "Save for every area of this camera");
    applyOne.disabled = !moved;
    applyOne.addEventListener("click", () => busy(applyOne, () => apply(finished, roi)));
    const back = h("button", {type: "button", class: "small"}, "Back to live scores");
    back.addEventListener("click", () => { shown = null; result.hidden = true; onClear(); });
    summary.textContent = sentence(finished.report.summary);
    replace(result, summary,
      h("p", {class: "muted small"}, moved ? `Replayed with ${describe(overrides)}.` : "Replayed with the settings in force."),
      h("div", {class: "actions"}, applyOne, back));
    result.hidden = false;
  }

  function showSuggestion(suggestion) {
    const overrides = suggestion.overrides || {};
    const tryIt = h("button", {type: "button", class: "small"}, "Move the sliders there");
    tryIt.hidden = !Object.keys(overrides).length;
    tryIt.addEventListener("click", () => sliders.set(overrides));
    summary.textContent = sentence(suggestion.message);
    replace(result, summary, h("div", {class: "actions"}, tryIt));
    result.hidden = false;
  }

  async function apply(finished, roi) {
    const targets = roi ? [roi] : rois;
    const saved = [];
    try {
      for (const target of targets) {
        saved.push(await api.patch(`${base}/rois/${target.id}`, {thresholds: finished.overrides}));
      }
    } catch (exc) {
      toast(`Could not save: ${exc.message}`, "error");
      return;
    }
    toast(`Saved for ${roi ? roi.name : "every area of this camera"}; the analysis uses them from its next frame.`,
          "success");
    await loadRois();
    onApplied(saved);
  }

  async function loadRois() {
    rois = (await api.get(`${base}/rois`, {signal})).rois;
    const chosen = area.value;
    replace(area, h("option", {value: ALL}, "All areas"),
            rois.map((roi) => h("option", {value: String(roi.id), selected: String(roi.id) === chosen}, roi.name)));
    if (sliders) sliders.setBase(inForce());
  }

  async function load() {
    const [info, kept, last] = await Promise.all([
      api.get("/admin/thresholds", {signal}), api.get(`${base}/replay-range`, {signal}),
      api.get("/admin/replays", {signal}), loadRois()]);
    defaults = info.defaults;
    sliders = replaySliders({base: inForce(), bounds: info.bounds, help: info.help});
    replace(sliderSlot, sliders.element);
    range.setKept(kept);
    replayButton.disabled = suggestButton.disabled = !kept.since;
    const running = last.replay;
    if (running && running.state === "running" && running.device_id === deviceId) {
      replayButton.disabled = suggestButton.disabled = true;
      try {
        ended(await run.follow(running));
      } finally {
        replayButton.disabled = suggestButton.disabled = false;
      }
    }
  }

  replayButton.addEventListener("click", () => go("replay", replayButton));
  suggestButton.addEventListener("click", () => go("suggest", suggestButton));
  return {element, load, shown: () => shown};
}
