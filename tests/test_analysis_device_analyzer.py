"""DeviceAnalyzer: state round-trip, ROI updates, frame-size changes."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from support.shelf_scenes import ITEMS, Arm, Frame, Sequence, reach_sequence, roi_around, uniform_times
from storewatch.analysis.decode import decode_gray
from storewatch.analysis.device_analyzer import DeviceAnalyzer, RoiSpec
from storewatch.analysis.state_codec import StateError
from storewatch.analysis.thresholds import Thresholds
from storewatch.analysis.transitions import VisitDropped, VisitEnded

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


@pytest.fixture(scope="module")
def held() -> list[tuple[np.ndarray, float, int]]:
    """An arm rests still on item 2 for 8 s (past quiet_seconds), takes it and leaves."""
    x0, y0, x1, y1 = ITEMS[2].box
    arm = lambda p: Arm("top", ((x0 + x1) / 2, (y0 + y1) / 2 * p))  # noqa: E731
    gone = frozenset([2])
    shown = ([Frame()] * 8 + [Frame(arm=arm(p)) for p in (0.35, 0.7)] + [Frame(arm=arm(1.0))] * 16
             + [Frame(removed=gone, arm=arm(p)) for p in (1.0, 0.7, 0.35)] + [Frame(removed=gone)] * 12)
    seq = Sequence(shown, uniform_times(len(shown))).render()
    return [(decode_gray(j), ts, i) for i, (j, ts) in enumerate(zip(seq.jpegs, seq.times))]


@pytest.mark.parametrize("split", [16, 22])  # while the still arm holds the ROI open
def test_restore_while_a_hand_rests_continues_exactly(held, split: int) -> None:
    whole = feed_all(DeviceAnalyzer(ROIS), held)
    first = DeviceAnalyzer(ROIS)
    head = feed_all(first, held[:split])
    assert first.trackers[1].state == "active" and first.trackers[1].pre_wide is not None
    tail = feed_all(DeviceAnalyzer.from_state(first.to_state(), ROIS), held[split:])
    assert head + tail == whole
    assert [o.verdict for r in whole for t in r.transitions if isinstance(t, VisitEnded) for o in t.rois] == ["taken"]


def _without_bands(state: bytes) -> bytes:
    """`state` as saved before the margin bands existed: no `wide` images, no arm_seen_ts or relit."""
    with np.load(io.BytesIO(state), allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files if "_w" not in name}
    header = json.loads(arrays["header"].tobytes())
    for roi in header["rois"]:
        del roi["wide"]
        for slot in ("cand", "current"):
            if roi[slot] is not None:
                del roi[slot]["arm_seen_ts"], roi[slot]["relit"]
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    out = io.BytesIO()
    np.savez_compressed(out, **arrays)
    return out.getvalue()


def test_a_state_saved_before_the_margin_bands_still_loads_and_decides(held) -> None:
    first = DeviceAnalyzer(ROIS)
    feed_all(first, held[:12])
    restored = DeviceAnalyzer.from_state(_without_bands(first.to_state()), ROIS)
    assert restored.trackers[1].state == "active" and restored.trackers[1].pre_wide is None
    ended = [t for r in feed_all(restored, held[12:]) for t in r.transitions if isinstance(t, VisitEnded)]
    assert [o.roi_id for e in ended for o in e.rois] == [1]


def _visits(results) -> list[VisitEnded]:
    return [t for r in results for t in r.transitions if isinstance(t, VisitEnded)]


@pytest.mark.parametrize("split", [11, 14, 18])  # the arm in view, leaving, the shelf settling
def test_a_state_saved_mid_visit_gives_the_same_visit_ended(frames, split: int) -> None:
    (whole,) = _visits(feed_all(DeviceAnalyzer(ROIS), frames))
    first = DeviceAnalyzer(ROIS)
    head = feed_all(first, frames[:split])
    assert first.visits.current is not None and _visits(head) == []
    restored = DeviceAnalyzer.from_state(first.to_state(), ROIS)
    assert restored.visits.current == first.visits.current
    assert _visits(feed_all(restored, frames[split:])) == [whole]
    assert [o.verdict for o in whole.rois] == ["taken"]


def _as_before_visits(state: bytes) -> bytes:
    """`state` as saved before visits: no visit, no lighting frame ids; interactions as they were then."""
    with np.load(io.BytesIO(state), allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    header = json.loads(arrays["header"].tobytes())
    del header["visit"], header["light_frame_ids"]
    for roi in header["rois"]:
        for slot in ("cand", "current"):
            if roi[slot] is not None:
                del roi[slot]["pre_ts"]
                roi[slot].update(post_frame_id=None, decision=None)
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    out = io.BytesIO()
    np.savez_compressed(out, **arrays)
    return out.getvalue()


def test_a_state_saved_before_visits_loads_and_its_open_interaction_ends_as_a_visit(frames) -> None:
    first = DeviceAnalyzer(ROIS)
    feed_all(first, frames[:14])
    assert first.trackers[1].state == "active"
    restored = DeviceAnalyzer.from_state(_as_before_visits(first.to_state()), ROIS)
    assert restored.visits.current is None and restored.trackers[1].state == "active"
    (visit,) = _visits(feed_all(restored, frames[14:]))
    assert [(o.roi_id, o.verdict) for o in visit.rois] == [(1, "taken")]


def test_a_new_frame_size_mid_visit_ends_the_open_visit_with_no_event(held) -> None:
    """A restart loses the open visit's references: it must still end (MQTT's touched goes OFF),
    not vanish; and no verdict is made of a frame the analysis has not warmed up on."""
    analyzer = DeviceAnalyzer(ROIS)
    feed_all(analyzer, held[:16])  # the arm rests on item 2: a visit is open
    visit = analyzer.visits.current
    assert visit is not None and visit.touched
    small, ts, _ = held[16]
    result = analyzer.feed(small[::2, ::2], ts, 16)
    dropped = [t for t in result.transitions if isinstance(t, VisitDropped)]
    assert dropped == [VisitDropped(visit.start_ts, visit.start_frame_id, ts, 16, tuple(visit.touched), over=True)]
    assert not [t for t in result.transitions if isinstance(t, VisitEnded)]
    assert analyzer.visits.current is None
    assert not [t for f in held[17:20] for t in analyzer.feed(f[0][::2, ::2], f[1], f[2]).transitions
                if isinstance(t, VisitDropped)]  # once
