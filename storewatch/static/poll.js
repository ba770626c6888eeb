// One way for a page to keep its figures fresh: `load` runs every `everyMs` while the tab is
// visible, and when a refresh fails the page says "Not updated since HH:MM" (with the reason)
// instead of going on showing old figures with no sign. The next good refresh clears it.

import {h} from "./dom.js";
import {time} from "./format.js";

/**
 * A refresher for `load`; `start()` does the first load (a failure there throws, so it shows
 * as the page's error; with `{mayFail: true}` it is noted like a later one) and then
 * refreshes every `everyMs`. `start({first})` does the first load with `first` instead (a
 * page whose rounds fetch only what is new, after a full first load).
 *
 * - `skip()`: true while a refresh would get in the owner's way (a dialog open, a field in
 *   focus); that round is left out, without a note.
 * - `signal`: the page's AbortSignal; an aborted load is the page going away, not a failure.
 *
 * Returns `note` (an element to place near the page's heading), `start()`, `now()` to refresh
 * at once (after an action; it throws like `load` does, and notes the time on success;
 * `now(other)` runs `other` instead, e.g. a full reload after new filters), and `stop()`.
 */
export function poll(load, {everyMs, skip = () => false, signal = null} = {}) {
  const note = h("p", {class: "alert warn small stale-note", role: "status", hidden: true});
  let lastGood = null;
  let running = false;  // a slow answer is not asked for twice
  let timer = null;

  function fresh() {
    lastGood = new Date();
    note.hidden = true;
    note.textContent = "";
  }

  function stale(exc) {
    const why = exc.message || "the appliance did not answer.";
    note.textContent = lastGood ? `Not updated since ${time(lastGood)}: ${why}` : `Not loaded yet: ${why}`;
    note.hidden = false;
  }

  async function now(loader = load) {
    await loader();
    fresh();
  }

  async function tick() {
    if (running || document.hidden || (signal && signal.aborted) || skip()) return;
    running = true;
    try {
      await now();
    } catch (exc) {
      if (exc.name !== "AbortError" && !(signal && signal.aborted)) stale(exc);
    } finally {
      running = false;
    }
  }

  async function start({mayFail = false, first = load} = {}) {
    try {
      await now(first);
    } catch (exc) {
      if (!mayFail || exc.name === "AbortError") throw exc;
      stale(exc);  // a part of the page that can wait for the next round (the latest frame)
    }
    if (!(signal && signal.aborted)) timer = setInterval(tick, everyMs);
  }

  return {note, start, now, tick, stop: () => clearInterval(timer)};
}
