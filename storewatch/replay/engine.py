"""Running the analysis again over a device's kept frames, as the worker ran it.

The run starts at the last analyzer state kept at or before `since - WARMUP_S` (every
segment starts with one and one follows every STATE_EVERY frames): with the thresholds in force
then, that is exactly the live analyzer, so the run reproduces the live events. ROIs whose
thresholds an override changes start clean there (state_codec restarts an ROI whose
thresholds differ) and warm up before `since`. From there the frames are fed in seq
order with their capture times and capture ids, ROI and threshold changes applied where
the worker met them (as `jobs.live` does), until `until` and then on while a visit is
still open. Frames are streamed from the segment files one at a time.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from storewatch.analysis.device_analyzer import DeviceAnalyzer, RoiSpec
from storewatch.analysis.state_codec import StateError
from storewatch.analysis.thresholds import Thresholds
from storewatch.analysis.transitions import RoiOutcome, VisitEnded
from storewatch.errors import InvalidInput
from storewatch.jobs.live import specs_from_key
from storewatch.replay import segments
from storewatch.store.events import epoch_to_ts, significance

WARMUP_S = 300.0      # capture seconds fed before `since` (at least; from the state before it)
MAX_POINTS = 2000     # score points per ROI in a report (bucket maxima beyond that)
CHECK_EVERY = 25      # frames between looks at `cancelled` and calls of `progress`


class ReplayCancelled(Exception):
    """The caller's `cancelled()` said stop; nothing was kept of the run."""


@dataclass
class Run:
    """What one replay found: would-be events and per-ROI scores in the window."""

    events: list[dict[str, Any]] = field(default_factory=list)
    scores: list[dict[str, Any]] = field(default_factory=list)
    frames: int = 0    # frames captured in [since, until)
    fed: int = 0       # frames fed, with the warm-up before since and a visit's end after until
    started_ts: float | None = None  # capture time the run started from (its state)


def apply_overrides(specs: list[RoiSpec], device: Thresholds, overrides: dict[str, float] | None,
                    roi_id: int | None) -> tuple[list[RoiSpec], Thresholds]:
    """The specs with `overrides` on every ROI (or only `roi_id`) and the device's thresholds."""
    if not overrides:
        return specs, device
    changed = []
    for spec in specs:
        if roi_id is None or spec.id == roi_id:
            try:
                spec = RoiSpec(spec.id, spec.polygon, Thresholds.from_overrides(overrides, spec.thresholds))
            except ValueError as exc:
                raise InvalidInput(f"{exc} (with the thresholds ROI {spec.id} had then)") from None
        changed.append(spec)
    try:
        return changed, Thresholds.from_overrides(overrides, device) if roi_id is None else device
    except ValueError as exc:
        raise InvalidInput(f"{exc} (with the device's thresholds then)") from None


@dataclass(frozen=True)
class _Start:
    files: list[Path]   # from the one holding the start state on
    skip: int           # records of the first file before the start state
    total: int          # frames from the start up to `until` (for progress)


def plan(data_dir: Path, device_id: str, since: float, until: float) -> _Start | None:
    """Where to start: the last kept state at or before since - WARMUP_S (else the first one)."""
    target = since - WARMUP_S
    usable = [(path, ts) for path in segments.segment_files(data_dir, device_id)
              if (ts := _first_ts(path)) is not None]
    if not usable:
        return None
    first = max([i for i, (_, ts) in enumerate(usable) if ts <= target] or [0])
    later = list(itertools.takewhile(lambda found: found[1] < until, usable[first + 1:]))
    # and the next segment too, for a visit still open at `until` (the run stops once it is over)
    files = [path for path, _ in [usable[first], *later, *usable[first + 1 + len(later):][:1]]]
    skip, count, total = 0, 0, 0
    for record in segments.scan(files[0], payloads=""):
        if record.kind == "A" and record.ts <= target:
            skip, total = count, 0
        count += 1
        total += record.kind == "F" and record.ts < until
    for path in files[1:]:
        total += sum(r.kind == "F" and r.ts < until for r in segments.scan(path, payloads=""))
    return _Start(files, skip, total)


def _first_ts(path: Path) -> float | None:
    return next((record.ts for record in segments.scan(path, payloads="")), None)


def records_from(start: _Start) -> Iterator[segments.Record]:
    """The records from the start state on, over the segments in order (payloads read)."""
    for n, path in enumerate(start.files):
        skip = start.skip if n == 0 else 0
        for index, record in enumerate(segments.scan(path, skip=skip)):
            if index >= skip or record.kind == "S":  # the specs in force at the start state too
                yield record


def run(data_dir: Path, device_id: str, since: float, until: float, overrides: dict[str, float] | None = None,
        roi_id: int | None = None, names: dict[int, str] | None = None,
        progress: Callable[[int, int], None] | None = None,
        cancelled: Callable[[], bool] | None = None) -> Run:
    """Replay the kept frames of `device_id` for capture times [since, until)."""
    found = Run()
    start = plan(data_dir, device_id, since, until)
    if start is None:
        return found
    names = names or {}
    scores = _Scores(since, until, start.total)
    analyzer: DeviceAnalyzer | None = None
    key: str | None = None
    pending_key: str | None = None
    specs: list[RoiSpec] = []
    last_seq: int | None = None
    fed = 0
    for record, frame in segments.frames_in(records_from(start)):
        if record.kind == "S":
            pending_key = record.payload.decode()
            if analyzer is not None and pending_key != key:
                specs, device = apply_overrides(*specs_from_key(pending_key), overrides, roi_id)
                analyzer = DeviceAnalyzer.from_state(analyzer.to_state(), specs, device)
                key = pending_key
            continue
        if record.kind == "A":
            if analyzer is None and pending_key is not None:
                specs, device = apply_overrides(*specs_from_key(pending_key), overrides, roi_id)
                analyzer = _restored(record.payload, specs, device)
                key, found.started_ts = pending_key, record.ts
            continue
        if analyzer is None or (last_seq is not None and frame.seq <= last_seq):
            continue  # before the start state; or a frame kept twice (a job run again)
        last_seq = frame.seq
        result = analyzer.feed(frame.pixels, frame.ts, frame.capture_id)
        fed += 1
        if since <= frame.ts < until:
            found.frames += 1
            scores.add(frame.ts, result.scores, roi_id)
        for transition in result.transitions:
            if isinstance(transition, VisitEnded) and since <= transition.start_ts < until:
                event = visit_event(transition, {s.id for s in specs}, names)
                if event is not None:
                    found.events.append(event)
        if fed % CHECK_EVERY == 0:
            _check(cancelled)
            if progress is not None:
                progress(min(fed, start.total), start.total)
        if frame.ts >= until and not result.wants_burst:
            break
    _check(cancelled)
    if progress is not None:
        progress(start.total, start.total)
    found.fed, found.scores = fed, scores.points()
    return found


def _check(cancelled: Callable[[], bool] | None) -> None:
    if cancelled is not None and cancelled():
        raise ReplayCancelled("the replay was cancelled")


def _restored(state: bytes, specs: list[RoiSpec], device: Thresholds) -> DeviceAnalyzer:
    try:
        return DeviceAnalyzer.from_state(state, specs, device)
    except StateError:  # written by another version: a clean start instead
        return DeviceAnalyzer(specs, device)


def visit_event(ended: VisitEnded, roi_ids: set[int], names: dict[int, str]) -> dict[str, Any] | None:
    """A would-be event in the shape the comparison uses (as outputs.prepare keeps a visit)."""
    outcomes = [outcome for outcome in ended.rois if outcome.roi_id in roi_ids]
    if not outcomes:
        return None
    rois = sorted((_touched(outcome, names) for outcome in outcomes), key=significance)
    for roi in rois:
        del roi["decision_score"], roi["peak_score"]
    return {"start_ts": epoch_to_ts(ended.start_ts), "end_ts": epoch_to_ts(ended.end_ts),
            "start_epoch": ended.start_ts, "end_epoch": ended.end_ts, "rois": rois}


def _touched(outcome: RoiOutcome, names: dict[int, str]) -> dict[str, Any]:
    decision = outcome.decision
    score = None if decision is None else round(decision.score, 6)
    return {"roi_id": outcome.roi_id, "roi_name": names.get(outcome.roi_id), "verdict": outcome.verdict,
            "decision": "unknown" if decision is None else ("changed" if decision.changed else "unchanged"),
            "box": None if decision is None or decision.box is None else [round(v, 6) for v in decision.box],
            "score": score, "decision_score": score, "peak_score": round(outcome.peak_score, 6)}


class _Scores:
    """Per-ROI score points in the window, at most MAX_POINTS each (bucket maxima)."""

    def __init__(self, since: float, until: float, frames: int):
        self.since = since
        self.width = (until - since) / MAX_POINTS if frames > MAX_POINTS else 0.0
        self.buckets: dict[tuple[int, int], tuple[float, float]] = {}
        self.count = 0

    def add(self, ts: float, scores: dict[int, float], roi_id: int | None) -> None:
        self.count += 1
        slot = min(int((ts - self.since) / self.width), MAX_POINTS - 1) if self.width else self.count
        for rid, score in scores.items():
            if roi_id is not None and rid != roi_id:
                continue
            key = (rid, slot)
            held = self.buckets.get(key)
            if held is None or score > held[1]:
                self.buckets[key] = (ts, score)

    def points(self) -> list[dict[str, Any]]:
        return [{"roi_id": rid, "ts": ts, "score": round(score, 5)}
                for (rid, _), (ts, score) in sorted(self.buckets.items(), key=lambda kv: (kv[0][0], kv[1][0]))]
