// The device page's list of ROIs beside the editor: each with its name, an enabled switch,
// its threshold overrides, an unsaved mark, Save, Delete and Select; "Save all" above it.

import {h, replace} from "../dom.js";
import {isDirty} from "./roi-edits.js";
import {thresholdsForm} from "./thresholds-form.js";
import {toast} from "./toast.js";

/**
 * The list for `edits` (a RoiEdits) next to `editor`. `save(roi)` and `remove(roi)` are the
 * page's (they redraw); `run(button, work)` runs a button's work, saying when it fails.
 * Returns {element, saveAllButton, render(), markDirty(roi), highlight(key), focusName(key)}.
 */
export function roiList({edits, editor, thresholdInfo, save, remove, run}) {
  const element = h("div", {class: "roi-list", id: "roi-list"});
  const saveAllButton = h("button", {type: "button", class: "primary small", hidden: true}, "Save all");
  const itemOf = (key) => element.querySelector(`[data-roi="${key}"]`);

  function markDirty(roi) {
    const item = itemOf(roi.key);
    if (item) {
      item.querySelector(".dirty-dot").hidden = !isDirty(roi);
      item.querySelector("button.save").disabled = !isDirty(roi);
    }
    saveAllButton.hidden = !edits.dirty;
  }

  function render() {
    if (!edits.rois.length) {
      replace(element, h("p", {class: "empty"}, "No ROIs yet. Draw a rectangle or polygon on the frame."));
    } else {
      replace(element, edits.rois.map((roi) => roiItem(roi, {editor, thresholdInfo, markDirty, save, remove, run})));
    }
    saveAllButton.hidden = !edits.dirty;
  }

  saveAllButton.addEventListener("click", () => run(saveAllButton, async () => {
    for (const roi of edits.rois.filter(isDirty)) await save(roi);
    toast("All ROIs saved.", "success");
  }));

  return {
    element, saveAllButton, render, markDirty,
    highlight(key) {
      element.querySelectorAll(".roi-item").forEach((el) => el.classList.toggle("selected", el.dataset.roi === key));
      const item = key && itemOf(key);
      if (item) item.scrollIntoView({block: "nearest", behavior: "smooth"});
    },
    focusName(key) {
      const input = element.querySelector(`[data-roi="${key}"] input[name=name]`);
      if (input) { input.focus(); input.select(); }
    },
  };
}

/**
 * One ROI's row; editing it marks it dirty and redraws the editor. Sets `roi.form` once per
 * working copy: a row drawn again (another ROI drawn, an Undo) keeps the boxes as typed.
 */
function roiItem(roi, {editor, thresholdInfo, markDirty, save, remove, run}) {
  const name = h("input", {type: "text", name: "name", value: roi.name, maxlength: 100, "aria-label": "ROI name"});
  name.addEventListener("input", () => { roi.name = name.value; markDirty(roi); editor.render(); });
  name.addEventListener("focus", () => editor.select(roi.key));
  const enabled = h("input", {type: "checkbox", name: "enabled", checked: roi.enabled, id: `${roi.key}-enabled`});
  enabled.addEventListener("change", () => { roi.enabled = enabled.checked; markDirty(roi); editor.render(); });
  roi.form = roi.form || thresholdsForm({overrides: roi.thresholds, inherited: thresholdInfo.defaults,
                                        bounds: thresholdInfo.bounds, help: thresholdInfo.help,
                                        onInput: () => markDirty(roi)});
  const saveButton = h("button", {type: "button", class: "small primary save", disabled: !isDirty(roi)},
                       roi.id === null ? "Save new ROI" : "Save");
  saveButton.addEventListener("click", () => run(saveButton, async () => {
    await save(roi);
    toast(`Saved “${roi.name}”.`, "success");
  }));
  const deleteButton = h("button", {type: "button", class: "small danger"}, "Delete");
  deleteButton.addEventListener("click", () => run(deleteButton, () => remove(roi)));
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
