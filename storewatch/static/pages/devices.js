// Devices: health at a glance per device; add one, rotate its token, disable it, change
// its capture settings, or ask it for a burst now.

import * as api from "../api.js";
import {h, replace} from "../dom.js";
import {ago, bytes, dateTime, number, time} from "../format.js";
import {confirmAction, openDialog} from "../widgets/dialog.js";
import {cameraBanner} from "../widgets/camera-state.js";
import {statusBadge} from "../widgets/device-status.js";
import {busy, clearErrors, field, showErrors} from "../widgets/fields.js";
import {toast} from "../widgets/toast.js";
import {poll} from "../poll.js";
import {tokenPanel} from "../widgets/token-panel.js";
import {editDeviceSettings} from "../widgets/device-settings.js";

const REFRESH_MS = 10000;

function healthFacts(device) {
  const health = device.health || {};
  const fw = device.fw_version || health.fw_version;
  const rssi = health.rssi;
  const temp = health.cpu_temp_c;
  const settings = device.settings || {};
  const rows = [
    ["Last seen", device.last_seen ? h("span", {title: dateTime(device.last_seen)}, ago(device.last_seen)) : "never"],
    ["Capture mode", device.mode === "burst"
      ? `burst until ${time(device.mode_until)}` : `baseline, every ${number(settings.baseline_interval_s, 1)} s`],
    ["Config fetched", device.last_config_fetch ? ago(device.last_config_fetch) : "never"],
    ["Firmware", fw || "—"],
    ["Signal", rssi === undefined || rssi === null ? "—" : `${rssi} dBm`],
    ["Spool", health.spool_frames === undefined ? "—"
      : `${number(health.spool_frames, 0)} frames · ${bytes(health.spool_bytes)}`],
    ["Dropped", health.dropped_frames === undefined ? "—" : number(health.dropped_frames, 0)],
    ["Temperature", temp === undefined || temp === null ? "—" : `${number(temp, 1)} °C`],
    ["Resolution", `${settings.width}×${settings.height} · q${settings.jpeg_quality}`],
  ];
  const list = h("dl", {class: "facts"}, rows.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
  if (health.last_error) {
    return [list, h("p", {class: "alert warn small"}, h("span", {}, h("strong", {}, "Last error"), health.last_error))];
  }
  return list;
}

async function showToken(title, deviceId, token, scheme) {
  await openDialog({title, wide: true, content: tokenPanel({deviceId, token, scheme}),
                    actions: [{label: "Done", value: true, class: "primary"}]});
}

function deviceCard(device, reload) {
  const act = (label, work, cls = "") => {
    const button = h("button", {type: "button", class: ["small", cls]}, label);
    button.addEventListener("click", () => busy(button, async () => {
      try {
        await work();
      } catch (exc) {
        toast(exc.message, "error");
      }
    }));
    return button;
  };
  const path = `/devices/${encodeURIComponent(device.id)}`;
  return h("article", {class: "card device-card", dataset: {device: device.id}},
    h("header", {},
      h("div", {}, h("h2", {}, h("a", {href: path}, device.name)),
        h("div", {class: "muted small mono"}, device.id, device.auth_scheme === "hmac" ? " · HMAC" : "")),
      statusBadge(device)),
    cameraBanner(device),
    healthFacts(device),
    h("div", {class: "actions"},
      h("a", {class: "button small", href: path}, "Frame & ROIs"),
      act("Burst now", async () => {
        const updated = await api.post(`/admin/devices/${encodeURIComponent(device.id)}/burst`);
        toast(`Burst until ${time(updated.mode_until)}.`, "success");
        reload();
      }),
      act("Settings", async () => {
        if (await editDeviceSettings(device)) reload();
      }),
      act("Rotate token", async () => {
        const sure = await confirmAction("Rotate token?", `The current token of ${device.name} stops working at once; `
          + "the device needs the new one.", "Rotate token", true);
        if (!sure) return;
        const answer = await api.post(`/admin/devices/${encodeURIComponent(device.id)}/rotate-token`);
        await showToken(`New token for ${device.name}`, device.id, answer.token, device.auth_scheme);
      }),
      device.enabled
        ? act("Disable", async () => {
          const sure = await confirmAction("Disable device?", `${device.name} will be refused until enabled again.`,
                                           "Disable", true);
          if (!sure) return;
          await api.patch(`/admin/devices/${encodeURIComponent(device.id)}`, {enabled: false});
          reload();
        }, "danger")
        : act("Enable", async () => {
          await api.patch(`/admin/devices/${encodeURIComponent(device.id)}`, {enabled: true});
          reload();
        })));
}

async function addDevice(reload) {
  const name = h("input", {type: "text", name: "name", required: true, maxlength: 200,
                           placeholder: "e.g. Aisle 3 left"});
  const scheme = h("select", {name: "auth_scheme"},
                   h("option", {value: "bearer"}, "Bearer token (Pi, curl)"),
                   h("option", {value: "hmac"}, "HMAC signature (untrusted network)"));
  const submit = h("button", {type: "submit", class: "primary"}, "Add device");
  const created = await openDialog({
    title: "Add a device",
    content: (close) => {
      const form = h("form", {novalidate: true},
        field("Name", name, "Shown in the panel; the id is made from it."),
        field("Authentication", scheme),
        h("p", {class: "form-error", role: "alert"}),
        h("div", {class: "actions"}, submit));
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        clearErrors(form);
        try {
          const answer = await busy(submit, () => api.post("/admin/devices", {name: name.value.trim(),
                                                                                auth_scheme: scheme.value}));
          close(answer);
        } catch (exc) {
          showErrors(form, exc);
        }
      });
      setTimeout(() => name.focus(), 0);
      return form;
    },
  });
  if (!created) return;
  reload();
  await showToken(`${created.device.name} is added`, created.device_id, created.token, created.device.auth_scheme);
}

export async function render(main, context) {
  document.title = "Devices · storewatch";
  const list = h("div", {class: "grid", id: "device-list"}, h("p", {class: "loading"}, "Loading devices…"));
  const summary = h("p", {class: "muted"});
  const reload = async () => {
    const {devices} = await api.get("/admin/devices", {signal: context.signal});
    summary.textContent = `${devices.length} device${devices.length === 1 ? "" : "s"}`;
    if (!devices.length) {
      replace(list, h("div", {class: "card empty"},
                      h("p", {}, "No devices yet. Add one to get a token for the camera."),
                      h("button", {type: "button", class: "primary", onclick: () => addDevice(reload)}, "Add a device")));
      return;
    }
    const focused = document.activeElement && list.contains(document.activeElement) ? document.activeElement : null;
    if (focused && document.querySelector("dialog[open]")) return;
    replace(list, devices.map((d) => deviceCard(d, reload)));
  };
  // left out while a dialog is open or a card's control has the focus: a redraw would lose it
  const refresher = poll(reload, {everyMs: REFRESH_MS, signal: context.signal,
                                  skip: () => Boolean(document.querySelector("dialog[open]"))
                                    || list.contains(document.activeElement)});
  main.append(
    h("div", {class: "page-header"},
      h("div", {}, h("h1", {}, "Devices"), summary),
      h("div", {class: "actions"},
        h("button", {type: "button", class: "primary", onclick: () => addDevice(reload)}, "Add a device"))),
    refresher.note,
    list);
  await refresher.start();
  return refresher.stop;
}
