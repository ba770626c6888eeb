// A small SVG line chart over time: series, dashed threshold lines, shaded bands (interactions),
// vertical markers (lighting changes), a hover/touch/keyboard cursor with a tooltip. No library.

import {h, s} from "../dom.js";
import {number, time} from "../format.js";

const MARGIN = {top: 12, right: 14, bottom: 26, left: 48};
const TIME_STEPS = [60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400];
export const PALETTE = ["#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed", "#db2777", "#0891b2", "#4b5563"];

function niceStep(span, target) {
  const raw = span / target;
  const power = 10 ** Math.floor(Math.log10(raw));
  const unit = [1, 2, 2.5, 5, 10].find((m) => m * power >= raw) || 10;
  return unit * power;
}

function yTicks(min, max, options) {
  let unit = 1;
  if (options.yBytes && max > 0) unit = 1024 ** Math.max(0, Math.floor(Math.log(max) / Math.log(1024)));
  let step = niceStep((max - min) / unit || 1, 4) * unit;
  if (options.yInteger) step = Math.max(1, Math.round(step));
  const ticks = [];
  for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-6; v += step) ticks.push(Number(v.toPrecision(10)));
  return ticks;
}

function timeTicks(t0, t1, width) {
  const wanted = Math.max(2, Math.floor(width / 90));
  const step = TIME_STEPS.find((st) => (t1 - t0) / st <= wanted) || 86400;
  const offset = new Date().getTimezoneOffset() * 60;
  const ticks = [];
  for (let t = Math.ceil((t0 - offset) / step) * step + offset; t <= t1; t += step) ticks.push(t);
  return ticks;
}

function extent(options) {
  let [t0, t1] = options.xRange || [Infinity, -Infinity];
  let yMin = Infinity;
  let yMax = -Infinity;
  for (const serie of options.series) {
    for (const [t, v] of serie.points) {
      if (!options.xRange) { t0 = Math.min(t0, t); t1 = Math.max(t1, t); }
      if (v !== null && Number.isFinite(v)) { yMin = Math.min(yMin, v); yMax = Math.max(yMax, v); }
    }
  }
  for (const line of options.thresholds || []) { yMin = Math.min(yMin, line.value); yMax = Math.max(yMax, line.value); }
  if (!Number.isFinite(yMin)) { yMin = 0; yMax = 1; }
  if (options.yMin !== undefined) yMin = Math.min(options.yMin, yMin);
  if (options.yMax !== undefined) yMax = Math.max(options.yMax, yMax);
  if (yMax === yMin) yMax = yMin + 1;
  yMax += (yMax - yMin) * 0.08;
  if (!Number.isFinite(t0) || t1 <= t0) { t1 = Date.now() / 1000; t0 = t1 - 3600; }
  return {t0, t1, yMin, yMax};
}

function nearestIndex(points, t) {
  let lo = 0;
  let hi = points.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (points[mid][0] < t) lo = mid; else hi = mid;
  }
  return Math.abs(points[lo][0] - t) <= Math.abs(points[hi][0] - t) ? lo : hi;
}

function pathFor(points, x, y, gap) {
  let d = "";
  let last = null;
  for (const [t, v] of points) {
    if (v === null || !Number.isFinite(v)) { last = null; continue; }
    const move = last === null || (gap && t - last > gap);
    d += `${move ? "M" : "L"}${x(t).toFixed(1)},${y(v).toFixed(1)}`;
    last = t;
  }
  return d;
}

function legend(options) {
  const items = options.series.map((serie) => h("span", {}, h("i", {class: "swatch", dataset: {color: serie.color}}), serie.label));
  for (const line of options.thresholds || []) items.push(h("span", {}, h("i", {class: "dashed", dataset: {color: line.color}}), line.label));
  // bands of several kinds (a replay's would-be visits over the real ones) each get a legend entry
  for (const {kind, label} of options.bandKinds || [{kind: "", label: options.bandLabel || "interaction"}]) {
    if ((options.bands || []).some((b) => (b.kind || "") === kind)) items.push(h("span", {}, h("i", {class: ["band", kind]}), label));
  }
  if ((options.markers || []).length) items.push(h("span", {}, h("i", {class: "marker"}), options.markerLabel || "marker"));
  const el = h("div", {class: "legend"}, items);
  el.querySelectorAll("i[data-color]").forEach((i) => {
    i.style.background = i.classList.contains("dashed")
      ? `repeating-linear-gradient(90deg, ${i.dataset.color} 0 4px, transparent 4px 7px)` : i.dataset.color;
  });
  return el;
}

/** A chart element; `chart.update(options)` redraws it with new data. */
export function lineChart(initial) {
  let options = initial;
  let width = 600;
  let cursorT = null;
  const root = h("div", {class: "chart"});
  const tooltip = h("div", {class: "chart-tooltip", hidden: true});
  const svg = s("svg", {role: "img", tabindex: "0", "aria-label": initial.title || "chart"});
  let legendEl = legend(options);
  root.append(svg, tooltip, legendEl);
  let scale = null;

  function draw() {
    const height = options.height || 200;
    const {t0, t1, yMin, yMax} = extent(options);
    const fmt = options.yFormat || ((v) => number(v, 3));
    const ticks = yTicks(yMin, yMax, options);
    const left = Math.max(MARGIN.left, 12 + 6.6 * Math.max(...ticks.map((v) => String(fmt(v)).length)));
    const plotW = Math.max(50, width - left - MARGIN.right);
    const plotH = height - MARGIN.top - MARGIN.bottom;
    const x = (t) => left + ((t - t0) / (t1 - t0)) * plotW;
    const y = (v) => MARGIN.top + plotH - ((v - yMin) / (yMax - yMin)) * plotH;
    scale = {x, t0, t1, plotW, left};
    svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
    svg.setAttribute("height", height);
    const parts = [];
    for (const v of ticks) {
      parts.push(s("line", {class: "grid-line", x1: left, x2: left + plotW, y1: y(v), y2: y(v)}),
                 s("text", {x: left - 6, y: y(v) + 4, "text-anchor": "end"}, fmt(v)));
    }
    for (const t of timeTicks(t0, t1, plotW)) {
      parts.push(s("text", {x: x(t), y: height - 8, "text-anchor": "middle"}, time(t)));
    }
    const axis = s("g", {class: "axis"}, parts,
                   s("line", {class: "axis-line", x1: left, x2: left + plotW, y1: y(yMin), y2: y(yMin)}));
    const bands = (options.bands || []).map((band) => {
      const a = Math.max(t0, band.start);
      const b = Math.min(t1, band.end ?? t1);
      return s("rect", {class: ["band", band.kind], x: x(a), y: MARGIN.top, width: Math.max(4, x(b) - x(a)), height: plotH},
               s("title", {}, band.label || "interaction"));
    });
    const markers = (options.markers || []).filter((m) => m.t >= t0 && m.t <= t1).map((m) =>
      s("line", {class: "marker", x1: x(m.t), x2: x(m.t), y1: MARGIN.top, y2: MARGIN.top + plotH},
        s("title", {}, m.label || "")));
    const thresholds = (options.thresholds || []).map((line) =>
      s("line", {class: "threshold", stroke: line.color, x1: left, x2: left + plotW, y1: y(line.value), y2: y(line.value)}));
    const lines = options.series.map((serie) => (serie.points.length === 1
      ? s("circle", {cx: x(serie.points[0][0]), cy: y(serie.points[0][1]), r: 2.5, fill: serie.color})
      : s("path", {class: "series", stroke: serie.color, d: pathFor(serie.points, x, y, options.gapSeconds)})));
    const empty = options.series.every((serie) => !serie.points.length)
      ? s("text", {class: "no-data", x: left + plotW / 2, y: MARGIN.top + plotH / 2, "text-anchor": "middle"},
          options.emptyText || "No data in this span") : null;
    const cursor = s("g", {class: "cursor-layer"});
    svg.replaceChildren(axis, ...bands, ...thresholds, ...markers, ...lines, empty || "", cursor);
    drawCursor(cursor, y);
  }

  function drawCursor(layer, y) {
    layer.replaceChildren();
    tooltip.hidden = true;
    if (cursorT === null || !scale) return;
    const rows = [];
    for (const serie of options.series) {
      if (!serie.points.length) continue;
      const [t, v] = serie.points[nearestIndex(serie.points, cursorT)];
      if (Math.abs(scale.x(t) - scale.x(cursorT)) > 30) continue;
      layer.append(s("circle", {cx: scale.x(t), cy: y(v), r: 3.5, fill: serie.color}));
      rows.push(`${serie.label}: ${(options.yFormat || ((n) => number(n, 3)))(v)}`);
    }
    const band = (options.bands || []).find((b) => cursorT >= b.start && cursorT <= (b.end ?? scale.t1));
    if (band) rows.push(band.label || "interaction");
    const cx = scale.x(cursorT);
    layer.prepend(s("line", {class: "cursor", x1: cx, x2: cx, y1: MARGIN.top, y2: (options.height || 200) - MARGIN.bottom}));
    tooltip.replaceChildren(h("strong", {}, new Date(cursorT * 1000).toLocaleTimeString()), ...rows.map((r) => h("div", {}, r)));
    tooltip.hidden = false;
    const left = Math.min(Math.max(0, (cx / width) * root.clientWidth + 12), root.clientWidth - tooltip.offsetWidth - 4);
    tooltip.style.left = `${Math.max(0, left)}px`;
    tooltip.style.top = "4px";
  }

  function moveTo(clientX) {
    if (!scale) return;
    const rect = svg.getBoundingClientRect();
    const px = ((clientX - rect.left) / rect.width) * width;
    const t = scale.t0 + ((px - scale.left) / scale.plotW) * (scale.t1 - scale.t0);
    cursorT = Math.min(scale.t1, Math.max(scale.t0, t));
    draw();
  }

  svg.addEventListener("pointermove", (event) => moveTo(event.clientX));
  svg.addEventListener("pointerdown", (event) => moveTo(event.clientX));
  svg.addEventListener("pointerleave", () => { cursorT = null; draw(); });
  svg.addEventListener("blur", () => { cursorT = null; draw(); });
  svg.addEventListener("keydown", (event) => {
    if (!scale || !["ArrowLeft", "ArrowRight", "Home", "End"].includes(event.key)) return;
    event.preventDefault();
    const step = (scale.t1 - scale.t0) / 60;
    if (event.key === "Home") cursorT = scale.t0;
    else if (event.key === "End") cursorT = scale.t1;
    else cursorT = Math.min(scale.t1, Math.max(scale.t0, (cursorT ?? scale.t1) + (event.key === "ArrowLeft" ? -step : step)));
    draw();
  });
  const observer = new ResizeObserver(() => {
    const measured = Math.round(root.clientWidth);
    if (measured > 0 && measured !== width) { width = measured; draw(); }
  });
  observer.observe(root);
  draw();

  root.update = (next) => {
    options = next;
    const fresh = legend(options);
    legendEl.replaceWith(fresh);
    legendEl = fresh;
    draw();
  };
  root.dispose = () => observer.disconnect();
  return root;
}
