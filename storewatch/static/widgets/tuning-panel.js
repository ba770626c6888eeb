// The tuning chart: each ROI's score over time against its start and end thresholds, with
// its interactions shaded and the device's lighting changes marked.

import * as api from "../api.js";
import {h, replace} from "../dom.js";
import {epochSeconds, number} from "../format.js";
import {lineChart} from "./chart.js";
import {VERDICT_WORDS} from "./verdicts.js";

const SPANS = [["15 min", 900], ["1 h", 3600], ["6 h", 21600], ["24 h", 86400]];
const REFRESH_MS = 15000;

function chartOptions(roi, answer, since, until) {
  const points = answer.points.filter((p) => p.roi_id === roi.id).map((p) => [epochSeconds(p.ts), p.score]);
  const thresholds = roi.effective_thresholds || {};
  const bands = answer.events.filter((e) => e.roi_id === roi.id).map((e) => ({
    start: epochSeconds(e.start_ts), end: e.end_ts ? epochSeconds(e.end_ts) : null,
    label: `visit${e.verdict ? ` · ${VERDICT_WORDS[e.verdict]?.[0] || e.verdict}` : ""}`,
  }));
  const markers = answer.lighting.map((ts) => ({t: epochSeconds(ts), label: "lighting change"}));
  const options = {
    title: `Score of ${roi.name}`,
    series: [{label: "score", color: "#2563eb", points}],
    thresholds: [
      {label: `start ${number(thresholds.start_threshold, 3)}`, value: thresholds.start_threshold, color: "#dc2626"},
      {label: `end ${number(thresholds.end_threshold, 3)}`, value: thresholds.end_threshold, color: "#d97706"},
    ].filter((t) => Number.isFinite(t.value)),
    bands, markers, bandLabel: "visit", markerLabel: "lighting change",
    xRange: [since, until], yMin: 0, height: 180, gapSeconds: 300,
    emptyText: roi.enabled ? "No scores in this span" : "This ROI is disabled",
  };
  return options;
}

function heading(roi) {
  return h("h3", {}, roi.name, roi.enabled ? "" : h("span", {class: "muted small"}, " (disabled)"));
}

export function tuningPanel({deviceId, signal}) {
  let span = 3600;
  let timer = null;
  let charts = new Map();
  const body = h("div", {class: "tuning-charts"}, h("p", {class: "loading"}, "Loading scores…"));
  const status = h("p", {class: "muted small"});
  const buttons = SPANS.map(([text, seconds]) => {
    const button = h("button", {type: "button", "aria-pressed": String(seconds === span)}, text);
    button.addEventListener("click", () => {
      span = seconds;
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
        const chart = lineChart(chartOptions(roi, answer, since, until));
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
      entry.chart.update(chartOptions(roi, answer, since, until));
    }
  }

  async function refresh() {
    clearTimeout(timer);
    const until = Date.now() / 1000;
    const since = until - span;
    try {
      const answer = await api.get(`/admin/devices/${encodeURIComponent(deviceId)}/scores`
        + api.query({since: since.toFixed(3), until: until.toFixed(3)}), {signal});
      show(answer, since, until);
      status.textContent = answer.truncated ? "Only the first points of this span are shown; pick a shorter span." : "";
    } catch (exc) {
      if (exc.name === "AbortError") return;
      status.textContent = `Could not load scores: ${exc.message}`;
    }
    if (!signal.aborted) timer = setTimeout(refresh, REFRESH_MS);
  }

  return {element, refresh, stop: () => clearTimeout(timer)};
}
