"""What one analysed frame leaves behind: ROI scores, visits and lighting events with their
pictures, the restless marks of its ROIs, burst.

Pictures are prepared (files read, difference rendered) before the job's transaction;
`commit` then writes everything inside it.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from storewatch.analysis.decode import ImageDecodeError, decode_rgb
from storewatch.analysis.device_analyzer import FrameResult, RoiSpec
from storewatch.analysis.inventory import InventoryDecision, render_difference
from storewatch.analysis.roi_mask import polygon_mask
from storewatch.analysis.transitions import (
    LightingChange, LightingSettled, RoiCalm, RoiOutcome, RoiRestless, VisitDropped, VisitEnded, VisitStarted,
)
from storewatch.appliance import Appliance
from storewatch.store import Row
from storewatch.store import rois as roi_marks
from storewatch.store.analysis_state import AnalysisStateStore
from storewatch.store.events import EventImage, EventStore, TouchedRoi, Visit, significance, view_box, visit_decision
from storewatch.notify.outbox import Outbox
from storewatch.upkeep.thumbnails import thumbnails

log = logging.getLogger("storewatch.jobs")

PICTURE_WIDTH = 640
DIFF_QUALITY = 85
BOX_RED = (255, 0, 0)


@dataclass
class PreparedVisit:
    visit: Visit
    pictures: list[EventImage] = field(default_factory=list)

    @property
    def headline(self) -> TouchedRoi:
        return min(self.visit.rois, key=lambda roi: significance(vars(roi)))


@dataclass
class PreparedLighting:
    start_epoch: float
    end_epoch: float
    start_capture_id: int | None
    pictures: list[EventImage]


@dataclass
class FrameOutputs:
    device_id: str
    capture: Row
    result: FrameResult
    visits: list[PreparedVisit]
    lighting_starts: list[LightingChange]
    lighting_settled: list[PreparedLighting] = field(default_factory=list)


def prepare(appliance: Appliance, capture: Row, result: FrameResult, rois: list[RoiSpec]) -> FrameOutputs:
    """Everything to store for this frame, computed outside any transaction."""
    device_id = capture["device_id"]
    specs = {roi.id: roi for roi in rois}
    visits, settled = [], []
    for transition in result.transitions:
        if isinstance(transition, VisitEnded):
            prepared = _prepare_visit(appliance, device_id, transition, specs)
            if prepared is not None:
                visits.append(prepared)
        elif isinstance(transition, LightingSettled):
            settled.append(_prepare_lighting(appliance, device_id, transition))
    lighting = [t for t in result.transitions if isinstance(t, LightingChange)]
    return FrameOutputs(device_id, capture, result, visits, lighting, settled)


def _touched(outcome: RoiOutcome) -> TouchedRoi:
    decision = outcome.decision
    return TouchedRoi(
        roi_id=outcome.roi_id, start_epoch=outcome.start_ts, end_epoch=outcome.end_ts,
        peak_score=outcome.peak_score, decision=_decision_word(decision),
        decision_score=None if decision is None else decision.score,
        box=None if decision is None or decision.box is None else list(decision.box), verdict=outcome.verdict)


def _decision_word(decision: InventoryDecision | None) -> str:
    return "unknown" if decision is None else ("changed" if decision.changed else "unchanged")


def _prepare_visit(appliance: Appliance, device_id: str, ended: VisitEnded,
                   specs: dict[int, RoiSpec]) -> PreparedVisit | None:
    outcomes = [outcome for outcome in ended.rois if outcome.roi_id in specs]  # an ROI removed meanwhile goes
    if not outcomes:
        return None
    visit = Visit(device_id, ended.start_ts, ended.end_ts, ended.start_frame_id,
                  tuple(_touched(outcome) for outcome in outcomes))
    peak = max(outcomes, key=lambda outcome: outcome.peak_score)
    pictures = _pictures(appliance, ended.pre_frame_id, peak.peak_frame_id, ended.post_frame_id,
                         [specs[outcome.roi_id] for outcome in outcomes], visit.rois)
    return PreparedVisit(visit, pictures)


def _pictures(appliance: Appliance, pre_id: int | None, peak_id: int | None, post_id: int | None,
              specs: Sequence[RoiSpec], rois: Sequence[TouchedRoi]) -> list[EventImage]:
    """Before, peak and After as stored, and the difference over the touched ROIs."""
    originals = {}
    for kind, capture_id in (("pre", pre_id), ("peak", peak_id), ("post", post_id)):
        data = _capture_bytes(appliance, capture_id)
        if data is not None:
            originals[kind] = EventImage(kind, capture_id, data)
    pictures = list(originals.values())
    if "pre" in originals and "post" in originals:
        boxes = [roi.box for roi in rois if roi.box is not None and roi.verdict != "unchanged"]
        diff = _difference(originals["pre"].data, originals["post"].data, specs, boxes)
        if diff is not None:
            pictures.append(EventImage("diff", None, diff))
    return pictures + thumbnails(pictures, view_box(spec.polygon for spec in specs))


def _prepare_lighting(appliance: Appliance, device_id: str, settled: LightingSettled) -> PreparedLighting:
    start_capture = _frames(appliance).first_frame_at(device_id, settled.start_ts)
    pictures = []
    for kind, capture_id in (("pre", settled.before_frame_id), ("post", settled.after_frame_id)):
        data = _capture_bytes(appliance, capture_id)
        if data is not None:
            pictures.append(EventImage(kind, capture_id, data))
    return PreparedLighting(settled.start_ts, settled.ts, start_capture, pictures + thumbnails(pictures, None))


def _frames(appliance: Appliance) -> AnalysisStateStore:
    """The captures rows the analysis reads (stateless; CaptureStore has no reads by id yet)."""
    return AnalysisStateStore(appliance.db)


def _capture_bytes(appliance: Appliance, capture_id: int | None) -> bytes | None:
    if capture_id is None:
        return None
    path = _frames(appliance).frame_path(capture_id)
    try:
        return appliance.images.read(path) if path is not None else None
    except FileNotFoundError:
        log.warning("capture %s is gone from staging; its event picture is skipped", capture_id)
        return None


def _difference(pre_jpeg: bytes, post_jpeg: bytes, specs: Sequence[RoiSpec],
                boxes: list[list[float]]) -> bytes | None:
    try:
        pre, post = decode_rgb(pre_jpeg, PICTURE_WIDTH), decode_rgb(post_jpeg, PICTURE_WIDTH)
    except ImageDecodeError:
        return None
    if pre.shape != post.shape:  # the capture size changed in between; nothing to compare
        return None
    mask = np.zeros(pre.shape[:2], dtype=bool)
    for spec in specs:
        mask |= polygon_mask(spec.polygon, pre.shape[:2])
    picture = Image.fromarray(render_difference(pre, post, mask, None))
    draw = ImageDraw.Draw(picture)
    width, height = picture.size
    for x0, y0, x1, y1 in boxes:
        draw.rectangle([round(x0 * width), round(y0 * height), max(round(x1 * width) - 1, round(x0 * width) + 1),
                        max(round(y1 * height) - 1, round(y0 * height) + 1)], outline=BOX_RED, width=2)
    out = io.BytesIO()
    picture.save(out, format="JPEG", quality=DIFF_QUALITY)
    return out.getvalue()


def commit(appliance: Appliance, events: EventStore, outputs: FrameOutputs) -> list[int]:
    """Write scores, events and pictures, and ask for burst; inside the job's transaction."""
    capture, result = outputs.capture, outputs.result
    with appliance.db.write() as conn:
        for roi_id, score in result.scores.items():
            appliance.scores.record(conn, roi_id, capture["id"], outputs.device_id, capture["capture_epoch"],
                                    round(score, 5), result.lighting)
        _mark_restless(conn, outputs)
        event_ids = [events.record_visit(p.visit, p.pictures) for p in outputs.visits]
        Outbox(appliance.db).enqueue_events(event_ids)  # its notifications, in the event's own transaction
        _notify_visit_starts(appliance, outputs)  # notify (issue 15): MQTT "touched" ON as a visit starts
        _notify_visit_drops(appliance, outputs)  # ... and OFF for the areas a visit dropped without an event
        for change in outputs.lighting_starts:
            events.record_lighting(outputs.device_id, change.ts, change.frame_id)
        for settled in outputs.lighting_settled:
            events.settle_lighting(outputs.device_id, settled.start_epoch, settled.end_epoch,
                                   settled.start_capture_id, settled.pictures)
        if result.wants_burst:
            _request_burst(appliance, outputs.device_id, capture["capture_epoch"])
    return event_ids


def _mark_restless(conn: Any, outputs: FrameOutputs) -> None:
    """The ROIs' restless marks, for the panel: set as an ROI turns restless, cleared as it calms,
    and cleared for any ROI the analysis no longer holds restless (it restarted: a new frame size, a
    lost checkpoint; no calm comes then). That last update matches no row on almost every frame."""
    result = outputs.result
    for transition in result.transitions:
        if isinstance(transition, RoiRestless):
            roi_marks.set_restless(conn, transition.roi_id, transition.since_ts)
        elif isinstance(transition, RoiCalm):
            roi_marks.set_restless(conn, transition.roi_id, None)
    roi_marks.keep_restless(conn, outputs.device_id, result.restless)


def _notify_visit_starts(appliance: Appliance, outputs: FrameOutputs) -> None:
    """MQTT "touched" ON as a visit starts (storewatch/notify/outbox.py): one outbox row per MQTT channel
    for each visit that began on this frame. Best effort: it never fails the job (the visit's
    event still sets "touched" when it is written)."""
    starts = [(t.ts, t.roi_ids) for t in outputs.result.transitions if isinstance(t, VisitStarted)]
    if not starts:
        return
    try:
        Outbox(appliance.db).enqueue_visit_starts(outputs.device_id, starts)
    except Exception:  # noqa: BLE001 - notifications must never stop the analysis
        log.exception("could not queue the start of a visit on %s for MQTT", outputs.device_id)


def _notify_visit_drops(appliance: Appliance, outputs: FrameOutputs) -> None:
    """MQTT "touched" OFF for the areas that left a visit without a verdict (VisitDropped: a lighting
    change's onset, restless, removed): no event will end them. Best effort, like the starts."""
    drops = [t for t in outputs.result.transitions if isinstance(t, VisitDropped)]
    if not drops:
        return
    try:
        outbox = Outbox(appliance.db)
        for dropped in drops:
            outbox.end_visit(outputs.device_id, dropped.start_ts, dropped.roi_ids)
    except Exception:  # noqa: BLE001 - notifications must never stop the analysis
        log.exception("could not queue the end of a dropped visit on %s for MQTT", outputs.device_id)


def _request_burst(appliance: Appliance, device_id: str, activity_epoch: float) -> None:
    """Burst until the last activity (capture time) + burst_hold_s; a past deadline is no request."""
    hold = appliance.devices.settings_of(device_id)["burst_hold_s"]
    until = datetime.fromtimestamp(activity_epoch, timezone.utc) + timedelta(seconds=hold)
    now = datetime.now(timezone.utc)
    if until > now:
        appliance.devices.request_burst(device_id, until, now)


def count(appliance: Appliance, outputs: FrameOutputs) -> None:
    """Events by decision (as before) and by the visit's headline verdict."""
    for prepared in outputs.visits:
        appliance.counters.add("events", visit_decision(roi.decision for roi in prepared.visit.rois))
        appliance.counters.add("event_verdicts", prepared.headline.verdict or "none")
    if outputs.lighting_starts:
        appliance.counters.add("lighting_changes", outputs.device_id, len(outputs.lighting_starts))
