// Undo and Redo on the device page's ROI editor: two buttons, and the usual keys (Ctrl+Z or
// ⌘Z; Ctrl+Shift+Z, ⇧⌘Z or Ctrl+Y) anywhere on the page but in the fields of its other
// parts. They step through the shapes' history (RoiEdits) or, while a polygon is being drawn,
// its corners. A text box the owner has typed in keeps the browser's own undo for its text.

import {h} from "../dom.js";

const MAC = /Mac|iPhone|iPad/.test(navigator.platform);
const KEYS = MAC ? {undo: "⌘Z", redo: "⇧⌘Z"} : {undo: "Ctrl+Z", redo: "Ctrl+Shift+Z or Ctrl+Y"};
const TEXT_BOX = "input:not([type=checkbox]):not([type=radio]), textarea";
const FIELD = "input, textarea, select";

/** A step in the owner's words: "corner moved on “Shelf area 1”", "“Shelf area 2” drawn". */
function described(step, edits) {
  const roi = step.roi || edits.find(step.key);
  const name = `“${(roi && roi.name) || "unnamed"}”`;
  if (step.kind === "add") return `${name} drawn`;
  if (step.kind === "remove") return `${name} deleted`;
  return step.what === "moved" ? `${name} moved` : `${step.what} on ${name}`;
}

/** Which key press this is: "undo", "redo" or null. */
function shortcut(event) {
  if (!(event.ctrlKey || event.metaKey) || event.altKey) return null;
  const key = event.key.toLowerCase();
  if (key === "z") return event.shiftKey ? "redo" : "undo";
  return key === "y" && event.ctrlKey && !event.shiftKey ? "redo" : null;
}

/**
 * Undo/Redo for `edits` (a RoiEdits) drawn in `editor`, listed in `list` (roi-list.js), told
 * on `hint` (the editor's hint line). Returns {element (the buttons), sync() (after each
 * redraw), listen(root) (the keys; the fields they work in are those inside `root`; returns
 * the function that stops them)}.
 */
export function roiUndo({edits, editor, list, hint}) {
  const undoButton = h("button", {type: "button", class: "small", disabled: true}, "Undo");
  const redoButton = h("button", {type: "button", class: "small", disabled: true}, "Redo");
  undoButton.addEventListener("click", () => run("undo"));
  redoButton.addEventListener("click", () => run("redo"));

  /** The editor and the list show what the step left; the ROI it touched is selected. */
  function show({step, roi}) {
    editor.setRois(edits.rois);
    if (step.kind !== "shape") list.render();
    else if (roi) list.markDirty(roi);
    if (roi) editor.select(roi.key);
  }

  function run(which) {
    if (editor.dragging) return;
    const undo = which === "undo";
    const word = undo ? "Undone" : "Redone";
    if (undo ? editor.takeBackCorner() : editor.putBackCorner()) {  // each says false when it has no corner to move
      hint.textContent = `${word}: the last corner of the polygon being drawn.`;
      return;
    }
    const done = editor.drafting ? null : undo ? edits.undo() : edits.redo();
    if (!done) {
      hint.textContent = undo ? "Nothing to undo." : "Nothing to redo.";
      return;
    }
    show(done);
    hint.textContent = `${word}: ${described(done.step, edits)}.`;
  }

  function sync() {
    const drafting = editor.drafting;
    const {nextUndo, nextRedo} = edits.history;
    const canRedo = editor.canPutBackCorner || (!drafting && nextRedo !== null);
    undoButton.disabled = !drafting && nextUndo === null;
    redoButton.disabled = !canRedo;
    undoButton.title = drafting ? `Undo the last corner (${KEYS.undo})`
      : nextUndo ? `Undo: ${described(nextUndo, edits)} (${KEYS.undo})` : "Nothing to undo";
    redoButton.title = editor.canPutBackCorner ? `Redo the corner (${KEYS.redo})`
      : canRedo ? `Redo: ${described(nextRedo, edits)} (${KEYS.redo})` : "Nothing to redo";
  }

  function listen(root) {
    const typedIn = new WeakSet();  // text boxes typed in since they got focus
    const onInput = (event) => { if (event.target.matches(TEXT_BOX)) typedIn.add(event.target); };
    const onFocus = (event) => typedIn.delete(event.target);
    const onKey = (event) => {
      const which = shortcut(event);
      const target = event.target;
      if (!which || document.querySelector("dialog[open]")) return;
      if (target.matches(FIELD) && !root.contains(target)) return;  // the tuning panel's boxes, ...
      if (target.matches(TEXT_BOX) && typedIn.has(target)) return;
      event.preventDefault();
      run(which);
    };
    document.addEventListener("input", onInput);
    document.addEventListener("focusin", onFocus);
    document.addEventListener("keydown", onKey);
    return () => {
      document.removeEventListener("input", onInput);
      document.removeEventListener("focusin", onFocus);
      document.removeEventListener("keydown", onKey);
    };
  }

  const element = h("div", {class: "toolbar-group", role: "group", "aria-label": "Undo and redo"},
                    undoButton, redoButton);
  return {element, sync, listen};
}
