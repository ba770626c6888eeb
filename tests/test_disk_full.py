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
from prometheus_client.parser import text_string_to_metric_families

from storewatch import contract
from storewatch.appliance import Appliance
from storewatch.upkeep.retention import emergency_free, last_runs
from support.frames import capture_ts, make_jpeg
from support.servers import in_process_server, start_live_server
from support.mounts import read_only, unmount

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
    meta = {"device_id": device_id, "capture_ts": capture_ts(), "seq": seq,
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


# --- a read-only or failing data disk: 503 storage_unavailable, counted, nothing stored -----------


@pytest.fixture
def read_only_staging(data_dir: Path) -> Iterator[Path]:
    """data_dir/staging as a real read-only mount (see tests/support/mounts.py)."""
    with read_only(data_dir / "staging") as staging:
        yield staging


def assert_storage_unavailable(answer: httpx.Response) -> None:
    assert answer.status_code == 503, answer.text
    body = answer.json()
    assert set(body) == {"error"} and body["error"]["code"] == "storage_unavailable", body
    assert isinstance(body["error"]["message"], str) and body["error"]["details"] == []
    assert int(answer.headers["retry-after"]) > 0


def admin_token(data_dir: Path) -> dict[str, str]:
    opened = Appliance(data_dir)
    try:
        return {"Authorization": f"Bearer {opened.admins.create_token()}"}
    finally:
        opened.close()


def storage_figures(url: str, admin: dict[str, str]) -> tuple[dict, dict[str, float]]:
    """The storage_unavailable counts from the JSON metrics, and from /metrics (read by
    prometheus_client's own parser, so the number's spelling does not matter)."""
    figures = httpx.get(url + "/api/v1/admin/metrics", headers=admin, timeout=10).json()
    text = httpx.get(url + "/metrics", headers=admin, timeout=10).text
    exposed = {sample.labels["reason"]: sample.value for family in text_string_to_metric_families(text)
               for sample in family.samples if sample.name == "storewatch_storage_unavailable_total"}
    return figures["disk"]["storage_unavailable"], exposed


def test_a_read_only_data_disk_gives_503_storage_unavailable_and_stores_nothing(
        data_dir: Path, read_only_staging: Path) -> None:
    admin = admin_token(data_dir)
    server = start_live_server(data_dir)
    try:
        device_id, token = server.add_device("cam")
        images = [make_jpeg(64, 48, seed=n) for n in range(3)]
        for seq in (0, 1):
            assert_storage_unavailable(post(server.url, token, device_id, seq, images[seq]))
        assert list(read_only_staging.rglob("*")) == []
        captures = httpx.get(f"{server.url}/api/v1/admin/devices/{device_id}", headers=admin).json()
        counted, exposed = storage_figures(server.url, admin)
        assert counted == {"read_only": 2}
        assert exposed.get("read_only") == 2
        conn = apsw.Connection(str(data_dir / "storewatch.db"), flags=apsw.SQLITE_OPEN_READONLY)
        try:
            assert conn.execute("SELECT COUNT(*) FROM captures").fetchone()[0] == 0
            assert conn.execute("SELECT COUNT(*) FROM jobs").fetchone()[0] == 0
        finally:
            conn.close()
        assert captures["id"] == device_id and "Traceback" not in server.log()

        unmount(read_only_staging)  # the disk comes back
        assert post(server.url, token, device_id, 2, images[2]).status_code == 201
    finally:
        assert server.stop() == 0
    assert_consistent(data_dir)


class _FailingOs:
    """The storage layer's view of `os`, whose writes fail like a dying SD card's (EIO)."""

    def __init__(self, code: int):
        self.code = code

    def write(self, fd: int, data: bytes) -> int:
        raise OSError(self.code, os.strerror(self.code))

    def __getattr__(self, name: str):  # noqa: ANN204 - everything else is the real os
        return getattr(os, name)


@pytest.mark.parametrize("code,reason", [(errno.EIO, "io_error"), (errno.EROFS, "read_only")])
def test_a_failing_image_write_gives_503_storage_unavailable(appliance: Appliance, monkeypatch: pytest.MonkeyPatch,
                                                            code: int, reason: str) -> None:
    from storewatch import durable

    device_id, token = appliance.devices.add("cam")
    admin = {"Authorization": f"Bearer {appliance.admins.create_token()}"}
    with in_process_server(appliance) as (url, _):
        monkeypatch.setattr(durable, "os", _FailingOs(code))
        assert_storage_unavailable(post(url, token, device_id, 0, make_jpeg()))
        monkeypatch.undo()
        counted, exposed = storage_figures(url, admin)
        assert counted == {reason: 1}
        assert exposed.get(reason) == 1
        assert appliance.captures.list(device_id) == []
        assert not [p for p in (appliance.data_dir / "staging").rglob("*") if p.is_file()]
        assert post(url, token, device_id, 0, make_jpeg()).status_code == 201


SYSTEM_VFS = apsw.vfs_names()[0]  # the default before ours: "unix" on Linux


class _FailingFile(apsw.VFSFile):
    def __init__(self, vfs: "_FailingVfs", filename, flags):  # noqa: ANN001
        super().__init__(SYSTEM_VFS, filename, flags)
        self.vfs = vfs

    def xWrite(self, data, offset):  # noqa: ANN001, ANN201, N802 - apsw's names
        if self.vfs.failing:
            raise apsw.IOError("injected: the card stopped taking writes")
        return super().xWrite(data, offset)

    def xSync(self, flags):  # noqa: ANN001, ANN201, N802
        if self.vfs.failing:
            raise apsw.IOError("injected: the card stopped taking writes")
        return super().xSync(flags)


class _FailingVfs(apsw.VFS):
    """SQLite's own file layer with a switch: on, every write and sync fails with SQLITE_IOERR."""

    def __init__(self) -> None:
        self.failing = False
        super().__init__("failing-disk", base=SYSTEM_VFS, makedefault=True)

    def xOpen(self, name, flags):  # noqa: ANN001, ANN201, N802
        return _FailingFile(self, name, flags)


@pytest.fixture
def failing_vfs() -> Iterator[_FailingVfs]:
    vfs = _FailingVfs()
    try:
        yield vfs
    finally:
        vfs.failing = False
        vfs.unregister()


def test_a_failing_database_write_gives_503_storage_unavailable(data_dir: Path, failing_vfs: _FailingVfs) -> None:
    appliance = Appliance(data_dir)  # opened through the failing VFS, healthy for now
    try:
        device_id, token = appliance.devices.add("cam")
        device = {"Authorization": f"Bearer {token}"}
        beat = {"device_id": device_id, "ts": contract.format_timestamp(contract.utc_now())}
        with in_process_server(appliance) as (url, _):
            failing_vfs.failing = True
            assert_storage_unavailable(post(url, token, device_id, 0, make_jpeg()))
            assert_storage_unavailable(httpx.post(url + contract.HEARTBEAT_PATH, json=beat, headers=device))
            failing_vfs.failing = False
            assert appliance.captures.list(device_id) == []
            assert not [p for p in (data_dir / "staging").rglob("*") if p.is_file()]
            assert appliance.counters.snapshot()["storage_unavailable"] == {"io_error": 2}
            assert post(url, token, device_id, 0, make_jpeg()).status_code == 201
            assert httpx.post(url + contract.HEARTBEAT_PATH, json=beat, headers=device).status_code == 200
    finally:
        appliance.close()
    assert_consistent(data_dir)
