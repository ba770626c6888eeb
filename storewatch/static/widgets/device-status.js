// Is a device up? Judged from when it was last seen against the intervals it was given.

import {h} from "../dom.js";
import {toDate} from "../format.js";

const MIN_STALE_S = 90;

/** Seconds of silence after which a device counts as stale. */
export function staleAfter(device) {
  const settings = device.settings || {};
  const heartbeat = Number(settings.heartbeat_interval_s) || 60;
  const baseline = Number(settings.baseline_interval_s) || 30;
  return Math.max(MIN_STALE_S, 2.5 * Math.min(heartbeat, baseline) + 30, 1.5 * baseline);
}

/** {key: up|failing|stale|never|disabled, label, kind} for a device from the admin API. */
export function deviceStatus(device, now = Date.now()) {
  if (!device.enabled) return {key: "disabled", label: "Disabled", kind: "plain"};
  // The built-in camera's own state outranks last-seen: its retries keep fetching the config.
  if (device.camera && device.camera.state === "failed") return {key: "failing", label: "Camera failing", kind: "bad"};
  const seen = toDate(device.last_seen);
  if (!seen) return {key: "never", label: "Never seen", kind: "warn"};
  const silent = (now - seen.getTime()) / 1000;
  if (silent > staleAfter(device)) return {key: "stale", label: "Stale", kind: "bad"};
  return {key: "up", label: device.mode === "burst" ? "Up · burst" : "Up", kind: "ok"};
}

export function statusBadge(device) {
  const status = deviceStatus(device);
  return h("span", {class: ["badge", status.kind], dataset: {status: status.key}}, status.label);
}
