// One device: its latest frame (refreshing) with the ROI editor on top, the ROI list with
// names, enabled switches and per-ROI thresholds, and the tuning chart under it. Above them,
// a line for each restless ROI (busy without a break, so it starts no events for now).

import * as api from "../api.js";
import {h, replace} from "../dom.js";
import {ago, dateTime} from "../format.js";
import {cameraBanner} from "../widgets/camera-state.js";
import {statusBadge} from "../widgets/device-status.js";
import {busy} from "../widgets/fields.js";
import {poll} from "../poll.js";
import {restlessNotes} from "../widgets/restless-note.js";
import {roiEditor} from "../widgets/roi-editor.js";
import {RoiEdits, isDirty, workingCopy} from "../widgets/roi-edits.js";
import {roiList} from "../widgets/roi-list.js";
import {drawingToolbar} from "../widgets/roi-toolbar.js";
import {roiUndo} from "../widgets/roi-undo.js";
import {toast} from "../widgets/toast.js";
import {tuningPanel} from "../widgets/tuning-panel.js";

const FRAME_REFRESH_MS = 4000;
const DEVICE_REFRESH_MS = 10000;  // restless areas: the analysis needs 30 s either way, so this is soon enough

/** The refreshing latest frame: fetch → blob URL → <img>, swapped only once loaded. */
function frameLoader(deviceId, editor, metaEl, signal) {
  let objectUrl = null;
  let img = null;
  let stopped = false;
  async function load() {
    let response;
    try {
      response = await api.get(`/admin/devices/${encodeURIComponent(deviceId)}/latest-frame`, {signal, raw: true});
    } catch (exc) {
      if (exc.name === "AbortError") return;
      if (exc.status !== 404) throw exc;  // poll() says the frame is not up to date
      if (!img) {
        editor.setBackground(null, "No frame from this device yet. It appears here once the camera uploads one.");
        metaEl.textContent = "";
      }
      return;
    }
    const blob = await response.blob();
    if (stopped) return;
    const next = h("img", {alt: "Latest frame from the camera", draggable: "false"});
    const url = URL.createObjectURL(blob);
    next.src = url;
    try {
      await next.decode();
    } catch (exc) {
      URL.revokeObjectURL(url);
      if (stopped) return;
      throw new Error("The newest frame could not be shown: the picture did not decode.");  // poll() notes it
    }
    if (stopped) { URL.revokeObjectURL(url); return; }
    editor.setBackground(next);
    if (objectUrl) URL.revokeObjectURL(objectUrl);
    objectUrl = url;
    img = next;
    const ts = response.headers.get("X-Capture-Ts");
    replace(metaEl, h("span", {}, `Captured ${dateTime(ts)} (${ago(ts)})`),
            h("span", {}, `${next.naturalWidth}×${next.naturalHeight}`),
            h("span", {}, `capture #${response.headers.get("X-Capture-Id")}`));
  }
  return {
    load,
    stop() {
      stopped = true;
      if (objectUrl) URL.revokeObjectURL(objectUrl);
    },
  };
}

/** The device's name, status and id, with its Events link and "Burst now" (`onBurst(button)`). */
function pageHeader(device, onBurst) {
  return h("div", {class: "page-header"},
    h("div", {}, h("p", {class: "small"}, h("a", {href: "/devices"}, "← Devices")),
      h("h1", {}, device.name, " ", statusBadge(device)),
      h("p", {class: "muted mono small"}, device.id)),
    h("div", {class: "actions"},
      h("a", {class: "button small", href: `/events?device=${encodeURIComponent(device.id)}`}, "Events"),
      h("button", {type: "button", class: "small", onclick: (e) => onBurst(e.currentTarget)}, "Burst now")));
}

/** A button's work, with its failure told in a toast. */
const guarded = (button, work) => busy(button, async () => {
  try {
    await work();
  } catch (exc) {
    toast(exc.message, "error");
  }
});

/**
 * The ROI editor, its toolbar (with Undo and Redo), its hint line and the ROI list, kept in
 * step with `edits` (a RoiEdits); `onSaved()` runs after an ROI is saved or deleted.
 */
function roiWorkbench(edits, thresholdInfo, onSaved) {
  const hint = h("p", {class: "editor-hint", "aria-live": "polite"});
  let undo = null;  // made below, once the list is; the first redraw comes later
  const editor = roiEditor({
    onCreate(polygon) {
      const roi = edits.add(polygon);
      toolbar.setTool("select");
      editor.setRois(edits.rois);
      list.render();
      editor.select(roi.key);
      list.focusName(roi.key);
      hint.textContent = "Name the new ROI, then save it.";
    },
    onChange(roi, what, merge) {
      edits.reshaped(roi, what, merge);
      list.markDirty(roi);
    },
    onSelect: (key) => list.highlight(key),
    onHint: (text) => { hint.textContent = text || ""; },
    onRedraw: () => undo && undo.sync(),
  });

  async function save(roi) {
    const fresh = await edits.save(roi);
    const wasSelected = editor.selected === roi.key;
    editor.setRois(edits.rois);
    list.render();
    if (wasSelected) editor.select(fresh.key);
    onSaved();
  }

  async function remove(roi) {
    if (!(await edits.remove(roi))) return;
    editor.setRois(edits.rois);
    list.render();
    if (roi.id === null) hint.textContent = `“${roi.name}” deleted; Undo brings it back.`;
    onSaved();
  }

  const list = roiList({edits, editor, thresholdInfo, save, remove, run: guarded});
  undo = roiUndo({edits, editor, list, hint});
  const toolbar = drawingToolbar(editor, undo.element);
  return {editor, toolbar, hint, list, undo};
}

/** The frame with the editor on it (left), the ROI list (right). */
function deviceLayout(workbench, frameMeta, frameNote) {
  const {editor, toolbar, hint, list} = workbench;
  return h("div", {class: "device-layout"},
    h("section", {class: "card", "aria-label": "Frame and ROI editor"},
      toolbar.element, editor.element, hint, frameMeta, frameNote),
    h("section", {class: "card", "aria-labelledby": "roi-heading"},
      h("div", {class: "copy-row"}, h("h2", {id: "roi-heading"}, "Regions of interest"), list.saveAllButton),
      list.element));
}

/**
 * Unsaved ROI edits: the app asks before another page (link, back button, log out), the
 * browser before the tab is closed or reloaded. Returns the function that stops the latter.
 */
function guardUnsavedEdits(context, edits) {
  context.guardLeave(() => edits.dirty);
  const beforeUnload = (event) => {
    if (edits.dirty) event.preventDefault();
  };
  window.addEventListener("beforeunload", beforeUnload);
  return () => window.removeEventListener("beforeunload", beforeUnload);
}

export async function render(main, context) {
  const deviceId = context.params.id;
  const base = `/admin/devices/${encodeURIComponent(deviceId)}`;
  const [device, roiAnswer, thresholdInfo] = await Promise.all([
    api.get(base, {signal: context.signal}),
    api.get(`${base}/rois`, {signal: context.signal}),
    api.get("/admin/thresholds", {signal: context.signal}),
  ]);
  document.title = `${device.name} · storewatch`;
  const edits = new RoiEdits(base, roiAnswer.rois, thresholdInfo.defaults);
  const tuning = tuningPanel({deviceId, signal: context.signal, onThresholdsSaved(saved) {
    // "What if" saved thresholds: the list shows them (an area with unsaved edits keeps its copy)
    edits.rois = edits.rois.map((r) => {
      const fresh = saved.find((s) => s.id === r.id);
      return fresh && !isDirty(r) ? workingCopy(fresh) : r;
    });
    workbench.editor.setRois(edits.rois);
    workbench.list.render();
  }});
  const workbench = roiWorkbench(edits, thresholdInfo, () => tuning.refresh());
  const metaEl = h("div", {class: "frame-meta"});
  const frameLoad = frameLoader(deviceId, workbench.editor, metaEl, context.signal);
  const frames = poll(frameLoad.load, {everyMs: FRAME_REFRESH_MS, signal: context.signal});
  const burst = (button) => guarded(button, async () => {
    await api.post(`${base}/burst`);
    toast("Burst requested.", "success");
  });
  const restless = restlessNotes();
  restless.update(device);
  const deviceNow = poll(async () => restless.update(await api.get(base, {signal: context.signal})),
                         {everyMs: DEVICE_REFRESH_MS, signal: context.signal});
  const layout = deviceLayout(workbench, metaEl, frames.note);
  main.append(pageHeader(device, burst), cameraBanner(device), restless.element, deviceNow.note, layout,
              tuning.element);

  workbench.toolbar.setTool("select");
  workbench.editor.setRois(edits.rois);
  workbench.list.render();
  await frames.start({mayFail: true});
  await deviceNow.start({first: async () => {}});  // the device was just loaded
  tuning.refresh();
  const stopGuard = guardUnsavedEdits(context, edits);
  const stopUndoKeys = workbench.undo.listen(layout);
  return () => {
    stopUndoKeys();
    frames.stop();
    deviceNow.stop();
    frameLoad.stop();
    tuning.stop();
    stopGuard();
  };
}
