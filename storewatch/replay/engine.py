"""Running the analysis again over a device's kept frames, as the worker ran it.

The run starts at the last analyzer state kept at or before `since - WARMUP_S` (every
segment starts with one and one follows every STATE_EVERY frames): with the thresholds in force
then, that is exactly the live analyzer, so the run reproduces the live events. ROIs whose
thresholds an override changes start clean there (state_codec restarts an ROI whose
thresholds differ) and warm up before `since`. From there the frames are fed in seq
order with their capture times and capture ids, ROI and threshold changes applied where
the worker met them (as `jobs.live` does), until `until` and then on while a visit is
still open. Frames are streamed from the segment files one at a time; a long run goes in
parts at once, from later kept states, stitched into exactly this run (`parallel`).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator, Sequence
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
    parts: int = 1     # legs whose frames are in it (see `parallel`)


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


Position = tuple[int, int]  # (index of the segment in the plan's files, index of the record in it)
AFTER_ALL: Position = (1 << 62, 0)  # where frames after the last record are fed


def positioned(files: list[Path], first: int, skip: int, feed_from: int | None = None,
               specs_before: bool = True) -> Iterator[tuple[Position, segments.Record, segments.Frame | None]]:
    """Each record from record `skip` of files[first] on, with its position and decoded frame.

    `specs_before`: the specs records before `skip` too (the specs in force there). Records
    from `skip` to `feed_from` are read (a difference frame needs the one before it) but not
    given out: so a run can go on from any record, not only from a state.
    """
    hidden = skip if feed_from is None else feed_from
    for n in range(first, len(files)):
        start, until = (skip, hidden) if n == first else (0, 0)
        previous = None
        for index, record in enumerate(segments.scan(files[n], skip=start)):
            if index < start:
                if specs_before and record.kind == "S":
                    yield (n, index), record, None
                continue
            frame = None
            if record.kind == "F":
                capture_id, previous = segments.decode_frame(record.payload, previous)
                frame = segments.Frame(record.seq, record.ts, capture_id, previous)
            if index >= until:
                yield (n, index), record, frame


@dataclass(frozen=True)
class Step:
    """One frame fed, and what the report takes from it."""

    pos: Position
    ts: float
    scores: dict[int, float]
    events: list[dict[str, Any]]  # the would-be events that ended on it (started in the window)
    wants_burst: bool

    def ends_run(self, until: float) -> bool:
        """The run stops after the first frame at or after `until` with no visit open."""
        return self.ts >= until and not self.wants_burst


class Feeder:
    """The run between two records: the analyzer, the specs in force and the last seq fed."""

    def __init__(self, since: float, until: float, overrides: dict[str, float] | None, roi_id: int | None,
                 names: dict[int, str] | None, lost: Sequence[Any] = ()):
        self.since, self.until, self.overrides, self.roi_id, self.names = since, until, overrides, roi_id, names or {}
        self.lost = sorted(lost, key=lambda f: f.seq)  # refill.Lost: fed where their seq falls
        self.analyzer: DeviceAnalyzer | None = None
        self.key: str | None = None
        self.pending_key: str | None = None
        self.specs: list[RoiSpec] = []
        self.last_seq: int | None = None
        self.started_ts: float | None = None

    def take(self, pos: Position, record: segments.Record, frame: segments.Frame | None) -> list[Step]:
        """Apply one record: a Step for each frame fed (lost frames before its own)."""
        if record.kind == "F" and self.analyzer is not None:
            steps = self._refill(pos, frame.seq)
            step = self._take(pos, record, frame)
            return steps if step is None else [*steps, step]
        step = self._take(pos, record, frame)
        return [] if step is None else [step]

    def rest(self) -> list[Step]:
        """After the last record: the lost frames after it."""
        return [] if self.analyzer is None else self._refill(AFTER_ALL, None)

    def _refill(self, pos: Position, before: int | None) -> list[Step]:
        steps = []
        for lost in self.lost:
            if before is not None and lost.seq >= before:
                break
            if self.last_seq is not None and lost.seq <= self.last_seq:
                continue
            pixels = lost.pixels()
            if pixels is not None:
                steps.append(self._feed(pos, segments.Frame(lost.seq, lost.ts, lost.capture_id, pixels)))
        return steps

    def _take(self, pos: Position, record: segments.Record, frame: segments.Frame | None) -> Step | None:
        if record.kind == "S":
            self.pending_key = record.payload.decode()
            if self.analyzer is not None and self.pending_key != self.key:
                device = self._configure(self.pending_key)
                self.analyzer = DeviceAnalyzer.from_state(self.analyzer.to_state(), self.specs, device)
                self.key = self.pending_key
            return None
        if record.kind == "A":
            if self.analyzer is None and self.pending_key is not None:
                device = self._configure(self.pending_key)
                self.analyzer = _restored(record.payload, self.specs, device)
                self.key, self.started_ts = self.pending_key, record.ts
            return None
        if self.analyzer is None or (self.last_seq is not None and frame.seq <= self.last_seq):
            return None  # before the start state; or a frame kept twice (a job run again)
        return self._feed(pos, frame)

    def _configure(self, key: str) -> Thresholds:
        """The ROI specs of `key` with this run's overrides (kept in `specs`); the device's thresholds."""
        self.specs, device = apply_overrides(*specs_from_key(key), self.overrides, self.roi_id)
        return device

    def _feed(self, pos: Position, frame: segments.Frame) -> Step:
        self.last_seq = frame.seq
        result = self.analyzer.feed(frame.pixels, frame.ts, frame.capture_id)
        ids = {s.id for s in self.specs}
        events = [event for t in result.transitions
                  if isinstance(t, VisitEnded) and self.since <= t.start_ts < self.until
                  and (event := visit_event(t, ids, self.names)) is not None]
        return Step(pos, frame.ts, result.scores, events, result.wants_burst)

    def digest(self) -> bytes | None:
        """Equal for two runs that go on alike from here (None before the start state)."""
        if self.analyzer is None:
            return None
        tail = repr((self.key, self.pending_key, self.last_seq)).encode()  # not started_ts: where it began
        return self.analyzer.state_digest() + tail

    def save(self) -> bytes:
        """Everything to go on from here in another process (`resume`)."""
        state = None if self.analyzer is None else self.analyzer.to_state()
        return json.dumps([None if state is None else state.hex(), self.key, self.pending_key, self.last_seq,
                           self.started_ts]).encode()

    def resume(self, saved: bytes) -> None:
        state, self.key, self.pending_key, self.last_seq, self.started_ts = json.loads(saved)
        if state is not None and self.key is not None:
            device = self._configure(self.key)
            self.analyzer = DeviceAnalyzer.from_state(bytes.fromhex(state), self.specs, device)


class Fold:
    """Steps, in the run's order, into a Run: frames, score points and would-be events."""

    def __init__(self, since: float, until: float, total: int, roi_id: int | None,
                 progress: Callable[[int, int], None] | None, cancelled: Callable[[], bool] | None):
        self.since, self.until, self.total, self.roi_id = since, until, total, roi_id
        self.progress, self.cancelled = progress, cancelled
        self.found = Run()
        self.scores = _Scores(since, until, total)
        self.fed = 0

    def add(self, step: Step, report: bool = True) -> None:
        self.fed += 1
        if self.since <= step.ts < self.until:
            self.found.frames += 1
            self.scores.add(step.ts, step.scores, self.roi_id)
        self.found.events.extend(step.events)
        if report and self.fed % CHECK_EVERY == 0:
            _check(self.cancelled)
            if self.progress is not None:
                self.progress(min(self.fed, self.total), self.total)

    def finish(self, started_ts: float | None) -> Run:
        _check(self.cancelled)
        if self.progress is not None:
            self.progress(self.total, self.total)
        self.found.fed, self.found.scores, self.found.started_ts = self.fed, self.scores.points(), started_ts
        return self.found


def run(data_dir: Path, device_id: str, since: float, until: float, overrides: dict[str, float] | None = None,
        roi_id: int | None = None, names: dict[int, str] | None = None,
        progress: Callable[[int, int], None] | None = None,
        cancelled: Callable[[], bool] | None = None, legs: int | None = None,
        find_lost: Callable[[list[Path], int], Sequence[Any]] | None = None) -> Run:
    """Replay the kept frames of `device_id` for capture times [since, until).

    `legs`: run in that many parts at once (default: one per idle core, at most parallel.MAX_LEGS),
    from the kept states, stitched into exactly the serial run (see `parallel`).
    `find_lost(files, skip)`: the frames the worker fed that those segments lack (refill.Lost).
    """
    from storewatch.replay import parallel

    start = plan(data_dir, device_id, since, until)
    if start is None:
        return Run()
    lost = find_lost(start.files, start.skip) if find_lost is not None else ()
    feeder = Feeder(since, until, overrides, roi_id, names, lost)
    fold = Fold(since, until, start.total, roi_id, progress, cancelled)
    splits = parallel.splits(start, until, parallel.default_legs() if legs is None else legs)
    if splits:
        return parallel.run(start, splits, feeder, fold)
    for pos, record, frame in positioned(start.files, 0, start.skip):
        if _fed(feeder.take(pos, record, frame), fold, until):
            break
    else:
        _fed(feeder.rest(), fold, until)
    return fold.finish(feeder.started_ts)


def _fed(steps: list[Step], fold: Fold, until: float) -> bool:
    """Fold the steps up to the run's end; True if it came."""
    for step in steps:
        fold.add(step)
        if step.ends_run(until):
            return True
    return False


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
