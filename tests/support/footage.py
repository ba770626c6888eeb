"""Replay the real clips in ../shared/footage through a DeviceAnalyzer.

File names are source frame numbers at 25 fps, so a frame's capture time is its
number / 25. Tests skip with a clear message when the footage is not there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest

from storewatch.analysis.decode import decode_gray
from support import REPO
from storewatch.analysis.device_analyzer import DeviceAnalyzer, RoiSpec
from storewatch.analysis.transitions import (
    InteractionCancelled, InteractionStarted, LightingChange, RoiOutcome, VisitEnded)

FOOTAGE = REPO.parent / "shared" / "footage"
FPS = 25.0


def rect(x0: float, y0: float, x1: float, y1: float) -> tuple[tuple[float, float], ...]:
    return ((x0, y0), (x1, y0), (x1, y1), (x0, y1))


WHOLE = rect(0, 0, 1, 1)
QUADRANTS = {"top-left": rect(0, 0, 0.5, 0.5), "top-right": rect(0.5, 0, 1, 0.5),
             "bottom-left": rect(0, 0.5, 0.5, 1), "bottom-right": rect(0.5, 0.5, 1, 1)}


def clip_dir(clip: str) -> Path:
    path = FOOTAGE / clip
    if not path.is_dir():
        pytest.skip(f"{path} not found: ../shared/footage is not beside the repository, so what storewatch "
                    f"must do on the real clip {clip!r} (shared/footage/README) is not checked here")
    return path


@lru_cache(maxsize=8)
def load_clip(clip: str) -> tuple[tuple[int, np.ndarray], ...]:
    """(source frame number, decoded gray frame) for every file of `clip`, in order."""
    files = sorted(clip_dir(clip).glob("*.jpg"))
    return tuple((int(f.stem), decode_gray(f.read_bytes())) for f in files)


@dataclass
class Replay:
    """Everything a replay produced, per ROI name."""

    names: dict[int, str]
    scores: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    started: dict[str, list[InteractionStarted]] = field(default_factory=dict)
    ended: dict[str, list[RoiOutcome]] = field(default_factory=dict)  # per ROI, its outcome of each visit
    cancelled: dict[str, list[InteractionCancelled]] = field(default_factory=dict)
    lighting_changes: list[LightingChange] = field(default_factory=list)
    lighting_frames: list[int] = field(default_factory=list)

    def peak(self, name: str) -> float:
        return max((s for _, s in self.scores[name]), default=0.0)

    def interactions(self, name: str) -> int:
        """Interactions that happened (started and not cancelled as lighting)."""
        return len(self.started[name]) - len(self.cancelled[name])


def replay(clip: str, rois: dict[str, tuple[tuple[float, float], ...]], **kwargs) -> Replay:
    """Feed all frames of `clip` to an analyzer with one ROI per entry of `rois`."""
    specs = [RoiSpec(i, polygon) for i, polygon in enumerate(rois.values())]
    analyzer = DeviceAnalyzer(specs, **kwargs)
    result = Replay({i: name for i, name in enumerate(rois)})
    for name in rois:
        result.scores[name], result.started[name], result.ended[name], result.cancelled[name] = [], [], [], []
    for number, gray in load_clip(clip):
        out = analyzer.feed(gray, number / FPS, number)
        if out.lighting:
            result.lighting_frames.append(number)
        for roi_id, score in out.scores.items():
            result.scores[result.names[roi_id]].append((number, score))
        for t in out.transitions:
            if isinstance(t, LightingChange):
                result.lighting_changes.append(t)
            elif isinstance(t, InteractionStarted):
                result.started[result.names[t.roi_id]].append(t)
            elif isinstance(t, VisitEnded):
                for outcome in t.rois:
                    result.ended[result.names[outcome.roi_id]].append(outcome)
            elif isinstance(t, InteractionCancelled):
                result.cancelled[result.names[t.roi_id]].append(t)
    return result
