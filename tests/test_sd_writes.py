"""Fewer bytes to the SD card per stored frame, with the same behaviour.

Counted on the WAL file itself (its size only grows between checkpoints, and every commit
appends whole pages to it): a new database uses 1 KiB pages, so a frame's ingest commit
appends about a quarter of what 4 KiB pages did; an existing 4 KiB file keeps working as
it is. The idle checkpoint of the analysis no longer follows every baseline frame, and a
camera's config polls (every 10 s) are recorded once a minute, not each with a commit, and
so are the counters. A lone frame's file is fsynced with its folder rather than with a
syncfs of the whole disk (which flushed the WAL index and, without a journal, the bitmaps
at every frame), and the worker's claim of a job commits without a flush of its own.
`scripts/bench-sdwrites` measures the whole appliance (docs/PERFORMANCE.md, "SD card writes").
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import apsw
import pytest

from support.frames import make_jpeg
from storewatch import durable
from storewatch import contract
from storewatch.store import images
from storewatch.appliance import Appliance
from storewatch.store import Database
from storewatch.store.connection import PAGE_SIZE
from storewatch.store.devices import CONFIG_FETCH_RECORD_S
from storewatch.jobs.live import CHECKPOINT_EVERY
from storewatch.jobs.service import IDLE_CHECKPOINT_S, WorkerService, connect_ingest, job_queue
from storewatch.server.app import COUNTER_FLUSH_S
from storewatch.settings import DEVICE_SETTINGS

WAL_FRAME_HEADER = 24
REPO = Path(__file__).resolve().parents[1]


def wal_bytes(data_dir: Path) -> int:
    wal = data_dir / "storewatch.db-wal"
    return wal.stat().st_size if wal.exists() else 0


def frame_meta(device_id: str, seq: int) -> dict:
    return {"device_id": device_id, "seq": seq, "capture_ts": f"2026-11-24T05:47:{seq:02d}.000Z",
            "width": 64, "height": 48, "jpeg_quality": 85}


def test_a_new_database_uses_small_pages(tmp_path: Path) -> None:
    db = Database(tmp_path / "new.db")
    try:
        assert db.scalar("PRAGMA page_size") == PAGE_SIZE == 1024
        assert db.scalar("PRAGMA journal_mode") == "wal" and db.scalar("PRAGMA synchronous") == 2  # FULL
    finally:
        db.close()


def test_an_existing_database_keeps_its_page_size_and_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = apsw.Connection(str(path))
    old.execute("PRAGMA page_size=4096")
    old.execute("PRAGMA journal_mode=WAL")
    old.close()
    db = Database(path)  # migrates the old 4 KiB file
    try:
        assert db.scalar("PRAGMA page_size") == 4096
        with db.write() as conn:
            conn.execute("INSERT INTO settings (key, value) VALUES ('k', '1')")
        assert db.scalar("SELECT value FROM settings WHERE key = 'k'") == "1"
        assert db.scalar("PRAGMA integrity_check") == "ok"
    finally:
        db.close()


def test_a_frames_ingest_commit_appends_a_few_small_pages_to_the_wal(data_dir: Path) -> None:
    appliance = Appliance(data_dir)
    try:
        device_id, _ = appliance.devices.add("wal cam", "wal-cam")
        appliance.captures.store(frame_meta(device_id, 1), make_jpeg(seed=1))  # first rows, folders
        before = wal_bytes(data_dir)
        stored = appliance.captures.store(frame_meta(device_id, 2), make_jpeg(seed=2))
        appended = wal_bytes(data_dir) - before
        assert stored.job_id is not None and not stored.duplicate
        assert appliance.db.scalar("SELECT COUNT(*) FROM captures") == 2
    finally:
        appliance.close()
    pages = appended // (PAGE_SIZE + WAL_FRAME_HEADER)
    assert appended == pages * (PAGE_SIZE + WAL_FRAME_HEADER)  # whole WAL frames
    # The capture row, its job, their indexes and the device: ~9 pages. With 4 KiB pages
    # that was 9 x 4120 = 37 KB; now it is under 12 KiB.
    assert 1 <= pages <= 11 and appended <= 12 * 1024, f"{pages} pages, {appended} bytes"


def test_the_idle_checkpoint_waits_longer_than_a_baseline_interval() -> None:
    # At the old 5 s, every frame of a camera in baseline (30 s apart) was followed by a
    # checkpoint of its analysis, ~64 KB, i.e. more than the rest of the frame's rows.
    baseline = DEVICE_SETTINGS["baseline_interval_s"].default
    assert IDLE_CHECKPOINT_S > 2 * baseline
    # What a restart after a power cut replays instead stays bounded by the regular checkpoint.
    assert CHECKPOINT_EVERY <= 25


def test_config_polls_are_recorded_once_a_minute_and_the_others_write_nothing(data_dir: Path) -> None:
    appliance = Appliance(data_dir)
    try:
        device_id, _ = appliance.devices.add("poll cam", "poll-cam")
        appliance.devices.record_config_fetch(device_id)
        first = appliance.devices.get(device_id)["last_config_fetch"]
        assert first is not None
        before = wal_bytes(data_dir)
        for _ in range(5):  # the polls of the next 50 s
            appliance.devices.record_config_fetch(device_id)
        assert wal_bytes(data_dir) == before  # no commit wrote a page
        assert appliance.devices.get(device_id)["last_config_fetch"] == first
        with appliance.db.write() as conn:  # as if the first poll was a minute ago
            conn.execute("UPDATE devices SET last_config_fetch = '2026-01-01T00:00:00.000Z' WHERE id = ?",
                         (device_id,))
        appliance.devices.record_config_fetch(device_id)
        assert appliance.devices.get(device_id)["last_config_fetch"] > "2026-01-01T00:00:00.000Z"
    finally:
        appliance.close()
    assert CONFIG_FETCH_RECORD_S <= 60


def test_a_quick_poll_still_saves_the_hmac_nonces_waiting(data_dir: Path) -> None:
    appliance = Appliance(data_dir)
    try:
        device_id, _ = appliance.devices.add("signed cam", "signed-cam")
        appliance.devices.record_config_fetch(device_id)
        assert appliance.devices.nonces.remember(device_id, "a" * 32, time.time())
        appliance.devices.record_config_fetch(device_id)  # within the minute: the nonce alone
        assert appliance.db.scalar("SELECT COUNT(*) FROM hmac_nonces WHERE device_id = ?", (device_id,)) == 1
    finally:
        appliance.close()


def test_counters_wait_in_memory_and_reach_the_database_in_one_commit_a_minute(data_dir: Path) -> None:
    appliance = Appliance(data_dir)
    try:
        appliance.counters.add("ingest_frames", "accepted")
        appliance.counters.flush()
        before = wal_bytes(data_dir)
        for _ in range(20):  # the frames of several minutes in baseline
            appliance.counters.add("ingest_frames", "accepted")
            appliance.counters.add("jobs", "done")
        assert wal_bytes(data_dir) == before  # nothing written on the hot path
        assert appliance.counters.snapshot()["ingest_frames"]["accepted"] == 21  # yet shown at once
        appliance.counters.flush()
        assert wal_bytes(data_dir) > before
        stored = {(r["name"], r["label"]): r["value"] for r in appliance.db.query("SELECT * FROM counters")}
        assert stored[("ingest_frames", "accepted")] == 21 and stored[("jobs", "done")] == 20
    finally:
        appliance.close()
    # A frame every 30 s per camera, a few cameras: at 5 s nearly every frame paid a flush.
    assert COUNTER_FLUSH_S >= 60


def wal_commits(data_dir: Path, since: int) -> int:
    """Commits appended to the WAL after byte `since`: frames whose header carries the
    database size (a commit's last frame does, the others hold 0)."""
    data = (data_dir / "storewatch.db-wal").read_bytes()
    frame = PAGE_SIZE + WAL_FRAME_HEADER
    offsets = range(max(since, 32), len(data) - frame + 1, frame)
    return sum(1 for at in offsets if int.from_bytes(data[at + 4:at + 8], "big") != 0)


def test_handing_a_frames_job_to_huey_writes_no_commit_of_its_own(data_dir: Path) -> None:
    # Marking the job enqueued was a commit after the ingest's: each commit costs the SD
    # card ~12 KiB (the WAL's last page again, the WAL index, the file's inode) and a flush.
    # The ingest commit now notes it, and is the frame's only commit.
    appliance = Appliance(data_dir)
    try:
        device_id, _ = appliance.devices.add("huey cam", "huey-cam")
        appliance.captures.store(frame_meta(device_id, 1), make_jpeg(seed=1))  # first rows and pages
        broker = connect_ingest(appliance)
        try:
            before = wal_bytes(data_dir)
            stored = [appliance.captures.store(frame_meta(device_id, seq), make_jpeg(seed=seq)) for seq in (2, 3, 4)]
            commits = wal_commits(data_dir, before)
            assert broker.huey.pending_count() == 3
        finally:
            broker.close()
        jobs = appliance.db.query("SELECT state, enqueued_at FROM jobs WHERE seq > 1")
        assert [(j["state"], j["enqueued_at"] is not None) for j in jobs] == [("queued", True)] * 3
        assert appliance.db.scalar("SELECT enqueued_at FROM jobs WHERE seq = 1") is None  # nobody took it
        assert all(s.job_id is not None for s in stored)
    finally:
        appliance.close()
    assert commits == 3, f"{commits} commits for 3 frames"


def test_a_failed_hand_over_leaves_the_job_to_the_reconcilers_short_grace(data_dir: Path) -> None:
    appliance = Appliance(data_dir)
    try:
        device_id, _ = appliance.devices.add("lost cam", "lost-cam")

        def broken(job_ids: list[int]) -> None:
            raise OSError("huey.db is gone")

        appliance.enqueue.connect(broken)
        try:
            appliance.captures.store(frame_meta(device_id, 1), make_jpeg(seed=1))
        except OSError:
            pass
        else:
            raise AssertionError("the hand-over's failure was swallowed")
        job = appliance.db.query_one("SELECT state, enqueued_at FROM jobs")
        assert job["state"] == "queued" and job["enqueued_at"] is None  # un-noted: due after the grace
        assert job_queue(appliance).waiting_for_task(contract.utc_now() + timedelta(seconds=6), 5.0, 60.0)
    finally:
        appliance.close()


def huey_bytes(data_dir: Path) -> int:
    return sum(p.stat().st_size for p in data_dir.glob("huey.db*"))


def test_a_worker_in_the_same_process_carries_its_tasks_without_writing_huey_db(data_dir: Path) -> None:
    # An INSERT and a DELETE in huey.db per frame were ~29 KiB of its WAL and WAL index.
    appliance = Appliance(data_dir)
    try:
        device_id, _ = appliance.devices.add("local cam", "local-cam")
        service = WorkerService(appliance)  # not started: its broker as `storewatch run` has it
        appliance.enqueue.connect(service.broker.enqueue_many)
        try:
            service.broker.huey.pending_count()  # the file exists, with its tables
            before = huey_bytes(data_dir)
            stored = [appliance.captures.store(frame_meta(device_id, seq), make_jpeg(seed=seq)) for seq in (1, 2, 3)]
            assert huey_bytes(data_dir) == before  # nothing written to the task file
            assert service.broker.pending() == 3
            carried = [service.broker.huey.dequeue() for _ in range(3)]
            assert [task.args[0] for task in carried] == [s.job_id for s in stored]
            assert service.broker.huey.dequeue() is None
        finally:
            appliance.enqueue.disconnect(service.broker.enqueue_many)
            service.broker.close()
        # As after a crash (the memory is gone): the next start hands every queued job over again.
        again = WorkerService(appliance)
        try:
            assert again.reconciler.run(at_start=True).enqueued == 1  # the device's head; it drains in order
        finally:
            again.broker.close()
    finally:
        appliance.close()


def test_a_lone_frame_is_made_durable_with_its_own_fsyncs_not_a_syncfs_of_the_disk(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A camera in baseline sends one frame at a time. syncfs flushed every dirty page of the
    # disk with it, among them the database's WAL index (-shm) that every commit dirties
    # again, so each frame wrote those pages anew (~20 KiB of -shm per frame, bench-sdwrites).
    # The file is renamed before its fsync: that fsync then commits data and name in one
    # ext4 journal transaction (fsync, rename, fsync of the folder took two).
    synced, fsynced = [], []
    real_fsync = os.fsync
    monkeypatch.setattr(durable, "sync_filesystem", synced.append)
    monkeypatch.setattr(images.os, "fsync", lambda fd: (fsynced.append(os.readlink(f"/proc/self/fd/{fd}")),
                                                         real_fsync(fd)))
    store = images.ImageStore(tmp_path)
    store.write("staging/cam/20260101/000000000000-first.jpg", b"first")  # the folders exist
    fsynced.clear()
    relative = "staging/cam/20260101/000000000001-abc.jpg"
    assert store.write_many({relative: b"frame"}) == {relative: None}
    assert store.read(relative) == b"frame"
    assert synced == []
    assert fsynced == [str(tmp_path / relative), str((tmp_path / relative).parent)]
    assert not list(tmp_path.rglob(f"{durable.TEMP_PREFIX}*"))


DIE_AT_THE_FRAMES_FSYNC = """
import os, sys
from pathlib import Path
from storewatch.store import images
from storewatch.appliance import Appliance
real_fsync = os.fsync
def fsync(fd):
    if os.readlink(f"/proc/self/fd/{fd}").endswith(".jpg"):  # renamed into place, not yet durable
        os._exit(9)
    real_fsync(fd)
images.os.fsync = fsync
appliance = Appliance(Path(sys.argv[1]))
appliance.captures.store({"device_id": sys.argv[2], "seq": 2, "capture_ts": sys.argv[3], "width": 64,
                          "height": 48, "jpeg_quality": 85}, bytes.fromhex(sys.argv[4]))
"""


def test_a_crash_between_a_frames_rename_and_its_fsync_leaves_nothing_that_counts(data_dir: Path) -> None:
    # The bad moment of renaming first: the final name exists, its bytes may not be on the
    # card yet, and no row points to it. The next start deletes it; the camera's retry stores
    # the frame again.
    jpeg = make_jpeg(seed=2)
    appliance = Appliance(data_dir)
    try:
        device_id, _ = appliance.devices.add("crash cam", "crash-cam")
        appliance.captures.store(frame_meta(device_id, 1), make_jpeg(seed=1))
    finally:
        appliance.close()
    died = subprocess.run([sys.executable, "-c", DIE_AT_THE_FRAMES_FSYNC, str(data_dir), device_id,
                           frame_meta(device_id, 2)["capture_ts"], jpeg.hex()],
                          cwd=REPO, capture_output=True, text=True, timeout=60)
    assert died.returncode == 9, died.stderr
    left = sorted(p.name for p in (data_dir / "staging").rglob("*.jpg"))
    assert len(left) == 2, left  # frame 1, and frame 2 under its final name
    appliance = Appliance(data_dir)
    try:
        assert appliance.db.scalar("SELECT COUNT(*) FROM captures") == 1
        assert appliance.captures.recover() == {"temp_files": 0, "orphan_files": 1}
        assert len(list((data_dir / "staging").rglob("*.jpg"))) == 1
        stored = appliance.captures.store(frame_meta(device_id, 2), jpeg)  # the camera's retry
        assert not stored.duplicate and appliance.images.read(appliance.captures.find(device_id, 2)["path"]) == jpeg
    finally:
        appliance.close()


class _CountedFile(apsw.VFSFile):
    def __init__(self, syncs: list[str], name: apsw.URIFilename | str | None, flags: list[int]):
        self.syncs = syncs
        self.label = name.filename() if isinstance(name, apsw.URIFilename) else str(name)
        super().__init__("unix", name, flags)

    def xSync(self, flags: int) -> None:
        self.syncs.append(Path(self.label).name)
        super().xSync(flags)


class _SyncCounter(apsw.VFS):
    """SQLite's own unix VFS, noting the file of every sync SQLite asks for."""

    def __init__(self) -> None:
        self.syncs: list[str] = []
        super().__init__("sync-counter", base="unix", makedefault=True)

    def xOpen(self, name: apsw.URIFilename | str | None, flags: list[int]) -> apsw.VFSFile:
        return _CountedFile(self.syncs, name, flags)


@contextlib.contextmanager
def counted_syncs() -> Iterator[list[str]]:
    """Every connection opened inside (the worker's threads' too) goes through _SyncCounter."""
    counter = _SyncCounter()
    try:
        yield counter.syncs
    finally:
        counter.unregister()


def test_a_frame_flushes_the_wal_twice_its_ingest_and_its_result_not_its_claim(data_dir: Path) -> None:
    # Each flush of the WAL is its last page written again, its inode, and a journal commit
    # on the SD card. The claim (the lease and the attempt) only has to outlive the worker's
    # process, not a power cut: it commits unflushed, and the result's flush covers it.
    from support.worker import add_roi, running_worker, wait_finished

    with counted_syncs() as syncs:
        appliance = Appliance(data_dir)
        try:
            device_id, _ = appliance.devices.add("flush cam", "flush-cam")
            add_roi(appliance, device_id, "top", 2)
            with running_worker(appliance) as service:
                appliance.captures.store(frame_meta(device_id, 1), make_jpeg(seed=1))  # first rows, checkpoint
                wait_finished(appliance, 1)
                assert service.processor.in_hand() == frozenset()
                syncs.clear()
                appliance.captures.store(frame_meta(device_id, 2), make_jpeg(seed=2))
                wait_finished(appliance, 2)
                wal_syncs = syncs.count("storewatch.db-wal")
            job = appliance.db.query_one("SELECT state, attempts FROM jobs WHERE seq = 2")
            assert job == {"state": "done", "attempts": 1}
        finally:
            appliance.close()
    assert wal_syncs == 2, syncs


DIE_MID_JOB = """
import os, sys
from pathlib import Path
from storewatch.appliance import Appliance
from storewatch.jobs.service import WorkerService
appliance = Appliance(Path(sys.argv[1]))
service = WorkerService(appliance)  # not started: its processor alone, in this thread
service.processor.fault_hook = lambda point, job: os._exit(9) if point == "before_decode" else None
service.processor.drain(sys.argv[2])
"""


def test_an_unflushed_claim_outlives_the_process_that_died_in_its_job(data_dir: Path) -> None:
    # What the claim is for: a frame that kills its worker still has its attempt counted, and
    # runs out of attempts. The claim is in the kernel's page cache, which the process's death
    # does not touch; the next worker sees a lease of a gone process and takes the job over.
    from support.worker import running_worker, wait_finished

    appliance = Appliance(data_dir)
    try:
        device_id, _ = appliance.devices.add("dying cam", "dying-cam")
        appliance.captures.store(frame_meta(device_id, 1), make_jpeg(seed=1))
        died = subprocess.run([sys.executable, "-c", DIE_MID_JOB, str(data_dir), device_id], cwd=REPO,
                              capture_output=True, text=True, timeout=60)
        assert died.returncode == 9, died.stderr
        job = appliance.db.query_one("SELECT state, attempts, lease_owner FROM jobs")
        assert job["state"] == "running" and job["attempts"] == 1, job
        assert int(job["lease_owner"].split(":")[1]) != os.getpid()  # the dead process's lease
        with running_worker(appliance):
            wait_finished(appliance, 1)
        job = appliance.db.query_one("SELECT state, attempts FROM jobs")
        assert job == {"state": "done", "attempts": 2}  # the dead process's attempt still counts
    finally:
        appliance.close()


def test_a_counter_flush_commits_unflushed_and_a_clean_close_makes_it_durable(data_dir: Path) -> None:
    # Once a minute the counters commit; a power cut loses the increments still in memory
    # anyway, so that commit needs no flush (an SD card flush) of its own.
    with counted_syncs() as syncs:
        appliance = Appliance(data_dir)
        other = Database(data_dir / "storewatch.db", migrate_schema=False)  # as another process, e.g. the CLI
        try:
            appliance.counters.add("ingest_frames", "accepted")
            syncs.clear()
            appliance.counters.flush()
            assert syncs.count("storewatch.db-wal") == 0, syncs
            assert other.scalar("SELECT value FROM counters WHERE name = 'ingest_frames'") == 1  # seen at once
            appliance.close()  # not the last connection: SQLite alone would not checkpoint (nor sync) now
            assert "storewatch.db-wal" in syncs, syncs
        finally:
            other.close()
    reopened = Database(data_dir / "storewatch.db")
    try:
        assert reopened.scalar("SELECT value FROM counters WHERE name = 'ingest_frames'") == 1
    finally:
        reopened.close()


def test_heartbeats_and_poll_records_commit_unflushed_unless_a_nonce_waits(data_dir: Path) -> None:
    # A heartbeat a minute and a poll record a minute per camera were one flushed commit each
    # per two baseline frames. They are status: a power cut may take back the last one, which
    # the camera sends again within a minute. A saved HMAC nonce must outlive the power cut.
    with counted_syncs() as syncs:
        appliance = Appliance(data_dir)
        try:
            device_id, _ = appliance.devices.add("status cam", "status-cam")
            syncs.clear()
            appliance.devices.record_heartbeat(device_id, {"device_id": device_id, "uptime_s": 5})
            appliance.devices.record_config_fetch(device_id)
            assert syncs.count("storewatch.db-wal") == 0, syncs
            device = appliance.devices.get(device_id)
            assert device["last_config_fetch"] is not None and '"uptime_s": 5' in device["health"]
            assert appliance.devices.nonces.remember(device_id, "b" * 32, time.time())
            appliance.devices.record_heartbeat(device_id, {"device_id": device_id, "uptime_s": 65})
            assert syncs.count("storewatch.db-wal") == 1, syncs
            assert appliance.db.scalar("SELECT COUNT(*) FROM hmac_nonces") == 1
        finally:
            appliance.close()
