"""Whole-frame lighting-change detection, shared by all ROIs of a device.

A lighting change is most of the frame changing brightness together while its
structure stays put (or cannot be seen, in the dark). It is judged against a
snapshot taken when the lighting last settled, so slow exposure drift is caught
too (the snapshot follows the scene's content, not its brightness); it lasts until one frame's overall brightness matches the previous frame's,
and then the snapshot (and the idle ROIs' references) are re-based on that frame.
A person filling the frame changes brightness everywhere too, but unevenly and
with new structure, so it is not a lighting change.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from storewatch.analysis import scoring
from storewatch.analysis.thresholds import Thresholds

# Lighting counts as settled when the median cell changes less than this fraction of
# lighting_delta from the previous frame.
_SETTLED_FRACTION = 1 / 3
_SAME, _CONTENT, _DRIFTING, _RELIT = "same", "content", "drifting", "relit"
# The snapshot follows the scene only while fewer cells than this have started to re-light.
_FOLLOW_MAX_CHANGED = 0.1
# Below this share of judgeable cells there is no evidence about structure at all.
_MIN_STRUCTURE_CELLS = 0.1


@dataclass(frozen=True)
class LightingStatus:
    """`started`: a change began at this frame; `rebase`: it is over at this frame, and then
    `since` is when it began and `before_frame_id` the last frame before it (None: unknown)."""

    lighting: bool = False
    started: bool = False
    rebase: bool = False
    since: float | None = None
    before_frame_id: int | None = None


class LightingDetector:
    """Plain state machine; `update` once per frame with the uint8 gray frame."""

    def __init__(self, thresholds: Thresholds) -> None:
        self.thresholds = thresholds
        self.snapshot: np.ndarray | None = None
        self.prev_mean: np.ndarray | None = None
        self.unstable_since: float | None = None
        self.last_frame_id: int | None = None  # the frame fed before this one
        self.before_frame_id: int | None = None  # the last frame before the change in progress
        self._snap: tuple[np.ndarray, np.ndarray, scoring.CellStats] | None = None  # snapshot as float, with stats

    def update(self, frame: np.ndarray, ts: float, frame_id: int | None = None) -> LightingStatus:
        """Advance with the uint8 gray frame taken at `ts`; `frame_id` names it in a settled change."""
        last_frame_id, self.last_frame_id = self.last_frame_id, frame_id
        img = frame.astype(np.float32)
        stats = scoring.cell_stats(img)
        prev_mean, self.prev_mean = self.prev_mean, stats.mean
        if self.snapshot is None:
            self.snapshot = frame.copy()
            return LightingStatus()
        thr = self.thresholds
        steady = _median_log_change(stats.mean, prev_mean, thr.dark_level) < thr.lighting_delta * _SETTLED_FRACTION
        if self.unstable_since is None:
            snap, snap_stats = self._snapshot_f32()
            verdict = self._compare(snap, snap_stats, img, stats)
            if verdict == _RELIT:
                self.unstable_since, self.before_frame_id = ts, last_frame_id
                return LightingStatus(lighting=True, started=True)
            # Follow the scene's content (doors close, people leave) but not a drift in
            # its brightness, which must build up until it counts as a lighting change.
            if steady and verdict == _CONTENT:
                self.snapshot = frame.copy()
            return LightingStatus()
        if steady or ts - self.unstable_since >= thr.lighting_max_seconds:
            self.snapshot = frame.copy()
            since, before = self.unstable_since, self.before_frame_id
            self.unstable_since = self.before_frame_id = None
            return LightingStatus(lighting=True, rebase=True, since=since, before_frame_id=before)
        return LightingStatus(lighting=True)

    def _snapshot_f32(self) -> tuple[np.ndarray, scoring.CellStats]:
        """The snapshot as float32 with its cell stats, worked out once per snapshot (not per frame)."""
        if self._snap is None or self._snap[0] is not self.snapshot:
            snap = self.snapshot.astype(np.float32)
            self._snap = (self.snapshot, snap, scoring.cell_stats(snap))
        return self._snap[1], self._snap[2]

    def _compare(self, snap: np.ndarray, snap_stats: scoring.CellStats,
                 img: np.ndarray, stats: scoring.CellStats) -> str:
        """How the frame differs from the snapshot: same, content, drifting or relit."""
        thr = self.thresholds
        lit = (snap_stats.mean > thr.dark_level) | (stats.mean > thr.dark_level)
        if not lit.any():
            return _SAME
        log_ratio = _log_ratio(stats.mean, snap_stats.mean, thr.dark_level)[lit]
        moved = np.abs(log_ratio) > thr.lighting_delta / 2
        if np.count_nonzero(moved) < _FOLLOW_MAX_CHANGED * log_ratio.size:
            return _SAME
        # Re-lit cells change by about the same ratio; an occluder or a closing door
        # makes some cells much darker and others lighter at once.
        ratios = log_ratio[moved]
        together = np.count_nonzero(np.abs(ratios - np.median(ratios)) < 2 * thr.lighting_delta) / ratios.size
        if together < thr.lighting_consistency:
            return _CONTENT
        changed = np.count_nonzero(np.abs(log_ratio) > thr.lighting_delta) / log_ratio.size
        if changed < thr.lighting_area:
            return _DRIFTING
        if self._structure_changed(snap, snap_stats, img, stats) > thr.lighting_structure_max:
            return _CONTENT
        return _RELIT

    def _structure_changed(self, snap: np.ndarray, snap_stats: scoring.CellStats,
                           img: np.ndarray, stats: scoring.CellStats) -> float:
        thr = self.thresholds
        judged = scoring.structure_judgeable(snap_stats, stats, thr.dark_level)
        if np.count_nonzero(judged) < _MIN_STRUCTURE_CELLS * judged.size:
            return 0.0
        d = scoring.structure_difference(snap, snap_stats, img, stats, thr.flat_contrast)
        return float(np.count_nonzero(d[judged] > thr.cell_change)) / float(np.count_nonzero(judged))


def _median_log_change(mean: np.ndarray, prev: np.ndarray | None, dark_level: float) -> float:
    if prev is None or prev.shape != mean.shape:
        return float("inf")
    return float(np.median(np.abs(_log_ratio(mean, prev, dark_level))))


def _log_ratio(a: np.ndarray, b: np.ndarray, dark_level: float) -> np.ndarray:
    # Offsetting by the dark level keeps sensor noise in near-black cells from
    # looking like large relative changes.
    eps = max(dark_level, 1.0)
    return np.log((a + eps) / (b + eps))
