// The ROI editor: an SVG layer over the latest frame. Draw rectangles (drag) and polygons
// (click or tap each corner; click the first one, double-click or press Enter to close), move
// vertices and whole ROIs, add a vertex by dragging an edge's midpoint, delete one with a
// double-click or the Delete key. Works with a mouse, a finger or a pen (pointer events) and
// with the keyboard (arrows nudge the active vertex). Coordinates are normalized 0..1.
//
// Its parts: roi-geometry.js (points, shapes, the scale to pixels), roi-model.js (the state
// and every edit), roi-layer.js (drawing it, hit-testing), roi-gestures.js (pointer and keys).
// Undo and Redo sit beside it, over the page's working copies: roi-history.js, roi-undo.js.

import {h, s} from "../dom.js";
import {wireGestures} from "./roi-gestures.js";
import {scale} from "./roi-geometry.js";
import {layerNodes} from "./roi-layer.js";
import {RoiModel} from "./roi-model.js";

const coarse = () => window.matchMedia("(pointer: coarse)").matches;  // a finger needs bigger targets

/**
 * `onChange(roi, what, merge)` after each finished edit of a shape; `onRedraw()` after every
 * redraw (the toolbar's Undo and Redo follow the drawing state through it).
 */
export function roiEditor({onCreate, onChange, onSelect, onHint, onRedraw = () => {}}) {
  const svg = s("svg", {class: "roi-layer", tabindex: "0", role: "application",
                        "aria-label": "ROI editor: draw and edit regions on the frame"});
  const stage = h("div", {class: "frame-stage"}, h("div", {class: "frame-placeholder"}, "No frame yet"), svg);
  const model = new RoiModel({onCreate, onChange, onSelect, onHint, redraw: render});
  model.view = scale(1, 1, 12);

  function render() {
    const view = scale(svg.clientWidth || 1, svg.clientHeight || 1, coarse() ? 22 : 12);
    model.view = view;
    svg.setAttribute("viewBox", `0 0 ${view.w} ${view.h}`);
    svg.replaceChildren(...layerNodes(model.state, view, coarse() ? 11 : 6.5));
    const {tool, selected} = model.state;
    stage.classList.toggle("drawing", tool !== "select");
    stage.classList.toggle("grabbing", Boolean(selected) || tool !== "select");
    onRedraw();
  }

  wireGestures(svg, model);
  new ResizeObserver(render).observe(stage);

  return {
    element: stage,
    setRois: (rois) => model.setRois(rois),
    select: (key, vertex = null) => model.select(key, vertex),
    setTool: (tool) => model.setTool(tool),
    get tool() { return model.state.tool; },
    get selected() { return model.state.selected; },
    get drafting() { return model.state.tool === "polygon" && model.state.draft.length > 0; },
    get dragging() { return model.state.drag !== null; },
    get canPutBackCorner() { return model.state.tool === "polygon" && model.state.taken.length > 0; },
    finishPolygon: () => model.finishPolygon(),
    takeBackCorner: () => model.takeBackCorner(),
    putBackCorner: () => model.putBackCorner(),
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
