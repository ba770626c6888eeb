"""The broker: Huey's own file carrying job ids, handed over once per ingest batch."""

from __future__ import annotations

import logging
import random
import sqlite3
import time
from pathlib import Path

import apsw
import pytest

from support.frames import make_jpeg
from support.servers import start_live_server
from storewatch import contract
from storewatch.appliance import Appliance
from storewatch.store.captures import NewFrame
from storewatch.jobs import taskfile
from storewatch.jobs.broker import Broker
from storewatch.jobs.service import connect_ingest, job_queue


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
        assert marked == [[]]  # noted in the ingest commit itself: no transaction of their own
        assert broker.huey.pending_count() == 3
        assert appliance.db.scalar("SELECT COUNT(*) FROM jobs WHERE enqueued_at IS NOT NULL") == 3
        duplicates = appliance.captures.store_batch([frame(device_id, seq) for seq in (1, 2)])
        assert all(d.duplicate for d in duplicates) and marked == [[]]  # nothing new to hand over
    finally:
        broker.close()
    with sqlite3.connect(appliance.huey_path) as huey_file:  # the tasks outlive the broker
        assert huey_file.execute("SELECT COUNT(*) FROM task").fetchone()[0] == 3


# --- a damaged huey.db (issue 12, B7) ----------------------------------------------------


def a_truncated_real_task_file(appliance: Appliance, device_id: str) -> bytes:
    """A real huey.db with tasks in it, checkpointed, then cut inside its B-tree pages."""
    broker = connect_ingest(appliance)
    appliance.captures.store_batch([frame(device_id, seq) for seq in range(1, 200)])
    appliance.enqueue.disconnect(broker.enqueue_many)
    broker.close()  # the last connection checkpoints the WAL into the file
    data = appliance.huey_path.read_bytes()
    assert len(data) > 4 * 4096 and not Path(f"{appliance.huey_path}-wal").exists()
    return data[:len(data) // 2]


def corrupt_copies(data_dir: Path) -> list[Path]:
    return sorted(p for p in data_dir.iterdir() if p.name.startswith("huey.db.corrupt-") and "-wal" not in p.name)


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_a_damaged_task_file_is_moved_aside_and_replaced_at_open(appliance: Appliance, damage: str,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    device_id = appliance.devices.add("cam", "cam")[0]
    bad = (random.Random(1).randbytes(20_000) if damage == "garbage"
           else a_truncated_real_task_file(appliance, device_id))
    appliance.huey_path.write_bytes(bad)
    assert taskfile.problem(appliance.huey_path) is not None
    with caplog.at_level(logging.ERROR, logger="storewatch.jobs"):
        broker = connect_ingest(appliance)
    try:
        assert "was damaged" in caplog.text and "Nothing is lost" in caplog.text
        [kept] = corrupt_copies(appliance.data_dir)
        assert kept.read_bytes() == bad  # kept as it was, for a post-mortem
        assert taskfile.problem(appliance.huey_path) is None
        appliance.captures.store_batch([frame(device_id, 500)])
        assert broker.huey.pending_count() == 1
    finally:
        broker.close()


def test_a_task_file_damaged_while_open_is_replaced_and_the_enqueue_goes_through(appliance: Appliance) -> None:
    device_id = appliance.devices.add("cam", "cam")[0]
    broker = connect_ingest(appliance)
    try:
        appliance.captures.store_batch([frame(device_id, 1)])
        broker.huey.storage.close()  # between two operations (each opens the file when it needs it)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{appliance.huey_path}{suffix}").unlink(missing_ok=True)
        appliance.huey_path.write_bytes(random.Random(2).randbytes(8192))
        appliance.captures.store_batch([frame(device_id, 2)])  # no exception reaches ingest
        assert broker.replaced.is_set() and len(corrupt_copies(appliance.data_dir)) == 1
        assert broker.huey.pending_count() == 1  # the task went into the new file
    finally:
        broker.close()


def test_storewatch_run_starts_on_a_garbage_task_file_and_analyses_the_waiting_frames(data_dir: Path) -> None:
    opened = Appliance(data_dir)
    try:
        device_id = opened.devices.add("cam", "cam")[0]
        opened.captures.store_batch([frame(device_id, seq) for seq in (1, 2, 3)])  # no broker: only the table
    finally:
        opened.close()
    (data_dir / "huey.db").write_bytes(random.Random(3).randbytes(20_000))
    server = start_live_server(data_dir)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and done_jobs(data_dir) < 3:
            time.sleep(0.1)
        assert done_jobs(data_dir) == 3, server.log()
        assert "was damaged" in server.log() and "Traceback" not in server.log()
        assert len(corrupt_copies(data_dir)) == 1
    finally:
        assert server.stop() == 0


def done_jobs(data_dir: Path) -> int:
    conn = apsw.Connection(str(data_dir / "storewatch.db"), flags=apsw.SQLITE_OPEN_READONLY)
    try:
        return conn.execute("SELECT COUNT(*) FROM jobs WHERE state = 'done'").fetchone()[0]
    finally:
        conn.close()


def test_a_process_whose_task_file_another_replaced_follows_it_to_the_new_one(appliance: Appliance) -> None:
    queue = job_queue(appliance)
    worker_side, ingest_side = Broker(appliance.huey_path, queue), Broker(appliance.huey_path, queue)
    try:
        ingest_side.huey.pending_count()  # its connection is open on the first file
        worker_side.huey.storage.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{appliance.huey_path}{suffix}").unlink(missing_ok=True)
        appliance.huey_path.write_bytes(random.Random(5).randbytes(8192))
        worker_side.enqueue_many([1])  # finds the file damaged and replaces it
        ingest_side.enqueue_many([2])  # notices the new file instead of writing into the old one
        assert ingest_side.replaced.is_set()
        assert worker_side.huey.pending_count() == 2 and len(corrupt_copies(appliance.data_dir)) == 1
    finally:
        worker_side.close()
        ingest_side.close()
