"""Retention with real files and a real database: by age, by size, events, scores, reconcile, emergency."""

from __future__ import annotations

import json
import os
import time
from datetime import timedelta
from pathlib import Path

import pytest

from storewatch import contract
from storewatch.upkeep import retention
from storewatch.appliance import Appliance
from storewatch.upkeep.retention import emergency_free, retention_service, run_retention
from storewatch.store.images import DiskUsage

OLD = "2020-01-01T00:00:00.000Z"
MiB = 1024 * 1024


def store(appliance: Appliance, seq: int, size: int = 1000, device_id: str = "cam-1") -> int:
    if not appliance.db.query_one("SELECT 1 FROM devices WHERE id = ?", (device_id,)):
        appliance.devices.add(device_id, device_id)
    meta = {"device_id": device_id, "capture_ts": "2026-01-01T00:00:00Z", "seq": seq, "width": 16,
            "height": 16, "jpeg_quality": 80}
    return appliance.captures.store(meta, seq.to_bytes(8, "big") + b"x" * (size - 8)).capture_id


def set_rows(appliance: Appliance, sql: str, params: tuple = ()) -> None:
    with appliance.db.write() as conn:
        conn.execute(sql, params)


def seqs(appliance: Appliance) -> list[int]:
    return [row["seq"] for row in appliance.db.query("SELECT seq FROM captures ORDER BY seq")]


def staging_files(appliance: Appliance) -> set[str]:
    return set(appliance.images.staging_files())


def hours_ago(hours: float) -> str:
    return contract.format_timestamp(contract.utc_now() - timedelta(hours=hours))


def age_files(root: Path, seconds: float = 3600) -> None:
    """Make every file look old enough for reconcile to consider it."""
    past = time.time() - seconds
    for path in root.rglob("*"):
        if path.is_file():
            os.utime(path, (past, past))


def add_event(appliance: Appliance, start_capture_id: int, start_ts: str, images: dict[str, int | None]) -> int:
    with appliance.db.write() as conn:
        conn.execute("INSERT INTO events (device_id, type, start_ts, decision, start_capture_id, created_at)"
                     " VALUES ('cam-1', 'interaction_detected', ?, 'changed', ?, ?)",
                     (start_ts, start_capture_id, start_ts))
        event_id = conn.last_insert_rowid()
    for kind, capture_id in images.items():
        path = appliance.images.event_path("cam-1", event_id, kind)
        appliance.images.write(path, b"event-image-" + kind.encode() * 100)
        with appliance.db.write() as conn:
            conn.execute("INSERT INTO event_images (event_id, kind, capture_id, path, size_bytes)"
                         " VALUES (?, ?, ?, ?, ?)", (event_id, kind, capture_id, path, 12 + 100 * len(kind)))
    return event_id


# --- staging by age -----------------------------------------------------------------------


def test_old_frames_whose_jobs_are_done_or_dead_go_with_their_job_rows_and_files(appliance):
    for seq in range(6):
        store(appliance, seq)
    set_rows(appliance, "UPDATE captures SET received_at = ? WHERE seq < 4", (OLD,))
    set_rows(appliance, "UPDATE jobs SET state = 'done' WHERE seq IN (0, 1, 4)")
    set_rows(appliance, "UPDATE jobs SET state = 'dead' WHERE seq = 2")
    before = staging_files(appliance)

    report = run_retention(appliance)

    assert seqs(appliance) == [3, 4, 5]  # 3: old but queued; 4: done but young
    assert [r["seq"] for r in appliance.db.query("SELECT seq FROM jobs ORDER BY seq")] == [3, 4, 5]
    assert len(before - staging_files(appliance)) == 3 and len(staging_files(appliance)) == 3
    assert report.deleted["staging_expired"] == 3 and report.bytes_freed == 3000


@pytest.mark.parametrize("state", ["queued", "running", "failed"])
def test_a_frame_whose_job_is_still_pending_is_never_deleted(appliance, state):
    store(appliance, 1)
    set_rows(appliance, "UPDATE captures SET received_at = ?", (OLD,))
    set_rows(appliance, "UPDATE jobs SET state = ?", (state,))
    run_retention(appliance)
    assert seqs(appliance) == [1] and len(staging_files(appliance)) == 1


def test_frames_used_by_an_event_are_kept_until_its_images_expire(appliance):
    ids = [store(appliance, seq) for seq in range(3)]
    set_rows(appliance, "UPDATE captures SET received_at = ?", (OLD,))
    set_rows(appliance, "UPDATE jobs SET state = 'done'")
    recent = "2099-01-01T00:00:00.000Z"
    add_event(appliance, ids[0], recent, {"peak": ids[1]})
    run_retention(appliance)
    assert seqs(appliance) == [0, 1]  # 0 starts the event, 1 is its peak picture's frame

    set_rows(appliance, "UPDATE events SET start_ts = ?", (OLD,))
    run_retention(appliance)
    assert seqs(appliance) == []


def test_the_frame_the_worker_state_points_at_is_kept(appliance):
    capture_id = store(appliance, 1)
    set_rows(appliance, "UPDATE captures SET received_at = ?", (OLD,))
    set_rows(appliance, "UPDATE jobs SET state = 'done'")
    set_rows(appliance, "INSERT INTO analysis_state (device_id, last_applied_seq, last_capture_id, updated_at)"
                        " VALUES ('cam-1', 1, ?, ?)", (capture_id, OLD))
    run_retention(appliance)
    assert seqs(appliance) == [1]


# --- staging by size ----------------------------------------------------------------------


def test_staging_over_its_size_limit_is_trimmed_oldest_first_by_received_time(appliance):
    appliance.settings.update({"staging_max_bytes": 16 * MiB})
    for seq in range(20):
        store(appliance, seq, size=MiB)
    # received order differs from seq order: 19 arrived first
    set_rows(appliance, "UPDATE captures SET received_at = '2030-01-01T00:00:00.000Z' WHERE seq = 19")
    set_rows(appliance, "UPDATE captures SET received_at = '2031-01-01T00:00:00.000Z' WHERE seq != 19")
    set_rows(appliance, "UPDATE jobs SET state = 'done' WHERE seq != 0")
    set_rows(appliance, "UPDATE captures SET received_at = '2029-01-01T00:00:00.000Z' WHERE seq = 0")

    report = run_retention(appliance)

    remaining = seqs(appliance)
    assert 0 in remaining  # oldest, but its job is queued
    assert 19 not in remaining  # oldest deletable
    assert sum(r["size_bytes"] for r in appliance.db.query("SELECT size_bytes FROM captures")) <= 16 * MiB
    assert len(remaining) == 16
    assert remaining == [0, *range(4, 19)]
    assert report.deleted["staging_over_size"] == 4 and report.bytes_freed == 4 * MiB
    assert len(staging_files(appliance)) == 16


def test_a_dry_run_reports_what_a_real_run_then_deletes_and_deletes_nothing(appliance):
    appliance.settings.update({"staging_max_bytes": 16 * MiB})
    for seq in range(20):
        store(appliance, seq, size=MiB)
    set_rows(appliance, "UPDATE captures SET received_at = ? WHERE seq < 2", (OLD,))
    set_rows(appliance, "UPDATE jobs SET state = 'done'")
    messages: list[str] = []

    dry = run_retention(appliance, dry_run=True, progress=messages.append)
    assert len(seqs(appliance)) == 20 and len(staging_files(appliance)) == 20
    real = run_retention(appliance)

    assert dry.deleted == real.deleted == {"staging_expired": 2, "staging_over_size": 2}
    assert dry.bytes_freed == real.bytes_freed == 4 * MiB
    assert any("would delete 2 frames" in m for m in messages)
    runs = retention.last_runs(appliance)
    assert [r["dry_run"] for r in runs[:2]] == [False, True]


# --- event images and score history -------------------------------------------------------


def test_event_images_expire_but_the_event_rows_stay(appliance):
    capture_id = store(appliance, 1)
    old_event = add_event(appliance, capture_id, OLD, {"pre": None, "peak": None, "post": None})
    new_event = add_event(appliance, capture_id, "2099-01-01T00:00:00.000Z", {"peak": None})
    events_dir = appliance.data_dir / "events" / "cam-1"

    report = run_retention(appliance)

    rows = {r["id"]: r for r in appliance.db.query("SELECT id, images_expired FROM events")}
    assert rows[old_event]["images_expired"] == 1 and rows[new_event]["images_expired"] == 0
    assert appliance.db.query("SELECT event_id FROM event_images") == [{"event_id": new_event}]
    assert not (events_dir / str(old_event)).exists()
    assert (events_dir / str(new_event) / "peak.jpg").exists()
    assert report.deleted["event_images"] == 3 and report.deleted["events_expired"] == 1


def test_score_history_older_than_its_days_is_pruned(appliance):
    store(appliance, 1)
    now = time.time()
    with appliance.db.write() as conn:
        for n in range(50):
            conn.execute("INSERT INTO roi_scores (roi_id, capture_id, device_id, ts, score) VALUES (1, ?, 'cam-1', ?, 0.5)",
                         (n, now - 3 * 86400 if n < 30 else now - 3600))
    report = run_retention(appliance)
    assert appliance.db.scalar("SELECT COUNT(*) FROM roi_scores") == 20
    assert report.deleted["roi_scores"] == 30


# --- reconcile ----------------------------------------------------------------------------


def test_reconcile_removes_files_without_rows_and_rows_without_files(appliance):
    for seq in range(6):
        store(appliance, seq)
    set_rows(appliance, "UPDATE captures SET received_at = ?", (hours_ago(1),))
    set_rows(appliance, "UPDATE jobs SET state = 'done'")
    stray = appliance.data_dir / "staging" / "cam-1" / "20250101" / "000000000099-abc.jpg"
    stray.parent.mkdir(parents=True, exist_ok=True)
    stray.write_bytes(b"stray")
    young_stray = stray.with_name("000000000098-abc.jpg")
    lost = appliance.db.query_one("SELECT path FROM captures WHERE seq = 2")["path"]
    age_files(appliance.data_dir)
    young_stray.write_bytes(b"just written, its row may be about to commit")
    (appliance.data_dir / lost).unlink()

    report = run_retention(appliance)

    assert not stray.exists() and young_stray.exists()
    assert seqs(appliance) == [0, 1, 3, 4, 5]
    assert report.deleted["files_without_row"] == 1 and report.deleted["rows_without_file"] == 1
    assert not report.refused


def test_reconcile_refuses_when_more_than_half_of_the_files_would_go(appliance):
    for seq in range(2):
        store(appliance, seq)
    strays = [appliance.data_dir / "events" / "cam-1" / str(n) / "peak.jpg" for n in range(3)]
    for path in strays:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"stray")
    age_files(appliance.data_dir)

    report = run_retention(appliance)

    assert all(path.exists() for path in strays)
    assert report.refused and "3 of 5 image files" in report.refused[0]
    run = retention.last_runs(appliance, 1)[0]
    assert run["deleted"]["refused"] == report.refused


def test_reconcile_refuses_when_more_than_half_of_the_rows_would_go(appliance):
    for seq in range(4):
        store(appliance, seq)
    set_rows(appliance, "UPDATE captures SET received_at = ?", (hours_ago(1),))
    set_rows(appliance, "UPDATE jobs SET state = 'done'")
    for path in list(staging_files(appliance))[:3]:
        (appliance.data_dir / path).unlink()

    report = run_retention(appliance)

    assert len(seqs(appliance)) == 4
    assert report.refused and "3 of 4 database rows" in report.refused[0]


# --- every run recorded -------------------------------------------------------------------


def test_each_run_is_recorded_with_what_it_deleted_bytes_and_duration_and_counted(appliance):
    for seq in range(3):
        store(appliance, seq)
    set_rows(appliance, "UPDATE captures SET received_at = ?", (OLD,))
    set_rows(appliance, "UPDATE jobs SET state = 'done'")
    run_retention(appliance, trigger="manual")
    row = appliance.db.query_one("SELECT * FROM retention_runs ORDER BY id DESC LIMIT 1")
    assert row["trigger"] == "manual" and row["dry_run"] == 0 and row["finished_at"]
    assert json.loads(row["deleted"]) == {"staging_expired": 3}
    assert row["bytes_freed"] == 3000 and row["duration_s"] >= 0 and row["error"] is None
    counters = appliance.counters.snapshot()
    assert counters["retention_deleted"] == {"staging_expired": 3}
    assert counters["retention_bytes_freed"] == {"": 3000}


# --- below the disk reserve ----------------------------------------------------------------


class FakeDisk:
    """A disk of `total` bytes whose only contents are the staging files (real files, counted)."""

    def __init__(self, appliance: Appliance, total: int):
        self.appliance, self.total = appliance, total

    def __call__(self) -> DiskUsage:
        used = sum(p.stat().st_size for p in (self.appliance.data_dir / "staging").rglob("*.jpg"))
        return DiskUsage(total=self.total, free=self.total - used)


def test_emergency_frees_the_oldest_deletable_staging_until_the_frame_fits(appliance, monkeypatch):
    for seq in range(10):
        store(appliance, seq, size=100_000)
    set_rows(appliance, "UPDATE jobs SET state = 'done' WHERE seq != 0")
    appliance.settings.update({"disk_reserve_bytes": 0, "disk_reserve_percent": 50.0})
    monkeypatch.setattr(appliance.images, "usage", FakeDisk(appliance, 2_000_000))
    assert not retention.below_reserve(appliance)
    for seq in range(10, 14):
        store(appliance, seq, size=100_000)  # 1.4 MB of 2 MB used: below the 1 MB reserve

    assert emergency_free(appliance, 100_000)

    remaining = seqs(appliance)
    assert 0 in remaining and 1 not in remaining  # oldest first, pending job kept
    assert appliance.images.usage().free - 100_000 >= 1_000_000
    assert remaining == [0] + list(range(remaining[1], 14))
    run = retention.last_runs(appliance, 1)[0]
    assert run["trigger"] == "emergency" and run["deleted"]["staging_emergency"] >= 5


def test_a_fruitless_emergency_is_not_repeated_on_every_request(appliance, monkeypatch):
    for seq in range(3):
        store(appliance, seq, size=100_000)  # all queued: nothing may go
    appliance.settings.update({"disk_reserve_bytes": 0, "disk_reserve_percent": 90.0})
    monkeypatch.setattr(appliance.images, "usage", FakeDisk(appliance, 1_000_000))
    assert not emergency_free(appliance, 10)
    runs = len(retention.last_runs(appliance))
    started = time.monotonic()
    assert not emergency_free(appliance, 10)
    assert time.monotonic() - started < 0.05 and len(retention.last_runs(appliance)) == runs


# --- the service ---------------------------------------------------------------------------


def test_the_service_runs_at_start_and_then_every_interval(appliance):
    for seq in range(4):
        store(appliance, seq)
    set_rows(appliance, "UPDATE captures SET received_at = ? WHERE seq < 2", (OLD,))
    set_rows(appliance, "UPDATE jobs SET state = 'done'")
    service = retention_service(appliance, interval_s=0.2)
    service.start()
    try:
        deadline = time.monotonic() + 10
        while seqs(appliance) != [2, 3] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert seqs(appliance) == [2, 3]
        set_rows(appliance, "UPDATE captures SET received_at = ?", (OLD,))
        while seqs(appliance) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert seqs(appliance) == []
    finally:
        service.stop(5)
    triggers = [r["trigger"] for r in retention.last_runs(appliance, 100)]
    assert triggers[-1] == "start" and "periodic" in triggers
