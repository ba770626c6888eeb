"""`storewatch db backup/check/restore`: a backup taken during ingest opens and is consistent."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
import time

import apsw
import httpx
import pytest

from storewatch import contract
from storewatch.appliance import Appliance
from storewatch.jobs.service import connect_ingest
from support import REPO
from support.frames import capture_ts, make_jpeg


def cli(data_dir, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "storewatch", "--data-dir", str(data_dir), *args],
                          capture_output=True, text=True, cwd=REPO, timeout=120)


def post(url: str, token: str, device_id: str, seq: int, image: bytes) -> int:
    meta = {"device_id": device_id, "capture_ts": capture_ts(), "seq": seq,
            "width": 64, "height": 48, "jpeg_quality": 85}
    return httpx.post(f"{url}{contract.INGEST_FRAME_PATH}", headers={"Authorization": f"Bearer {token}"},
                      files={"meta": (None, json.dumps(meta), "application/json"),
                             "image": ("f.jpg", image, "image/jpeg")}, timeout=30).status_code


@pytest.mark.slow  # backs up while a thread keeps ingesting
def test_a_backup_taken_during_ingest_opens_and_passes_the_integrity_check(live_server, device, tmp_path):
    device_id, token = device
    image = make_jpeg(64, 48)
    stop = threading.Event()
    statuses: list[int] = []

    def ingest() -> None:
        seq = 0
        while not stop.is_set() and seq < 5000:
            statuses.append(post(live_server.url, token, device_id, seq, image))
            seq += 1

    thread = threading.Thread(target=ingest)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while len(statuses) < 20 and time.monotonic() < deadline:
            time.sleep(0.05)
        backups = []
        for n in range(3):
            target = tmp_path / f"backup-{n}.db"
            done = cli(live_server.data_dir, "db", "backup", str(target))
            assert done.returncode == 0, done.stderr
            assert "quick_check ok" in done.stdout and "appliance.key" in done.stdout
            backups.append(target)
    finally:
        stop.set()
        thread.join(30)
    assert statuses and set(statuses) == {201}
    counts = []
    for target in backups:
        conn = apsw.Connection(str(target), flags=apsw.SQLITE_OPEN_READONLY)
        try:
            assert [r[0] for r in conn.execute("PRAGMA integrity_check")] == ["ok"]
            captures = conn.execute("SELECT COUNT(*) FROM captures").fetchone()[0]
            jobs = conn.execute("SELECT COUNT(*) FROM jobs").fetchone()[0]
            assert captures == jobs  # a frame and its job commit together: never half a frame
            counts.append(captures)
        finally:
            conn.close()
        assert not target.with_name(f"{target.name}-wal").exists()
        assert not list(tmp_path.glob(".*.partial"))
    assert counts == sorted(counts) and 0 < counts[0] and counts[-1] <= len(statuses)
    checked = cli(live_server.data_dir, "db", "check", "--file", str(backups[-1]), "--full")
    assert checked.returncode == 0 and "integrity_check ok" in checked.stdout


def test_db_check_exits_1_on_a_damaged_file(data_dir, tmp_path):
    Appliance(data_dir).close()
    assert cli(data_dir, "db", "check").returncode == 0
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"SQLite format 3\0" + b"\x01" * 4000)
    done = cli(data_dir, "db", "check", "--file", str(bad), "--json")
    assert done.returncode == 1 and json.loads(done.stdout)["ok"] is False


def test_restore_brings_back_the_backup_and_keeps_the_old_database(data_dir, tmp_path):
    opened = Appliance(data_dir)
    opened.devices.add("first", "cam-1")
    opened.close()
    backup = tmp_path / "before.db"
    assert cli(data_dir, "db", "backup", str(backup)).returncode == 0
    opened = Appliance(data_dir)
    opened.devices.add("second", "cam-2")
    opened.close()

    refused = cli(data_dir, "db", "restore", str(backup))
    assert refused.returncode != 0 and "--yes" in refused.stderr
    done = cli(data_dir, "db", "restore", str(backup), "--yes")
    assert done.returncode == 0, done.stderr

    opened = Appliance(data_dir)
    try:
        assert [d["id"] for d in opened.devices.list()] == ["cam-1"]
    finally:
        opened.close()
    kept = list(data_dir.glob("storewatch.db.before-restore-*"))
    assert len(kept) == 1
    conn = apsw.Connection(str(kept[0]))
    assert conn.execute("SELECT COUNT(*) FROM devices").fetchone()[0] == 2
    conn.close()


def test_backup_refuses_the_live_file_and_a_folder(data_dir):
    Appliance(data_dir).close()
    assert "cannot overwrite" in cli(data_dir, "db", "backup", str(data_dir / "storewatch.db")).stderr
    assert "is a directory" in cli(data_dir, "db", "backup", str(data_dir)).stderr


def test_db_check_also_checks_the_task_queue_file(data_dir):
    opened = Appliance(data_dir)
    try:
        assert "(the task queue): not made yet" in cli(data_dir, "db", "check").stdout
        connect_ingest(opened).close()
        assert "(the task queue): quick_check ok" in cli(data_dir, "db", "check").stdout
    finally:
        opened.close()
    (data_dir / "huey.db").write_bytes(random.Random(4).randbytes(20_000))
    done = cli(data_dir, "db", "check")
    assert done.returncode == 1 and "(the task queue): DAMAGED: file is not a database" in done.stdout
    assert "Nothing is lost" in done.stdout and "Restore the last good backup" not in done.stdout
    report = json.loads(cli(data_dir, "db", "check", "--json").stdout)
    assert report["ok"] is False and report["problems"] == []
    assert report["queue_file"]["ok"] is False and "not a database" in report["queue_file"]["problem"]


def test_backup_to_a_folder_that_is_not_there_is_refused_not_made(data_dir, tmp_path):
    # `db backup /media/usb/storewatch-backup.db` with the stick not plugged in made /media/usb on
    # the SD card and said "Backed up": the backup the owner counted on was not on the stick.
    Appliance(data_dir).close()
    missing = tmp_path / "media" / "usb"
    done = cli(data_dir, "db", "backup", str(missing / "storewatch-backup.db"))
    assert done.returncode == 1, done.stdout
    assert f"there is no folder {missing}" in done.stderr and "plugged in and mounted" in done.stderr, done.stderr
    assert f"mkdir -p {missing}" in done.stderr
    assert not missing.exists()
    missing.mkdir(parents=True)
    assert cli(data_dir, "db", "backup", str(missing / "storewatch-backup.db")).returncode == 0


def test_restore_is_refused_while_storewatch_run_serves_this_data_directory(data_dir, tmp_path):
    # It replaced the database under the running server (which went on writing to the file it
    # had open) and said "Start the services again", though they had never stopped.
    from storewatch.ops import server_address

    opened = Appliance(data_dir)
    opened.devices.add("first", "cam-1")
    opened.close()
    backup = tmp_path / "before.db"
    assert cli(data_dir, "db", "backup", str(backup)).returncode == 0
    server_address.write(data_dir, "127.0.0.1", 8091)  # this (live) test process, as `storewatch run` records itself
    refused = cli(data_dir, "db", "restore", str(backup), "--yes")
    assert refused.returncode == 1, refused.stdout
    assert f"storewatch run is running on this data directory (process {os.getpid()}" in refused.stderr, \
        refused.stderr
    assert "sudo systemctl stop storewatch" in refused.stderr
    assert not list(data_dir.glob("storewatch.db.before-restore-*"))
    server_address.remove(data_dir)
    assert cli(data_dir, "db", "restore", str(backup), "--yes").returncode == 0
