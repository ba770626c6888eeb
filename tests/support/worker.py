"""Support for the worker tests: rendered shelf frames stored through the real ingest
path, a real WorkerService (Huey consumer threads on a real huey.db), and waiting."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from datetime import datetime, timezone
from functools import lru_cache

import numpy as np

from support import shelf_scenes
from storewatch import contract
from storewatch.appliance import Appliance
from storewatch.jobs.processor import WorkerOptions
from storewatch.jobs.queue import RetryPolicy
from storewatch.jobs.service import WorkerService
from support.waiting import wait_for

FAST = WorkerOptions(reorder_wait_s=0.3, retry=RetryPolicy(base_s=0.05, cap_s=0.2))
SCENE_START = 1_790_000_000.0  # a fixed capture time, so two runs can be compared


# --- helpers ---------------------------------------------------------------------------


@lru_cache(maxsize=8)
def scene(item: int = 2, outcome: str = "take", idle: int = 8) -> shelf_scenes.Sequence:
    return shelf_scenes.reach_sequence(item, outcome, idle=idle)


def meta(device_id: str, seq: int, epoch: float, size: tuple[int, int] = (640, 480)) -> dict:
    stamp = contract.format_timestamp(datetime.fromtimestamp(epoch, timezone.utc))
    return {"device_id": device_id, "seq": seq, "capture_ts": stamp, "width": size[0], "height": size[1],
            "jpeg_quality": 85}


def store_frames(appliance: Appliance, device_id: str, sequence: shelf_scenes.Sequence,
                 indexes: list[int] | None = None, start: float = SCENE_START) -> list[int]:
    """Store frames of `sequence` (seq = frame index) in the given order; returns job ids."""
    jobs = []
    for i in indexes if indexes is not None else range(len(sequence.jpegs)):
        stored = appliance.captures.store(meta(device_id, i, start + sequence.times[i] - sequence.times[0]),
                                          sequence.jpegs[i])
        jobs.append(stored.job_id)
    return jobs


def finished(appliance: Appliance) -> int:
    return appliance.db.scalar("SELECT COUNT(*) FROM jobs WHERE state IN ('done', 'dead')")


def wait_finished(appliance: Appliance, count: int, timeout: float = 30.0) -> None:
    wait_for(lambda: finished(appliance) >= count, timeout, f"{count} finished jobs")


@contextlib.contextmanager
def running_worker(appliance: Appliance, workers: int = 2, options: WorkerOptions = FAST,
                   **kwargs: object) -> Iterator[WorkerService]:
    service = WorkerService(appliance, workers=workers, options=options, poll_max_s=0.1, **kwargs)
    service.start()
    try:
        yield service
    finally:
        service.stop(10.0)


def add_device(appliance: Appliance, name: str = "cam") -> str:
    device_id, _ = appliance.devices.add(name)
    return device_id


def add_roi(appliance: Appliance, device_id: str, name: str, *items: int, **thresholds: float) -> int:
    polygon = [list(p) for p in shelf_scenes.roi_around(*items)]
    return appliance.rois.add(device_id, name, polygon, True, thresholds)["id"]


def event_rows(appliance: Appliance, device_id: str | None = None) -> list[dict]:
    rows = appliance.db.query(
        "SELECT id, device_id, roi_id, roi_name, type, start_ts, end_ts, duration_s, peak_score, decision,"
        " decision_score, box, start_capture_id FROM events WHERE (? IS NULL OR device_id = ?) ORDER BY id",
        (device_id, device_id))
    return rows


def picture_files(appliance: Appliance) -> dict[str, bytes]:
    return {row["path"]: appliance.images.read(row["path"]) for row in
            appliance.db.query("SELECT path FROM event_images ORDER BY path")}


def comparable(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if k not in ("id", "created_at")} for row in rows]


def state_header(appliance: Appliance, device_id: str, service: WorkerService) -> dict:
    service.processor.save_idle_checkpoints(0.0)
    blob = appliance.db.scalar("SELECT state FROM analysis_state WHERE device_id = ?", (device_id,))
    with np.load(io.BytesIO(blob), allow_pickle=False) as archive:
        return json.loads(archive["header"].tobytes())
