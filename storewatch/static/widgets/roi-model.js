// The ROI editor's model: the shapes, the tool, the selection, the drag in progress and the
// polygon being drawn, and every edit a gesture makes. No DOM: it asks `redraw()` to show its
// state, and tells its owner what changed through the editor's callbacks.

import {closedPolygon, closesDraft, nudged, rectangle, roundPolygon, shifted, withCorner,
        withoutCorner} from "./roi-geometry.js";

const TOOL_HINTS = {
  select: "Select an ROI to edit it: drag corners or the whole shape; drag an edge's dot to add a corner.",
  rect: "Drag on the frame to draw a rectangle.",
  polygon: "Click or tap each corner; click the first corner, double-click or press Enter to close it.",
};

export class RoiModel {
  /** `view`: the layer's scale (roi-geometry's `scale`), set by the editor at each redraw. */
  constructor({onCreate, onChange, onSelect, onHint, redraw}) {
    // taken: the corners of the polygon being drawn that Undo took back, for Redo
    this.state = {rois: [], tool: "select", selected: null, vertex: null, drag: null, draft: [], taken: [], hover: null};
    this.view = null;
    this.callbacks = {onCreate, onChange, onSelect, onHint};
    this.redraw = redraw;
  }

  hint(text) {
    if (this.callbacks.onHint) this.callbacks.onHint(text);
  }

  find(key) {
    return this.state.rois.find((r) => r.key === key) || null;
  }

  get current() {
    return this.find(this.state.selected);
  }

  setRois(rois) {
    this.state.rois = rois;
    if (this.state.selected && !this.find(this.state.selected)) this.state.selected = null;
    this.redraw();
  }

  select(key, vertex = null) {
    const changed = key !== this.state.selected;
    this.state.selected = key;
    this.state.vertex = vertex;
    this.redraw();
    if (changed && this.callbacks.onSelect) this.callbacks.onSelect(key);
  }

  setTool(tool) {
    Object.assign(this.state, {tool, draft: [], taken: [], hover: null, drag: null});
    this.redraw();
    this.hint(TOOL_HINTS[tool]);
  }

  /** The owner's edit is done: store its corners rounded and say what it was (`merge`: see RoiEdits.reshaped). */
  changed(roi, what, merge = null) {
    roi.polygon = roundPolygon(roi.polygon);
    this.callbacks.onChange(roi, what, merge);
  }

  // Drawing a polygon corner by corner

  addCorner(p) {
    if (closesDraft(this.state.draft, p, this.view)) {
      this.finishPolygon();
      return;
    }
    this.state.draft.push(p);
    this.state.taken = [];
    this.redraw();
  }

  /** Undo while drawing a polygon: its last corner goes (Redo puts it back); false when none is drawn. */
  takeBackCorner() {
    if (this.state.tool !== "polygon" || !this.state.draft.length) return false;
    this.state.taken.push(this.state.draft.pop());
    this.redraw();
    return true;
  }

  putBackCorner() {
    if (this.state.tool !== "polygon" || !this.state.taken.length) return false;
    this.state.draft.push(this.state.taken.pop());
    this.redraw();
    return true;
  }

  hover(p) {
    if (this.state.tool !== "polygon" || !this.state.draft.length) return;
    this.state.hover = p;
    this.redraw();
  }

  finishPolygon() {
    const polygon = closedPolygon(this.state.draft, this.view);
    if (!polygon) {
      this.hint("A polygon needs at least three corners.");
      return;
    }
    this.state.draft = [];
    this.state.taken = [];
    this.state.hover = null;
    this.callbacks.onCreate(polygon);
  }

  // Dragging: a rectangle, a corner, or a whole shape

  startRectangle(p) {
    this.state.drag = {kind: "rect", start: p, end: p};
  }

  /** The select tool's press on `hit` (roi-layer's hitOf) at `p`; false when it only deselected. */
  grab(hit, p) {
    const roi = this.current;
    if (roi && hit && hit.vertex !== undefined) {
      this.state.vertex = hit.vertex;
      this.state.drag = {kind: "vertex", roi, index: hit.vertex, moved: false, what: "corner moved"};
    } else if (roi && hit && hit.mid !== undefined) {
      const index = hit.mid + 1;
      roi.polygon = withCorner(roi.polygon, index, p);
      this.state.vertex = index;
      this.state.drag = {kind: "vertex", roi, index, moved: true, what: "corner added"};
    } else if (hit && hit.key !== undefined) {
      const shape = this.find(hit.key);
      this.select(shape.key);
      this.state.drag = {kind: "move", roi: shape, start: p, original: shape.polygon.map((q) => [...q]), moved: false,
                         what: "moved"};
    } else {
      this.select(null);
      return false;
    }
    this.redraw();
    return true;
  }

  dragTo(p) {
    const drag = this.state.drag;
    if (drag.kind === "rect") {
      drag.end = p;
    } else if (drag.kind === "vertex") {
      drag.roi.polygon[drag.index] = p;
      drag.moved = true;
    } else if (drag.kind === "move") {
      const moved = shifted(drag.original, p[0] - drag.start[0], p[1] - drag.start[1]);
      drag.roi.polygon = moved.polygon;
      drag.moved = drag.moved || Math.abs(moved.dx) + Math.abs(moved.dy) > 0;
    }
    this.redraw();
  }

  drop() {
    const drag = this.state.drag;
    this.state.drag = null;
    if (!drag) return;
    if (drag.kind === "rect") {
      this.redraw();
      const polygon = rectangle(drag.start, drag.end);
      if (polygon) this.callbacks.onCreate(polygon);
      else this.hint("Drag further to draw a rectangle.");
    } else if (drag.moved) {
      this.changed(drag.roi, drag.what);
      this.redraw();
    }
  }

  // Corners from the keyboard or a double click

  deleteVertex(index) {
    const roi = this.current;
    const polygon = roi && withoutCorner(roi.polygon, index);
    if (!polygon) {
      this.hint("An ROI keeps at least three corners; delete the ROI instead.");
      return;
    }
    roi.polygon = polygon;
    this.state.vertex = null;
    this.changed(roi, "corner deleted");
    this.redraw();
  }

  nextVertex() {
    this.state.vertex += 1;
    this.redraw();
  }

  nudge(key, bigStep) {
    const roi = this.current;
    if (this.state.vertex === null) this.state.vertex = 0;
    roi.polygon[this.state.vertex] = nudged(roi.polygon[this.state.vertex], key, bigStep);
    this.changed(roi, "corner moved", `nudge-${this.state.vertex}`);
    this.redraw();
  }
}
