"""DeviceAnalyzer: state round-trip, ROI updates, frame-size changes."""

from __future__ import annotations

import numpy as np
import pytest

from shelf_scenes import reach_sequence, roi_around
from storewatch.analysis.decode import decode_gray
from storewatch.analysis.device_analyzer import DeviceAnalyzer, RoiSpec
from storewatch.analysis.state_codec import StateError
from storewatch.analysis.thresholds import Thresholds

ROIS = [RoiSpec(1, roi_around(2)), RoiSpec(2, roi_around(9, 10)), RoiSpec(3, roi_around(0, 1))]


@pytest.fixture(scope="module")
def frames() -> list[tuple[np.ndarray, float, int]]:
    seq = reach_sequence(2, "take")
    return [(decode_gray(j), ts, i) for i, (j, ts) in enumerate(zip(seq.jpegs, seq.times))]


def feed_all(analyzer: DeviceAnalyzer, frames) -> list:
    return [analyzer.feed(*f) for f in frames]


@pytest.mark.parametrize("split", [3, 9, 12, 16, 22])
def test_restore_mid_stream_continues_exactly_like_an_uninterrupted_run(frames, split: int) -> None:
    whole = feed_all(DeviceAnalyzer(ROIS), frames)
    first = DeviceAnalyzer(ROIS)
    head = feed_all(first, frames[:split])
    restored = DeviceAnalyzer.from_state(first.to_state(), ROIS)
    tail = feed_all(restored, frames[split:])
    assert head + tail == whole
    assert restored.to_state() == DeviceAnalyzer.from_state(restored.to_state(), ROIS).to_state()


def test_state_is_compact(frames) -> None:
    analyzer = DeviceAnalyzer(ROIS)
    feed_all(analyzer, frames[:12])
    assert len(analyzer.to_state()) < 120_000


def test_state_before_any_frame_and_garbage() -> None:
    assert DeviceAnalyzer.from_state(DeviceAnalyzer(ROIS).to_state(), ROIS).shape is None
    with pytest.raises(StateError):
        DeviceAnalyzer.from_state(b"not a state", ROIS)


def test_update_rois_resets_only_changed_rois(frames) -> None:
    analyzer = DeviceAnalyzer(ROIS)
    feed_all(analyzer, frames[:8])
    kept = analyzer.trackers[1]
    moved = RoiSpec(2, roi_around(8))
    retuned = RoiSpec(3, ROIS[2].polygon, Thresholds.from_overrides({"start_threshold": 0.2}))
    analyzer.update_rois([ROIS[0], moved, retuned, RoiSpec(4, roi_around(5))])
    assert analyzer.trackers[1] is kept and kept.state == "idle"
    assert {analyzer.trackers[i].state for i in (2, 3, 4)} == {"warming"}
    analyzer.update_rois([ROIS[0]])
    assert list(analyzer.trackers) == [1]


def test_restore_with_a_changed_roi_restarts_only_that_roi(frames) -> None:
    analyzer = DeviceAnalyzer(ROIS)
    feed_all(analyzer, frames[:8])
    rois = [ROIS[0], RoiSpec(2, roi_around(8)), ROIS[2]]
    restored = DeviceAnalyzer.from_state(analyzer.to_state(), rois)
    assert [restored.trackers[i].state for i in (1, 2, 3)] == ["idle", "warming", "idle"]


def test_a_new_frame_size_restarts_the_warm_up(frames) -> None:
    analyzer = DeviceAnalyzer(ROIS)
    feed_all(analyzer, frames[:8])
    small = frames[8][0][::2, ::2]
    analyzer.feed(small, frames[8][1], 8)
    assert analyzer.shape == small.shape
    assert analyzer.trackers[1].state == "warming"
