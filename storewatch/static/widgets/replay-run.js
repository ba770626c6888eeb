// One what-if replay (or suggestion search) on the appliance: start it, show its progress
// with a Cancel button while it runs, and hand back how it ended.

import * as api from "../api.js";
import {h} from "../dom.js";
import {number} from "../format.js";

const POLL_MS = 400;
const WORDS = {replay: "Replaying", suggest: "Searching for better settings"};

function sleep(ms, signal) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => { clearTimeout(timer); resolve(); }, {once: true});
  });
}

/** {element, start(kind, body), follow(run), running()}: start and follow resolve to the ended run, or null when the page went away. */
export function replayRun({signal}) {
  let current = null;
  const bar = h("progress", {max: 1, value: 0, "aria-label": "Replay progress"});
  const text = h("span", {class: "replay-progress-text"});
  const cancel = h("button", {type: "button", class: "small danger"}, "Cancel");
  const element = h("div", {class: "replay-progress", role: "status", "aria-live": "polite", hidden: true},
                    bar, text, cancel);

  cancel.addEventListener("click", async () => {
    if (!current) return;
    cancel.disabled = true;
    text.textContent = "Cancelling…";
    try {
      await api.del(`/admin/replays/${encodeURIComponent(current.id)}`);
    } catch (exc) {
      text.textContent = `Could not cancel: ${exc.message}`;
      cancel.disabled = false;
    }
  });

  function show(run) {
    const total = run.frames_total || 0;
    bar.max = Math.max(1, total);
    bar.value = Math.min(run.frames_done, bar.max);
    if (run.cancel_requested) text.textContent = "Cancelling…";
    else if (!total) text.textContent = `${WORDS[run.kind]}: reading the kept frames…`;
    else text.textContent = `${WORDS[run.kind]}: ${number(run.frames_done, 0)} of ${number(total, 0)} frames`;
  }

  async function follow(run) {
    current = run;
    element.hidden = false;
    cancel.disabled = false;
    try {
      while (run.state === "running") {
        show(run);
        await sleep(POLL_MS, signal);
        if (signal.aborted) return null;
        run = await api.get(`/admin/replays/${encodeURIComponent(run.id)}`, {signal});
      }
      return run;
    } finally {
      current = null;
      element.hidden = true;
    }
  }

  async function start(kind, body) {
    const run = await api.post(kind === "suggest" ? "/admin/suggestions" : "/admin/replays", body, {signal});
    return follow(run);
  }

  return {element, start, follow, running: () => current !== null};
}
