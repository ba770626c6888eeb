// The ROI editor: an SVG layer over the latest frame. Draw rectangles (drag) and polygons
// (click or tap each corner; click the first one, double-click or press Enter to close), move
// vertices and whole ROIs, add a vertex by dragging an edge's midpoint, delete one with a
// double-click or the Delete key. Works with a mouse, a finger or a pen (pointer events) and
// with the keyboard (arrows nudge the active vertex). Coordinates are normalized 0..1.

import {h, s} from "../dom.js";

const ROUND = 1e4;
const MIN_RECT = 0.01;
const NUDGE = 0.005;

const round = (v) => Math.round(Math.min(1, Math.max(0, v)) * ROUND) / ROUND;
const clamp01 = (v) => Math.min(1, Math.max(0, v));

function coarse() {
  return window.matchMedia("(pointer: coarse)").matches;
}

/** Label position: the top-left-most corner. */
function anchor(polygon) {
  return polygon.reduce((best, p) => (p[1] + p[0] * 0.3 < best[1] + best[0] * 0.3 ? p : best), polygon[0]);
}

export function roiEditor({onCreate, onChange, onSelect, onHint}) {
  const state = {rois: [], tool: "select", selected: null, vertex: null, drag: null, draft: [], hover: null};
  const svg = s("svg", {class: "roi-layer", tabindex: "0", role: "application",
                        "aria-label": "ROI editor: draw and edit regions on the frame"});
  const stage = h("div", {class: "frame-stage"}, h("div", {class: "frame-placeholder"}, "No frame yet"), svg);
  let size = {w: 1, h: 1};

  const hint = (text) => onHint && onHint(text);
  const find = (key) => state.rois.find((r) => r.key === key) || null;
  const px = ([x, y]) => [x * size.w, y * size.h];
  const nearPx = () => (coarse() ? 22 : 12);

  function norm(event) {
    const rect = svg.getBoundingClientRect();
    return [clamp01((event.clientX - rect.left) / rect.width), clamp01((event.clientY - rect.top) / rect.height)];
  }

  function distancePx(a, b) {
    return Math.hypot((a[0] - b[0]) * size.w, (a[1] - b[1]) * size.h);
  }

  function render() {
    size = {w: svg.clientWidth || 1, h: svg.clientHeight || 1};
    svg.setAttribute("viewBox", `0 0 ${size.w} ${size.h}`);
    const radius = coarse() ? 11 : 6.5;
    const nodes = [];
    for (const roi of state.rois) {
      const selected = roi.key === state.selected;
      const points = roi.polygon.map((p) => px(p).join(",")).join(" ");
      nodes.push(s("polygon", {class: ["roi-shape", !roi.enabled && "disabled", selected && "selected"],
                               points, dataset: {key: roi.key}}));
      const [lx, ly] = px(anchor(roi.polygon));
      const text = roi.name || "unnamed";
      const x = Math.max(4, Math.min(lx + 6, size.w - 7.5 * text.length - 4));
      nodes.push(s("text", {class: "roi-label", x, y: Math.min(ly + 17, size.h - 6)}, text));
    }
    const roi = find(state.selected);
    if (roi && state.tool === "select") {
      roi.polygon.forEach((p, i) => {
        const q = roi.polygon[(i + 1) % roi.polygon.length];
        const [mx, my] = px([(p[0] + q[0]) / 2, (p[1] + q[1]) / 2]);
        nodes.push(s("circle", {class: "roi-midpoint", cx: mx, cy: my, r: radius * 0.65, dataset: {mid: i}},
                     s("title", {}, "Drag to add a corner")));
      });
      roi.polygon.forEach((p, i) => {
        const [cx, cy] = px(p);
        nodes.push(s("circle", {class: ["roi-vertex", state.vertex === i && "active"], cx, cy, r: radius,
                                dataset: {vertex: i}}, s("title", {}, "Drag to move; double-click to delete")));
      });
    }
    nodes.push(...renderDraft(radius));
    svg.replaceChildren(...nodes);
    stage.classList.toggle("drawing", state.tool !== "select");
    stage.classList.toggle("grabbing", Boolean(state.selected) || state.tool !== "select");
  }

  function renderDraft(radius) {
    const drag = state.drag;
    if (drag && drag.kind === "rect") {
      const [x0, y0] = px(drag.start);
      const [x1, y1] = px(drag.end);
      return [s("rect", {class: "roi-draft", x: Math.min(x0, x1), y: Math.min(y0, y1),
                         width: Math.abs(x1 - x0), height: Math.abs(y1 - y0)})];
    }
    if (state.tool !== "polygon" || !state.draft.length) return [];
    const points = [...state.draft, ...(state.hover ? [state.hover] : [])].map((p) => px(p).join(",")).join(" ");
    return [s("polyline", {class: "roi-draft", points}),
            ...state.draft.map((p, i) => {
              const [cx, cy] = px(p);
              return s("circle", {class: "roi-draft-point", cx, cy, r: i === 0 ? radius * 1.2 : radius * 0.8});
            })];
  }

  function select(key, vertex = null) {
    const changed = key !== state.selected;
    state.selected = key;
    state.vertex = vertex;
    render();
    if (changed && onSelect) onSelect(key);
  }

  function setTool(tool) {
    state.tool = tool;
    state.draft = [];
    state.hover = null;
    state.drag = null;
    render();
    hint({
      select: "Select an ROI to edit it: drag corners or the whole shape; drag an edge's dot to add a corner.",
      rect: "Drag on the frame to draw a rectangle.",
      polygon: "Click or tap each corner; click the first corner, double-click or press Enter to close it.",
    }[tool]);
  }

  function finishPolygon() {
    const points = state.draft.filter((p, i, all) => i === 0 || distancePx(p, all[i - 1]) > 3);
    if (points.length > 3 && distancePx(points[0], points[points.length - 1]) < nearPx()) points.pop();
    if (points.length < 3) {
      hint("A polygon needs at least three corners.");
      return;
    }
    state.draft = [];
    state.hover = null;
    onCreate(points.map(([x, y]) => [round(x), round(y)]));
  }

  function changed(roi) {
    roi.polygon = roi.polygon.map(([x, y]) => [round(x), round(y)]);
    onChange(roi);
  }

  function deleteVertex(roi, index) {
    if (roi.polygon.length <= 3) {
      hint("An ROI keeps at least three corners; delete the ROI instead.");
      return;
    }
    roi.polygon = roi.polygon.filter((_, i) => i !== index);
    state.vertex = null;
    changed(roi);
    render();
  }

  function pointerDownSelect(event, p) {
    const target = event.target;
    const roi = find(state.selected);
    if (roi && target.dataset.vertex !== undefined) {
      state.vertex = Number(target.dataset.vertex);
      state.drag = {kind: "vertex", roi, index: state.vertex, moved: false};
    } else if (roi && target.dataset.mid !== undefined) {
      const index = Number(target.dataset.mid) + 1;
      roi.polygon = [...roi.polygon.slice(0, index), p, ...roi.polygon.slice(index)];
      state.vertex = index;
      state.drag = {kind: "vertex", roi, index, moved: true};
    } else if (target.dataset.key !== undefined) {
      const hit = find(target.dataset.key);
      select(hit.key);
      state.drag = {kind: "move", roi: hit, start: p, original: hit.polygon.map((q) => [...q]), moved: false};
    } else {
      select(null);
      return;
    }
    render();
  }

  svg.addEventListener("pointerdown", (event) => {
    if (event.pointerType === "mouse" && event.button !== 0) return;
    const p = norm(event);
    svg.focus({preventScroll: true});
    if (state.tool === "rect") {
      state.drag = {kind: "rect", start: p, end: p};
    } else if (state.tool === "polygon") {
      if (state.draft.length >= 3 && distancePx(p, state.draft[0]) < nearPx()) {
        finishPolygon();
        return;
      }
      state.draft.push(p);
      render();
      return;
    } else {
      pointerDownSelect(event, p);
    }
    if (state.drag) {
      svg.setPointerCapture(event.pointerId);
      event.preventDefault();
    }
  });

  svg.addEventListener("pointermove", (event) => {
    const p = norm(event);
    const drag = state.drag;
    if (!drag) {
      if (state.tool === "polygon" && state.draft.length) {
        state.hover = p;
        render();
      }
      return;
    }
    if (drag.kind === "rect") {
      drag.end = p;
    } else if (drag.kind === "vertex") {
      drag.roi.polygon[drag.index] = p;
      drag.moved = true;
    } else if (drag.kind === "move") {
      let dx = p[0] - drag.start[0];
      let dy = p[1] - drag.start[1];
      for (const [x, y] of drag.original) {
        dx = Math.min(1 - x, Math.max(-x, dx));
        dy = Math.min(1 - y, Math.max(-y, dy));
      }
      drag.roi.polygon = drag.original.map(([x, y]) => [x + dx, y + dy]);
      drag.moved = drag.moved || Math.abs(dx) + Math.abs(dy) > 0;
    }
    render();
  });

  const endDrag = () => {
    const drag = state.drag;
    state.drag = null;
    if (!drag) return;
    if (drag.kind === "rect") {
      const [x0, y0] = drag.start;
      const [x1, y1] = drag.end;
      render();
      if (Math.abs(x1 - x0) < MIN_RECT || Math.abs(y1 - y0) < MIN_RECT) {
        hint("Drag further to draw a rectangle.");
        return;
      }
      const [l, r, t, b] = [Math.min(x0, x1), Math.max(x0, x1), Math.min(y0, y1), Math.max(y0, y1)];
      onCreate([[l, t], [r, t], [r, b], [l, b]].map(([x, y]) => [round(x), round(y)]));
    } else if (drag.moved) {
      changed(drag.roi);
      render();
    }
  };
  svg.addEventListener("pointerup", endDrag);
  svg.addEventListener("pointercancel", endDrag);

  svg.addEventListener("dblclick", (event) => {
    if (state.tool === "polygon") {
      finishPolygon();
      return;
    }
    const roi = find(state.selected);
    if (roi && event.target.dataset.vertex !== undefined) deleteVertex(roi, Number(event.target.dataset.vertex));
  });

  svg.addEventListener("keydown", (event) => {
    const roi = find(state.selected);
    if (event.key === "Escape") {
      if (state.tool !== "select") setTool("select");
      else select(null);
    } else if (event.key === "Enter" && state.tool === "polygon") {
      finishPolygon();
    } else if ((event.key === "Delete" || event.key === "Backspace") && roi && state.vertex !== null) {
      deleteVertex(roi, state.vertex);
    } else if (event.key === "Tab" && roi && !event.shiftKey && state.vertex !== null
               && state.vertex < roi.polygon.length - 1) {
      state.vertex += 1;
      render();
    } else if (event.key.startsWith("Arrow") && roi) {
      if (state.vertex === null) state.vertex = 0;
      const step = event.shiftKey ? NUDGE * 4 : NUDGE;
      const [x, y] = roi.polygon[state.vertex];
      const delta = {ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step]}[event.key];
      roi.polygon[state.vertex] = [clamp01(x + delta[0]), clamp01(y + delta[1])];
      changed(roi);
      render();
    } else {
      return;
    }
    event.preventDefault();
  });

  new ResizeObserver(render).observe(stage);

  return {
    element: stage,
    setRois(rois) {
      state.rois = rois;
      if (state.selected && !find(state.selected)) state.selected = null;
      render();
    },
    select,
    setTool,
    get tool() { return state.tool; },
    get selected() { return state.selected; },
    get drafting() { return state.tool === "polygon" && state.draft.length > 0; },
    finishPolygon,
    /** Show `img` (a loaded <img>) under the layer, or the placeholder text when null. */
    setBackground(img, text = "No frame yet") {
      const current = stage.firstElementChild;
      const next = img || h("div", {class: "frame-placeholder"}, text);
      if (current !== next) current.replaceWith(next);
      render();
    },
    render,
  };
}
