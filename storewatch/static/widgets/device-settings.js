// The capture-settings dialog of one device: intervals, JPEG quality, resolution, motion trigger.

import * as api from "../api.js";
import {h} from "../dom.js";
import {openDialog} from "./dialog.js";
import {busy, clearErrors, field, showErrors} from "./fields.js";
import {toast} from "./toast.js";

const NUMBER_FIELDS = [
  ["baseline_interval_s", "Baseline interval (s)", "Seconds between frames when nothing happens.", "0.1"],
  ["burst_interval_s", "Burst interval (s)", "Seconds between frames during an interaction.", "0.05"],
  ["burst_hold_s", "Burst hold (s)", "Burst continues this long after the last activity.", "1"],
  ["jpeg_quality", "JPEG quality", "1–100; 85 is a good balance.", "1"],
  ["config_poll_interval_s", "Config poll (s)", "How often the device asks for its config.", "1"],
  ["heartbeat_interval_s", "Heartbeat (s)", "How often the device reports its health.", "1"],
  ["motion_threshold", "Motion threshold", "Fraction of ROI pixels that must change to go to burst.", "0.001"],
];
const RESOLUTIONS = [[640, 480], [1280, 720], [1280, 960], [1640, 1232], [1920, 1080], [2592, 1944], [3280, 2464]];

function numberInput(name, value, step) {
  return h("input", {type: "number", name, value, step, inputmode: "decimal", required: true});
}

function resolutionFields(settings) {
  const width = numberInput("width", settings.width, "1");
  const height = numberInput("height", settings.height, "1");
  const preset = h("select", {name: "preset"},
    h("option", {value: ""}, "Custom"),
    RESOLUTIONS.map(([w, hgt]) => h("option", {value: `${w}x${hgt}`, selected: w === settings.width && hgt === settings.height},
                                    `${w} × ${hgt}`)));
  preset.addEventListener("change", () => {
    if (!preset.value) return;
    const [w, hgt] = preset.value.split("x");
    width.value = w;
    height.value = hgt;
  });
  const sync = () => { preset.value = RESOLUTIONS.some(([w, hgt]) => `${w}x${hgt}` === `${width.value}x${height.value}`) ? `${width.value}x${height.value}` : ""; };
  width.addEventListener("input", sync);
  height.addEventListener("input", sync);
  return [field("Resolution", preset), field("Width (px)", width), field("Height (px)", height)];
}

/** Resolves true when the settings were saved. */
export async function editDeviceSettings(device) {
  const settings = device.settings || {};
  const submit = h("button", {type: "submit", class: "primary"}, "Save settings");
  const motion = h("input", {type: "checkbox", name: "motion_trigger_enabled", checked: settings.motion_trigger_enabled});
  return (await openDialog({
    title: `Capture settings · ${device.name}`,
    wide: true,
    content: (close) => {
      const form = h("form", {novalidate: true},
        h("fieldset", {}, h("legend", {}, "Timing"), h("div", {class: "form-grid"},
          NUMBER_FIELDS.slice(0, 3).concat(NUMBER_FIELDS.slice(4, 6)).map(([name, text, help, step]) =>
            field(text, numberInput(name, settings[name], step), help)))),
        h("fieldset", {}, h("legend", {}, "Image"), h("div", {class: "form-grid"},
          resolutionFields(settings), field("JPEG quality", numberInput("jpeg_quality", settings.jpeg_quality, "1"),
                                            NUMBER_FIELDS[3][2]))),
        h("fieldset", {}, h("legend", {}, "Motion trigger"), h("div", {class: "form-grid"},
          field("Device may go to burst on its own motion", motion),
          field(NUMBER_FIELDS[6][1], numberInput("motion_threshold", settings.motion_threshold, "0.001"), NUMBER_FIELDS[6][2]))),
        h("p", {class: "form-error", role: "alert"}),
        h("div", {class: "actions"}, submit));
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        clearErrors(form);
        const values = {motion_trigger_enabled: motion.checked};
        for (const input of form.querySelectorAll("input[type=number]")) values[input.name] = Number(input.value);
        try {
          await busy(submit, () => api.patch(`/admin/devices/${encodeURIComponent(device.id)}`, {settings: values}));
        } catch (exc) {
          showErrors(form, exc);
          return;
        }
        toast("Settings saved; the device picks them up at its next config poll.", "success");
        close(true);
      });
      return form;
    },
  })) === true;
}
