"""Image files on disk: atomic writes, temp sweeping, path confinement and disk-full."""

from __future__ import annotations

import ctypes
import errno
import os
import stat
from pathlib import Path

import pytest

from storewatch import durable
from storewatch.store import images
from storewatch.store.images import DiskUsage, ImageStore
from storewatch.durable import TEMP_PREFIX, DiskFull, StorageUnavailable, atomic_write, make_private


def leftovers(folder: Path) -> list[Path]:
    return list(folder.rglob(f"{TEMP_PREFIX}*"))


def test_atomic_write_creates_folders_and_leaves_only_the_file(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "f.jpg"
    atomic_write(target, b"data")
    assert target.read_bytes() == b"data"
    assert sorted(p.name for p in target.parent.iterdir()) == ["f.jpg"]


def test_atomic_write_replaces_an_existing_file_whole(tmp_path: Path) -> None:
    target = tmp_path / "f.jpg"
    atomic_write(target, b"old" * 1000)
    atomic_write(target, b"new")
    assert target.read_bytes() == b"new"


def _fail_writes_with(monkeypatch: pytest.MonkeyPatch, error: BaseException) -> None:
    """Part of the data reaches the disk, then the write fails with `error`."""
    real_write = os.write

    def failing_write(fd: int, data: bytes) -> int:
        real_write(fd, bytes(data[: len(data) // 2]))
        raise error

    monkeypatch.setattr(images.os, "write", failing_write)


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT])
def test_disk_full_while_writing_becomes_disk_full_and_leaves_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int) -> None:
    target = tmp_path / "f.jpg"
    atomic_write(target, b"previous")
    _fail_writes_with(monkeypatch, OSError(code, os.strerror(code)))
    with pytest.raises(DiskFull) as caught:
        atomic_write(target, b"x" * 100_000)
    assert caught.value.errno == code
    assert isinstance(caught.value, OSError)
    assert target.read_bytes() == b"previous"
    assert leftovers(tmp_path) == []


def test_disk_full_at_fsync_also_becomes_disk_full(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_space(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(images.os, "fsync", no_space)
    with pytest.raises(DiskFull):
        atomic_write(tmp_path / "f.jpg", b"x")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("error", [OSError(errno.EIO, "I/O error"), KeyboardInterrupt()])
def test_other_failures_pass_through_and_leave_no_temp_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: BaseException) -> None:
    _fail_writes_with(monkeypatch, error)
    with pytest.raises(type(error)) as caught:
        atomic_write(tmp_path / "f.jpg", b"x" * 1000)
    assert not isinstance(caught.value, DiskFull)
    assert list(tmp_path.iterdir()) == []


def test_a_failed_rename_leaves_no_temp_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(src: str, dst: str) -> None:
        raise PermissionError(errno.EACCES, "denied")

    monkeypatch.setattr(images.os, "replace", refuse)
    with pytest.raises(StorageUnavailable) as refused:  # a data dir we may not write to is unavailable
        atomic_write(tmp_path / "f.jpg", b"x")
    assert refused.value.errno == errno.EACCES and refused.value.reason == "permission"
    assert list(tmp_path.iterdir()) == []


def test_sweep_removes_temp_files_in_staging_and_events_only(tmp_path: Path) -> None:
    store = ImageStore(tmp_path)
    store.write("staging/cam/20260101/000000000001-abc.jpg", b"keep")
    temps = [tmp_path / "staging" / "cam" / "20260101" / f"{TEMP_PREFIX}a1",
             tmp_path / "staging" / f"{TEMP_PREFIX}b2",
             tmp_path / "events" / "cam" / "7" / f"{TEMP_PREFIX}c3"]
    for temp in temps:
        temp.parent.mkdir(parents=True, exist_ok=True)
        temp.write_bytes(b"half")
    outside = tmp_path / f"{TEMP_PREFIX}key"  # e.g. the key file's own temp: not ours to sweep
    outside.write_bytes(b"x")
    assert store.sweep_temp_files() == 3
    assert not any(t.exists() for t in temps)
    assert outside.exists()
    assert store.read("staging/cam/20260101/000000000001-abc.jpg") == b"keep"
    assert store.sweep_temp_files() == 0


def test_sweep_on_an_empty_data_dir_is_zero(tmp_path: Path) -> None:
    assert ImageStore(tmp_path / "nothing-yet").sweep_temp_files() == 0


@pytest.mark.parametrize("relative", ["../outside.jpg", "staging/../../outside.jpg", "/etc/passwd",
                                      "staging/cam/../../../x"])
def test_absolute_refuses_paths_leaving_the_data_dir(tmp_path: Path, relative: str) -> None:
    store = ImageStore(tmp_path / "data")
    with pytest.raises(ValueError, match="leaves the data directory"):
        store.absolute(relative)
    with pytest.raises(ValueError):
        store.write(relative, b"x")
    with pytest.raises(ValueError):
        store.delete(relative)


def test_absolute_refuses_a_symlink_out_of_the_data_dir(tmp_path: Path) -> None:
    (tmp_path / "data" / "staging").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "data" / "staging" / "link").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(ValueError):
        ImageStore(tmp_path / "data").absolute("staging/link/x.jpg")


def test_absolute_accepts_paths_inside(tmp_path: Path) -> None:
    store = ImageStore(tmp_path)
    assert store.absolute("staging/cam/x.jpg") == (tmp_path / "staging/cam/x.jpg").resolve()
    assert store.absolute("staging/cam/../cam/x.jpg") == (tmp_path / "staging/cam/x.jpg").resolve()


def test_write_read_delete_and_listing(tmp_path: Path) -> None:
    store = ImageStore(tmp_path)
    path = store.staging_path("cam", "20260101", 42, "0123456789abcdef")
    assert path == "staging/cam/20260101/000000000042-0123456789ab.jpg"
    store.write(path, b"12345")
    assert store.staging_files() == [path]
    assert store.read(path) == b"12345"
    assert store.delete(path) == 5
    assert store.delete(path) == 0
    assert store.staging_files() == []
    assert store.event_path("cam", 3, "peak") == "events/cam/3/peak.jpg"


def test_usage_and_reserve(tmp_path: Path) -> None:
    usage = ImageStore(tmp_path / "new").usage()
    assert usage.total > 0 and 0 <= usage.free <= usage.total
    small = DiskUsage(total=1000, free=100)
    assert small.reserve(50, 5.0) == 50
    assert small.reserve(10, 20.0) == 200
    assert small.below_reserve(10, 20.0) and not small.below_reserve(100, 0)


def test_write_many_writes_each_file_whole_and_leaves_no_temp(tmp_path: Path) -> None:
    store = ImageStore(tmp_path)
    files = {f"staging/cam/20260101/{n:012d}-abc.jpg": bytes([n]) * (1000 + n) for n in range(6)}
    files["staging/other/20260101/000000000001-abc.jpg"] = b"elsewhere"
    assert store.write_many(files) == {relative: None for relative in files}
    assert {relative: store.read(relative) for relative in files} == files
    assert leftovers(tmp_path) == []


def test_write_many_makes_a_batch_durable_with_one_syncfs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if durable.SYNCFS is None:
        pytest.skip("syncfs(2) is not available here (Linux >= 5.8 only); write_many fsyncs each file")
    synced, fsynced = [], []
    real_sync, real_fsync = durable.sync_filesystem, os.fsync
    monkeypatch.setattr(durable, "sync_filesystem", lambda folder: (synced.append(folder), real_sync(folder)))
    monkeypatch.setattr(images.os, "fsync", lambda fd: (fsynced.append(os.readlink(f"/proc/self/fd/{fd}")),
                                                         real_fsync(fd)))
    store = ImageStore(tmp_path)
    files = {f"staging/cam/2026010{n % 2}/{n:012d}-abc.jpg": bytes([n]) * 1000 for n in range(4)}
    assert store.write_many(files) == {relative: None for relative in files}
    # Two folders, one filesystem: one flush; only the new folders' parents were fsynced.
    assert len(synced) == 1 and not any(path.endswith(".jpg") or TEMP_PREFIX in path for path in fsynced)
    assert {relative: store.read(relative) for relative in files} == files
    assert leftovers(tmp_path) == []


def test_write_many_syncs_each_filesystem_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    other = Path("/dev/shm")
    if not other.is_dir() or other.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("needs /dev/shm as a second filesystem beside the temp folder")
    synced: list[Path] = []
    monkeypatch.setattr(durable, "SYNCFS", lambda fd: 0)
    monkeypatch.setattr(durable, "sync_filesystem", synced.append)
    folders = {tmp_path / "a": ["a/1.jpg"], tmp_path / "b": ["b/2.jpg"], other: ["shm/3.jpg"]}
    for folder in folders:
        folder.mkdir(exist_ok=True)
    assert ImageStore._sync_filesystems(folders) == []
    assert sorted(synced) == sorted([tmp_path / "a", other])


def test_a_failed_syncfs_takes_the_whole_batch_back_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def failing_syncfs(fd: int) -> int:
        ctypes.set_errno(errno.EIO)
        return -1

    monkeypatch.setattr(durable, "SYNCFS", failing_syncfs)
    store = ImageStore(tmp_path)
    files = {f"staging/cam/20260101/{n:012d}-abc.jpg": bytes([n]) * 1000 for n in (1, 2, 3)}
    outcomes = store.write_many(files)
    assert all(isinstance(o, OSError) and o.errno == errno.EIO for o in outcomes.values()), outcomes
    assert store.staging_files() == [] and leftovers(tmp_path) == []


def test_write_many_without_syncfs_keeps_the_others_when_one_fsync_fails(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(durable, "SYNCFS", None)  # as on macOS, or Linux before 5.8
    store = ImageStore(tmp_path)
    real_fsync = os.fsync

    def fail_for_seq_2(fd: int) -> None:
        if "000000000002-" in os.readlink(f"/proc/self/fd/{fd}"):
            raise OSError(errno.EIO, "I/O error")
        real_fsync(fd)

    monkeypatch.setattr(images.os, "fsync", fail_for_seq_2)
    files = {f"staging/cam/20260101/{n:012d}-abc.jpg": bytes([n]) * 1000 for n in (1, 2, 3)}
    outcomes = store.write_many(files)
    monkeypatch.undo()
    failed = "staging/cam/20260101/000000000002-abc.jpg"
    assert isinstance(outcomes.pop(failed), OSError) and set(outcomes.values()) == {None}
    assert sorted(store.staging_files()) == sorted(outcomes)
    assert leftovers(tmp_path) == []


def test_sync_filesystem_reports_a_missing_folder(tmp_path: Path) -> None:
    if durable.SYNCFS is None:
        pytest.skip("syncfs(2) is not available here")
    durable.sync_filesystem(tmp_path)
    with pytest.raises(FileNotFoundError):
        durable.sync_filesystem(tmp_path / "gone")


@pytest.mark.parametrize("code,reason", [(errno.EROFS, "read_only"), (errno.EIO, "io_error")])
def test_a_disk_that_refuses_writes_is_storage_unavailable_and_leaves_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int, reason: str) -> None:
    def refuse(fd: int, data: bytes) -> int:
        raise OSError(code, os.strerror(code))

    store = ImageStore(tmp_path)
    monkeypatch.setattr(images.os, "write", refuse)
    outcomes = store.write_many({"staging/cam/20260101/000000000001-abc.jpg": b"frame"})
    refused = outcomes["staging/cam/20260101/000000000001-abc.jpg"]
    assert isinstance(refused, StorageUnavailable) and refused.errno == code and refused.reason == reason
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_a_failed_sync_of_a_batch_is_storage_unavailable_and_takes_the_files_back(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def failing_sync(folder: Path) -> None:
        raise OSError(errno.EIO, "Input/output error")

    store = ImageStore(tmp_path)
    monkeypatch.setattr(durable, "SYNCFS", lambda fd: 0)  # take the one-flush path everywhere
    monkeypatch.setattr(durable, "sync_filesystem", failing_sync)
    outcomes = store.write_many({"staging/cam/1.jpg": b"a", "staging/cam/2.jpg": b"b"})
    assert all(isinstance(o, StorageUnavailable) and o.reason == "io_error" for o in outcomes.values())
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_make_private_creates_owner_only_and_tightens_looser_files(tmp_path: Path) -> None:
    previous = os.umask(0o022)
    try:
        fresh = tmp_path / "new.db"
        make_private(fresh)
        assert fresh.read_bytes() == b"" and stat.S_IMODE(fresh.stat().st_mode) == 0o600
        loose = tmp_path / "old.db"
        for path in (loose, tmp_path / "old.db-wal", tmp_path / "old.db-shm"):
            path.write_bytes(b"kept")
            os.chmod(path, 0o644)
        make_private(loose)
        assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.glob("old.db*")} == {
            "old.db": 0o600, "old.db-wal": 0o600, "old.db-shm": 0o600}
        assert loose.read_bytes() == b"kept"
    finally:
        os.umask(previous)
