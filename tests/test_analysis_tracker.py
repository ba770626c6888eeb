"""The ROI state machine on rendered shelf scenes: exact outcomes per scenario."""

from __future__ import annotations

from dataclasses import replace

import pytest

from support.shelf_scenes import ITEMS, Arm, Frame, Sequence, reach_sequence, roi_around, uniform_times
from storewatch.analysis.decode import decode_gray
from storewatch.analysis.device_analyzer import DeviceAnalyzer, FrameResult, RoiSpec
from storewatch.analysis.thresholds import Thresholds
from storewatch.analysis.tracker import HOLD_SECONDS
from storewatch.analysis.transitions import (
    InteractionCancelled, InteractionStarted, LightingChange, VisitEnded, VisitStarted)

TOP_MIDDLE = roi_around(2)          # the yellow box on the top shelf
BOTTOM_RIGHT = roi_around(9, 10)    # two items on the bottom shelf, right


def run(seq: Sequence, rois: list[RoiSpec], **kw) -> list[FrameResult]:
    analyzer = DeviceAnalyzer(rois, **kw)
    return [analyzer.feed(decode_gray(j), ts, i) for i, (j, ts) in enumerate(zip(seq.jpegs, seq.times))]


def events(results: list[FrameResult], kind: type, roi_id: int | None = None) -> list:
    found = [t for r in results for t in r.transitions if isinstance(t, kind)]
    return [t for t in found if roi_id is None or t.roi_id == roi_id]


def outcomes(results: list[FrameResult], roi_id: int | None = None) -> list:
    """Each ROI outcome of every visit that ended, in order."""
    return [o for v in events(results, VisitEnded) for o in v.rois if roi_id is None or o.roi_id == roi_id]


def overlaps(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


@pytest.fixture(scope="module")
def take() -> Sequence:
    return reach_sequence(2, "take")


def test_item_taken_gives_one_interaction_with_a_change_over_the_item(take: Sequence) -> None:
    results = run(take, [RoiSpec(1, TOP_MIDDLE)])
    assert len(events(results, InteractionStarted)) == 1
    (visit,) = events(results, VisitEnded)
    (ended,) = visit.rois
    assert ended.decision.changed
    assert overlaps(ended.decision.box, ITEMS[2].box)
    assert visit.pre_frame_id < ended.peak_frame_id < visit.post_frame_id
    assert not visit.forced


def test_item_touched_gives_one_interaction_without_change() -> None:
    results = run(reach_sequence(2, "touch", side="left"), [RoiSpec(1, TOP_MIDDLE)])
    assert len(events(results, InteractionStarted)) == 1
    (ended,) = outcomes(results)
    assert not ended.decision.changed


def test_item_placed_is_a_change() -> None:
    results = run(reach_sequence(9, "place", side="right"), [RoiSpec(1, BOTTOM_RIGHT)])
    (ended,) = outcomes(results)
    assert ended.decision.changed
    assert overlaps(ended.decision.box, ITEMS[9].box)


def test_an_interaction_in_one_roi_leaves_another_alone(take: Sequence) -> None:
    results = run(take, [RoiSpec(1, TOP_MIDDLE), RoiSpec(2, BOTTOM_RIGHT)])
    assert [o.roi_id for o in outcomes(results)] == [1]
    assert events(results, InteractionStarted, 2) == []


def test_person_passing_outside_the_roi_is_no_interaction() -> None:
    xs = [None] * 8 + [0.1 + 0.1 * k for k in range(9)] + [None] * 10
    frames = [Frame(person_x=x) for x in xs]
    seq = Sequence(frames, uniform_times(len(frames))).render()
    results = run(seq, [RoiSpec(1, TOP_MIDDLE)])
    assert events(results, InteractionStarted) == []


@pytest.mark.parametrize("gain, cast", [(0.45, (1.0, 1.0, 1.0)), (0.6, (1.0, 0.85, 0.6)), (1.5, (0.8, 1.0, 1.2))])
def test_lights_switching_are_lighting_not_interaction(gain: float, cast: tuple[float, float, float]) -> None:
    frames = [Frame()] * 8 + [Frame(gain=gain, cast=cast)] * 8 + [Frame()] * 8
    seq = Sequence(frames, uniform_times(len(frames))).render()
    results = run(seq, [RoiSpec(1, TOP_MIDDLE), RoiSpec(2, BOTTOM_RIGHT)])
    assert events(results, InteractionStarted) == []
    assert len(events(results, LightingChange)) == 2
    assert results[8].lighting and results[16].lighting


def test_slow_exposure_drift_is_reported_as_lighting_and_no_interaction() -> None:
    frames = [Frame(gain=1.0 + 0.6 * min(1.0, k / 60)) for k in range(70)]
    seq = Sequence(frames, uniform_times(len(frames), step=2.0)).render()
    results = run(seq, [RoiSpec(1, TOP_MIDDLE), RoiSpec(2, BOTTOM_RIGHT)])
    assert events(results, InteractionStarted) == []
    assert len(events(results, LightingChange)) >= 1


def test_raising_the_start_threshold_suppresses_the_event(take: Sequence) -> None:
    strict = Thresholds.from_overrides({"start_threshold": 0.9})
    assert len(events(run(take, [RoiSpec(1, TOP_MIDDLE)]), InteractionStarted)) == 1
    assert events(run(take, [RoiSpec(1, TOP_MIDDLE, strict)]), InteractionStarted) == []


def test_no_interaction_before_the_reference_has_settled() -> None:
    seq = reach_sequence(2, "take", idle=0)
    results = run(seq, [RoiSpec(1, TOP_MIDDLE)])
    assert events(results, InteractionStarted) == []


def test_irregular_timing_baseline_then_burst(take: Sequence) -> None:
    # Baseline every 30 s until the arm shows, then a burst every 0.5 s.
    times = [30.0 * k for k in range(8)]
    times += [times[-1] + 0.5 * (k + 1) for k in range(len(take.jpegs) - 8)]
    seq = Sequence(take.frames, times, jpegs=take.jpegs)
    results = run(seq, [RoiSpec(1, TOP_MIDDLE)])
    (ended,) = outcomes(results)
    assert ended.decision.changed
    assert times[8] <= ended.start_ts <= times[10]


@pytest.fixture(scope="module")
def touch_then_take() -> Sequence:
    """A touch, 3 s of settled shelf with nobody in view, then a take of the same item."""
    first = reach_sequence(2, "touch", after=6)
    second = reach_sequence(2, "take", idle=0)
    frames = first.frames + second.frames
    return Sequence(frames, uniform_times(len(frames)), jpegs=first.jpegs + second.jpegs)


def test_two_visits_apart_by_a_settled_shelf_are_two_interactions(touch_then_take: Sequence) -> None:
    results = run(touch_then_take, [RoiSpec(1, TOP_MIDDLE)])
    touched, taken = events(results, VisitEnded)
    assert [o.verdict for v in (touched, taken) for o in v.rois] == ["unchanged", "taken"]
    # the take's Before is the settled shelf after the touch, before the second arm shows (frame 21)
    assert touched.post_frame_id <= taken.pre_frame_id < 21 and not taken.forced


def held_reach(item: int, hold: int, idle: int = 8, after: int = 20) -> Sequence:
    """An arm from the top reaches `item`, rests still on it for `hold` frames (0.5 s each), takes it and leaves."""
    x0, y0, x1, y1 = ITEMS[item].box
    target = ((x0 + x1) / 2, (y0 + y1) / 2)
    arm = lambda p: Arm("top", (target[0], target[1] * p))  # noqa: E731
    frames = [Frame()] * idle + [Frame(arm=arm(p)) for p in (0.35, 0.7)] + [Frame(arm=arm(1.0))] * hold
    gone = frozenset([item])
    frames += [Frame(removed=gone, arm=arm(p)) for p in (1.0, 0.7, 0.35)] + [Frame(removed=gone)] * after
    return Sequence(frames, uniform_times(len(frames))).render()


def test_a_hand_resting_still_neither_ends_the_interaction_nor_is_decided_on() -> None:
    idle, hold = 8, 16  # 8 s without motion: well past quiet_seconds
    results = run(held_reach(2, hold, idle), [RoiSpec(1, TOP_MIDDLE)])
    (visit,) = events(results, VisitEnded)
    left = idle + 2 + hold + 3  # the first frame with no arm in view
    assert visit.pre_frame_id < idle and visit.post_frame_id >= left
    assert [o.verdict for o in visit.rois] == ["taken"] and not visit.forced


def test_a_still_change_reaching_out_of_the_roi_is_decided_after_the_longest_hold() -> None:
    # An arm that never leaves (or a bag left across the ROI's border) does not keep it open forever.
    longest = Thresholds().quiet_seconds + HOLD_SECONDS
    hold = int(2 * longest) + 6
    seq = held_reach(2, hold, after=0)
    frames = 10 + hold  # up to the end of the hold: the arm never leaves
    analyzer = DeviceAnalyzer([RoiSpec(1, TOP_MIDDLE)])
    results = [analyzer.feed(decode_gray(j), ts, i) for i, (j, ts) in enumerate(zip(seq.jpegs[:frames], seq.times[:frames]))]
    (visit,) = events(results, VisitEnded)
    settled = visit.ts - seq.times[10]  # since the arm stopped
    assert longest - 1.0 <= settled <= longest + 1.0


def test_interaction_longer_than_max_duration_is_forced_closed() -> None:
    frames = [Frame()] * 8 + [Frame(arm=replace_arm(k)) for k in range(12)] + [Frame()] * 4
    seq = Sequence(frames, uniform_times(len(frames))).render()
    thr = Thresholds.from_overrides({"max_duration_seconds": 3.0})
    results = run(seq, [RoiSpec(1, TOP_MIDDLE, thr)])
    assert any(e.forced for e in events(results, VisitEnded))


def replace_arm(k: int):
    from support.shelf_scenes import Arm
    return Arm("top", (0.40, 0.2 + 0.02 * (k % 4)))


def test_wants_burst_while_an_interaction_is_open(take: Sequence) -> None:
    results = run(take, [RoiSpec(1, TOP_MIDDLE)])
    started = next(i for i, r in enumerate(results) if events([r], VisitStarted))
    ended = next(i for i, r in enumerate(results) if events([r], VisitEnded))
    assert not results[started - 2].wants_burst
    assert all(r.wants_burst for r in results[started:ended])
    assert not results[-1].wants_burst


def test_cancelled_is_only_for_lighting(take: Sequence) -> None:
    assert events(run(take, [RoiSpec(1, TOP_MIDDLE)]), InteractionCancelled) == []
