"""The Appliance facade: each store built once and shared, and one system enqueue."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from storewatch import contract
from storewatch.appliance import Appliance
from storewatch.store.captures import NewFrame, StoredFrame


def _jpeg(seed: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (seed * 37 % 256, seed * 91 % 256, 120)).save(out, format="JPEG", quality=85)
    return out.getvalue()


def _frames(device_id: str, seqs: range) -> list[NewFrame]:
    now = contract.format_timestamp(contract.utc_now())
    return [NewFrame.of({"device_id": device_id, "seq": seq, "capture_ts": now, "width": 64, "height": 48,
                         "jpeg_quality": 85}, _jpeg(seq)) for seq in seqs]


def _noted(appliance: Appliance) -> list[bool]:
    return [row["enqueued_at"] is not None for row in appliance.db.query("SELECT enqueued_at FROM jobs ORDER BY id")]


@pytest.fixture
def cam(appliance: Appliance) -> str:
    appliance.devices.add("cam", "cam")
    return "cam"


def test_every_store_is_built_once_over_the_same_database_and_pictures(appliance: Appliance) -> None:
    assert appliance.rois.devices is appliance.devices
    assert appliance.events.images is appliance.images is appliance.captures.images
    stores = (appliance.devices, appliance.captures, appliance.rois, appliance.events, appliance.scores,
              appliance.jobs, appliance.admins, appliance.counters)
    assert all(store.db is appliance.db for store in stores)
    assert appliance.captures.enqueue is appliance.enqueue


def test_the_job_queue_reads_job_max_attempts_as_it_is_now(appliance: Appliance) -> None:
    default = appliance.jobs.max_attempts()
    appliance.settings.update({"job_max_attempts": default + 2})
    assert appliance.jobs.max_attempts() == default + 2


def test_ingest_hands_a_batchs_jobs_to_the_connected_enqueue_once_and_notes_them(appliance: Appliance,
                                                                                    cam: str) -> None:
    handed: list[list[int]] = []
    appliance.enqueue.connect(handed.append)
    outcomes = appliance.captures.store_batch(_frames(cam, range(1, 4)))
    assert all(isinstance(o, StoredFrame) for o in outcomes)
    assert handed == [[o.job_id for o in outcomes]]
    assert _noted(appliance) == [True, True, True]


def test_with_nobody_connected_jobs_wait_unnoted_for_the_reconciler(appliance: Appliance, cam: str) -> None:
    outcomes = appliance.captures.store_batch(_frames(cam, range(1, 3)))
    assert all(isinstance(o, StoredFrame) for o in outcomes)
    assert _noted(appliance) == [False, False]
    appliance.enqueue([o.job_id for o in outcomes])  # the admin's retry: nowhere to hand them, and no error


def test_a_failing_enqueue_takes_its_notes_back_and_the_frames_stay_stored(appliance: Appliance, cam: str) -> None:
    def refuse(job_ids: list[int]) -> None:
        raise ConnectionError("the task file is gone")

    appliance.enqueue.connect(refuse)
    with pytest.raises(ConnectionError):
        appliance.captures.store_batch(_frames(cam, range(1, 3)))
    assert _noted(appliance) == [False, False]
    assert appliance.captures.count() == 2


def test_disconnect_leaves_a_target_connected_since_by_someone_else(appliance: Appliance) -> None:
    first: list[list[int]] = []
    second: list[list[int]] = []
    appliance.enqueue.connect(first.append)
    appliance.enqueue.connect(second.append)
    appliance.enqueue.disconnect(first.append)
    appliance.enqueue([7])
    assert (first, second) == ([], [[7]])
    appliance.enqueue.disconnect(second.append)
    assert not appliance.enqueue.connected
    appliance.enqueue([8])
    assert second == [[7]]
