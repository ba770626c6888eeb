"""The per-ROI state machine: warming -> idle -> active -> settled -> (closed) idle.

Fed one frame at a time with its capture time. Two scores drive it: *change*, the
ROI's changed share against the settled reference (starts an interaction), and
*motion*, the changed share against the previous frame (its absence for
quiet_seconds settles one; a permanent change such as a taken box does not keep
an interaction open). After settling, new activity within merge_gap_seconds
continues the same interaction; otherwise it closes with the inventory decision of
the pre image against the first settled frame after it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from storewatch.analysis import scoring
from storewatch.analysis.inventory import InventoryDecision, decide_in_grid
from storewatch.analysis.lighting import LightingStatus
from storewatch.analysis.roi_mask import RoiGrid
from storewatch.analysis.thresholds import Thresholds
from storewatch.analysis.transitions import (
    InteractionCancelled, InteractionEnded, InteractionStarted, Transition)

WARMING, IDLE, ACTIVE, SETTLED = "warming", "idle", "active", "settled"


@dataclass
class _Interaction:
    start_ts: float
    start_frame_id: int
    pre_frame_id: int
    peak_score: float
    peak_frame_id: int
    last_active_ts: float
    settled_ts: float | None = None
    post_frame_id: int | None = None
    decision: InventoryDecision | None = None


class _Image:
    """A uint8 crop with its frame id and cached cell statistics."""

    def __init__(self, pixels: np.ndarray, frame_id: int) -> None:
        self.pixels = pixels
        self.frame_id = frame_id
        self.f32 = pixels.astype(np.float32)
        self.stats = scoring.cell_stats(self.f32)


class RoiTracker:
    """State of one ROI; `feed` returns (score, transitions) for each frame."""

    def __init__(self, roi_id: int, grid: RoiGrid, thresholds: Thresholds) -> None:
        self.roi_id = roi_id
        self.grid = grid
        self.thr = thresholds
        self.state = WARMING
        self.ref: _Image | None = None
        self.prev: _Image | None = None
        self.pre: _Image | None = None
        self.stable_since: float | None = None
        self.refreshed_ts: float | None = None
        self.settled_frame_id: int | None = None
        self.cand_count = 0
        self.cand: _Interaction | None = None
        self.current: _Interaction | None = None

    @property
    def busy(self) -> bool:
        """Active, settling or about to start: the camera should keep bursting."""
        return self.state in (ACTIVE, SETTLED) or self.cand_count > 0

    def feed(self, frame: np.ndarray, ts: float, frame_id: int, light: LightingStatus) -> tuple[float, list[Transition]]:
        """Advance with a full uint8 gray frame (the analysis size) taken at `ts`."""
        if self.grid.weights.size == 0:
            return 0.0, []
        img = _Image(np.ascontiguousarray(self.grid.crop(frame)), frame_id)
        motion = None if self.prev is None else self._score(self.prev, img)
        events: list[Transition] = []
        handler = {WARMING: self._warming, IDLE: self._idle, ACTIVE: self._active, SETTLED: self._settled}[self.state]
        score = handler(img, motion, ts, light, events)
        self.prev = img
        return score, events

    def _score(self, ref: _Image, img: _Image) -> float:
        diff = scoring.compare(ref.f32, ref.stats, img.f32, img.stats, self.grid.weights, self.thr)
        return scoring.area_score(scoring.changed_cells(diff, self.thr.cell_change), self.grid.weights)

    def _warming(self, img: _Image, motion: float | None, ts: float, light: LightingStatus,
                 events: list[Transition]) -> float:
        if motion is None or light.lighting or motion >= self.thr.end_threshold:
            self.stable_since = ts
        elif ts - self.stable_since >= self.thr.quiet_seconds:
            self.state = IDLE
            self._settle_reference(img, ts)
        self.ref = img
        return 0.0

    def _settle_reference(self, img: _Image, ts: float) -> None:
        self.ref = img
        self.refreshed_ts = ts
        self.settled_frame_id = img.frame_id
        self.cand_count, self.cand = 0, None

    def _idle(self, img: _Image, motion: float | None, ts: float, light: LightingStatus,
              events: list[Transition]) -> float:
        change = self._score(self.ref, img)
        if light.rebase:
            self._settle_reference(img, ts)
        elif light.lighting:
            self.cand_count, self.cand = 0, None
        elif change >= self.thr.start_threshold:
            if self._candidate(img, change, ts):
                self.state = ACTIVE
                self.current = self.cand
                events.append(InteractionStarted(self.roi_id, self.cand.start_ts, self.cand.start_frame_id))
        else:
            self.cand_count, self.cand = 0, None
            quiet = (motion is None or motion < self.thr.end_threshold) and change < self.thr.end_threshold
            if quiet and ts - self.refreshed_ts >= self.thr.reference_refresh_seconds:
                self._settle_reference(img, ts)
        return change

    def _candidate(self, img: _Image, change: float, ts: float) -> bool:
        """Count one frame above start_threshold; True once there are enough in a row."""
        if self.cand_count == 0:
            self.pre = self.ref
            self.cand = _Interaction(ts, img.frame_id, self.pre.frame_id, change, img.frame_id, ts)
        elif change > self.cand.peak_score:
            self.cand.peak_score, self.cand.peak_frame_id = change, img.frame_id
        self.cand.last_active_ts = ts
        self.cand_count += 1
        return self.cand_count >= self.thr.min_active_frames

    def _active(self, img: _Image, motion: float | None, ts: float, light: LightingStatus,
                events: list[Transition]) -> float:
        cur = self.current
        change = self._score(self.pre, img)
        if light.started and ts - cur.start_ts < self.thr.quiet_seconds:
            events.append(InteractionCancelled(self.roi_id, cur.start_ts, ts, img.frame_id))
            self.state, self.current, self.pre = IDLE, None, None
            return change
        if light.lighting:
            return change
        if change > cur.peak_score:
            cur.peak_score, cur.peak_frame_id = change, img.frame_id
        if ts - cur.start_ts >= self.thr.max_duration_seconds:
            cur.decision = self._decide(img)
            cur.post_frame_id = img.frame_id
            self._close(events, forced=True)
            self._settle_reference(img, ts)
        elif motion is not None and motion >= self.thr.end_threshold:
            cur.last_active_ts = ts
        elif ts - cur.last_active_ts >= self.thr.quiet_seconds:
            cur.decision = self._decide(img)
            cur.settled_ts, cur.post_frame_id = ts, img.frame_id
            self.state = SETTLED
            self.ref = img
            self.cand_count, self.cand = 0, None
        return change

    def _settled(self, img: _Image, motion: float | None, ts: float, light: LightingStatus,
                 events: list[Transition]) -> float:
        cur = self.current
        if ts - cur.settled_ts > self.thr.merge_gap_seconds:
            self._close(events, forced=False)
            self._settle_reference(self.ref, cur.settled_ts)
            return self._idle(img, motion, ts, light, events)
        change = self._score(self.ref, img)
        if light.rebase:
            self.ref = img
        if light.lighting or change < self.thr.start_threshold:
            self.cand_count, self.cand = 0, None
            return change
        self.cand_count += 1
        cur.last_active_ts = ts
        if change > cur.peak_score:
            cur.peak_score, cur.peak_frame_id = change, img.frame_id
        if self.cand_count >= self.thr.min_active_frames:
            self.state = ACTIVE  # the same interaction continues
            cur.settled_ts = cur.post_frame_id = cur.decision = None
            self.cand_count, self.cand = 0, None
        return change

    def _decide(self, img: _Image) -> InventoryDecision:
        return decide_in_grid(self.pre.f32, img.f32, self.grid, self.thr)

    def _close(self, events: list[Transition], forced: bool) -> None:
        cur = self.current
        events.append(InteractionEnded(
            self.roi_id, cur.start_ts, cur.last_active_ts, cur.peak_score, cur.peak_frame_id,
            cur.pre_frame_id, cur.post_frame_id, cur.decision, forced))
        self.state = IDLE
        self.current, self.pre = None, None
