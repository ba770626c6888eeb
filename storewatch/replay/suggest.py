"""A bounded search for the thresholds that keep every confirmed event and drop the most
false alarms, each candidate scored by a full replay against the owner's review.

The four settings searched are the ones an owner tunes (`SEARCHED`), each over a few
values around the one in force. The search goes one setting at a time (keeping the best
value found before moving on), twice round, and never replays more than MAX_REPLAYS
candidates. A candidate is acceptable only if no confirmed event is lost or changes its
verdict; among those, the most false alarms gone wins, then the fewest new events, then
the fewest settings changed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from storewatch.analysis.thresholds import BOUNDS, Thresholds
from storewatch.appliance import Appliance

SEARCHED = ("start_threshold", "end_threshold", "quiet_seconds", "change_threshold")
FACTORS = {"start_threshold": (0.6, 0.8, 1.25, 1.6, 2.0, 2.5), "end_threshold": (0.5, 0.75, 1.5, 2.0),
           "quiet_seconds": (0.5, 1.5, 2.5, 4.0), "change_threshold": (0.8, 0.9, 1.1, 1.25)}
ROUNDS = 2
MAX_REPLAYS = 40


@dataclass
class Suggestion:
    overrides: dict[str, float]
    rests_on: int
    kept_confirmed: int
    dropped_false_alarms: int
    message: str
    replays: int = 0
    confirmed: int = 0
    false_alarms: int = 0
    new_events: int = 0
    tried: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"overrides": dict(self.overrides), "rests_on": self.rests_on, "kept_confirmed": self.kept_confirmed,
                "dropped_false_alarms": self.dropped_false_alarms, "message": self.message,
                "replays": self.replays, "confirmed": self.confirmed, "false_alarms": self.false_alarms,
                "new_events": self.new_events, "tried": self.tried}


def candidates(base: Thresholds, name: str) -> list[float]:
    """A few values of `name` around `base`'s, inside its bounds (the current one first)."""
    low, high = BOUNDS[name]
    now = getattr(base, name)
    values = [now] + [round(min(high, max(low, now * f)), 4) for f in FACTORS[name]]
    return list(dict.fromkeys(values))


def suggest(appliance: Appliance, device_id: str, since: float, until: float, roi_id: int | None = None, *,
            progress: Callable[[int, int], None] | None = None,
            cancelled: Callable[[], bool] | None = None) -> Suggestion:
    from storewatch.replay import replay  # the facade (its checks, its comparison)

    first = replay(appliance, device_id, since, until, None, roi_id, cancelled=cancelled,
                   progress=_stage(progress, 0))
    s = first.review
    if s.reviewed == 0:
        return Suggestion({}, 0, 0, 0, "needs reviewed events to go by: mark some events of this span as"
                          " confirmed or as a false alarm, then ask again", replays=1)
    base = _base(appliance, device_id, roi_id)
    seen: dict[tuple, tuple] = {(): _rank(first, {})}
    tried = [{"overrides": {}, **_outcome(first)}]
    best: dict[str, float] = {}
    replays = 1
    for _ in range(ROUNDS):
        for name in SEARCHED:
            for value in candidates(Thresholds.from_overrides(best, base) if _fits(best, base) else base, name):
                trial = {**best, name: value}
                if getattr(base, name) == value:
                    trial.pop(name)
                key = tuple(sorted(trial.items()))
                if key in seen or not _fits(trial, base) or replays >= MAX_REPLAYS:
                    continue
                report = replay(appliance, device_id, since, until, trial, roi_id, cancelled=cancelled,
                                progress=_stage(progress, replays))
                replays += 1
                seen[key] = _rank(report, trial)
                tried.append({"overrides": trial, **_outcome(report)})
            best = dict(max(seen.items(), key=lambda kv: kv[1])[0])
    if progress is not None:
        progress(MAX_REPLAYS * 1000, MAX_REPLAYS * 1000)
    rank = seen[tuple(sorted(best.items()))]
    outcome = next(t for t in tried if t["overrides"] == best)
    return Suggestion(best, s.reviewed, outcome["kept_confirmed"], outcome["dropped_false_alarms"],
                      _message(best, rank, s.reviewed, outcome, s.confirmed), replays, s.confirmed, s.false_alarms,
                      outcome["new_events"], tried)


def _stage(progress: Callable[[int, int], None] | None, n: int) -> Callable[[int, int], None] | None:
    """Progress over the whole search: each replay is one share of MAX_REPLAYS."""
    if progress is None:
        return None
    return lambda done, total: progress(n * 1000 + (1000 * done) // max(1, total), MAX_REPLAYS * 1000)


def _base(appliance: Appliance, device_id: str, roi_id: int | None) -> Thresholds:
    specs, defaults = appliance.rois.specs(device_id)
    for spec in specs:
        if spec.id == roi_id:
            return spec.thresholds
    return defaults


def _fits(trial: dict[str, float], base: Thresholds) -> bool:
    try:
        Thresholds.from_overrides(trial, base)
        return True
    except ValueError:
        return False


def _outcome(report: Any) -> dict[str, int]:
    r = report.review
    return {"kept_confirmed": r.confirmed - r.confirmed_lost - r.confirmed_changed,
            "dropped_false_alarms": r.false_alarms_gone, "new_events": r.new_unseen,
            "events": len(report.replayed)}


def _rank(report: Any, trial: dict[str, float]) -> tuple:
    r = report.review
    keeps_all = r.confirmed_lost == 0 and r.confirmed_changed == 0
    return (keeps_all, r.false_alarms_gone if keeps_all else -r.confirmed_lost, -r.new_unseen, -len(trial))


def _message(best: dict[str, float], rank: tuple, reviewed: int, outcome: dict[str, int], confirmed: int) -> str:
    sure = f"rests on {reviewed} reviewed event{'s' * (reviewed != 1)}"
    if reviewed < 5:
        sure += " (few: review more events to be surer)"
    if not rank[0]:
        return f"no setting tried keeps every confirmed event; {sure}"
    if not best:
        return (f"the settings in force are the best tried: no other keeps all {confirmed} confirmed"
                f" and drops more false alarms; {sure}")
    changes = ", ".join(f"{k}={v:g}" for k, v in sorted(best.items()))
    return (f"{changes}: keeps all {outcome['kept_confirmed']} confirmed, drops {outcome['dropped_false_alarms']}"
            f" false alarm{'s' * (outcome['dropped_false_alarms'] != 1)}, {outcome['new_events']} new; {sure}")
