// The device page's working copies of its ROIs: what is saved, what is new or changed since
// (dirty: the page asks before it is left), saving or deleting one through the API, and
// Undo/Redo over the shapes (roi-history.js): back at what is saved, an ROI is clean again.

import * as api from "../api.js";
import {confirmAction} from "./dialog.js";
import {RoiHistory} from "./roi-history.js";

const copy = (polygon) => polygon.map((p) => [...p]);

/** An ROI as the page edits it: `key` stays for a drawn one until it is saved, `saved` is what the server has. */
export function workingCopy(roi) {
  return {key: `roi-${roi.id}`, id: roi.id, name: roi.name, enabled: roi.enabled,
          polygon: roi.polygon.map((p) => [...p]), thresholds: roi.thresholds || {},
          effective: roi.effective_thresholds || {},
          saved: JSON.stringify([roi.name, roi.enabled, roi.polygon])};
}

/** New, renamed, switched, reshaped, or with threshold boxes changed (`form`: the list's thresholdsForm). */
export function isDirty(roi) {
  return roi.id === null || JSON.stringify([roi.name, roi.enabled, roi.polygon]) !== roi.saved
    || (roi.form && roi.form.dirty());
}

function freeName(rois) {
  const names = new Set(rois.map((r) => r.name));
  let n = rois.length + 1;
  while (names.has(`Shelf area ${n}`)) n += 1;
  return `Shelf area ${n}`;
}

/** The ROIs of the device whose admin API path is `base`; `defaults`: the global thresholds. */
export class RoiEdits {
  constructor(base, saved, defaults) {
    this.base = base;
    this.rois = saved.map(workingCopy);
    this.defaults = defaults;
    this.drawn = 0;
    this.history = new RoiHistory();
    this.shapes = new Map(this.rois.map((r) => [r.key, copy(r.polygon)]));  // each shape as last recorded
  }

  find(key) {
    return this.rois.find((r) => r.key === key) || null;
  }

  get dirty() {
    return this.rois.some(isDirty);
  }

  /** A new ROI with `polygon` and the next free "Shelf area N" name, not saved yet. */
  add(polygon) {
    this.drawn += 1;
    const roi = {key: `new-${this.drawn}`, id: null, name: freeName(this.rois), enabled: true, polygon,
                 thresholds: {}, effective: this.defaults, saved: null};
    this.rois.push(roi);
    this.shapes.set(roi.key, copy(polygon));
    this.history.record({kind: "add", key: roi.key, roi, index: this.rois.length - 1});
    return roi;
  }

  /**
   * The editor has finished an edit of `roi`'s shape (`what`: "corner moved", ...); an
   * arrow press names `merge` so that a run of them is one step. Nothing changed: no step.
   */
  reshaped(roi, what, merge = null) {
    const before = this.shapes.get(roi.key) || copy(roi.polygon);
    if (JSON.stringify(before) === JSON.stringify(roi.polygon)) return;
    this.shapes.set(roi.key, copy(roi.polygon));
    this.history.record({kind: "shape", key: roi.key, before, after: copy(roi.polygon), what, merge});
  }

  /** Take back the last step: {step, roi} (roi: the one it touched, null when it is gone), or null. */
  undo() {
    return this.apply(this.history.undo(), "before");
  }

  /** Do again the last step taken back: {step, roi} or null. */
  redo() {
    return this.apply(this.history.redo(), "after");
  }

  apply(step, side) {
    if (!step) return null;
    if (step.kind === "shape") {
      const roi = this.find(step.key);
      if (roi) {
        roi.polygon = copy(step[side]);
        this.shapes.set(roi.key, copy(roi.polygon));
      }
      return {step, roi};
    }
    const there = (step.kind === "add") === (side === "after");
    this.rois = this.rois.filter((r) => r !== step.roi);
    if (!there) return {step, roi: null};
    this.rois.splice(Math.min(step.index, this.rois.length), 0, step.roi);
    this.shapes.set(step.roi.key, copy(step.roi.polygon));
    return {step, roi: step.roi};
  }

  /** Save `roi` with its thresholds form; returns the saved copy, now in its place. Throws the form's or the API's error. */
  async save(roi) {
    const changes = roi.form.read();
    const shape = {name: roi.name, polygon: roi.polygon, enabled: roi.enabled};
    const answer = roi.id === null
      ? await api.post(`${this.base}/rois`, {...shape, thresholds: Object.fromEntries(
        Object.entries(changes).filter(([, v]) => v !== null))})
      : await api.patch(`${this.base}/rois/${roi.id}`, {...shape, thresholds: changes});
    const fresh = workingCopy(answer);
    this.rois = this.rois.map((r) => (r === roi ? fresh : r));
    this.history.forget(roi.key);  // what is saved is where Undo stops
    this.shapes.delete(roi.key);
    this.shapes.set(fresh.key, copy(fresh.polygon));
    return fresh;
  }

  /** Delete `roi` (a saved one after asking: its past events stay); false when the owner keeps it. */
  async remove(roi) {
    if (roi.id !== null) {
      const sure = await confirmAction("Delete ROI?", `“${roi.name}” and its threshold overrides are deleted; `
        + "its past events stay.", "Delete", true);
      if (!sure) return false;
      await api.del(`${this.base}/rois/${roi.id}`);
      this.history.forget(roi.key);  // gone from the appliance: no Undo brings it back
    } else {
      this.history.record({kind: "remove", key: roi.key, roi, index: this.rois.indexOf(roi)});
    }
    this.rois = this.rois.filter((r) => r !== roi);
    return true;
  }
}
