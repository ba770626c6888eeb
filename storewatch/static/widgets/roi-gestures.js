// The ROI editor's input: pointer events (a mouse, a finger or a pen) and keys on its SVG
// layer, turned into the model's edits (roi-model.js).

import {clamp01} from "./roi-geometry.js";
import {hitOf} from "./roi-layer.js";

const DOUBLE_MS = 500;  // a second press this soon, this near (the scale's `near`), is a double click

/** Listen on `svg` and edit `model` (a RoiModel). */
export function wireGestures(svg, model) {
  const at = (event) => {
    const rect = svg.getBoundingClientRect();
    return [clamp01((event.clientX - rect.left) / rect.width), clamp01((event.clientY - rect.top) / rect.height)];
  };
  let last = null;  // the previous press: {time, p, tool}
  svg.addEventListener("pointerdown", (event) => {
    if (event.pointerType === "mouse" && event.button !== 0) return;
    const p = at(event);
    const double = last !== null && event.timeStamp - last.time < DOUBLE_MS && last.tool === model.state.tool
      && model.view.distancePx(p, last.p) < model.view.near;
    last = double ? null : {time: event.timeStamp, p, tool: model.state.tool};
    if (double && doublePress(model, event)) event.preventDefault();
    else pointerDown(svg, model, event, p);
  });
  svg.addEventListener("pointermove", (event) => {
    if (model.state.drag) model.dragTo(at(event));
    else model.hover(at(event));
  });
  svg.addEventListener("pointerup", () => model.drop());
  svg.addEventListener("pointercancel", () => model.drop());
  svg.addEventListener("keydown", (event) => {
    if (keyDown(model, event)) event.preventDefault();
  });
}

function pointerDown(svg, model, event, p) {
  svg.focus({preventScroll: true});
  const tool = model.state.tool;
  if (tool === "polygon") {
    model.addCorner(p);
    return;
  }
  if (tool === "rect") model.startRectangle(p);
  else model.grab(hitOf(event.target), p);
  if (model.state.drag) {  // the drag goes on outside the layer, until the button is let go
    svg.setPointerCapture(event.pointerId);
    event.preventDefault();
  }
}

/**
 * A double click or tap closes the polygon being drawn, or deletes the corner under it. Told
 * from two presses, not by the browser's dblclick: each press redraws the layer, so the two
 * land on different nodes and the browser sends no dblclick. False: a press like any other.
 */
function doublePress(model, event) {
  if (model.state.tool === "polygon") {
    model.finishPolygon();
    return true;
  }
  const hit = hitOf(event.target);
  if (model.state.tool !== "select" || !model.current || !hit || hit.vertex === undefined) return false;
  model.deleteVertex(hit.vertex);
  return true;
}

/** Escape, Enter, Delete, Tab and the arrows; true when the key was the editor's. */
function keyDown(model, event) {
  const {tool, vertex} = model.state;
  const roi = model.current;
  if (event.key === "Escape") {
    if (tool !== "select") model.setTool("select");
    else model.select(null);
  } else if (event.key === "Enter" && tool === "polygon") {
    model.finishPolygon();
  } else if ((event.key === "Delete" || event.key === "Backspace") && roi && vertex !== null) {
    model.deleteVertex(vertex);
  } else if (event.key === "Tab" && roi && !event.shiftKey && vertex !== null && vertex < roi.polygon.length - 1) {
    model.nextVertex();
  } else if (event.key.startsWith("Arrow") && roi) {
    model.nudge(event.key, event.shiftKey);
  } else {
    return false;
  }
  return true;
}
