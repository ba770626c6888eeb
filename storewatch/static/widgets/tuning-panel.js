// The tuning chart: each ROI's score over time against its start and end thresholds, with
// its interactions shaded and the device's lighting changes marked. Under it, "What if"
// (replay-panel.js): once a replay is done, the charts show its span with the replayed
// scores, thresholds and would-be visits drawn over the real ones.

import * as api from "../api.js";
import {h, replace} from "../dom.js";
import {epochSeconds, number} from "../format.js";
import {lineChart} from "./chart.js";
import {replayPanel, sentence} from "./replay-panel.js";
import {VERDICT_WORDS} from "./verdicts.js";

const SPANS = [["15 min", 900], ["1 h", 3600], ["6 h", 21600], ["24 h", 86400]];
const REFRESH_MS = 15000;
const BAND_KINDS = [{kind: "", label: "visit"}, {kind: "replayed", label: "would-be visit (replay)"}];

const verdictWord = (verdict) => (verdict ? ` · ${VERDICT_WORDS[verdict]?.[0] || verdict}` : "");

/** The replay's part of one ROI's chart: its scores, its thresholds, its would-be visits. */
function replayed(roi, run) {
  if (!run || (run.roi_id !== null && run.roi_id !== roi.id)) return null;
  const report = run.report;
  const thresholds = {...(roi.effective_thresholds || {}), ...(run.overrides || {})};
  const points = report.scores.filter((p) => p.roi_id === roi.id).map((p) => [epochSeconds(p.ts), p.score]);
  const bands = report.replayed.flatMap((visit) => visit.rois.filter((r) => r.roi_id === roi.id).map((r) => ({
    kind: "replayed", start: epochSeconds(visit.start_ts), end: visit.end_ts ? epochSeconds(visit.end_ts) : null,
    label: `would-be visit${verdictWord(r.verdict)}`,
  })));
  return {thresholds, points, bands};
}

function chartOptions(roi, answer, since, until, run) {
  const points = answer.points.filter((p) => p.roi_id === roi.id).map((p) => [epochSeconds(p.ts), p.score]);
  const thresholds = roi.effective_thresholds || {};
  const bands = answer.events.filter((e) => e.roi_id === roi.id).map((e) => ({
    start: epochSeconds(e.start_ts), end: e.end_ts ? epochSeconds(e.end_ts) : null,
    label: `visit${verdictWord(e.verdict)}`,
  }));
  const markers = answer.lighting.map((ts) => ({t: epochSeconds(ts), label: "lighting change"}));
  const lines = [
    {label: `start ${number(thresholds.start_threshold, 3)}`, value: thresholds.start_threshold, color: "#dc2626"},
    {label: `end ${number(thresholds.end_threshold, 3)}`, value: thresholds.end_threshold, color: "#d97706"},
  ];
  const series = [{label: "score", color: "#2563eb", points}];
  const replay = replayed(roi, run);
  if (replay) {
    series.push({label: "replayed score", color: "#059669", points: replay.points});
    bands.push(...replay.bands);
    for (const [name, word, color] of [["start_threshold", "start", "#7c3aed"], ["end_threshold", "end", "#db2777"]]) {
      if (replay.thresholds[name] !== thresholds[name]) {
        lines.push({label: `replayed ${word} ${number(replay.thresholds[name], 3)}`, value: replay.thresholds[name], color});
      }
    }
  }
  return {
    title: `Score of ${roi.name}`, series, thresholds: lines.filter((line) => Number.isFinite(line.value)),
    bands, markers, bandKinds: BAND_KINDS, markerLabel: "lighting change",
    xRange: [since, until], yMin: 0, height: 180, gapSeconds: 300,
    emptyText: roi.enabled ? "No scores in this span" : "This ROI is disabled",
  };
}

function heading(roi) {
  return h("h3", {}, roi.name, roi.enabled ? "" : h("span", {class: "muted small"}, " (disabled)"));
}

/** The panel; `onThresholdsSaved(rois)` hears of ROIs whose thresholds "What if" saved. */
export function tuningPanel({deviceId, signal, onThresholdsSaved = () => {}}) {
  let span = 3600;
  let timer = null;
  let charts = new Map();
  let shownRun = null;  // a done replay drawn over the real scores of its span
  const body = h("div", {class: "tuning-charts"}, h("p", {class: "loading"}, "Loading scores…"));
  const status = h("p", {class: "muted small"});
  const buttons = SPANS.map(([text, seconds]) => {
    const button = h("button", {type: "button", "aria-pressed": String(seconds === span)}, text);
    button.addEventListener("click", () => {
      span = seconds;
      shownRun = null;
      buttons.forEach((b) => b.setAttribute("aria-pressed", String(b === button)));
      refresh();
    });
    return button;
  });
  const element = h("section", {class: "card section", "aria-labelledby": "tuning-heading"},
    h("div", {class: "page-header"},
      h("div", {}, h("h2", {id: "tuning-heading"}, "Tuning"),
        h("p", {class: "muted small"}, "Each ROI's score per frame against its thresholds: an interaction starts "
          + "above the start line and ends when the score stays under the end line.")),
      h("div", {class: "segmented", role: "group", "aria-label": "Time span"}, buttons)),
    body, status);
  const whatIf = replayPanel({
    deviceId, signal,
    onResult(run) { shownRun = run; refresh(); },
    onClear() { shownRun = null; refresh(); },
    onApplied(saved) { onThresholdsSaved(saved); refresh(); },
  });
  element.append(whatIf.element);
  whatIf.load().catch((exc) => {
    if (exc.name !== "AbortError") status.textContent = `Could not load the replay settings: ${exc.message}`;
  });

  /** Redraw the charts in place when the ROIs are the same ones, so nothing jumps. */
  function show(answer, since, until) {
    const sameRois = answer.rois.length === charts.size && answer.rois.every((roi) => charts.has(roi.id));
    if (!sameRois) {
      charts = new Map();
      if (!answer.rois.length) {
        replace(body, h("p", {class: "empty"}, "Draw and save an ROI to see its scores here."));
        return;
      }
      replace(body, answer.rois.map((roi) => {
        const chart = lineChart(chartOptions(roi, answer, since, until, shownRun));
        const title = heading(roi);
        charts.set(roi.id, {chart, title});
        return h("div", {class: "tuning-roi", dataset: {roiId: roi.id}}, title, chart);
      }));
      return;
    }
    for (const roi of answer.rois) {
      const entry = charts.get(roi.id);
      const title = heading(roi);
      entry.title.replaceWith(title);
      entry.title = title;
      entry.chart.update(chartOptions(roi, answer, since, until, shownRun));
    }
  }

  async function refresh() {
    clearTimeout(timer);
    const run = shownRun;
    const until = run ? epochSeconds(run.until) : Date.now() / 1000;
    const since = run ? epochSeconds(run.since) : until - span;
    buttons.forEach((b, i) => b.setAttribute("aria-pressed", String(!run && SPANS[i][1] === span)));
    try {
      const answer = await api.get(`/admin/devices/${encodeURIComponent(deviceId)}/scores`
        + api.query({since: since.toFixed(3), until: until.toFixed(3)}), {signal});
      show(answer, since, until);
      status.textContent = [run ? `Replayed: ${sentence(run.report.summary)}` : "",
        answer.truncated ? "Only the first points of this span are shown; pick a shorter span." : ""].join(" ").trim();
    } catch (exc) {
      if (exc.name === "AbortError") return;
      status.textContent = `Could not load scores: ${exc.message}`;
    }
    if (!signal.aborted && !run) timer = setTimeout(refresh, REFRESH_MS);
  }

  return {element, refresh, stop: () => clearTimeout(timer)};
}
