"""Visits on shelves unlike the starter ROIs: the known caveats of the visit logic, each as a scripted scene.

1. An arm reaching from the top into one ROI over the whole shelf covers a few percent of it:
   the take must still start a visit and be decided `taken`.
2. Lights switching in the first seconds of a visit must not put the hand into a Before.
3. An always-busy ROI (a screen over the shelf) must not hold the other ROIs' visits open,
   nor make a flood of events: it is reported restless, once, and the visit it leaves says so.
4. Two visits a few seconds apart stay two; a hand still for 10 s neither ends a visit nor is
   decided on; a visit starting at the baseline rate gets a clean Before.

Frames are rendered at the analysis size by the scene model (`storewatch.camera.scene`), which
knows where the hand is in each: no Before or After may show one in a touched ROI.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from storewatch.analysis import tracker
from storewatch.analysis.decode import decode_gray
from storewatch.analysis.device_analyzer import DeviceAnalyzer, RoiSpec
from storewatch.analysis.thresholds import Thresholds
from storewatch.analysis.transitions import RoiCalm, RoiRestless, VisitDropped, VisitEnded, VisitStarted
from storewatch.camera import scenarios
from storewatch.camera.scene import SKIN_TONES, Lighting, Reach, Script, ScriptRenderer
from support.scripted_visits import SIZE, assert_clean, assert_every_visit_ends, found, play, verdicts


def stocked(seed: int, *reaches: Reach, **kw) -> Script:
    stock, _ = scenarios.stock(seed)
    return Script(f"caveat-{seed}", seed, max(r.end for r in reaches) + scenarios.TAIL_S, stock, reaches, **kw)


def take(seed: int, slot: int, side: str = "top", at: float = scenarios.LEAD_S, duration: float = 3.0,
         hold: float = 0.0, visit: int = 0) -> Reach:
    stock, _ = scenarios.stock(seed)
    return Reach(at, duration, "take", slot, side, SKIN_TONES[seed % len(SKIN_TONES)], stock[slot].item,
                 hold=hold, visit=visit)


# ---- 1. a small arm in a big ROI -------------------------------------------------------

WHOLE_SHELF = scenarios.WHOLE_SHELF  # one ROI round the whole shelf unit


@pytest.mark.parametrize("slot, fps", [(2, 2.0), (3, 5.0)])
def test_a_take_from_the_top_shelf_of_one_whole_shelf_roi_is_a_visit_and_taken(slot, fps):
    script = replace(stocked(41, take(41, slot)), rois=WHOLE_SHELF)
    results, truth, _ = play(script, fps)
    (visit,) = found(results, VisitEnded)
    assert verdicts(visit) == {1: "taken"} and not visit.forced
    assert_clean(visit, truth)


def test_a_take_from_the_bottom_shelf_of_one_whole_shelf_roi_is_a_visit_and_taken():
    script = replace(stocked(42, take(42, 20, side="right")), rois=WHOLE_SHELF)
    results, truth, _ = play(script, 2.0)
    (visit,) = found(results, VisitEnded)
    assert verdicts(visit) == {1: "taken"}
    assert_clean(visit, truth)


def test_the_whole_shelf_roi_stays_quiet_through_noise_and_a_lighting_switch():
    keys = ((0.0, 1.0, (1.0, 1.0, 1.0)), (15.0, 1.0, (1.0, 1.0, 1.0)), (15.2, 0.6, scenarios.AMBER))
    script = replace(scenarios.lights_switch(), rois=WHOLE_SHELF, lighting=Lighting(keys), noise=6.0)
    results, _, _ = play(script, 2.0)
    assert found(results, VisitStarted) == [] and found(results, VisitEnded) == []


# ---- 2. the lights switch as the visit begins ------------------------------------------

@pytest.mark.parametrize("after, fps", [(0.6, 5.0), (1.2, 5.0), (1.5, 2.0)])
def test_lights_switching_in_the_first_seconds_of_a_visit_keep_the_hand_out_of_every_before(after, fps):
    # A 5 s take from the middle shelf (the hand still for 2 s at the item); `after` seconds after
    # the hand first shows in the ROI, the lights switch to a dim amber.
    reach = take(43, 11, side="left", duration=5.0, hold=2.0)
    probe = stocked(43, reach)
    first = next(f.t for f in probe.truth(probe.times(fps), SIZE)[1] if any(f.hand_in_roi))
    keys = ((0.0, 1.0, (1.0, 1.0, 1.0)), (first + after, 1.0, (1.0, 1.0, 1.0)),
            (first + after + 0.1, 0.65, scenarios.AMBER))
    results, truth, _ = play(replace(probe, lighting=Lighting(keys)), fps)
    visits = found(results, VisitEnded)
    for visit in visits:
        assert_clean(visit, truth)
    assert [verdicts(v) for v in visits] == [{2: "taken"}]
    assert_every_visit_ends(results)  # a start cancelled as the lighting's onset is dropped, not left open


# ---- 3. an always-busy ROI -------------------------------------------------------------

SCREEN = (0.55, 0.70, 0.92, 0.90)  # a screen hung over the bottom shelf's right half (normalized box)
SCREEN_ON = 3.0  # it comes on after the warm-up


def screen(gray: np.ndarray, t: float, index: int) -> None:
    """A changing picture on the screen: new 8x8 blocks every frame (seeded by the frame index)."""
    if t < SCREEN_ON:
        return
    h, w = gray.shape
    x0, y0, x1, y1 = int(SCREEN[0] * w), int(SCREEN[1] * h), int(SCREEN[2] * w), int(SCREEN[3] * h)
    rng = np.random.default_rng(index)
    blocks = rng.integers(30, 220, ((y1 - y0 + 7) // 8, (x1 - x0 + 7) // 8)).astype(gray.dtype)
    gray[y0:y1, x0:x1] = np.kron(blocks, np.ones((8, 8), gray.dtype))[: y1 - y0, : x1 - x0]


def busy_script(screen_max_s: float) -> tuple[Script, list[RoiSpec]]:
    """Two takes, 20 s apart, from shelves 1 and 2, once the screen has been on for a while."""
    first = take(44, 2, at=SCREEN_ON + tracker.RESTLESS_SECONDS + 6.0)
    second = replace(take(44, 12, side="right", at=first.end + 20.0), visit=1)
    script = replace(stocked(44, first, second), duration=second.end + 50.0)
    x0, y0, x1, y1 = SCREEN
    limit = Thresholds.from_overrides({"max_duration_seconds": screen_max_s})
    rois = [RoiSpec(1, script.rois[0][1]), RoiSpec(2, script.rois[1][1]),
            RoiSpec(3, ((x0 + 0.01, y0 + 0.01), (x1 - 0.01, y0 + 0.01), (x1 - 0.01, y1 - 0.01), (x0 + 0.01, y1 - 0.01)),
                    limit)]
    return script, rois


@pytest.mark.parametrize("screen_max_s", [300.0, 20.0])  # turns restless first / is forced to end first
def test_an_always_busy_roi_turns_restless_once_holds_no_later_visit_open_and_floods_no_events(screen_max_s):
    script, rois = busy_script(screen_max_s)
    results, truth, times = play(script, 2.0, rois=rois, paint=screen)
    visits = found(results, VisitEnded)
    shelf = [v for v in visits if any(o.roi_id in (1, 2) for o in v.rois)]
    assert [verdicts(v) for v in shelf] == [{1: "taken"}, {2: "taken"}]  # the screen in neither
    for visit, reach in zip(shelf, script.reaches):
        assert visit.ts - reach.end < 5.0, (visit.ts, reach.end)  # ended once the shelf settled
        assert not visit.forced
        assert_clean(visit, truth)
    # At most the screen's first stretch, forced at its max_duration_seconds: not one per stretch.
    assert len(visits) - len(shelf) == (1 if screen_max_s < tracker.RESTLESS_SECONDS else 0)
    (restless,) = found(results, RoiRestless)
    assert restless.roi_id == 3 and SCREEN_ON <= restless.since_ts < restless.ts
    assert restless.ts <= SCREEN_ON + min(screen_max_s, tracker.RESTLESS_SECONDS) + 1.0
    assert all(r.restless == (3,) for r in results[restless.frame_id:])
    assert found(results, RoiCalm) == []
    assert not any(r.wants_burst for r in results[-20:])  # the screen alone does not keep the camera bursting
    # The screen's own first visit: forced to end with a verdict, or dropped as it turns restless.
    dropped = found(results, VisitDropped)
    if screen_max_s < tracker.RESTLESS_SECONDS:
        assert dropped == []
    else:
        assert [(d.roi_ids, d.over, d.ts) for d in dropped] == [((3,), True, restless.ts)]
    assert_every_visit_ends(results)


def test_an_roi_turning_restless_leaves_the_visit_saying_so_and_the_others_still_end_it():
    # A take from shelf 1 while the screen's first stretch holds a visit open: one visit of both,
    # until the screen turns restless; then the take alone ends it, with its verdict.
    reach = take(47, 2, at=SCREEN_ON + tracker.RESTLESS_SECONDS - 8.0)
    script, rois = busy_script(300.0)
    results, truth, _ = play(replace(stocked(47, reach), duration=reach.end + 20.0), 2.0, rois=rois, paint=screen)
    (started,), (restless,), (dropped,) = found(results, VisitStarted), found(results, RoiRestless), \
        found(results, VisitDropped)
    assert (dropped.roi_ids, dropped.over, dropped.ts) == ((3,), False, restless.ts)
    assert dropped.start_ts == started.ts
    (visit,) = found(results, VisitEnded)
    assert verdicts(visit) == {1: "taken"} and visit.start_ts == started.ts and not visit.forced
    assert_clean(visit, truth)
    assert_every_visit_ends(results)


def test_a_restless_roi_that_calms_again_decides_its_stretch_on_its_own_and_watches_again():
    script, rois = busy_script(300.0)
    off = SCREEN_ON + tracker.RESTLESS_SECONDS + 10.0  # the screen goes dark, showing what it did before

    def paint(gray, t, index):
        if t < off:
            screen(gray, t, index)
    results, truth, times = play(script, 2.0, rois=rois, paint=paint)
    (restless,), (calm,) = found(results, RoiRestless), found(results, RoiCalm)
    assert restless.roi_id == calm.roi_id == 3
    assert calm.ts == pytest.approx(off + tracker.RESTLESS_CALM_SECONDS, abs=1.0)
    visits = found(results, VisitEnded)
    (own,) = [v for v in visits if 3 in verdicts(v)]
    assert verdicts(own) == {3: "unchanged"} and own.ts == calm.ts and own.pre_frame_id < times.index(SCREEN_ON)
    assert 3 not in results[-1].restless and results[calm.frame_id].restless == ()
    assert [verdicts(v) for v in visits if v is not own] == [{1: "taken"}, {2: "taken"}]


# ---- 4. what must keep working ---------------------------------------------------------

def test_two_takes_three_quiet_seconds_apart_are_two_visits_with_clean_pictures():
    first = take(45, 1)
    second = replace(take(45, 4, at=first.end + 3.0), visit=1)
    results, truth, _ = play(stocked(45, first, second), 5.0)
    visits = found(results, VisitEnded)
    assert [verdicts(v) for v in visits] == [{1: "taken"}, {1: "taken"}]
    assert visits[0].post_frame_id <= visits[1].pre_frame_id
    for visit in visits:
        assert_clean(visit, truth)


@pytest.mark.parametrize("fps", [2.0, 5.0])
def test_a_hand_still_for_10_s_neither_ends_the_visit_nor_is_decided_on(fps):
    reach = take(46, 11, side="left", duration=13.0, hold=10.0)
    results, truth, _ = play(stocked(46, reach), fps)
    (visit,) = found(results, VisitEnded)
    assert verdicts(visit) == {2: "taken"} and visit.ts >= reach.end
    assert_clean(visit, truth)


def test_a_visit_at_the_baseline_rate_in_a_whole_shelf_roi_gets_a_clean_before():
    script = replace(scenarios.baseline_take(), rois=WHOLE_SHELF)
    results, truth, times = play(script, 2.0)
    first = next(n for n, f in enumerate(truth) if any(f.hand_in_roi))
    assert times[first] - times[first - 1] == pytest.approx(30.0)
    (visit,) = found(results, VisitEnded)
    assert verdicts(visit) == {1: "taken"} and visit.pre_frame_id < first
    assert_clean(visit, truth)


def test_a_state_saved_while_an_roi_is_restless_continues_exactly():
    script, rois = busy_script(300.0)
    times = script.times(2.0)
    renderer = ScriptRenderer(script, SIZE)
    frames = []
    for i, t in enumerate(times):
        gray = decode_gray(renderer.jpeg(t, i))
        screen(gray, t, i)
        frames.append(gray)
    whole, cut = DeviceAnalyzer(rois), None
    straight = []
    for i, (t, gray) in enumerate(zip(times, frames)):
        straight.append(whole.feed(gray, t, i))
        if cut is None and whole.trackers[3].state == tracker.RESTLESS:
            cut = i
            restored = DeviceAnalyzer.from_state(whole.to_state(), rois)
    assert cut is not None
    resumed = [restored.feed(gray, t, i) for i, (t, gray) in enumerate(zip(times, frames)) if i > cut]
    assert [r.transitions for r in resumed] == [r.transitions for r in straight[cut + 1:]]
    assert [r.restless for r in resumed] == [r.restless for r in straight[cut + 1:]]
    assert len(found(straight, VisitEnded)) == 2
