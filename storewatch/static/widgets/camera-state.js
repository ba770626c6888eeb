// The built-in camera's own state (running, not working and retrying, stopped), as the
// admin API gives it on the built-in camera's device: `device.camera`, or null elsewhere.

import {h} from "../dom.js";

const KINDS = {running: "ok", starting: "ok", failed: "bad", stopped: "warn", finished: "ok"};

/** The detail for the overview's problem list when the built-in camera is not working, else null. */
export function cameraProblem(device) {
  const camera = device.camera;
  if (!camera || camera.state !== "failed") return null;
  const when = camera.retry_in_s ? `in ${Math.round(camera.retry_in_s)} s` : "shortly";
  return `${camera.message}. ${camera.next_step} Trying again ${when}.`;
}

/** A banner for the device pages: what the camera is doing, and what to do when it fails. */
export function cameraBanner(device) {
  const camera = device.camera;
  if (!camera) return "";
  const kind = KINDS[camera.state] || "warn";
  const failed = camera.state === "failed";
  const when = camera.retry_in_s ? `in ${Math.round(camera.retry_in_s)} s` : "shortly";
  return h("p", {class: ["alert", kind, "small", "camera-state"], role: failed ? "alert" : "status",
                 dataset: {camera: camera.state}},
    h("span", {}, h("strong", {}, failed ? "The built-in camera is not working" : "Built-in camera"),
      failed ? `${camera.message}. Trying again ${when} (attempt ${camera.attempt + 1}).` : camera.summary,
      failed && camera.next_step ? h("span", {class: "next-step"}, camera.next_step) : ""));
}
