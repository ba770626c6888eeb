"""The detection benchmark's evaluator: the worker's analysis over scripted scenes and footage.

Frames go through the worker's own code: `analysis.decode.decode_gray` at the worker's
ANALYSIS_WIDTH, then `DeviceAnalyzer.feed` with the capture time and a frame id (the frame's
index here), and a state checkpoint every CHECKPOINT_EVERY frames, as `jobs/processor.py`
and `jobs/live.py` do. What the analyzer reports goes through one adapter,
`events_from_transitions`, into `Event`s with per-ROI verdicts, and those are scored
against the scene's truth (`storewatch.camera.scene.Script.truth`).

Used by `scripts/bench-detection` and `tests/test_bench_detection.py`.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from storewatch.analysis.decode import decode_gray
from storewatch.analysis.device_analyzer import DeviceAnalyzer, RoiSpec
from storewatch.analysis.transitions import InteractionCancelled, InteractionStarted, VisitStarted
from storewatch.camera.scene import VERDICTS, FrameTruth, Script, ScriptRenderer, VisitTruth
from storewatch.jobs.live import CHECKPOINT_EVERY
from storewatch.jobs.processor import ANALYSIS_WIDTH

# What the analysis said: `changed` is issue 12's decision (before verdicts); `open` a visit not closed by
# the last frame; `missing` no event for that ROI in that visit.
COLUMNS = (*VERDICTS, "changed", "open", "missing")
MATCH_SLACK_S = 1.5  # an event belongs to a visit it overlaps, give or take this much
TRUTH_SIZE = (ANALYSIS_WIDTH, ANALYSIS_WIDTH * 3 // 4)  # hand masks at the analysis size


# ---- the adapter: what the analyzer reports -> events with per-ROI verdicts ------------

@dataclass(frozen=True)
class RoiVerdict:
    roi_id: int
    verdict: str  # taken | placed | moved | unchanged, or issue 12's `changed`
    pre_frame_id: int | None
    post_frame_id: int | None


@dataclass(frozen=True)
class Event:
    start_ts: float
    end_ts: float
    rois: tuple[RoiVerdict, ...]


def events_from_transitions(transitions: Iterable[object], until: float | None = None) -> list[Event]:
    """The events a device's transitions make, each with its touched ROIs' verdicts.

    A transition with `rois` is a visit (`VisitEnded`: start_ts, end_ts, the visit's
    pre_frame_id and post_frame_id, and per ROI roi_id and verdict): one event, its
    pictures the visit's Before and After. With `until` (the last
    frame's time), what is still open then is an event too, verdict `open` (a clip that
    ends while someone is still in view): one per open visit, else one per open ROI.
    """
    events = []
    opened: dict[int, float] = {}  # ROI -> start of its open interaction
    visit_open: float | None = None  # start of the open visit (VisitStarted seen, not ended)
    for t in transitions:
        if isinstance(t, VisitStarted):
            visit_open = t.ts
        elif isinstance(t, InteractionStarted):
            opened[t.roi_id] = t.ts
        elif isinstance(t, InteractionCancelled):
            opened.pop(t.roi_id, None)
        rois = getattr(t, "rois", None)
        if rois is not None and hasattr(t, "start_ts"):
            visit_open = None
            pre, post = getattr(t, "pre_frame_id", None), getattr(t, "post_frame_id", None)
            for r in rois:
                opened.pop(r.roi_id, None)
            events.append(Event(t.start_ts, t.end_ts, tuple(  # type: ignore[attr-defined]
                RoiVerdict(r.roi_id, r.verdict, getattr(r, "pre_frame_id", pre), getattr(r, "post_frame_id", post))
                for r in rois)))
    if until is not None and opened:
        if visit_open is not None:
            events.append(Event(min(visit_open, *opened.values()), until,
                                tuple(RoiVerdict(roi_id, "open", None, None) for roi_id in sorted(opened))))
        else:
            events += [Event(start, until, (RoiVerdict(roi_id, "open", None, None),)) for roi_id, start in opened.items()]
    return events


# ---- running the worker's analysis ---------------------------------------------------

@dataclass
class Run:
    events: list[Event]
    frames: int
    decode_s: float  # process CPU of decode_gray alone
    analysis_s: float  # process CPU of decode + feed + checkpoints


def analyse(jpegs: Iterable[tuple[float, bytes]], specs: list[RoiSpec]) -> Run:
    """Feed (capture time, JPEG) pairs through the worker's decode and analyzer; frame id = index."""
    analyzer = DeviceAnalyzer(specs)
    transitions: list[object] = []
    decode_s = analysis_s = 0.0
    ts = 0.0
    count = 0
    for frame_id, (ts, jpeg) in enumerate(jpegs):
        started = time.process_time()
        gray = decode_gray(jpeg, ANALYSIS_WIDTH)
        decoded = time.process_time()
        result = analyzer.feed(gray, ts, frame_id)
        if frame_id % CHECKPOINT_EVERY == CHECKPOINT_EVERY - 1:
            analyzer.to_state()
        done = time.process_time()
        decode_s += decoded - started
        analysis_s += done - started
        transitions.extend(result.transitions)
        count += 1
    return Run(events_from_transitions(transitions, until=ts), count, decode_s, analysis_s)


def script_specs(script: Script) -> list[RoiSpec]:
    return [RoiSpec(k + 1, polygon) for k, (_, polygon) in enumerate(script.rois)]


def rendered(script: Script, times: list[float], size: tuple[int, int]) -> Iterator[tuple[float, bytes]]:
    renderer = ScriptRenderer(script, size)
    for index, t in enumerate(times):
        yield t, renderer.jpeg(t, index)


# ---- scoring -------------------------------------------------------------------------

@dataclass
class Score:
    visits_expected: int = 0
    visits_found: int = 0
    events: int = 0
    events_in_visits: int = 0
    events_without_visit: int = 0
    untouched_roi_events: int = 0  # ROI entries on an ROI the visit did not touch, or with no visit
    pictures: int = 0
    pictures_with_hand: int = 0
    frames: int = 0
    decode_s: float = 0.0
    analysis_s: float = 0.0
    confusion: Counter = field(default_factory=Counter)  # (expected, said) -> count

    def add(self, other: "Score") -> None:
        for name in ("visits_expected", "visits_found", "events", "events_in_visits", "events_without_visit",
                     "untouched_roi_events", "pictures", "pictures_with_hand", "frames", "decode_s", "analysis_s"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.confusion.update(other.confusion)

    @property
    def wrong_verdicts(self) -> int:
        return sum(n for (expected, said), n in self.confusion.items() if not right(expected, said))

    @property
    def right_verdicts(self) -> int:
        return sum(n for (expected, said), n in self.confusion.items() if right(expected, said))

    @property
    def cpu_ratio(self) -> float:
        return self.analysis_s / self.decode_s if self.decode_s else float("nan")

    @property
    def events_per_visit(self) -> float:
        return self.events_in_visits / self.visits_found if self.visits_found else 0.0


def right(expected: str, said: str) -> bool:
    """A verdict is right when it is the expected one; issue 12's `changed` is right for taken/placed,
    and no event at all is harmless (not wrong) for an ROI the visit left unchanged."""
    return (said == expected or (said == "changed" and expected in ("taken", "placed"))
            or (said == "missing" and expected == "unchanged"))


def _overlap(event: Event, start: float, end: float) -> float:
    lo, hi = max(event.start_ts, start - MATCH_SLACK_S), min(event.end_ts, end + MATCH_SLACK_S)
    return hi - lo


def match(events: list[Event], windows: list[tuple[float, float]]) -> list[int | None]:
    """For each event, the index of the visit window it overlaps most (None: no visit)."""
    out: list[int | None] = []
    for event in events:
        best = max(range(len(windows)), key=lambda k: _overlap(event, *windows[k]), default=None)
        out.append(best if best is not None and _overlap(event, *windows[best]) >= 0 else None)
    return out


def score_script(run: Run, visits: list[VisitTruth], frames: list[FrameTruth]) -> Score:
    score = Score(visits_expected=len(visits), events=len(run.events), frames=run.frames,
                  decode_s=run.decode_s, analysis_s=run.analysis_s)
    owner = match(run.events, [(v.start, v.end) for v in visits])
    said: dict[tuple[int, int], str] = {}  # (visit, ROI index) -> the last verdict given
    for event, visit in zip(run.events, owner):
        touched = {r.roi for r in visits[visit].rois} if visit is not None else set()
        if visit is None:
            score.events_without_visit += 1
        else:
            score.events_in_visits += 1
        for entry in event.rois:
            roi = entry.roi_id - 1
            if roi not in touched:
                score.untouched_roi_events += 1
            else:
                said[(visit, roi)] = entry.verdict  # type: ignore[index]
            listed = [r.roi_id - 1 for r in event.rois]
            for frame_id in (entry.pre_frame_id, entry.post_frame_id):
                if frame_id is None or not 0 <= frame_id < len(frames):
                    continue
                score.pictures += 1
                score.pictures_with_hand += any(frames[frame_id].hand_in_roi[k] for k in listed)
    score.visits_found = len({v for v in owner if v is not None})
    for k, visit in enumerate(visits):
        for roi in visit.rois:
            score.confusion[(roi.verdict, said.get((k, roi.roi), "missing"))] += 1
    return score


def run_script(script: Script, fps: float, size: tuple[int, int]) -> Score:
    times = script.times(fps)
    visits, frames = script.truth(times, TRUTH_SIZE)
    return score_script(analyse(rendered(script, times, size), script_specs(script)), visits, frames)


# ---- real footage (../shared/footage) ------------------------------------------------

FOOTAGE_FPS = 25.0  # file names are source frame numbers at about 25 fps
WARM_UP_FRAMES = 10  # the camera's start-up exposure ramp
# Per clip, what its README says storewatch must do: the source-frame windows in which an
# interaction is expected (one visit each); no interaction anywhere else.
FOOTAGE_VISITS: dict[str, tuple[tuple[int, int], ...]] = {
    "alternating-light2": (), "light-dark": (), "dark-light": (),
    "lightout-after-movement": ((245, 545),),  # the door opens, a person stands there and leaves
    "walking-to": ((200, 10_000),),  # walks up, then moves about in the background to the end
}
QUADRANTS = [RoiSpec(k + 1, ((x, y), (x + 0.5, y), (x + 0.5, y + 0.5), (x, y + 0.5)))
             for k, (x, y) in enumerate(((0.0, 0.0), (0.5, 0.0), (0.0, 0.5), (0.5, 0.5)))]


def run_clip(folder: Path, windows: tuple[tuple[int, int], ...]) -> Score:
    """One clip with four quadrant ROIs: visits found, events outside the expected windows."""
    files = sorted((p for p in folder.glob("*.jpg") if int(p.stem) >= WARM_UP_FRAMES), key=lambda p: int(p.stem))
    run = analyse(((int(p.stem) / FOOTAGE_FPS, p.read_bytes()) for p in files), QUADRANTS)
    spans = [(a / FOOTAGE_FPS, b / FOOTAGE_FPS) for a, b in windows]
    owner = match(run.events, spans)
    score = Score(visits_expected=len(spans), events=len(run.events), frames=run.frames,
                  decode_s=run.decode_s, analysis_s=run.analysis_s)
    score.visits_found = len({v for v in owner if v is not None})
    score.events_in_visits = sum(v is not None for v in owner)
    score.events_without_visit = sum(v is None for v in owner)
    score.untouched_roi_events = sum(len(e.rois) for e, v in zip(run.events, owner) if v is None)
    return score
