"""Visits: one event per visit to the device's view, with every touched ROI's net outcome.

Scripted scenes of the simulated shelf (`storewatch.camera.scene`), rendered at the
analysis size, know where the hand is in every frame: the visit's Before and After
pictures must show none in the touched ROIs.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from storewatch.analysis.device_analyzer import DeviceAnalyzer, RoiSpec
from storewatch.analysis.thresholds import Thresholds
from storewatch.analysis.transitions import (
    InteractionCancelled, LightingChange, LightingSettled, VisitDropped, VisitEnded, VisitStarted)
from storewatch.camera import scenarios
from storewatch.camera.scene import SKIN_TONES, Lighting, Reach, Script
from support import dropped_visits
from support.scripted_visits import assert_clean, assert_every_visit_ends, found, play, verdicts


def half_shelves(script: Script) -> Script:
    """The script with each shelf's ROI cut to its left half (an arm covers more of it)."""
    rois = tuple((name, tuple((min(x, 0.52), y) for x, y in polygon)) for name, polygon in script.rois)
    return replace(script, rois=rois)


def test_an_arm_across_three_shelves_is_one_visit_shelf_3_taken_the_others_unchanged():
    results, truth, _ = play(half_shelves(scenarios.across_shelves()))
    (started,) = found(results, VisitStarted)
    (visit,) = found(results, VisitEnded)
    assert verdicts(visit) == {1: "unchanged", 2: "unchanged", 3: "taken"}
    assert visit.start_ts == started.ts and not visit.forced
    assert_clean(visit, truth)


def test_a_take_and_a_shifted_return_in_one_visit_net_to_moved():
    results, truth, _ = play(scenarios.return_shifted())
    (visit,) = found(results, VisitEnded)
    assert verdicts(visit) == {2: "moved"}
    assert_clean(visit, truth)


def test_two_visits_a_few_quiet_seconds_apart_are_two_events():
    results, truth, _ = play(scenarios.two_visits(), fps=5.0)
    first, second = found(results, VisitEnded)
    assert (verdicts(first), verdicts(second)) == ({1: "taken"}, {1: "placed"})
    assert len(found(results, VisitStarted)) == 2
    assert first.post_frame_id <= second.pre_frame_id < second.start_frame_id
    for visit in (first, second):
        assert_clean(visit, truth)


def held_still(seconds: float) -> Script:
    stock, _ = scenarios.stock(31)
    reach = Reach(scenarios.LEAD_S, 3.0 + seconds, "take", 11, "left", SKIN_TONES[1], stock[11].item, hold=seconds)
    return Script("held-still", 31, reach.end + scenarios.TAIL_S, stock, (reach,))


def test_a_hand_held_still_8_s_is_one_visit_never_decided_on_a_hand_frame():
    script = held_still(8.0)
    results, truth, times = play(script)
    (visit,) = found(results, VisitEnded)
    assert verdicts(visit) == {2: "taken"}
    assert visit.ts >= script.reaches[0].end  # not while the hand rested
    assert_clean(visit, truth)


def test_a_visit_starting_at_the_baseline_rate_bursts_on_its_first_frame():
    results, truth, times = play(scenarios.baseline_take())
    first = next(n for n, f in enumerate(truth) if any(f.hand_in_roi))
    assert times[first] - times[first - 1] == pytest.approx(30.0)  # nothing seen before it
    assert not results[first - 1].wants_burst and results[first].wants_burst
    (visit,) = found(results, VisitEnded)
    assert verdicts(visit) == {1: "taken"} and first <= visit.start_frame_id <= first + 1
    assert_clean(visit, truth)


def test_a_visit_during_which_the_lights_change_is_still_one_visit():
    # A 5 s take from the middle shelf; 3 s in, with the hand still there, the lights dim to amber.
    keys = ((0.0, 1.0, (1.0, 1.0, 1.0)), (11.0, 1.0, (1.0, 1.0, 1.0)), (11.1, 0.65, scenarios.AMBER))
    script = replace(held_still(2.0), lighting=Lighting(keys))
    results, truth, times = play(script, fps=5.0)
    (visit,) = found(results, VisitEnded)
    (change,), (settled,) = found(results, LightingChange), found(results, LightingSettled)
    assert visit.start_ts < change.ts < settled.ts < visit.end_ts  # the lights changed mid-visit
    assert verdicts(visit) == {2: "taken"}
    assert_clean(visit, truth)


def test_lighting_settled_gives_the_frames_before_and_after_the_change_and_no_visit():
    results, _, times = play(scenarios.lights_switch())
    changes, settled = found(results, LightingChange), found(results, LightingSettled)
    assert len(changes) == len(settled) == 2
    for change, done in zip(changes, settled):
        assert done.start_ts == change.ts and done.before_frame_id == change.frame_id - 1
        assert done.after_frame_id > change.frame_id and times[done.after_frame_id] == done.ts
    assert found(results, VisitStarted) == []


def test_a_visit_longer_than_max_duration_is_forced_to_end():
    short = Thresholds.from_overrides({"max_duration_seconds": 4.0})
    script = held_still(8.0)
    rois = [RoiSpec(k + 1, polygon, short) for k, (_, polygon) in enumerate(script.rois)]
    results, _, _ = play(script, rois=rois)
    visits = found(results, VisitEnded)
    assert visits[0].forced and visits[0].ts - visits[0].start_ts == pytest.approx(4.0, abs=0.6)


def test_a_visit_cancelled_as_the_onset_of_a_lighting_change_is_dropped_saying_so():
    # The ROI's picture changes for two frames (a visit starts), then the whole room dims: the
    # start was the lighting's first frames, so the visit is over with no verdict -- and says so.
    analyzer = DeviceAnalyzer([RoiSpec(1, dropped_visits.ROI)])
    results = [analyzer.feed(gray, 100 + 0.5 * i, i) for i, gray in enumerate(dropped_visits.lighting_onset())]
    (started,), (cancelled,) = found(results, VisitStarted), found(results, InteractionCancelled)
    (dropped,) = found(results, VisitDropped)
    assert (dropped.start_ts, dropped.roi_ids, dropped.over) == (started.ts, (1,), True)
    assert dropped.frame_id == cancelled.frame_id  # on the frame the start was found to be the lighting
    assert found(results, VisitEnded) == []  # no verdict: nothing for an event
    assert_every_visit_ends(results)


def test_a_visit_whose_roi_is_removed_meanwhile_is_dropped_saying_so():
    wall = dropped_visits.blocks(1, 240, 320)
    shelf = RoiSpec(1, dropped_visits.ROI)
    other = RoiSpec(2, ((0.6, 0.6), (0.9, 0.6), (0.9, 0.9), (0.6, 0.9)))
    analyzer = DeviceAnalyzer([shelf, other])
    results = []
    for i in range(30):
        frame = wall.copy()
        if i >= 20:
            frame[64:112, 88:152] = dropped_visits.blocks(2 + i, 48, 64)  # busy in the ROI from frame 20 on
        if i == 24:
            analyzer.update_rois([other])  # the owner deletes the ROI mid-visit
        results.append(analyzer.feed(dropped_visits.jpeg_gray(frame), 100 + 0.5 * i, i))
    (started,), (dropped,) = found(results, VisitStarted), found(results, VisitDropped)
    assert (dropped.start_ts, dropped.roi_ids, dropped.over, dropped.frame_id) == (started.ts, (1,), True, 24)
    assert found(results, VisitEnded) == []
    assert_every_visit_ends(results)


@pytest.mark.parametrize("fidgets, visits", [(True, 1), (False, 2)])
def test_a_figure_standing_in_view_that_still_fidgets_holds_the_visit_open_a_still_one_does_not(fidgets, visits):
    # 5 s standing still between two walks: a person shifts a little (one cell every other frame),
    # and the view is not settled with them in it; perfectly still, it is like a bag put down,
    # decided once the ROI has been quiet for quiet_seconds, and the next steps are a new visit.
    analyzer = DeviceAnalyzer([RoiSpec(1, dropped_visits.ROI)])
    results = [analyzer.feed(gray, 100 + 0.5 * i, i) for i, gray in enumerate(dropped_visits.standing(fidgets))]
    assert len(found(results, VisitStarted)) == len(found(results, VisitEnded)) == visits
    assert_every_visit_ends(results)
