"""Motion inside the ROIs on the small grey frames."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np

from storewatch.camera.motion import MotionTrigger, roi_mask
from storewatch.camera.sources.simulated import SimulatedShelf

LEFT_HALF = [{"id": 1, "polygon": [[0, 0], [0.5, 0], [0.5, 1], [0, 1]]}]


def trigger(**settings) -> MotionTrigger:
    motion = MotionTrigger()
    motion.configure({"enabled": True, "threshold": 0.02, **settings})
    return motion


def test_roi_mask_is_drawn_from_normalized_polygons_at_any_size():
    mask = roi_mask(LEFT_HALF, (40, 30))
    assert mask.shape == (30, 40) and 0.45 < mask.mean() < 0.55 and mask[:, :15].all() and not mask[:, 25:].any()
    assert roi_mask([], (40, 30)).all()
    assert roi_mask([{"polygon": [["x", 1], [2]]}, {"polygon": "nope"}], (8, 8)).all()


def test_change_outside_the_rois_is_ignored_and_inside_triggers():
    motion = trigger(rois=LEFT_HALF)
    still = np.full((30, 40), 100, np.uint8)
    assert motion.moved(still) is False  # first look
    right = still.copy()
    right[:, 25:] = 250
    assert motion.moved(right) is False
    left = right.copy()
    left[:10, :10] = 0
    assert motion.moved(left) is True


def test_disabled_or_no_grey_image_never_triggers():
    motion = MotionTrigger()
    motion.configure({"enabled": False})
    assert motion.moved(np.zeros((4, 4), np.uint8)) is False
    assert trigger().moved(None) is False


def test_small_noise_stays_under_the_threshold():
    rng = np.random.default_rng(0)
    motion = trigger()
    base = rng.integers(60, 200, (240, 320)).astype(np.int16)
    for _ in range(5):
        assert motion.moved(np.clip(base + rng.normal(0, 4, base.shape), 0, 255).astype(np.uint8)) is False


def test_every_simulated_arm_is_seen_at_one_look_per_second():
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    now = [start]
    shelf = SimulatedShelf(seed=1, clock=lambda: now[0])
    shelf.open(640, 480, 80)
    motion = trigger()
    seen = []
    for second in range(240):
        now[0] = start + timedelta(seconds=second)
        if motion.moved(shelf.capture_lores()):
            seen.append(second)
    events = shelf.events(235)
    for event in events:
        assert any(event.start <= s <= event.start + event.duration + 1 for s in seen), event
    quiet = [s for s in seen if not any(e.start <= s <= e.start + e.duration + 2 for e in events)]
    assert quiet == []
