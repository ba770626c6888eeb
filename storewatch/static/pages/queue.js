// The analysis queue: jobs by state, how long the oldest has waited, dead jobs with their
// errors, and retrying them (some or all).

import * as api from "../api.js";
import {h, replace} from "../dom.js";
import {ago, dateTime, duration, number} from "../format.js";
import {confirmAction} from "../widgets/dialog.js";
import {busy} from "../widgets/fields.js";
import {poll} from "../poll.js";
import {toast} from "../widgets/toast.js";

const STATES = [["queued", "Queued", "info"], ["running", "Running", "info"], ["done", "Done", "ok"],
                ["failed", "Failed (will retry)", "warn"], ["dead", "Dead", "bad"]];
const REFRESH_MS = 5000;

function countCards(answer) {
  return STATES.map(([key, text, kind]) => {
    const n = answer.counts[key] || 0;
    return h("div", {class: "card stat-card", dataset: {state: key}},
             h("h2", {}, text),
             h("div", {class: "stat"}, number(n, 0)),
             key === "queued" ? h("p", {class: "stat-sub"}, answer.oldest_queued_age_s === null
               ? "nothing waiting" : `oldest waiting ${duration(answer.oldest_queued_age_s)}`)
               : (n && kind !== "ok" && kind !== "info" ? h("p", {class: "stat-sub"}, h("span", {class: ["badge", kind]}, "needs a look")) : ""));
  });
}

export async function render(main, context) {
  document.title = "Queue · storewatch";
  const counts = h("div", {class: "grid stats-grid queue-counts"});
  const deadBody = h("div", {class: "table-wrap"});
  const retrySelected = h("button", {type: "button", class: "primary small", disabled: true}, "Retry selected");
  const retryAll = h("button", {type: "button", class: "small"}, "Retry all dead");
  const selected = new Set();

  function deadTable(dead) {
    if (!dead.length) return h("p", {class: "empty"}, "No dead jobs. Every frame was analysed or is on its way.");
    const all = h("input", {type: "checkbox", "aria-label": "Select all dead jobs",
                            checked: dead.every((j) => selected.has(j.id))});
    all.addEventListener("change", () => {
      dead.forEach((j) => (all.checked ? selected.add(j.id) : selected.delete(j.id)));
      refreshView();
    });
    return h("table", {},
      h("thead", {}, h("tr", {}, h("th", {}, all), h("th", {}, "Job"), h("th", {}, "Device"), h("th", {class: "num"}, "Seq"),
                                   h("th", {class: "num"}, "Attempts"), h("th", {}, "Error"), h("th", {}, "Last try"))),
      h("tbody", {}, dead.map((job) => {
        const box = h("input", {type: "checkbox", "aria-label": `Select job ${job.id}`, checked: selected.has(job.id)});
        box.addEventListener("change", () => {
          if (box.checked) selected.add(job.id); else selected.delete(job.id);
          retrySelected.disabled = !selected.size;
        });
        return h("tr", {dataset: {job: job.id}}, h("td", {}, box), h("td", {class: "mono"}, job.id),
                 h("td", {}, job.device_id), h("td", {class: "num"}, job.seq), h("td", {class: "num"}, job.attempts),
                 h("td", {}, h("code", {}, job.last_error || "—")),
                 h("td", {title: dateTime(job.updated_at)}, ago(job.updated_at)));
      })));
  }

  let latest = null;
  function refreshView() {
    if (!latest) return;
    for (const id of [...selected]) if (!latest.dead.some((j) => j.id === id)) selected.delete(id);
    replace(counts, countCards(latest));
    replace(deadBody, deadTable(latest.dead));
    retrySelected.disabled = !selected.size;
    retryAll.disabled = !latest.counts.dead;
  }
  async function reload() {
    latest = await api.get("/admin/queue", {signal: context.signal});
    if (!deadBody.contains(document.activeElement)) refreshView();
  }

  async function retry(body, button) {
    await busy(button, async () => {
      try {
        const answer = await api.post("/admin/queue/retry", body);
        toast(`${answer.retried} job${answer.retried === 1 ? "" : "s"} queued again.`, "success");
        selected.clear();
        await refresher.now();
        refreshView();
      } catch (exc) {
        toast(exc.message, "error");
      }
    });
  }
  retrySelected.addEventListener("click", () => retry({job_ids: [...selected]}, retrySelected));
  retryAll.addEventListener("click", async () => {
    if (await confirmAction("Retry all dead jobs?", `${latest.counts.dead} job(s) go back to the queue with fresh attempts.`,
                            "Retry all")) retry({all_dead: true}, retryAll);
  });

  const refresher = poll(reload, {everyMs: REFRESH_MS, signal: context.signal});
  main.append(
    h("div", {class: "page-header"}, h("div", {}, h("h1", {}, "Queue"),
      h("p", {class: "muted"}, "Every stored frame is one analysis job."))),
    refresher.note,
    counts,
    h("section", {class: "card section", "aria-labelledby": "dead-heading"},
      h("div", {class: "copy-row"}, h("h2", {id: "dead-heading"}, "Dead jobs"), h("div", {class: "actions"}, retrySelected, retryAll)),
      h("p", {class: "muted small"}, "A job is dead after it failed every attempt (Settings → job max attempts)."),
      deadBody));
  await refresher.start();
  refreshView();
  return refresher.stop;
}
