"""Motion inside the ROIs, on the small grey frames, so a device can go to burst itself.

The config's `motion_trigger`: `threshold` is the fraction of ROI pixels that must change
by more than PIXEL_DELTA grey levels between two looks; ROI polygons are in normalized
coordinates, so the mask is drawn at whatever size the grey frames have.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from storewatch.contract import CONFIG_FIELD

PIXEL_DELTA = 25
_THRESHOLD = CONFIG_FIELD["motion_threshold"]  # its default and bounds


def roi_mask(rois: list[dict[str, Any]], size: tuple[int, int]) -> np.ndarray:
    """A boolean (height, width) mask of the polygons; the whole frame when there are none."""
    width, height = size
    polygons = [roi.get("polygon") for roi in rois if isinstance(roi, dict)]
    polygons = [p for p in polygons if isinstance(p, list) and len(p) >= 3]
    if not polygons:
        return np.ones((height, width), bool)
    canvas = Image.new("1", size, 0)
    draw = ImageDraw.Draw(canvas)
    for polygon in polygons:
        try:
            draw.polygon([(float(x) * width, float(y) * height) for x, y in polygon], fill=1)
        except (TypeError, ValueError):
            continue  # a malformed polygon is skipped, not fatal
    return np.asarray(canvas, bool)


class MotionTrigger:
    def __init__(self) -> None:
        self.enabled = False
        self.threshold = _THRESHOLD.default
        self._rois: list[dict[str, Any]] = []
        self._mask: np.ndarray | None = None
        self._previous: np.ndarray | None = None
        self._reference: np.ndarray | None = None

    def configure(self, settings: dict[str, Any]) -> None:
        self.enabled = bool(settings.get("enabled", False))
        threshold = settings.get("threshold")
        if _THRESHOLD.accepts(threshold):
            self.threshold = float(threshold)
        rois = settings.get("rois") if isinstance(settings.get("rois"), list) else []
        if rois != self._rois:
            self._rois, self._mask = rois, None

    def changed_fraction(self, gray: np.ndarray) -> float | None:
        """How much of the ROIs changed (0..1) since the last look, or since the scene last
        held still, whichever is more; None on the first look.

        Comparing with the last still scene too catches a slow arm whose every step is
        small; a scene that holds still becomes the new normal (an item taken, the light).
        """
        previous, self._previous = self._previous, gray
        if previous is None or previous.shape != gray.shape:
            self._reference = gray
            return None
        if self._mask is None or self._mask.shape != gray.shape:
            self._mask = roi_mask(self._rois, (gray.shape[1], gray.shape[0]))
        if not self._mask.any():
            return 0.0
        if self._reference is None or self._reference.shape != gray.shape:
            self._reference = previous
        step = self._changed(gray, previous)
        settled = self._changed(gray, self._reference)
        if step <= self.threshold / 4:
            self._reference = gray
        return max(step, settled)

    def _changed(self, gray: np.ndarray, other: np.ndarray) -> float:
        assert self._mask is not None
        delta = np.abs(gray.astype(np.int16) - other.astype(np.int16)) > PIXEL_DELTA
        return float(delta[self._mask].mean())

    def moved(self, gray: np.ndarray | None) -> bool:
        if not self.enabled or gray is None:
            return False
        fraction = self.changed_fraction(gray)
        return fraction is not None and fraction > self.threshold
