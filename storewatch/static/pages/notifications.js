// Settings → Notifications: the channels that tell someone when a shelf is touched (webhook,
// Apprise, MQTT), how their last delivery went, add / edit / delete, and "Send a test".

import * as api from "../api.js";
import {h, replace} from "../dom.js";
import {time} from "../format.js";
import {confirmAction, openDialog} from "../widgets/dialog.js";
import {busy, clearErrors, field, showErrors} from "../widgets/fields.js";
import {toast} from "../widgets/toast.js";

const KINDS = {
  webhook: "Webhook",
  apprise: "Apprise (ntfy, Telegram, e-mail …)",
  mqtt: "MQTT / Home Assistant",
};
const URL_HELP = {
  webhook: "The web address (starting with http or https, then the receiver's host, e.g. 192.168.1.20:8123/hook) that gets a signed JSON message.",
  apprise: "One Apprise address, e.g. ntfy://my-shop-topic, tgram://bot-token/chat-id or mailto://user:pass@example.com.",
  mqtt: "Your MQTT broker, e.g. mqtt://user:password@192.168.1.10:1883 (mqtts:// for TLS). Home Assistant finds the cameras by itself.",
};
const VERDICTS = {taken: "Taken", placed: "Placed", moved: "Moved", unchanged: "Unchanged"};

function capital(text) {
  return text ? text[0].toUpperCase() + text.slice(1) : text;
}

/** The last delivery in a few words: "delivered 14:03", "failing: …", "gave up: …". */
export function lastDelivery(last) {
  if (!last) return {text: "Nothing sent yet", kind: "plain"};
  if (last.state === "delivered") return {text: `Delivered ${time(last.delivered_at)}`, kind: "ok"};
  if (last.state === "dead") return {text: `Gave up ${time(last.last_attempt_at)}: ${last.last_error || "no reason given"}`, kind: "bad"};
  return {text: `Failing: ${last.last_error || "not answered yet"} (trying again)`, kind: "warn"};
}

function scope(channel) {
  const parts = [channel.devices ? `camera ${channel.devices.join(", ")}` : "every camera",
                 channel.rois ? `area ${channel.rois.join(", ")}` : "every area"];
  if (channel.cooldown_s) parts.push(`at most once per ${channel.cooldown_s} s per area`);
  if (channel.schedule) parts.push(`only ${channel.schedule}`);
  if (channel.digest_at) parts.push(`a daily digest at ${channel.digest_at}`);
  return parts.join(", ");
}

function channelCard(channel, actions) {
  const last = lastDelivery(channel.last);
  const sends = channel.verdicts.map((v) => VERDICTS[v] || v).join(", ") + (channel.health ? "; health alerts" : "");
  const counts = channel.counts;
  const testLine = h("p", {class: "muted small notify-test-result", role: "status"},
                     channel.last_test ? `Last test ${time(channel.last_test.at)}: ${channel.last_test.message}` : "");
  const test = h("button", {type: "button", class: "small"}, "Send a test");
  test.addEventListener("click", () => busy(test, async () => {
    testLine.textContent = "Sending a test…";
    try {
      const answer = await api.post(`/admin/notify/channels/${channel.id}/test`);
      testLine.textContent = answer.message;
      toast(answer.message, answer.ok ? "success" : "error");
    } catch (error) {
      testLine.textContent = error.message;
    }
  }));
  const edit = h("button", {type: "button", class: "small secondary"}, "Edit");
  edit.addEventListener("click", () => actions.edit(channel));
  const remove = h("button", {type: "button", class: "small danger"}, "Delete");
  remove.addEventListener("click", () => actions.remove(channel));
  return h("article", {class: "card section notify-channel", dataset: {channel: channel.name}},
    h("div", {class: "copy-row"},
      h("h2", {}, channel.name, " ", h("span", {class: "badge plain"}, KINDS[channel.kind] || channel.kind),
        channel.enabled ? "" : h("span", {class: "badge warn"}, "switched off")),
      h("div", {class: "actions"}, test, edit, remove)),
    h("p", {}, "Sends: ", h("strong", {}, sends), h("span", {class: "muted"}, ` — ${scope(channel)}`)),
    h("p", {class: "muted small mono"}, channel.url),
    h("p", {}, "Last delivery: ", h("span", {class: ["badge", last.kind, "notify-last"]}, last.text),
      h("span", {class: "muted small"}, `  waiting ${counts.queued}, delivered ${counts.delivered}, given up ${counts.dead}`)),
    testLine);
}

function channelForm(channel, close) {
  const adding = !channel;
  const kind = h("select", {name: "kind", disabled: !adding},
                 Object.entries(KINDS).map(([value, text]) => h("option", {value, selected: channel && channel.kind === value}, text)));
  const name = h("input", {type: "text", name: "name", value: channel ? channel.name : "", required: true, maxlength: 64,
                           autocomplete: "off"});
  const url = h("input", {type: "text", name: "url", value: "", autocomplete: "off", spellcheck: "false",
                          placeholder: channel ? `kept: ${channel.url}` : "", required: adding});
  const secret = h("input", {type: "password", name: "secret", value: "", autocomplete: "new-password",
                             placeholder: channel && channel.secret ? `kept: ${channel.secret}` : "made for you"});
  const verdictBoxes = Object.entries(VERDICTS).map(([value, text]) => field(text,
    h("input", {type: "checkbox", name: "verdicts", value,
                checked: channel ? channel.verdicts.includes(value) : ["taken", "placed"].includes(value)})));
  const cooldown = h("input", {type: "number", name: "cooldown_s", min: 0, step: "any",
                               value: channel ? channel.cooldown_s : 0, inputmode: "decimal"});
  const schedule = h("input", {type: "text", name: "schedule", value: channel && channel.schedule ? channel.schedule : "",
                               placeholder: "every day", autocomplete: "off"});
  const health = h("input", {type: "checkbox", name: "health", checked: Boolean(channel && channel.health)});
  const healthAnytime = h("input", {type: "checkbox", name: "health_anytime",
                                    checked: Boolean(channel && channel.health_anytime)});
  const digest = h("input", {type: "time", name: "digest_at", value: channel && channel.digest_at ? channel.digest_at : "",
                             step: 60});
  const enabled = h("input", {type: "checkbox", name: "enabled", checked: channel ? channel.enabled : true});
  const urlHelp = h("span", {});
  const secretField = field("Signing secret", secret, channel
    ? "Leave empty to keep the secret it has. The receiver checks X-Storewatch-Signature with it."
    : "Leave empty and one is made for you (shown once). The receiver checks X-Storewatch-Signature with it.");
  const urlField = field("Where to send", url, urlHelp);
  const showKind = () => {
    urlHelp.textContent = URL_HELP[kind.value] + (channel ? " Leave empty to keep the address it has." : "");
    secretField.hidden = kind.value !== "webhook";
  };
  kind.addEventListener("change", showKind);
  showKind();
  const save = h("button", {type: "submit", class: "primary"}, adding ? "Add channel" : "Save");
  const cancel = h("button", {type: "button", class: "secondary"}, "Cancel");
  cancel.addEventListener("click", () => close(undefined));
  const form = h("form", {class: "form notify-form", novalidate: true},
    field("Kind", kind, adding ? "How the message travels. It cannot be changed later." : "A channel keeps its kind."),
    field("Name", name, "So you can tell channels apart, e.g. “Owner's phone”."),
    urlField, secretField,
    h("fieldset", {class: "field"}, h("legend", {}, "Tell me when something was"), verdictBoxes,
      h("p", {class: "field-help"}, "“Taken”: something left the shelf; “Placed”: something was put there.")),
    field("Quiet time per area (seconds)", cooldown, "After a message about a shelf area, wait this long before the next one about it. 0: every time."),
    field("Only at these times", schedule, "Empty: at any time. E.g. “mon-sat 20:00-08:00; sun” for outside opening hours, in the shop's time zone."),
    field("Also tell me when the appliance needs a look", health, "A camera down or silent, the disk almost full, pictures not analysed."),
    field("… even outside these times", healthAnytime, "Off: such a message waits until the times above begin (and is not sent if all is fine again by then)."),
    field("A daily summary at", digest, "Empty: none. Once a day at this time (the shop's time zone): per shelf area, the visits of the last 24 hours and what was taken or placed."),
    field("Switched on", enabled, "Switched off: nothing is sent."),
    h("p", {class: "form-error", role: "alert"}),
    h("div", {class: "actions"}, save, cancel));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    clearErrors(form);
    const body = {
      name: name.value,
      verdicts: [...form.querySelectorAll('input[name="verdicts"]:checked')].map((box) => box.value),
      cooldown_s: cooldown.value === "" ? 0 : Number(cooldown.value),
      schedule: schedule.value.trim() || null,
      health: health.checked,
      health_anytime: healthAnytime.checked,
      digest_at: digest.value || null,
      enabled: enabled.checked,
    };
    if (adding) body.kind = kind.value;
    if (url.value.trim() || adding) body.url = url.value.trim();
    if (kind.value === "webhook" && secret.value) body.secret = secret.value;
    busy(save, async () => {
      try {
        const answer = adding ? await api.post("/admin/notify/channels", body)
          : await api.patch(`/admin/notify/channels/${channel.id}`, body);
        close(answer);
      } catch (error) {
        showErrors(form, error);
      }
    });
  });
  return form;
}

function showSecret(secret) {
  return openDialog({
    title: "The signing secret",
    content: h("div", {},
      h("p", {}, "Give this to the receiver so it can check that messages come from this appliance. It is shown only now."),
      h("p", {class: "mono notify-secret"}, secret)),
    actions: [{label: "Done", value: true, class: "primary"}],
  });
}

export async function render(main, context) {
  document.title = "Notifications · storewatch";
  const list = h("div", {class: "notify-channels"});
  const add = h("button", {type: "button", class: "primary"}, "Add a channel");

  async function reload() {
    const answer = await api.get("/admin/notify/channels", {signal: context.signal});
    if (!answer.channels.length) {
      replace(list, h("p", {class: "card empty"}, "No channels yet. Add one to get a message on your phone, "
                      + "in Home Assistant or at a web address whenever something is taken from a shelf."));
      return;
    }
    replace(list, ...answer.channels.map((channel) => channelCard(channel, {edit: openForm, remove})));
  }

  async function openForm(channel) {
    const answer = await openDialog({
      title: channel ? `Change “${channel.name}”` : "Add a notification channel",
      content: (close) => channelForm(channel, close), wide: true,
    });
    if (!answer) return;
    toast(channel ? "Saved." : `Added “${answer.channel.name}”.`, "success");
    if (answer.secret) await showSecret(answer.secret);
    await reload();
  }

  async function remove(channel) {
    const sure = await confirmAction(`Delete “${channel.name}”?`, "It stops sending at once; messages it still "
                                     + "had to send are dropped.", "Delete", true);
    if (!sure) return;
    try {
      await api.del(`/admin/notify/channels/${channel.id}`);
      toast(`Deleted “${channel.name}”.`, "success");
    } catch (error) {
      toast(capital(error.message), "error");
    }
    await reload();
  }

  add.addEventListener("click", () => openForm(null));
  main.append(
    h("div", {class: "page-header"},
      h("div", {}, h("p", {class: "muted small"}, h("a", {href: "/settings"}, "← Settings")),
        h("h1", {}, "Notifications"),
        h("p", {class: "muted"}, "Where the appliance tells you that a shelf was touched.")),
      h("div", {class: "actions"}, add)),
    list);
  await reload();
}
