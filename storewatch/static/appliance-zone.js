// The appliance's time zone (its `time_zone` setting), learnt once per session so that
// format.js shows every time on the shop's clock; the settings page tells it of a change.
// When the zone cannot be learnt, or this browser does not know it, times fall back to the
// browser's clock and the owner is told so once (a phone in another zone would read wrong times).

import * as api from "./api.js";
import {currentTimeZone, setTimeZone} from "./format.js";
import {toast} from "./widgets/toast.js";

let loaded = null;
let told = false;  // the fallback was announced; not again on every page until the zone is learnt

function tell(message) {
  if (!told) toast(message, "error");
  told = true;
}

/** Show times in `zone`; when this browser does not know it, say that times keep the browser's clock. */
export function useTimeZone(zone) {
  if (setTimeZone(zone)) {
    told = false;
    return;
  }
  tell(`This browser does not know the shop's time zone (${zone}), so times are shown on this browser's `
       + `clock (${currentTimeZone()}). A newer browser shows them on the shop's clock.`);
}

/** Fetch the zone once (again after forget(), and on the next page after a failure). */
export function loadTimeZone() {
  if (!loaded) {
    loaded = api.get("/admin/settings")
      .then((answer) => useTimeZone(answer.settings.time_zone))
      .catch((exc) => {
        loaded = null;
        if (exc.status === 401) return;  // the session ended: the login page follows, nothing to say here
        tell(`Times are shown on this browser's clock (${currentTimeZone()}), not the shop's: the appliance's `
             + `time zone could not be loaded. ${exc.message} Reload the page to try again.`);
      });
  }
  return loaded;
}

export function forgetTimeZone() {
  loaded = null;
}
