"""Scripted scenes of the simulated shelf fed to the analysis, and what the visit tests ask of them.

Frames are rendered at the analysis size by the scene model (`storewatch.camera.scene`), which
knows where the hand is in each, so a Before or After that shows one can be caught.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from storewatch.analysis.decode import decode_gray
from storewatch.analysis.device_analyzer import DeviceAnalyzer, FrameResult, RoiSpec
from storewatch.analysis.transitions import VisitDropped, VisitEnded, VisitStarted
from storewatch.camera.scene import FrameTruth, Script, ScriptRenderer

SIZE = (320, 240)  # the analysis size: no downscale, cheap to render


def play(script: Script, fps: float = 2.0, rois: list[RoiSpec] | None = None,
         paint: Callable[[np.ndarray, float, int], None] | None = None,
         ) -> tuple[list[FrameResult], list[FrameTruth], list[float]]:
    """Feed the script's frames (frame id = index): the results, the truth of each frame and
    its time. `paint(gray, t, index)` may draw into each frame before it is fed."""
    times = script.times(fps)
    _, truth = script.truth(times, SIZE)
    renderer = ScriptRenderer(script, SIZE)
    specs = rois or [RoiSpec(k + 1, polygon) for k, (_, polygon) in enumerate(script.rois)]
    analyzer = DeviceAnalyzer(specs)
    results = []
    for i, t in enumerate(times):
        gray = decode_gray(renderer.jpeg(t, i))
        if paint is not None:
            paint(gray, t, i)
        results.append(analyzer.feed(gray, t, i))
    return results, truth, times


def found(results: list[FrameResult], kind: type) -> list:
    return [t for r in results for t in r.transitions if isinstance(t, kind)]


def verdicts(visit: VisitEnded) -> dict[int, str]:
    return {o.roi_id: o.verdict for o in visit.rois}


def assert_clean(visit: VisitEnded, truth: list[FrameTruth], rois: list[int] | None = None) -> None:
    """Before and After are frames that were fed and show no hand in any touched ROI (script
    ROI indexes `rois`, else the visit's outcomes')."""
    listed = rois if rois is not None else [o.roi_id - 1 for o in visit.rois]
    for frame_id in (visit.pre_frame_id, visit.post_frame_id):
        assert 0 <= frame_id < len(truth)
        assert not any(truth[frame_id].hand_in_roi[k] for k in listed), frame_id


def assert_every_visit_ends(results: list[FrameResult]) -> None:
    """Each VisitStarted is ended, once and before the next starts, by the VisitEnded of the same
    start or by a VisitDropped that leaves nothing of it (`over`). A VisitEnded of no open visit
    is a restless ROI's stretch decided on its own once it calmed."""
    open_start: float | None = None
    for t in (t for r in results for t in r.transitions):
        if isinstance(t, VisitStarted):
            assert open_start is None, ("a visit started while another was open", open_start, t)
            open_start = t.ts
        elif isinstance(t, VisitDropped) and t.over or isinstance(t, VisitEnded) and t.start_ts == open_start:
            assert t.start_ts == open_start, ("an end of a visit that is not open", open_start, t)
            open_start = None
    assert open_start is None, ("a visit never ended", open_start)
