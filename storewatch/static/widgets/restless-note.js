// Shelf areas (ROIs) busy without a break: the analysis calls them restless and starts no
// events in them until they have been calm for a while. The admin API lists them on the device
// (`device.restless`: roi_id, name, since, calm_seconds), in the owner's words here.

import {h, replace} from "../dom.js";
import {dateTime, duration, time, wallClockInput} from "../format.js";

const WHY = "(a screen, a plant in a draught, people passing behind?)";

/** "14:02" today in the appliance's zone; the date too for an earlier day. */
function since(value, now = new Date()) {
  return wallClockInput(value).slice(0, 10) === wallClockInput(now).slice(0, 10) ? time(value) : dateTime(value);
}

/** One restless area, as a sentence. */
export function restlessSentence(area) {
  return `${area.name} has been busy without a break since ${since(area.since)} ${WHY}. `
    + `It starts no events until it has been calm for ${duration(area.calm_seconds)}.`;
}

/** The detail for the overview's problem list when areas of `device` are restless, else null. */
export function restlessProblem(device) {
  const areas = device.restless || [];
  if (!areas.length) return null;
  return areas.map((area) => `${area.name}: busy without a break since ${since(area.since)}, `
    + `no events until calm for ${duration(area.calm_seconds)}`).join("; ");
}

/** The device page's notes, one line per restless area; `update(device)` redraws them. */
export function restlessNotes() {
  const element = h("div", {class: "restless-notes", role: "status", "aria-live": "polite"});
  return {
    element,
    update(device) {
      replace(element, (device.restless || []).map((area) =>
        h("p", {class: ["alert", "warn", "small", "restless-note"], dataset: {roi: area.roi_id}},
          restlessSentence(area))));
    },
  };
}
