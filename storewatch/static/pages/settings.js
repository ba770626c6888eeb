// Appliance settings (retention, disk reserve, limits), the global detection thresholds,
// and the admin password.

import * as api from "../api.js";
import {useTimeZone} from "../appliance-zone.js";
import {h} from "../dom.js";
import {bytes, label} from "../format.js";
import {busy, clearErrors, field, showErrors} from "../widgets/fields.js";
import {thresholdsForm} from "../widgets/thresholds-form.js";
import {toast} from "../widgets/toast.js";

const GROUPS = [
  ["Retention", ["event_image_retention_days", "staging_retention_hours", "staging_max_bytes", "score_history_days"]],
  ["Disk reserve", ["disk_reserve_bytes", "disk_reserve_percent"]],
  ["Ingest and analysis", ["max_body_bytes", "job_max_attempts", "metrics_open"]],
  ["Time", ["time_zone"]],
];
const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
const UNITS = {disk_reserve_bytes: [GiB, "GiB"], staging_max_bytes: [GiB, "GiB"], max_body_bytes: [MiB, "MiB"]};

function settingInput(name, value, schema) {
  if (typeof schema.default === "boolean") return h("input", {type: "checkbox", name, checked: value});
  if (typeof schema.default === "string") {
    return h("input", {type: "text", name, value, autocomplete: "off", spellcheck: "false", dataset: {text: "true"}});
  }
  const [factor, unit] = UNITS[name] || [1, ""];
  const shown = Number((value / factor).toPrecision(6));
  return h("input", {type: "number", name, value: shown, step: "any", inputmode: "decimal", dataset: {factor, unit}});
}

function settingsForm(answer) {
  const submit = h("button", {type: "submit", class: "primary"}, "Save settings");
  const names = Object.keys(answer.schema);
  const grouped = new Set(GROUPS.flatMap(([, list]) => list));
  const groups = [...GROUPS, ["Other", names.filter((n) => !grouped.has(n))]];
  const form = h("form", {class: "card", novalidate: true, "aria-labelledby": "settings-heading"},
    h("h2", {id: "settings-heading"}, "Appliance"),
    groups.filter(([, list]) => list.some((n) => n in answer.schema)).map(([title, list]) =>
      h("fieldset", {}, h("legend", {}, title), h("div", {class: "form-grid"},
        list.filter((n) => n in answer.schema).map((name) => {
          const schema = answer.schema[name];
          const input = settingInput(name, answer.settings[name], schema);
          const unit = UNITS[name] ? ` (${UNITS[name][1]})` : "";
          const range = typeof schema.default === "boolean" ? ""
            : ` Default ${UNITS[name] ? bytes(schema.default) : schema.default}.`;
          return field(label(name.replace(/_bytes$/, "")) + unit, input, schema.help + range);
        })))),
    h("p", {class: "form-error", role: "alert"}),
    h("div", {class: "actions"}, submit));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const changes = {};
    for (const input of form.querySelectorAll("input[name]")) {
      const name = input.name;
      const value = input.type === "checkbox" ? input.checked : input.dataset.text ? input.value.trim()
        : Math.round(Number(input.value) * Number(input.dataset.factor) * 1e6) / 1e6;
      const number = typeof value === "number" && UNITS[name] ? Math.round(value) : value;
      if (number !== answer.settings[name]) changes[name] = number;
    }
    if (!Object.keys(changes).length) {
      toast("Nothing to save.");
      return;
    }
    try {
      const saved = await busy(submit, () => api.patch("/admin/settings", changes));
      answer.settings = saved.settings;
      useTimeZone(saved.settings.time_zone);  // times on every page follow at once
      toast("Settings saved.", "success");
    } catch (exc) {
      showErrors(form, exc);
    }
  });
  return form;
}

function thresholdsCard(info) {
  let form = thresholdsForm({overrides: info.overrides, inherited: info.builtin, bounds: info.bounds, help: info.help});
  const holder = h("div", {}, form.element);
  const submit = h("button", {type: "submit", class: "primary"}, "Save defaults");
  const card = h("form", {class: "card section", novalidate: true, "aria-labelledby": "thresholds-heading"},
    h("h2", {id: "thresholds-heading"}, "Detection defaults"),
    h("p", {class: "muted small"}, "Every ROI uses these unless it overrides them on its device page. "
      + "Empty boxes use the built-in value shown in grey."),
    holder, h("p", {class: "form-error", role: "alert"}), h("div", {class: "actions"}, submit));
  card.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(card);
    try {
      const changes = form.read();
      if (!Object.keys(changes).length) {
        toast("Nothing to save.");
        return;
      }
      const saved = await busy(submit, () => api.patch("/admin/thresholds", changes));
      Object.assign(info, saved);
      form = thresholdsForm({overrides: info.overrides, inherited: info.builtin, bounds: info.bounds, help: info.help});
      holder.replaceChildren(form.element);
      toast("Detection defaults saved; the worker uses them from the next frame.", "success");
    } catch (exc) {
      showErrors(card, exc);
    }
  });
  return card;
}

/**
 * After a password change: the change has ended every session on the appliance, this one
 * too, so logging out only clears the browser's cookie, which opens nothing any more. Its
 * failure (the appliance not answering) is an expected case with nothing for the owner to do:
 * the login page that follows asks for the new password either way.
 */
async function dropEndedSession() {
  try {
    await api.logout();
  } catch {
    // nothing lost: see above
  }
}

function passwordCard(context) {
  const current = h("input", {type: "password", name: "current", autocomplete: "current-password", required: true});
  const next = h("input", {type: "password", name: "new", autocomplete: "new-password", required: true});
  const again = h("input", {type: "password", name: "again", autocomplete: "new-password", required: true});
  const submit = h("button", {type: "submit", class: "primary"}, "Change password");
  const form = h("form", {class: "card section", novalidate: true, "aria-labelledby": "password-heading"},
    h("h2", {id: "password-heading"}, "Admin password"),
    h("p", {class: "muted small"}, "Changing it logs out every session, this one too."),
    h("div", {class: "form-grid"},
      h("input", {type: "text", name: "username", autocomplete: "username", value: "admin", hidden: true}),
      field("Current password", current), field("New password", next), field("New password again", again)),
    h("p", {class: "form-error", role: "alert"}), h("div", {class: "actions"}, submit));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    if (next.value !== again.value) {
      showErrors(form, {message: "", details: [{field: "again", message: "The two new passwords differ."}]});
      again.focus();
      return;
    }
    try {
      await busy(submit, () => api.post("/admin/password", {current: current.value, new: next.value}));
    } catch (exc) {
      showErrors(form, exc);
      return;
    }
    toast("Password changed. Log in with the new one.", "success");
    await dropEndedSession();
    location.assign("/login?password_changed=1");
  });
  return form;
}

export async function render(main, context) {
  document.title = "Settings · storewatch";
  const [settings, thresholds] = await Promise.all([
    api.get("/admin/settings", {signal: context.signal}),
    api.get("/admin/thresholds", {signal: context.signal}),
  ]);
  const notifications = h("section", {class: "card section", "aria-labelledby": "notify-heading"},
    h("h2", {id: "notify-heading"}, "Notifications"),
    h("p", {class: "muted"}, "Get a message (phone, e-mail, Home Assistant, a web address) when a shelf is touched."),
    h("a", {href: "/settings/notifications", class: "button"}, "Notification channels"));
  main.append(h("div", {class: "page-header"}, h("h1", {}, "Settings")),
              settingsForm(settings), notifications, thresholdsCard(thresholds), passwordCard(context));
}
