"""A data disk filling up, on a real (tmpfs) filesystem of a few MB: 507, no damage, and recovery."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import apsw
import httpx
import pytest

from storewatch import contract
from storewatch.appliance import Appliance
from storewatch.retention import emergency_free, last_runs
from conftest import make_jpeg, start_live_server

MiB = 1024 * 1024


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """An 8 MiB tmpfs; skipped where mounting is not permitted (not root, no CAP_SYS_ADMIN)."""
    mount_point = tmp_path / "small-disk"
    mount_point.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root; run as root to test a really full disk")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount_point)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip()}); the disk-full tests need one")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def fill(folder: Path, leave_free: int) -> Path:
    """A ballast file taking all but `leave_free` bytes (0: until the disk says ENOSPC)."""
    ballast = folder / "ballast"
    free = os.statvfs(folder).f_bavail * os.statvfs(folder).f_frsize
    chunk = b"\0" * 65536
    target = max(0, free - leave_free) if leave_free else None
    written = 0
    with open(ballast, "wb") as handle:
        try:
            while target is None or written < target:
                part = chunk if target is None else chunk[: min(len(chunk), target - written)]
                handle.write(part)
                handle.flush()
                written += len(part)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    return ballast


def post(url: str, token: str, device_id: str, seq: int, image: bytes) -> httpx.Response:
    meta = {"device_id": device_id, "capture_ts": "2026-11-24T05:47:30.120Z", "seq": seq,
            "width": 64, "height": 48, "jpeg_quality": 85}
    return httpx.post(f"{url}{contract.INGEST_FRAME_PATH}", headers={"Authorization": f"Bearer {token}"},
                      files={"meta": (None, json.dumps(meta), "application/json"),
                             "image": ("f.jpg", image, "image/jpeg")}, timeout=30)


def assert_consistent(data_dir: Path) -> None:
    """Integrity check passes; every row has its whole file; no temp or orphan files."""
    conn = apsw.Connection(str(data_dir / "storewatch.db"))
    try:
        assert [r[0] for r in conn.execute("PRAGMA integrity_check")] == ["ok"]
        rows = list(conn.execute("SELECT path, size_bytes, sha256 FROM captures"))
    finally:
        conn.close()
    for path, size, sha in rows:
        data = (data_dir / path).read_bytes()
        assert len(data) == size and hashlib.sha256(data).hexdigest() == sha
    on_disk = {str(p.relative_to(data_dir)) for p in (data_dir / "staging").rglob("*") if p.is_file()}
    assert on_disk == {r[0] for r in rows}, "temp or orphan files left behind"


def test_ingest_answers_507_on_a_full_disk_stays_consistent_and_resumes(small_disk):
    data_dir = small_disk / "data"
    server = start_live_server(data_dir)
    try:
        with server.admin_client() as admin:
            body = admin.post("/api/v1/admin/devices", json={"name": "cam"}).json()
            device_id, token = body["device_id"], body["token"]
            assert admin.patch("/api/v1/admin/settings", json={"disk_reserve_bytes": 2 * MiB,
                                                                 "disk_reserve_percent": 0}).status_code == 200
            images = [make_jpeg(64, 48, seed=n) for n in range(8)]
            for seq in range(3):
                assert post(server.url, token, device_id, seq, images[seq]).status_code == 201

            # below the reserve: refused before anything is written
            ballast = fill(small_disk, leave_free=1 * MiB)
            refused = post(server.url, token, device_id, 3, images[3])
            assert refused.status_code == 507 and refused.json()["error"]["code"] == "disk_reserve"
            assert refused.headers["retry-after"]

            # no reserve, a page left: the file fits, its row does not (SQLITE_FULL): 507, nothing kept
            assert admin.patch("/api/v1/admin/settings", json={"disk_reserve_bytes": 0}).status_code == 200
            ballast.unlink()
            ballast = fill(small_disk, leave_free=4096)
            for seq in (3, 4):
                assert post(server.url, token, device_id, seq, images[seq]).status_code == 507

            # really full: refused before writing
            ballast.unlink()
            ballast = fill(small_disk, leave_free=0)
            assert post(server.url, token, device_id, 3, images[3]).status_code == 507

            # space returns: the kept frames go in
            ballast.unlink()
            for seq in (3, 4, 5):
                assert post(server.url, token, device_id, seq, images[seq]).status_code == 201
            assert post(server.url, token, device_id, 3, images[3]).status_code == 200  # once only
            figures = admin.get("/api/v1/admin/metrics").json()
        assert figures["ingest"]["accepted"] == 6
        assert figures["ingest"]["rejected"]["disk_reserve"] == 4
    finally:
        assert server.stop() == 0
    assert_consistent(data_dir)


def test_emergency_cleanup_frees_old_staging_on_a_real_filesystem(small_disk):
    appliance = Appliance(small_disk / "data")
    try:
        appliance.devices.add("cam", "cam-1")
        appliance.settings.update({"disk_reserve_bytes": 2 * MiB, "disk_reserve_percent": 0})
        for seq in range(12):
            meta = {"device_id": "cam-1", "capture_ts": "2026-01-01T00:00:00Z", "seq": seq, "width": 16,
                    "height": 16, "jpeg_quality": 80}
            appliance.captures.store(meta, os.urandom(200_000))
        with appliance.db.write() as conn:
            conn.execute("UPDATE jobs SET state = 'done' WHERE seq < 10")
        fill(small_disk, leave_free=MiB + 500_000)  # 1.5 MiB free: below the 2 MiB reserve

        assert emergency_free(appliance, 100_000)

        usage = appliance.images.usage()
        assert usage.free - 100_000 >= 2 * MiB
        left = [r["seq"] for r in appliance.db.query("SELECT seq FROM captures ORDER BY seq")]
        assert left[-2:] == [10, 11] and left == list(range(12 - len(left), 12))  # oldest went first
        assert last_runs(appliance, 1)[0]["trigger"] == "emergency"
    finally:
        appliance.close()
    assert_consistent(small_disk / "data")
