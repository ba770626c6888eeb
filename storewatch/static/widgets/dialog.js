// Modal dialogs on the native <dialog> element: focus is trapped and Escape closes.

import {h} from "../dom.js";

/** Open a modal with `content`; resolves with the value passed to close() (undefined on Escape). */
export function openDialog({title, content, actions = [], wide = false, className = ""}) {
  return new Promise((resolve) => {
    let result;
    const dialog = h("dialog", {class: ["dialog", wide && "dialog-wide", className], "aria-label": title});
    const close = (value) => {
      result = value;
      dialog.close();
    };
    const header = h("header", {class: "dialog-header"},
                     h("h2", {}, title),
                     h("button", {type: "button", class: "icon-button", "aria-label": "Close",
                                  onclick: () => close(undefined)}, "×"));
    const body = h("div", {class: "dialog-body"});
    body.append(typeof content === "function" ? content(close) : content);
    const footer = actions.length ? h("footer", {class: "dialog-footer"},
      actions.map((action) => h("button", {
        type: "button", class: action.class || "", onclick: () => close(action.value),
      }, action.label))) : null;
    dialog.append(header, body, footer || "");
    dialog.addEventListener("close", () => {
      dialog.remove();
      resolve(result);
    });
    dialog.addEventListener("click", (event) => {
      if (event.target === dialog) close(undefined);
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}

/** "Are you sure?" — resolves true or false. */
export async function confirmAction(title, message, confirmLabel = "Confirm", danger = false) {
  const answer = await openDialog({
    title,
    content: h("p", {}, message),
    actions: [
      {label: "Cancel", value: false, class: "secondary"},
      {label: confirmLabel, value: true, class: danger ? "danger" : "primary"},
    ],
  });
  return answer === true;
}
