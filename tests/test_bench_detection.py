"""The bounded part of scripts/bench-detection: a few scenes through the worker's analysis.

The figures may not fall below FLOOR, which is what the analysis reached when this test was
written (issue 13's BEFORE). The analysis redesign must raise FLOOR to what it reaches, up
to the targets: every visit found, no wrong verdict, no picture with a hand, one event per
visit, no event on an untouched ROI. CPU is left to the benchmark (this machine is shared).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from support import detection_bench as bench
from storewatch.analysis.inventory import InventoryDecision
from storewatch.analysis.transitions import (
    InteractionCancelled, InteractionStarted, LightingChange, RoiOutcome, VisitEnded, VisitStarted)
from storewatch.camera import scenarios

pytestmark = pytest.mark.slow  # scores the analysis on scripted visits and footage (a benchmark): scripts/test --fast leaves it out

SIZE = (640, 480)  # small frames keep the render cheap; the analysis sees 320x240 either way
RUNS = (("take", 2.0), ("across-shelves", 5.0), ("two-visits", 5.0), ("hand-rests", 2.0), ("lights-switch", 2.0),
        ("baseline-take", 2.0), ("return-shifted", 2.0))
# At the camera's own frame size, as scripts/bench-detection renders: where the cell grid falls on
# an item depends on it, and the whole-shelf take read `unchanged` at 1640x1232 only.
CAMERA_SIZE = (1640, 1232)
CAMERA_RUNS = (("whole-shelf-take", 2.0),)

# Issue 12's analysis (commit dcc79b2) on the first five RUNS was the BEFORE: visits 3, wrong
# verdicts 2, pictures with a hand 2, events per visit 1.67; the arm test and a 2 s merge gap
# (cec973e) reached visits 4, wrong 1, hands 0, 1.25 events per visit. Raised to what the
# device-level visits reach (one VisitEnded per visit, a candidate going on at half of
# start_threshold): the targets, and with CAMERA_RUNS (a change's edge cells counting towards
# its size) on eight runs. Never lower these.
FLOOR = {
    "visits_found": 8,  # of 8 expected
    "wrong_verdicts": 0,  # at most
    "pictures_with_hand": 0,  # at most: the resting hand is waited out, Before and After are clean
    "events_per_visit": 1.0,  # at most: one event per visit, the arm across shelves too
    "untouched_roi_events": 0,  # at most
    "events_without_visit": 0,  # at most
}


@pytest.fixture(scope="module")
def score() -> bench.Score:
    total = bench.Score()
    for name, fps in RUNS:
        total.add(bench.run_script(scenarios.scenario(name), fps, SIZE))
    for name, fps in CAMERA_RUNS:
        total.add(bench.run_script(scenarios.scenario(name), fps, CAMERA_SIZE))
    return total


def test_every_visit_expected_is_counted(score):
    assert score.visits_expected == 8


def test_visits_found_do_not_regress(score):
    assert score.visits_found >= FLOOR["visits_found"]


def test_wrong_verdicts_do_not_regress(score):
    assert score.wrong_verdicts <= FLOOR["wrong_verdicts"], sorted(score.confusion.items())


def test_pictures_with_a_hand_do_not_regress(score):
    assert score.pictures_with_hand <= FLOOR["pictures_with_hand"]


def test_events_per_visit_and_untouched_rois_do_not_regress(score):
    assert score.events_per_visit <= FLOOR["events_per_visit"]
    assert score.untouched_roi_events <= FLOOR["untouched_roi_events"]
    assert score.events_without_visit <= FLOOR["events_without_visit"]


# ---- the adapter and the scoring, on transitions made by hand -------------------------

def test_a_cancelled_interaction_is_no_event_and_one_still_open_at_the_end_is():
    events = bench.events_from_transitions([
        LightingChange(1.0, 1), InteractionStarted(3, 5.0, 5), InteractionCancelled(3, 5.0, 5.5, 6),
        InteractionStarted(1, 8.0, 8)], until=10.0)
    assert [(e.start_ts, e.end_ts, [(r.roi_id, r.verdict) for r in e.rois]) for e in events] == [
        (8.0, 10.0, [(1, "open")])]


@dataclass(frozen=True)
class _RoiVerdict:
    roi_id: int
    verdict: str
    pre_frame_id: int
    post_frame_id: int


@dataclass(frozen=True)
class _Visit:
    start_ts: float
    end_ts: float
    rois: tuple[_RoiVerdict, ...]


def test_a_visit_with_per_roi_verdicts_plugs_in_as_it_is():
    visit = _Visit(2.0, 6.0, (_RoiVerdict(1, "unchanged", 1, 20), _RoiVerdict(3, "taken", 1, 20)))
    (event,) = bench.events_from_transitions([visit])
    assert event.start_ts == 2.0 and [(r.roi_id, r.verdict, r.pre_frame_id) for r in event.rois] == [
        (1, "unchanged", 1), (3, "taken", 1)]


def _outcome(roi_id: int, verdict: str) -> RoiOutcome:
    return RoiOutcome(roi_id, 2.0, 5.0, 0.3, 4, InventoryDecision(verdict in ("taken", "placed"), 0.2, None, verdict))


def test_a_visit_ended_is_one_event_with_the_visits_before_and_after_for_every_roi():
    visit = VisitEnded(2.0, 3, 5.0, 7.0, 14, 1, 14, (_outcome(1, "unchanged"), _outcome(3, "taken")))
    (event,) = bench.events_from_transitions([
        VisitStarted(2.0, 3, (1,)), InteractionStarted(1, 2.0, 3), InteractionStarted(3, 2.5, 4), visit], until=20.0)
    assert (event.start_ts, event.end_ts) == (2.0, 5.0)
    assert [(r.roi_id, r.verdict, r.pre_frame_id, r.post_frame_id) for r in event.rois] == [
        (1, "unchanged", 1, 14), (3, "taken", 1, 14)]


def test_a_visit_still_open_at_the_end_is_one_open_event():
    events = bench.events_from_transitions([
        VisitStarted(2.0, 3, (1,)), InteractionStarted(1, 2.0, 3), InteractionStarted(2, 2.5, 4)], until=9.0)
    assert [(e.start_ts, e.end_ts, [(r.roi_id, r.verdict) for r in e.rois]) for e in events] == [
        (2.0, 9.0, [(1, "open"), (2, "open")])]


def test_scoring_counts_verdicts_untouched_rois_and_hands_in_pictures():
    script = scenarios.across_shelves()
    times = script.times(2)
    visits, frames = script.truth(times, bench.TRUTH_SIZE)
    busy = next(n for n, f in enumerate(frames) if f.hand_in_roi[2])
    run = bench.Run([bench.Event(visits[0].start, visits[0].end, (
        bench.RoiVerdict(3, "taken", 0, len(frames) - 1), bench.RoiVerdict(1, "moved", busy, len(frames) - 1))),
        bench.Event(1.0, 2.0, (bench.RoiVerdict(2, "changed", 0, 3),))], len(frames), 1.0, 1.5)
    score = bench.score_script(run, visits, frames)
    assert (score.visits_found, score.events_in_visits, score.events_without_visit) == (1, 1, 1)
    assert score.confusion == {("taken", "taken"): 1, ("unchanged", "moved"): 1, ("unchanged", "missing"): 1}
    assert (score.right_verdicts, score.wrong_verdicts) == (2, 1)
    assert score.untouched_roi_events == 1  # the event with no visit
    assert (score.pictures, score.pictures_with_hand) == (6, 1) and score.cpu_ratio == 1.5
