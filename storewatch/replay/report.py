"""A replay's would-be events beside the events that were, and the owner's review of them.

Matching is one to one by overlap in capture time: a replayed visit and a live event that
overlap are `same` when every touched ROI has the same verdict, else `verdict_changed`;
a replayed visit that overlaps none is `new`, a live event that none overlaps is `gone`.
`exact` says the pair agrees in every field (times to the millisecond, ROIs, verdicts,
decisions, boxes, scores), which is what a replay with the thresholds of the time gives.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from storewatch import contract
from storewatch.appliance import Appliance
from storewatch.store.events import INTERACTION, epoch_to_ts, public_roi

_ROI_FIELDS = ("roi_id", "roi_name", "verdict", "decision", "box", "score")
_COMPARED = ("roi_id", "verdict", "decision", "box", "score")  # a name may have changed since


def live_events(appliance: Appliance, device_id: str, since: float, until: float,
                roi_id: int | None = None) -> list[dict[str, Any]]:
    """The device's interaction events that started in [since, until), oldest first."""
    store = appliance.events
    rows = [row for row in store.between(epoch_to_ts(since - 1.0), epoch_to_ts(until + 1.0), device_id)
            if row["type"] == INTERACTION]
    touched = store.touched_rois([row["id"] for row in rows])
    found = []
    for row in rows:
        start = _epoch(row["start_ts"])
        if not since <= start < until:
            continue
        rois = [{k: v for k, v in public_roi(roi).items() if k in _ROI_FIELDS} for roi in touched.get(row["id"], [])]
        if roi_id is not None and all(roi["roi_id"] != roi_id for roi in rois):
            continue
        found.append({"id": row["id"], "start_ts": row["start_ts"], "end_ts": row["end_ts"], "start_epoch": start,
                      "end_epoch": _epoch(row["end_ts"]) if row["end_ts"] else start, "rois": rois,
                      "review": row.get("review")})
    return found


def _epoch(text: str) -> float:
    return contract.parse_timestamp(text).timestamp()


def compare(replayed: list[dict[str, Any]], live: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Pairs in time order: same, verdict_changed, new and gone (see the module doc)."""
    free = list(range(len(live)))
    pairs: list[tuple[dict | None, dict | None]] = []
    for event in replayed:
        best, overlap = None, -1.0
        for index in free:
            shared = _overlap(event, live[index])
            if shared is not None and shared > overlap:
                best, overlap = index, shared
        if best is None:
            pairs.append((event, None))
        else:
            free.remove(best)
            pairs.append((event, live[best]))
    pairs += [(None, live[index]) for index in free]
    pairs.sort(key=lambda pair: (pair[0] or pair[1])["start_epoch"])
    return [_entry(r, v) for r, v in pairs]


def _overlap(a: dict, b: dict) -> float | None:
    start, end = max(a["start_epoch"], b["start_epoch"]), min(a["end_epoch"], b["end_epoch"])
    return end - start if end >= start else None


def _verdicts(event: dict) -> dict[int, str | None]:
    return {roi["roi_id"]: roi["verdict"] for roi in event["rois"]}


def _entry(replayed: dict | None, live: dict | None) -> dict[str, Any]:
    if live is None:
        kind, exact = "new", False
    elif replayed is None:
        kind, exact = "gone", False
    else:
        kind = "same" if _verdicts(replayed) == _verdicts(live) else "verdict_changed"
        exact = kind == "same" and same_event(replayed, live)
    return {"kind": kind, "exact": exact, "replayed": replayed, "live": live}


def same_event(a: dict, b: dict) -> bool:
    """Equal in every field a replay reproduces (not the live event's id and review)."""
    def fields(event: dict) -> tuple:
        return (event["start_ts"], event["end_ts"],
                [tuple(roi.get(k) for k in _COMPARED) for roi in sorted(event["rois"], key=lambda r: r["roi_id"])])
    return fields(a) == fields(b)


@dataclass
class ReviewScore:
    reviewed: int = 0
    false_alarms_gone: int = 0
    confirmed_lost: int = 0
    confirmed_changed: int = 0
    new_unseen: int = 0
    confirmed: int = 0
    false_alarms: int = 0

    def to_json(self) -> dict[str, int]:
        return dict(vars(self))


def score(comparison: list[dict[str, Any]]) -> ReviewScore:
    """False alarms gone, confirmed events lost (or now with another verdict), new events."""
    s = ReviewScore()
    for entry in comparison:
        review = entry["live"]["review"] if entry["live"] else None
        s.reviewed += review is not None
        s.confirmed += review == "confirmed"
        s.false_alarms += review == "false_alarm"
        s.false_alarms_gone += review == "false_alarm" and entry["kind"] == "gone"
        s.confirmed_lost += review == "confirmed" and entry["kind"] == "gone"
        s.confirmed_changed += review == "confirmed" and entry["kind"] == "verdict_changed"
        s.new_unseen += entry["kind"] == "new"
    return s


def summary(replayed: int, live: int, s: ReviewScore) -> str:
    text = f"with these settings: {replayed} event{'s' * (replayed != 1)} instead of {live}"
    if s.reviewed:
        text += (f"; {s.false_alarms_gone} false alarm{'s' * (s.false_alarms_gone != 1)} gone,"
                 f" {s.confirmed_lost} confirmed lost")
        if s.confirmed_changed:
            text += f", {s.confirmed_changed} confirmed with another verdict"
    else:
        text += "; none of these events is reviewed yet"
    if s.new_unseen:
        text += f"; {s.new_unseen} new nobody has seen"
    return text


@dataclass
class ReplayReport:
    device_id: str
    since: float
    until: float
    overrides: dict[str, float]
    frames: int
    replayed: list[dict[str, Any]]
    live: list[dict[str, Any]]
    roi_id: int | None = None
    scores: list[dict[str, Any]] = field(default_factory=list)
    started_ts: float | None = None
    frames_fed: int = 0
    parts: int = 1  # legs run at once whose frames are in it (replay/parallel.py)

    def __post_init__(self) -> None:
        self.comparison = compare(self.replayed, self.live)
        self.review = score(self.comparison)

    @property
    def exact(self) -> bool:
        """Every event the same as live in every field, none new, none gone."""
        return all(entry["exact"] for entry in self.comparison)

    @property
    def summary(self) -> str:
        return summary(len(self.replayed), len(self.live), self.review)

    def to_json(self) -> dict[str, Any]:
        return {"device_id": self.device_id, "since": self.since, "until": self.until, "roi_id": self.roi_id,
                "overrides": dict(self.overrides), "frames": self.frames, "frames_fed": self.frames_fed,
                "started_ts": self.started_ts,
                "replayed": self.replayed, "live": self.live, "comparison": self.comparison,
                "review": self.review.to_json(), "scores": self.scores, "summary": self.summary,
                "exact": self.exact}
