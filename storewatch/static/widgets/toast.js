// Short notices at the bottom of the screen ("Saved", errors from background actions).

import {h} from "../dom.js";

const SHOW_MS = {info: 3500, success: 3500, error: 7000};

export function toast(message, kind = "info") {
  const area = document.getElementById("toasts");
  if (!area) return;
  const close = h("button", {type: "button", class: "toast-close", "aria-label": "Dismiss"}, "×");
  const item = h("div", {class: ["toast", `toast-${kind}`], role: kind === "error" ? "alert" : null},
                 h("span", {}, message), close);
  const remove = () => item.remove();
  close.addEventListener("click", remove);
  area.append(item);
  setTimeout(remove, SHOW_MS[kind] || SHOW_MS.info);
}
