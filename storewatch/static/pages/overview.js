// Overview: anything wrong first, then devices, queue, disk and the last event at a glance,
// then each camera's newest frame (scaled down by the server) and the last events' thumbnails,
// then the last day's ingest rate, queue depth and free disk from the metrics history.
// Refreshed every REFRESH_MS; when a refresh fails the page says since when it is old.

import * as api from "../api.js";
import {h, replace} from "../dom.js";
import {ago, bytes, dateTime, duration, epochSeconds, number, percent} from "../format.js";
import {poll} from "../poll.js";
import {lineChart} from "../widgets/chart.js";
import {cameraProblem} from "../widgets/camera-state.js";
import {restlessProblem} from "../widgets/restless-note.js";
import {deviceStatus} from "../widgets/device-status.js";
import {framedPicture} from "../widgets/framed-picture.js";
import {VERDICT_WORDS, areaName, eventTitle, isLighting, outlines, touchedAreas, viewBoxOf} from "../widgets/verdicts.js";

const REFRESH_MS = 15000;
const DAY_S = 86400;
const LAST_EVENTS = 6;
const FRAME_WIDTH = 480;  // the server scales the newest frame to this: a phone need not load 1640 px

function problems(metrics, devices, lastEvent) {
  const found = [];
  for (const device of devices) {
    const status = deviceStatus(device);
    const link = h("a", {href: `/devices/${encodeURIComponent(device.id)}`}, device.name);
    if (status.key === "stale") found.push(["bad", [link, " is stale"], `last seen ${ago(device.last_seen)}`]);
    if (status.key === "never" && !device.camera) found.push(["warn", [link, " has never connected"], "add its token to the camera"]);
    const camera = cameraProblem(device);
    if (camera && status.key !== "disabled") found.push(["bad", [link, " is not working"], camera]);
    const error = device.health && device.health.last_error;
    if (error && status.key !== "disabled") found.push(["warn", [link, " reports an error"], error]);
    const restless = restlessProblem(device);
    if (restless && status.key !== "disabled") found.push(["warn", [link, " has a restless shelf area"], restless]);
    const dropped = device.health && device.health.dropped_frames;
    if (dropped) found.push(["warn", [link, ` dropped ${dropped} frames`], "its offline spool overflowed"]);
  }
  const {disk, queue, retention} = metrics;
  if (disk.below_reserve) found.push(["bad", ["Disk below its reserve"], "the cameras' new pictures are refused until space is freed: see Settings, Retention"]);
  else if (disk.free_bytes < disk.reserve_bytes * 2) found.push(["warn", ["Disk nearly at its reserve"], `${bytes(disk.free_bytes)} free`]);
  if (queue.by_state.dead) found.push(["bad", [h("a", {href: "/queue"}, `${queue.by_state.dead} dead job(s)`)], "frames that could not be analysed"]);
  if (queue.oldest_queued_age_s > 120) found.push(["warn", ["The queue is behind"], `oldest job waiting ${duration(queue.oldest_queued_age_s)}`]);
  if (retention.last_run && retention.last_run.error) found.push(["warn", ["Retention failed"], retention.last_run.error]);
  return found;
}

function alertList(found) {
  if (!found.length) {
    return h("div", {class: "alerts"}, h("div", {class: "alert ok", role: "status"},
      h("span", {}, h("strong", {}, "All is well"), "Devices are up, the queue is moving and the disk has room.")));
  }
  return h("div", {class: "alerts", role: "list", "aria-label": "Problems"}, found.map(([kind, title, detail]) =>
    h("div", {class: ["alert", kind], role: "listitem"}, h("span", {}, h("strong", {}, title), detail))));
}

function stat(title, value, sub, extra = "") {
  return h("section", {class: "card stat-card"}, h("h2", {}, title), h("div", {class: "stat"}, value),
           h("p", {class: "stat-sub"}, sub), extra);
}

function statCards(metrics, devices, lastEvent) {
  const counts = {up: 0, failing: 0, stale: 0, never: 0, disabled: 0};
  devices.forEach((d) => { counts[deviceStatus(d).key] += 1; });
  const active = devices.length - counts.disabled;
  const {disk, queue} = metrics;
  return h("div", {class: "grid stats-grid overview-stats"},
    stat("Devices", `${counts.up} / ${active} up`,
         [counts.failing ? `${counts.failing} camera failing` : "", counts.stale ? `${counts.stale} stale` : "",
          counts.never ? `${counts.never} never seen` : "",
          counts.disabled ? `${counts.disabled} disabled` : ""].filter(Boolean).join(" · ") || "all reporting",
         h("a", {href: "/devices", class: "small"}, "Devices →")),
    stat("Queue", number(queue.depth, 0), queue.oldest_queued_age_s === null ? "nothing waiting"
         : `oldest ${duration(queue.oldest_queued_age_s)}` + (queue.by_state.dead ? ` · ${queue.by_state.dead} dead` : ""),
         h("a", {href: "/queue", class: "small"}, "Queue →")),
    stat("Disk free", bytes(disk.free_bytes), `${percent(disk.free_bytes / disk.total_bytes)} of ${bytes(disk.total_bytes)}`
         + ` · reserve ${bytes(disk.reserve_bytes)}`,
         h("p", {class: "stat-sub"}, `images ${bytes(disk.events_bytes)} · staging ${bytes(disk.staging_bytes)}`)),
    stat("Last event", lastEvent ? ago(lastEvent.start_ts) : "none yet",
         lastEvent ? lastEventLine(lastEvent) : "events appear when a shelf is touched",
         h("a", {href: lastEvent ? `/events?open=${lastEvent.id}` : "/events", class: "small"}, "Events →")));
}

/** "Shelf 3: Taken · Shelf 1: Unchanged", or "Lights changed". */
function lastEventLine(event) {
  if (isLighting(event)) return "Lights changed";
  const areas = touchedAreas(event).map((area) =>
    `${areaName(area)}: ${(VERDICT_WORDS[area.verdict] || ["not decided"])[0]}`);
  return areas.join(" · ") || "a shelf visit";
}

/** Each enabled camera's newest frame, fetched anew at every refresh. */
function cameraFrames(devices, stamp, signal) {
  const shown = devices.filter((device) => device.enabled !== false);
  if (!shown.length) return "";
  return h("section", {class: "card section", "aria-labelledby": "frames-heading"},
    h("h2", {id: "frames-heading"}, "Cameras now"),
    h("div", {class: "overview-frames"}, shown.map((device) => h("figure", {dataset: {device: device.id}},
      h("a", {href: `/devices/${encodeURIComponent(device.id)}`}, newestFrame(device, stamp, signal)),
      h("figcaption", {}, device.name, " · ", device.last_seen ? `seen ${ago(device.last_seen)}` : "never seen")))));
}

/** A camera that never sent a frame (last_seq null) is not asked for one: it would be a 404. */
function newestFrame(device, stamp, signal) {
  if (device.last_seq === null || device.last_seq === undefined) return h("div", {class: "expired"}, "No frame yet");
  const path = `/admin/devices/${encodeURIComponent(device.id)}/latest-frame` + api.query({width: FRAME_WIDTH, t: stamp});
  return h("img", {src: api.url(path), alt: `The newest frame of ${device.name}`, loading: "lazy", decoding: "async",
                   onerror: async (error) => {
                     const words = await whyNoPicture(path, signal);
                     if (words) error.target.replaceWith(h("div", {class: "expired"}, words));
                   }});
}

/** A picture that failed says nothing of why: asked again, the API does, in its error shape. */
async function whyNoPicture(path, signal) {
  try {
    await api.get(path, {signal, raw: true});
  } catch (exc) {
    if (exc.name === "AbortError") return null;
    if (exc.code === "no_frame") return "No frame stored now: its last ones were cleared";
    return `Frame not loaded: ${exc.message}`;
  }
  return "The newest frame is damaged and cannot be shown";
}

/** The last events as small pictures (the server's thumbnails, else the After picture cropped). */
function lastEvents(events, devices) {
  if (!events.length) return "";
  const names = new Map(devices.map((d) => [d.id, d.name]));
  return h("section", {class: "card section", "aria-labelledby": "last-events-heading"},
    h("h2", {id: "last-events-heading"}, "Last events"),
    h("div", {class: "overview-thumbs"}, events.map((event) => {
      const name = event.device_name || names.get(event.device_id) || event.device_id;
      const thumb = event.thumbnails && (event.thumbnails.post || event.thumbnails.pre);
      const src = thumb || (event.images && (event.images.post || event.images.pre));
      const kind = event.thumbnails && event.thumbnails.post ? "post" : "pre";
      const picture = src ? framedPicture({src, kind, view: viewBoxOf(event), outlines: outlines(event),
                                           region: thumb ? event.thumbnail_region : null,
                                           alt: `${eventTitle(event, name)}`})
        : h("div", {class: "expired"}, event.images_expired ? "Pictures expired" : "No picture");
      return h("figure", {dataset: {event: String(event.id)}},
        h("a", {href: `/events?open=${event.id}`, "aria-label": `Event ${event.id}: ${eventTitle(event, name)}`}, picture),
        h("figcaption", {}, h("time", {datetime: event.start_ts}, dateTime(event.start_ts)), h("br"),
          `${name}: ${lastEventLine(event)}`));
    })));
}

function rateSeries(samples, key) {
  const points = [];
  for (let i = 1; i < samples.length; i += 1) {
    const dt = (epochSeconds(samples[i].ts) - epochSeconds(samples[i - 1].ts)) / 60;
    const dv = samples[i][key] - samples[i - 1][key];
    if (dt > 0 && dv >= 0) points.push([epochSeconds(samples[i].ts), dv / dt]);
  }
  return points;
}

function charts(samples) {
  const now = Date.now() / 1000;
  const range = [now - DAY_S, now];
  const series = (key) => samples.filter((s) => s[key] !== null && s[key] !== undefined).map((s) => [epochSeconds(s.ts), s[key]]);
  const common = {xRange: range, yMin: 0, height: 170, gapSeconds: 300, emptyText: "No samples yet (one a minute)"};
  const card = (title, chart) => h("section", {class: "card"}, h("h2", {}, title), chart);
  return h("div", {class: "grid-2 section overview-charts"},
    card("Ingest rate (frames/min)", lineChart({...common, title: "Ingest rate", series: [
      {label: "accepted", color: "#2563eb", points: rateSeries(samples, "ingest_accepted_total")},
      {label: "rejected", color: "#dc2626", points: rateSeries(samples, "ingest_rejected_total")}]})),
    card("Queue depth", lineChart({...common, title: "Queue depth", yInteger: true, yFormat: (v) => number(v, 0), series: [
      {label: "waiting", color: "#7c3aed", points: series("queue_depth")},
      {label: "dead", color: "#dc2626", points: series("queue_dead")}]})),
    card("Disk free", lineChart({...common, title: "Disk free", yBytes: true, yFormat: bytes, series: [
      {label: "free", color: "#059669", points: series("disk_free_bytes")}]})),
    card("Stored images", lineChart({...common, title: "Stored images", yBytes: true, yFormat: bytes, series: [
      {label: "event images", color: "#d97706", points: series("events_bytes")},
      {label: "staging", color: "#0891b2", points: series("staging_bytes")}]})));
}

export async function render(main, context) {
  document.title = "Overview · storewatch";
  const body = h("div", {});
  async function reload() {
    const since = new Date(Date.now() - DAY_S * 1000).toISOString();
    const [metrics, {devices}, {events}, {samples}] = await Promise.all([
      api.get("/admin/metrics", {signal: context.signal}),
      api.get("/admin/devices", {signal: context.signal}),
      api.get(`/admin/events?limit=${LAST_EVENTS}`, {signal: context.signal}),
      api.get("/admin/metrics/history" + api.query({since}), {signal: context.signal}),
    ]);
    const lastEvent = events[0] || null;
    replace(body, alertList(problems(metrics, devices, lastEvent)), statCards(metrics, devices, lastEvent),
            cameraFrames(devices, Date.now(), context.signal), lastEvents(events, devices), charts(samples));
  }
  // a failed refresh keeps the figures and says since when they are old (poll.js)
  const refresher = poll(reload, {everyMs: REFRESH_MS, signal: context.signal});
  main.append(h("div", {class: "page-header"}, h("div", {}, h("h1", {}, "Overview"),
    h("p", {class: "muted"}, "Health at a glance; updates every 15 seconds."), refresher.note)), body);
  await refresher.start();
  return refresher.stop;
}
