// The appliance's time zone (its `time_zone` setting), learnt once per session so that
// format.js shows every time on the shop's clock; the settings page tells it of a change.

import * as api from "./api.js";
import {setTimeZone} from "./format.js";

let loaded = null;

/** Fetch the zone once (again after forget()); a failure leaves the browser's zone. */
export function loadTimeZone() {
  if (!loaded) {
    loaded = api.get("/admin/settings")
      .then((answer) => setTimeZone(answer.settings.time_zone))
      .catch(() => { loaded = null; });
  }
  return loaded;
}

export function forgetTimeZone() {
  loaded = null;
}
