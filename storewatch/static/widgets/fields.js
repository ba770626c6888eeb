// Labelled form fields, and showing the API's per-field errors next to them.

import {h, uid} from "../dom.js";

/** A label + control + help line; `control` gets an id and aria-describedby. */
export function field(labelText, control, help = "") {
  const id = control.id || uid("field");
  control.id = id;
  const helpId = `${id}-help`;
  const errorId = `${id}-error`;
  control.setAttribute("aria-describedby", `${helpId} ${errorId}`);
  const isCheck = control.type === "checkbox";
  const labelEl = h("label", {for: id}, labelText);
  return h("div", {class: ["field", isCheck && "field-check"]},
           isCheck ? [control, labelEl] : [labelEl, control],
           h("p", {class: "field-help", id: helpId}, help),
           h("p", {class: "field-error", id: errorId, role: "alert"}));
}

/** Clear old errors, then show the ones an ApiError names; returns the general message. */
export function showErrors(form, error) {
  clearErrors(form);
  const unplaced = [];
  const details = [...((error && error.details) || [])];
  const named = !details.length && error && /^([a-z][a-z0-9_]*) /.exec(error.message || "");
  if (named && form.querySelector(`[name="${named[1]}"]`)) details.push({field: named[1], message: error.message});
  for (const detail of details) {
    const control = form.querySelector(`[name="${CSS.escape(detail.field)}"]`);
    const slot = control && document.getElementById(`${control.id}-error`);
    if (slot) {
      slot.textContent = detail.message;
      control.setAttribute("aria-invalid", "true");
    } else {
      unplaced.push(`${detail.field}: ${detail.message}`);
    }
  }
  const summary = form.querySelector(".form-error");
  const message = [error ? error.message : "", ...unplaced].filter(Boolean).join(" ");
  if (summary) summary.textContent = message;
  return message;
}

export function clearErrors(form) {
  form.querySelectorAll(".field-error, .form-error").forEach((el) => { el.textContent = ""; });
  form.querySelectorAll("[aria-invalid]").forEach((el) => el.removeAttribute("aria-invalid"));
}

/** Disable `button` while `work` runs; returns what `work` returns. */
export async function busy(button, work) {
  const was = button.disabled;
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  try {
    return await work();
  } finally {
    button.disabled = was;
    button.removeAttribute("aria-busy");
  }
}
