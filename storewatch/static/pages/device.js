// One device: its latest frame (refreshing) with the ROI editor on top, the ROI list with
// names, enabled switches and per-ROI thresholds, and the tuning chart under it.

import * as api from "../api.js";
import {h, replace} from "../dom.js";
import {ago, dateTime} from "../format.js";
import {confirmAction} from "../widgets/dialog.js";
import {cameraBanner} from "../widgets/camera-state.js";
import {statusBadge} from "../widgets/device-status.js";
import {busy} from "../widgets/fields.js";
import {poll} from "../poll.js";
import {roiEditor} from "../widgets/roi-editor.js";
import {thresholdsForm} from "../widgets/thresholds-form.js";
import {toast} from "../widgets/toast.js";
import {tuningPanel} from "../widgets/tuning-panel.js";

const FRAME_REFRESH_MS = 4000;

function workingCopy(roi) {
  return {key: `roi-${roi.id}`, id: roi.id, name: roi.name, enabled: roi.enabled,
          polygon: roi.polygon.map((p) => [...p]), thresholds: roi.thresholds || {},
          effective: roi.effective_thresholds || {},
          saved: JSON.stringify([roi.name, roi.enabled, roi.polygon])};
}

function isDirty(roi) {
  return roi.id === null || JSON.stringify([roi.name, roi.enabled, roi.polygon]) !== roi.saved
    || (roi.form && roi.form.dirty());
}

function freeName(rois) {
  const names = new Set(rois.map((r) => r.name));
  let n = rois.length + 1;
  while (names.has(`Shelf area ${n}`)) n += 1;
  return `Shelf area ${n}`;
}

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
    await next.decode().catch(() => {});
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

/** Select / Rectangle / Polygon, with "Close polygon" and "Cancel" while drawing. */
function drawingToolbar(editor) {
  const toolButtons = {
    select: h("button", {type: "button", class: "small"}, "Select"),
    rect: h("button", {type: "button", class: "small"}, "Rectangle"),
    polygon: h("button", {type: "button", class: "small"}, "Polygon"),
  };
  const finishButton = h("button", {type: "button", class: "small primary", hidden: true,
                                    onclick: () => editor.finishPolygon()}, "Close polygon");
  const cancelButton = h("button", {type: "button", class: "small", hidden: true,
                                    onclick: () => setTool("select")}, "Cancel");
  function setTool(tool) {
    editor.setTool(tool);
    for (const [name, button] of Object.entries(toolButtons)) button.setAttribute("aria-pressed", String(name === tool));
    finishButton.hidden = tool !== "polygon";
    cancelButton.hidden = tool === "select";
  }
  for (const [name, button] of Object.entries(toolButtons)) button.addEventListener("click", () => setTool(name));
  const element = h("div", {class: "toolbar", role: "toolbar", "aria-label": "Drawing tools"},
                    Object.values(toolButtons), finishButton, cancelButton);
  return {element, setTool};
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

export async function render(main, context) {
  const deviceId = context.params.id;
  const base = `/admin/devices/${encodeURIComponent(deviceId)}`;
  const [device, roiAnswer, thresholdInfo] = await Promise.all([
    api.get(base, {signal: context.signal}),
    api.get(`${base}/rois`, {signal: context.signal}),
    api.get("/admin/thresholds", {signal: context.signal}),
  ]);
  document.title = `${device.name} · storewatch`;
  let rois = roiAnswer.rois.map(workingCopy);
  let newCounter = 0;

  const hintEl = h("p", {class: "editor-hint", "aria-live": "polite"});
  const metaEl = h("div", {class: "frame-meta"});
  const listEl = h("div", {class: "roi-list", id: "roi-list"});
  const saveAllButton = h("button", {type: "button", class: "primary small", hidden: true}, "Save all");

  const editor = roiEditor({
    onCreate(polygon) {
      newCounter += 1;
      const roi = {key: `new-${newCounter}`, id: null, name: freeName(rois), enabled: true, polygon,
                   thresholds: {}, effective: thresholdInfo.defaults, saved: null};
      rois.push(roi);
      setTool("select");
      editor.setRois(rois);
      renderList();
      editor.select(roi.key);
      const input = listEl.querySelector(`[data-roi="${roi.key}"] input[name=name]`);
      if (input) { input.focus(); input.select(); }
      hintEl.textContent = "Name the new ROI, then save it.";
    },
    onChange(roi) { markDirty(roi); },
    onSelect(key) {
      listEl.querySelectorAll(".roi-item").forEach((el) => el.classList.toggle("selected", el.dataset.roi === key));
      const item = key && listEl.querySelector(`[data-roi="${key}"]`);
      if (item) item.scrollIntoView({block: "nearest", behavior: "smooth"});
    },
    onHint(text) { hintEl.textContent = text || ""; },
  });

  const toolbar = drawingToolbar(editor);
  const setTool = toolbar.setTool;

  function markDirty(roi) {
    const item = listEl.querySelector(`[data-roi="${roi.key}"]`);
    if (item) {
      item.querySelector(".dirty-dot").hidden = !isDirty(roi);
      item.querySelector("button.save").disabled = !isDirty(roi);
    }
    saveAllButton.hidden = !rois.some(isDirty);
  }

  async function save(roi) {
    let changes;
    try {
      changes = roi.form.read();
    } catch (exc) {
      toast(exc.message, "error");
      return;
    }
    let answer;
    if (roi.id === null) {
      const thresholds = Object.fromEntries(Object.entries(changes).filter(([, v]) => v !== null));
      answer = await api.post(`${base}/rois`, {name: roi.name, polygon: roi.polygon, enabled: roi.enabled, thresholds});
    } else {
      answer = await api.patch(`${base}/rois/${roi.id}`, {name: roi.name, polygon: roi.polygon,
                                                          enabled: roi.enabled, thresholds: changes});
    }
    const fresh = workingCopy(answer);
    const wasSelected = editor.selected === roi.key;
    rois = rois.map((r) => (r === roi ? fresh : r));
    editor.setRois(rois);
    renderList();
    if (wasSelected) editor.select(fresh.key);
    tuning.refresh();
  }

  async function remove(roi) {
    if (roi.id !== null) {
      const sure = await confirmAction("Delete ROI?", `“${roi.name}” and its threshold overrides are deleted; `
        + "its past events stay.", "Delete", true);
      if (!sure) return;
      await api.del(`${base}/rois/${roi.id}`);
    }
    rois = rois.filter((r) => r !== roi);
    editor.setRois(rois);
    renderList();
    tuning.refresh();
  }

  const guarded = (button, work) => busy(button, async () => {
    try {
      await work();
    } catch (exc) {
      toast(exc.message, "error");
    }
  });

  function roiItem(roi) {
    const name = h("input", {type: "text", name: "name", value: roi.name, maxlength: 100, "aria-label": "ROI name"});
    name.addEventListener("input", () => { roi.name = name.value; markDirty(roi); editor.render(); });
    name.addEventListener("focus", () => editor.select(roi.key));
    const enabled = h("input", {type: "checkbox", name: "enabled", checked: roi.enabled, id: `${roi.key}-enabled`});
    enabled.addEventListener("change", () => { roi.enabled = enabled.checked; markDirty(roi); editor.render(); });
    roi.form = thresholdsForm({overrides: roi.thresholds, inherited: thresholdInfo.defaults,
                               bounds: thresholdInfo.bounds, help: thresholdInfo.help,
                               onInput: () => markDirty(roi)});
    const saveButton = h("button", {type: "button", class: "small primary save", disabled: !isDirty(roi)},
                         roi.id === null ? "Save new ROI" : "Save");
    saveButton.addEventListener("click", () => guarded(saveButton, async () => {
      await save(roi);
      toast(`Saved “${roi.name}”.`, "success");
    }));
    const deleteButton = h("button", {type: "button", class: "small danger"}, "Delete");
    deleteButton.addEventListener("click", () => guarded(deleteButton, () => remove(roi)));
    const overrideCount = Object.keys(roi.thresholds).length;
    return h("div", {class: ["roi-item", roi.key === editor.selected && "selected"], dataset: {roi: roi.key}},
      h("div", {class: "roi-item-head"}, name,
        h("span", {class: "dirty-dot", hidden: !isDirty(roi)}, roi.id === null ? "new" : "unsaved")),
      h("div", {class: "field field-check"}, enabled, h("label", {for: enabled.id}, "Enabled")),
      h("details", {}, h("summary", {}, "Thresholds",
                         overrideCount ? h("span", {class: "muted small"}, ` · ${overrideCount} overridden`) : ""),
        h("p", {class: "field-help"}, "Empty boxes use the global default shown in grey."),
        roi.form.element),
      h("div", {class: "actions"}, saveButton, deleteButton,
        h("button", {type: "button", class: "small", onclick: () => editor.select(roi.key)}, "Select")));
  }

  function renderList() {
    if (!rois.length) {
      replace(listEl, h("p", {class: "empty"}, "No ROIs yet. Draw a rectangle or polygon on the frame."));
    } else {
      replace(listEl, rois.map(roiItem));
    }
    saveAllButton.hidden = !rois.some(isDirty);
  }
  saveAllButton.addEventListener("click", () => guarded(saveAllButton, async () => {
    for (const roi of rois.filter(isDirty)) await save(roi);
    toast("All ROIs saved.", "success");
  }));

  const tuning = tuningPanel({deviceId, signal: context.signal});
  const frameLoad = frameLoader(deviceId, editor, metaEl, context.signal);
  const frames = poll(frameLoad.load, {everyMs: FRAME_REFRESH_MS, signal: context.signal});

  main.append(
    pageHeader(device, (button) => guarded(button, async () => {
      await api.post(`${base}/burst`);
      toast("Burst requested.", "success");
    })),
    cameraBanner(device),
    h("div", {class: "device-layout"},
      h("section", {class: "card", "aria-label": "Frame and ROI editor"},
        toolbar.element, editor.element, hintEl, metaEl, frames.note),
      h("section", {class: "card", "aria-labelledby": "roi-heading"},
        h("div", {class: "copy-row"}, h("h2", {id: "roi-heading"}, "Regions of interest"), saveAllButton),
        listEl)),
    tuning.element);

  setTool("select");
  editor.setRois(rois);
  renderList();
  await frames.start({mayFail: true});
  tuning.refresh();
  // unsaved ROI edits: the app asks before another page (link, back button, log out), the
  // browser before the tab is closed or reloaded
  context.guardLeave(() => rois.some(isDirty));
  const beforeUnload = (event) => {
    if (rois.some(isDirty)) event.preventDefault();
  };
  window.addEventListener("beforeunload", beforeUnload);
  return () => {
    frames.stop();
    frameLoad.stop();
    tuning.stop();
    window.removeEventListener("beforeunload", beforeUnload);
  };
}
