"""All ROIs of one device, the lighting state they share, and the visit they make together.

`feed` takes each decoded frame (float or uint8 gray at the analysis size) with its
capture time; a frame of a new size restarts the warm-up, since references of
another size cannot be compared. Per frame: the lighting first, then every ROI's
tracker, then the device's visit (`visit.py`), which reports one `VisitEnded` with
every touched ROI's outcome when the view is quiet again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from storewatch.analysis import state_codec
from storewatch.analysis.lighting import LightingDetector, LightingStatus
from storewatch.analysis.roi_mask import polygon_mask, roi_grid
from storewatch.analysis.thresholds import Thresholds
from storewatch.analysis.tracker import RESTLESS, RoiTracker
from storewatch.analysis.transitions import LightingChange, LightingSettled, Transition, VisitDropped
from storewatch.analysis.visit import VisitKeeper


@dataclass(frozen=True)
class RoiSpec:
    """One ROI: polygon normalized 0..1 (x right, y down) and its thresholds."""

    id: int
    polygon: tuple[tuple[float, float], ...]
    thresholds: Thresholds = field(default_factory=Thresholds)

    def __post_init__(self) -> None:
        object.__setattr__(self, "polygon", tuple((float(x), float(y)) for x, y in self.polygon))


@dataclass(frozen=True)
class FrameResult:
    """Per-frame outcome: ROI scores, whether lighting is changing, and transitions.

    `wants_burst` is true while a visit is open or any ROI is about to start one;
    `restless` lists the ROIs busy without a break (they start no visit; see `RoiRestless`).
    """

    scores: dict[int, float]
    lighting: bool
    transitions: list[Transition]
    wants_burst: bool = False
    restless: tuple[int, ...] = ()


class DeviceAnalyzer:
    def __init__(self, rois: Sequence[RoiSpec], thresholds: Thresholds | None = None) -> None:
        """`thresholds` supplies the device-wide lighting settings (defaults if None)."""
        self.thresholds = thresholds if thresholds is not None else Thresholds()
        self.rois: dict[int, RoiSpec] = {roi.id: roi for roi in rois}
        self.shape: tuple[int, int] | None = None
        self.lighting = LightingDetector(self.thresholds)
        self.trackers: dict[int, RoiTracker] = {}
        self.visits = VisitKeeper()

    def feed(self, gray: np.ndarray, ts: float, frame_id: int) -> FrameResult:
        frame = _as_uint8(gray)
        transitions: list[Transition] = []
        if frame.shape != self.shape:
            lost = self.visits.current
            self._restart(frame.shape)
            if lost is not None:  # a new size starts over: the open visit ends here, with no event
                transitions.append(VisitDropped(lost.start_ts, lost.start_frame_id, ts, frame_id,
                                                tuple(lost.touched), over=True))
        status: LightingStatus = self.lighting.update(frame, ts, frame_id)
        if status.started:
            transitions.append(LightingChange(ts, frame_id))
        if status.rebase and status.since is not None:
            transitions.append(LightingSettled(status.since, ts, status.before_frame_id, frame_id))
        visiting = self.visits.holds_references(self.trackers, self.visits.current)
        scores: dict[int, float] = {}
        for roi_id, tracker in self.trackers.items():
            scores[roi_id], events = tracker.feed(frame, ts, frame_id, status, visiting)
            transitions.extend(events)
        transitions.extend(self.visits.update(self.trackers, frame, ts, frame_id, status))
        busy = self.visits.current is not None or any(t.busy for t in self.trackers.values())
        restless = tuple(roi_id for roi_id, t in self.trackers.items() if t.state == RESTLESS)
        return FrameResult(scores, status.lighting, transitions, busy, restless)

    def update_rois(self, rois: Sequence[RoiSpec]) -> None:
        """Take a new ROI list: unchanged ROIs keep their state, changed ones restart, gone ones go."""
        new = {roi.id: roi for roi in rois}
        for roi_id in list(self.trackers):
            if new.get(roi_id) != self.rois.get(roi_id):
                del self.trackers[roi_id]
        self.rois = new
        if self.shape is not None:
            for roi_id, roi in new.items():
                if roi_id not in self.trackers:
                    self.trackers[roi_id] = self._tracker(roi)

    def to_state(self) -> bytes:
        """Everything needed to continue exactly where this left off."""
        return state_codec.encode(self)

    def state_digest(self) -> bytes:
        """A short hash of `to_state`'s content: equal for analyzers that continue alike."""
        return state_codec.digest(self)

    @classmethod
    def from_state(cls, data: bytes, rois: Sequence[RoiSpec], thresholds: Thresholds | None = None) -> "DeviceAnalyzer":
        """Restore from `to_state` bytes; ROIs differing from the saved ones restart."""
        return state_codec.decode(data, cls(rois, thresholds))

    def _restart(self, shape: tuple[int, int]) -> None:
        self.shape = (int(shape[0]), int(shape[1]))
        self.lighting = LightingDetector(self.thresholds)
        self.trackers = {roi_id: self._tracker(roi) for roi_id, roi in self.rois.items()}
        self.visits = VisitKeeper()

    def _tracker(self, roi: RoiSpec) -> RoiTracker:
        grid = roi_grid(polygon_mask(roi.polygon, self.shape))
        return RoiTracker(roi.id, grid, roi.thresholds)


def _as_uint8(gray: np.ndarray) -> np.ndarray:
    if gray.ndim != 2:
        raise ValueError(f"expected a 2-D grayscale frame, got shape {gray.shape}")
    if gray.dtype == np.uint8:
        return gray
    # decode_gray gives whole numbers as float32; rounding keeps the state exactly uint8.
    return np.clip(np.rint(gray), 0, 255).astype(np.uint8)
