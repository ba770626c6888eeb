// The ROI editor's drawing tools: Select / Rectangle / Polygon, with "Close polygon" and
// "Cancel" while drawing, and at its end `extra` (the Undo and Redo buttons).

import {h} from "../dom.js";

/** {element, setTool(tool)} for `editor` (a roiEditor); the pressed button follows the tool. */
export function drawingToolbar(editor, extra = "") {
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
                    Object.values(toolButtons), finishButton, cancelButton, h("span", {class: "spacer"}), extra);
  return {element, setTool};
}
