// Log in with the admin password; then go where the owner was heading.

import * as api from "../api.js";
import {h} from "../dom.js";
import {busy, clearErrors, field, showErrors} from "../widgets/fields.js";

export async function render(main, context) {
  document.title = "Log in · storewatch";
  const password = h("input", {type: "password", name: "password", autocomplete: "current-password",
                               required: true, autofocus: true});
  const submit = h("button", {type: "submit", class: "primary wide"}, "Log in");
  const form = h("form", {class: "login-form", novalidate: true},
                 field("Admin password", password),
                 h("p", {class: "form-error", role: "alert"}),
                 submit);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    if (!password.value) {
      showErrors(form, {message: "Enter the admin password.", details: []});
      password.focus();
      return;
    }
    try {
      await busy(submit, () => api.login(password.value));
    } catch (exc) {
      showErrors(form, exc);
      password.select();
      return;
    }
    context.loggedIn(context.query.get("next"));
  });
  main.append(h("section", {class: "login-card card"},
                h("div", {class: "login-brand"}, h("img", {src: "/static/icon.svg", alt: "", width: 40, height: 40}),
                  h("span", {}, "storewatch")),
                h("h1", {}, "Log in"),
                context.query.get("password_changed")
                  ? h("p", {class: "alert ok small", role: "status"}, "The password was changed; log in with the new one.") : "",
                context.sessionProblem ? h("p", {class: "alert warn small", role: "alert"}, context.sessionProblem) : "",
                h("p", {class: "muted"}, "The admin password was shown when the appliance first started; "
                  + "`storewatch admin set-password` sets a new one."),
                form));
  context.keepFocus = true;
  password.focus();
}
