"""What one analysed frame leaves behind: ROI scores, events with their pictures, burst.

Pictures are prepared (files read, difference rendered) before the job's transaction;
`commit` then writes everything inside it.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from PIL import Image

from storewatch.analysis.decode import ImageDecodeError, decode_rgb
from storewatch.analysis.device_analyzer import FrameResult, RoiSpec
from storewatch.analysis.inventory import render_difference
from storewatch.analysis.roi_mask import polygon_mask
from storewatch.analysis.transitions import InteractionEnded, LightingChange
from storewatch.appliance import Appliance
from storewatch.db import Row
from storewatch.events import EventImage, EventStore, Interaction

log = logging.getLogger("storewatch.jobs")

PICTURE_WIDTH = 640
DIFF_QUALITY = 85


@dataclass
class PreparedEvent:
    event: Interaction
    pictures: list[EventImage] = field(default_factory=list)


@dataclass
class FrameOutputs:
    device_id: str
    capture: Row
    result: FrameResult
    events: list[PreparedEvent]
    lighting_starts: list[LightingChange]


def prepare(appliance: Appliance, capture: Row, result: FrameResult, rois: list[RoiSpec]) -> FrameOutputs:
    """Everything to store for this frame, computed outside any transaction."""
    device_id = capture["device_id"]
    names = {row["id"]: row["name"] for row in
             appliance.db.query("SELECT id, name FROM rois WHERE device_id = ?", (device_id,))}
    specs = {roi.id: roi for roi in rois}
    events = []
    for ended in result.transitions:
        if isinstance(ended, InteractionEnded) and ended.roi_id in specs:
            events.append(_prepare_event(appliance, device_id, ended, specs[ended.roi_id], names.get(ended.roi_id)))
    lighting = [t for t in result.transitions if isinstance(t, LightingChange)]
    return FrameOutputs(device_id, capture, result, events, lighting)


def _prepare_event(appliance: Appliance, device_id: str, ended: InteractionEnded, roi: RoiSpec,
                   roi_name: str | None) -> PreparedEvent:
    decision = ended.decision
    start_capture = appliance.db.scalar(
        "SELECT id FROM captures WHERE device_id = ? AND capture_epoch = ? ORDER BY seq LIMIT 1",
        (device_id, ended.start_ts))
    event = Interaction(
        device_id=device_id, roi_id=roi.id, roi_name=roi_name, start_epoch=ended.start_ts, end_epoch=ended.end_ts,
        peak_score=ended.peak_score,
        decision="unknown" if decision is None else ("changed" if decision.changed else "unchanged"),
        decision_score=None if decision is None else decision.score,
        box=None if decision is None or decision.box is None else list(decision.box),
        verdict=ended.verdict,
        start_capture_id=start_capture if start_capture is not None else ended.pre_frame_id)
    originals = {}
    for kind, capture_id in (("pre", ended.pre_frame_id), ("peak", ended.peak_frame_id),
                             ("post", ended.post_frame_id)):
        data = _capture_bytes(appliance, capture_id)
        if data is not None:
            originals[kind] = EventImage(kind, capture_id, data)
    pictures = list(originals.values())
    if "pre" in originals and "post" in originals:
        diff = _difference(originals["pre"].data, originals["post"].data, roi, event.box)
        if diff is not None:
            pictures.append(EventImage("diff", None, diff))
    return PreparedEvent(event, pictures)


def _capture_bytes(appliance: Appliance, capture_id: int | None) -> bytes | None:
    if capture_id is None:
        return None
    row = appliance.db.query_one("SELECT path FROM captures WHERE id = ?", (capture_id,))
    try:
        return appliance.images.read(row["path"]) if row else None
    except FileNotFoundError:
        log.warning("capture %s is gone from staging; its event picture is skipped", capture_id)
        return None


def _difference(pre_jpeg: bytes, post_jpeg: bytes, roi: RoiSpec, box: list[float] | None) -> bytes | None:
    try:
        pre, post = decode_rgb(pre_jpeg, PICTURE_WIDTH), decode_rgb(post_jpeg, PICTURE_WIDTH)
    except ImageDecodeError:
        return None
    if pre.shape != post.shape:  # the capture size changed in between; nothing to compare
        return None
    mask = polygon_mask(roi.polygon, pre.shape[:2])
    picture = render_difference(pre, post, mask, None if box is None else tuple(box))
    out = io.BytesIO()
    Image.fromarray(picture).save(out, format="JPEG", quality=DIFF_QUALITY)
    return out.getvalue()


def commit(appliance: Appliance, events: EventStore, outputs: FrameOutputs) -> list[int]:
    """Write scores, events and pictures, and ask for burst; inside the job's transaction."""
    capture, result = outputs.capture, outputs.result
    with appliance.db.write() as conn:
        for roi_id, score in result.scores.items():
            conn.execute("INSERT INTO roi_scores (roi_id, capture_id, device_id, ts, score, lighting)"
                         " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (roi_id, capture_id) DO UPDATE SET"
                         " score = excluded.score, lighting = excluded.lighting",
                         (roi_id, capture["id"], outputs.device_id, capture["capture_epoch"], round(score, 5),
                          int(result.lighting)))
        event_ids = [events.record_interaction(p.event, p.pictures) for p in outputs.events]
        for change in outputs.lighting_starts:
            events.record_lighting(outputs.device_id, change.ts, change.frame_id)
        if result.wants_burst:
            _request_burst(appliance, outputs.device_id, capture["capture_epoch"])
    return event_ids


def _request_burst(appliance: Appliance, device_id: str, activity_epoch: float) -> None:
    """Burst until the last activity (capture time) + burst_hold_s; a past deadline is no request."""
    hold = appliance.devices.settings_of(device_id)["burst_hold_s"]
    until = datetime.fromtimestamp(activity_epoch, timezone.utc) + timedelta(seconds=hold)
    now = datetime.now(timezone.utc)
    if until > now:
        appliance.devices.request_burst(device_id, until, now)


def count(appliance: Appliance, outputs: FrameOutputs) -> None:
    for prepared in outputs.events:
        appliance.counters.add("events", prepared.event.decision)
    if outputs.lighting_starts:
        appliance.counters.add("lighting_changes", outputs.device_id, len(outputs.lighting_starts))
