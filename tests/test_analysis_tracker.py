"""The ROI state machine on rendered shelf scenes: exact outcomes per scenario."""

from __future__ import annotations

from dataclasses import replace

import pytest

from shelf_scenes import ITEMS, Frame, Sequence, reach_sequence, roi_around, uniform_times
from storewatch.analysis.decode import decode_gray
from storewatch.analysis.device_analyzer import DeviceAnalyzer, FrameResult, RoiSpec
from storewatch.analysis.thresholds import Thresholds
from storewatch.analysis.transitions import (
    InteractionCancelled, InteractionEnded, InteractionStarted, LightingChange)

TOP_MIDDLE = roi_around(2)          # the yellow box on the top shelf
BOTTOM_RIGHT = roi_around(9, 10)    # two items on the bottom shelf, right


def run(seq: Sequence, rois: list[RoiSpec], **kw) -> list[FrameResult]:
    analyzer = DeviceAnalyzer(rois, **kw)
    return [analyzer.feed(decode_gray(j), ts, i) for i, (j, ts) in enumerate(zip(seq.jpegs, seq.times))]


def events(results: list[FrameResult], kind: type, roi_id: int | None = None) -> list:
    found = [t for r in results for t in r.transitions if isinstance(t, kind)]
    return [t for t in found if roi_id is None or t.roi_id == roi_id]


def overlaps(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


@pytest.fixture(scope="module")
def take() -> Sequence:
    return reach_sequence(2, "take")


def test_item_taken_gives_one_interaction_with_a_change_over_the_item(take: Sequence) -> None:
    results = run(take, [RoiSpec(1, TOP_MIDDLE)])
    assert len(events(results, InteractionStarted)) == 1
    (ended,) = events(results, InteractionEnded)
    assert ended.decision.changed
    assert overlaps(ended.decision.box, ITEMS[2].box)
    assert ended.pre_frame_id < ended.peak_frame_id < ended.post_frame_id
    assert not ended.forced


def test_item_touched_gives_one_interaction_without_change() -> None:
    results = run(reach_sequence(2, "touch", side="left"), [RoiSpec(1, TOP_MIDDLE)])
    assert len(events(results, InteractionStarted)) == 1
    (ended,) = events(results, InteractionEnded)
    assert not ended.decision.changed


def test_item_placed_is_a_change() -> None:
    results = run(reach_sequence(9, "place", side="right"), [RoiSpec(1, BOTTOM_RIGHT)])
    (ended,) = events(results, InteractionEnded)
    assert ended.decision.changed
    assert overlaps(ended.decision.box, ITEMS[9].box)


def test_an_interaction_in_one_roi_leaves_another_alone(take: Sequence) -> None:
    results = run(take, [RoiSpec(1, TOP_MIDDLE), RoiSpec(2, BOTTOM_RIGHT)])
    assert len(events(results, InteractionEnded, 1)) == 1
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
    (ended,) = events(results, InteractionEnded)
    assert ended.decision.changed
    assert times[8] <= ended.start_ts <= times[10]


def test_activity_within_the_merge_gap_continues_the_same_interaction() -> None:
    first = reach_sequence(2, "touch", after=6)
    second = reach_sequence(2, "take", idle=0)
    frames = first.frames + second.frames
    seq = Sequence(frames, uniform_times(len(frames)), jpegs=first.jpegs + second.jpegs)
    results = run(seq, [RoiSpec(1, TOP_MIDDLE)])
    (ended,) = events(results, InteractionEnded)
    assert ended.decision.changed


def test_interaction_longer_than_max_duration_is_forced_closed() -> None:
    frames = [Frame()] * 8 + [Frame(arm=replace_arm(k)) for k in range(12)] + [Frame()] * 4
    seq = Sequence(frames, uniform_times(len(frames))).render()
    thr = Thresholds.from_overrides({"max_duration_seconds": 3.0})
    results = run(seq, [RoiSpec(1, TOP_MIDDLE, thr)])
    assert any(e.forced for e in events(results, InteractionEnded))


def replace_arm(k: int):
    from shelf_scenes import Arm
    return Arm("top", (0.40, 0.2 + 0.02 * (k % 4)))


def test_wants_burst_while_an_interaction_is_open(take: Sequence) -> None:
    results = run(take, [RoiSpec(1, TOP_MIDDLE)])
    started = next(i for i, r in enumerate(results) if events([r], InteractionStarted))
    ended = next(i for i, r in enumerate(results) if events([r], InteractionEnded))
    assert not results[started - 2].wants_burst
    assert all(r.wants_burst for r in results[started:ended])
    assert not results[-1].wants_burst


def test_cancelled_is_only_for_lighting(take: Sequence) -> None:
    assert events(run(take, [RoiSpec(1, TOP_MIDDLE)]), InteractionCancelled) == []
