// Drawing the ROI editor's SVG layer from its model's state, and hit-testing: what a pointer
// landed on (a corner, an edge's midpoint dot, a shape), read back from the drawn nodes.

import {s} from "../dom.js";
import {anchor, midpoint} from "./roi-geometry.js";

const LABEL_CHAR_PX = 7.5;  // about one character of .roi-label, to keep a label inside the frame

/** Every node of the layer: the shapes and their names, the selected one's handles, the draft. */
export function layerNodes(state, view, radius) {
  const nodes = state.rois.flatMap((roi) => shape(roi, roi.key === state.selected, view));
  const selected = state.rois.find((roi) => roi.key === state.selected);
  if (selected && state.tool === "select") nodes.push(...handles(selected, state.vertex, view, radius));
  nodes.push(...draft(state, view, radius));
  return nodes;
}

function shape(roi, selected, view) {
  const points = roi.polygon.map((p) => view.px(p).join(",")).join(" ");
  const [lx, ly] = view.px(anchor(roi.polygon));
  const text = roi.name || "unnamed";
  const x = Math.max(4, Math.min(lx + 6, view.w - LABEL_CHAR_PX * text.length - 4));
  return [s("polygon", {class: ["roi-shape", !roi.enabled && "disabled", selected && "selected"],
                        points, dataset: {key: roi.key}}),
          s("text", {class: "roi-label", x, y: Math.min(ly + 17, view.h - 6)}, text)];
}

/** A dot on each edge (drag it to add a corner), then a circle on each corner. */
function handles(roi, activeVertex, view, radius) {
  const polygon = roi.polygon;
  const mids = polygon.map((p, i) => {
    const [cx, cy] = view.px(midpoint(p, polygon[(i + 1) % polygon.length]));
    return s("circle", {class: "roi-midpoint", cx, cy, r: radius * 0.65, dataset: {mid: i}},
             s("title", {}, "Drag to add a corner"));
  });
  const corners = polygon.map((p, i) => {
    const [cx, cy] = view.px(p);
    return s("circle", {class: ["roi-vertex", activeVertex === i && "active"], cx, cy, r: radius,
                        dataset: {vertex: i}}, s("title", {}, "Drag to move; double-click to delete"));
  });
  return [...mids, ...corners];
}

/** The rectangle being dragged, or the polygon being clicked with a line to the pointer. */
function draft(state, view, radius) {
  const drag = state.drag;
  if (drag && drag.kind === "rect") {
    const [x0, y0] = view.px(drag.start);
    const [x1, y1] = view.px(drag.end);
    return [s("rect", {class: "roi-draft", x: Math.min(x0, x1), y: Math.min(y0, y1),
                       width: Math.abs(x1 - x0), height: Math.abs(y1 - y0)})];
  }
  if (state.tool !== "polygon" || !state.draft.length) return [];
  const points = [...state.draft, ...(state.hover ? [state.hover] : [])].map((p) => view.px(p).join(",")).join(" ");
  return [s("polyline", {class: "roi-draft", points}),
          ...state.draft.map((p, i) => {
            const [cx, cy] = view.px(p);
            return s("circle", {class: "roi-draft-point", cx, cy, r: i === 0 ? radius * 1.2 : radius * 0.8});
          })];
}

/** What `target` (a node of the layer) is: {vertex}, {mid} (an edge's dot), {key} (a shape) or null. */
export function hitOf(target) {
  const data = target.dataset || {};
  if (data.vertex !== undefined) return {vertex: Number(data.vertex)};
  if (data.mid !== undefined) return {mid: Number(data.mid)};
  if (data.key !== undefined) return {key: data.key};
  return null;
}
