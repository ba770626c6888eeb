"""The broker: Huey's own file carrying job ids, handed over once per ingest batch."""

from __future__ import annotations

import sqlite3

from conftest import make_jpeg
from storewatch import contract
from storewatch.appliance import Appliance
from storewatch.captures import NewFrame
from storewatch.jobs.service import connect_ingest


def frame(device_id: str, seq: int) -> NewFrame:
    meta = {"device_id": device_id, "seq": seq, "capture_ts": contract.format_timestamp(contract.utc_now()),
            "width": 64, "height": 48, "jpeg_quality": 85}
    return NewFrame.of(meta, make_jpeg(seed=seq))


def test_hueys_file_is_wal_without_an_fsync_per_task(appliance: Appliance) -> None:
    broker = connect_ingest(appliance)
    try:
        conn = broker.huey.storage.conn
        assert conn.execute("pragma journal_mode").fetchone()[0] == "wal"
        assert conn.execute("pragma synchronous").fetchone()[0] == 1  # NORMAL: no flush per commit
    finally:
        broker.close()


def test_a_batch_of_frames_is_handed_to_huey_and_marked_at_once(appliance: Appliance) -> None:
    device_id = appliance.devices.add("cam", "cam")[0]
    broker = connect_ingest(appliance)
    marked: list[list[int]] = []
    real_mark = broker.queue.mark_enqueued
    broker.queue.mark_enqueued = lambda ids, now: (marked.append(list(ids)), real_mark(ids, now))  # type: ignore[method-assign]
    try:
        outcomes = appliance.captures.store_batch([frame(device_id, seq) for seq in (1, 2, 3)])
        job_ids = [outcome.job_id for outcome in outcomes]
        assert marked == [job_ids]  # one transaction for the batch
        assert broker.huey.pending_count() == 3
        assert appliance.db.scalar("SELECT COUNT(*) FROM jobs WHERE enqueued_at IS NOT NULL") == 3
        duplicates = appliance.captures.store_batch([frame(device_id, seq) for seq in (1, 2)])
        assert all(d.duplicate for d in duplicates) and marked == [job_ids]  # nothing new to hand over
    finally:
        broker.close()
    with sqlite3.connect(appliance.huey_path) as huey_file:  # the tasks outlive the broker
        assert huey_file.execute("SELECT COUNT(*) FROM task").fetchone()[0] == 3
