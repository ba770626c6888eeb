"""Image files on disk: where they go, and writing them so a power cut never leaves half a file.

Every file is written as a temp file in its final folder, fsynced, renamed into place,
and the folder fsynced. Temp files carry TEMP_PREFIX, so start-up can sweep the ones a
crash left behind. Staging frames (ImageStore.write_many), which count only once their
row commits after them: a batch of several is made durable with one syncfs(2) of its
filesystem where Linux offers it, instead of an fsync per file and folder; a lone frame,
the usual case in baseline, is renamed into place and then fsynced with its folder.
"""

from __future__ import annotations

import ctypes
import errno
import os
import random
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

TEMP_PREFIX = ".tmp-"
STAGING = "staging"
MAX_REMEMBERED_FOLDERS = 4096
_TEMP_NAMES = random.Random()

EVENTS = "events"


PRIVATE_MODE = 0o600
# SQLite gives a database's -wal and -shm (and a rollback -journal) the database file's mode.
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


class DiskFull(OSError):
    """Writing failed for lack of space; nothing was left behind."""


class StorageUnavailable(OSError):
    """The data disk refuses writes: mounted read-only (the kernel does that to a card with
    errors), failing (EIO), or not ours to write. Nothing was left behind; `reason` names it."""

    def __init__(self, code: int, message: str, reason: str):
        super().__init__(code, message)
        self.reason = reason


# errno -> reason: what a dying or read-only card answers, as opposed to a bug of ours.
_UNAVAILABLE = {errno.EROFS: "read_only", errno.EIO: "io_error", errno.EACCES: "permission",
                errno.EPERM: "permission"}


def atomic_write(path: Path, data: bytes, *, sync_folder: bool = True) -> None:
    """Write `data` to `path` so a crash leaves the old file or the new one, never half.

    With sync_folder=False the caller fsyncs the folder itself before it relies on the new
    name.
    """
    _place(path, data, sync_file=True)
    if sync_folder:
        fsync_dir(path.parent)


def _place(path: Path, data: bytes, *, sync_file: bool, renamed_first: bool = False) -> None:
    """Write a temp file beside `path` and rename it into place; the file is fsynced first
    unless the caller makes the whole batch durable at once (sync_file=False).

    renamed_first=True renames before the fsync (see ImageStore.write_many): the fsync of the
    file then commits its data and its name in one journal transaction, where an fsync
    before the rename needs a second one for the rename. Only for files whose database row
    is what makes them count: until the fsyncs and the row, a crash may leave the name with
    less than the whole file, and no row, and such files are deleted at the next start.

    Plain os calls rather than a file object: fewer syscalls, and fewer times the thread
    must win the GIL back, which is what a busy server makes its writer wait for.
    """
    try:
        try:
            fd, temp = _create_temp(path)
        except FileNotFoundError:  # the folder's first file; cheaper than a mkdir on every write
            make_folders(path.parent)
            fd, temp = _create_temp(path)
    except OSError as exc:
        _raise_disk_full_if_so(exc)
        raise
    placed = temp
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            if renamed_first:
                os.replace(temp, path)
                placed = path
            if sync_file:
                os.fsync(fd)
        finally:
            os.close(fd)
        if not renamed_first:
            os.replace(temp, path)
    except BaseException as exc:
        _remove_quietly(placed)
        if isinstance(exc, OSError):
            _raise_disk_full_if_so(exc)
        raise


def _create_temp(path: Path) -> tuple[int, Path]:
    """A new temp file beside `path`; names from a PRNG, as tempfile's, so no syscall per name."""
    for _ in range(100):
        temp = path.with_name(f"{TEMP_PREFIX}{path.name}.{_TEMP_NAMES.getrandbits(32):08x}")
        try:
            return os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600), temp
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, f"no free temp name beside {path}")


def _raise_disk_full_if_so(exc: OSError) -> None:
    """Turn the disk's own refusals (full, read-only, failing) into DiskFull or StorageUnavailable."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        raise DiskFull(exc.errno, "no space left on the data disk") from exc
    if exc.errno in _UNAVAILABLE and not isinstance(exc, StorageUnavailable):
        raise StorageUnavailable(exc.errno, f"the data disk refuses writes: {exc.strerror}",
                                 _UNAVAILABLE[exc.errno]) from exc


def disk_error(exc: OSError) -> OSError:
    """`exc` as DiskFull or StorageUnavailable when the disk refused, else `exc` itself."""
    try:
        _raise_disk_full_if_so(exc)
    except OSError as translated:
        return translated
    return exc


def make_private(path: Path, side_files: tuple[str, ...] = SQLITE_SIDE_FILES) -> None:
    """Owner-only (0600) `path`, made empty if missing, and the side files beside it.

    Called before SQLite opens a file: SQLite creates it 0644 under the usual umask, and
    the database holds token hashes and the queue holds job ids. A looser mode left by an
    older version, or a copy, is taken back to 0600.
    """
    if not path.exists():
        os.close(os.open(path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, PRIVATE_MODE))
    for candidate in (path, *(path.with_name(path.name + suffix) for suffix in side_files)):
        try:
            if os.stat(candidate).st_mode & 0o077:
                os.chmod(candidate, PRIVATE_MODE)
        except FileNotFoundError:
            continue


def make_folders(folder: Path) -> None:
    """mkdir -p that also fsyncs each new folder's parent, so the folder outlives a power cut."""
    missing = []
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for new in reversed(missing):
        try:
            new.mkdir()
        except FileExistsError:  # another writer made it meanwhile
            continue
        fsync_dir(new.parent)


def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _linux_syncfs() -> Callable[[int], int] | None:
    """libc's syncfs(2), on Linux 5.8 or later only: before 5.8 it did not report write
    errors, and durability we cannot check is no durability."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        major, minor = (int(part) for part in os.uname().release.split(".")[:2])
        if (major, minor) < (5, 8):
            return None
        syncfs = ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError, ValueError):
        return None
    syncfs.argtypes, syncfs.restype = [ctypes.c_int], ctypes.c_int
    return syncfs


_SYNCFS = _linux_syncfs()


def sync_filesystem(folder: Path) -> None:
    """Make everything written to `folder`'s filesystem durable (syncfs(2)): files, names, folders."""
    if _SYNCFS is None:
        raise OSError(errno.ENOSYS, "syncfs is not available here")
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        # A fresh descriptor still sees write errors that nobody has reported yet (errseq).
        if _SYNCFS(fd) != 0:  # ctypes releases the GIL for the call, as os.fsync does
            code = ctypes.get_errno()
            raise OSError(code, os.strerror(code), str(folder))
    finally:
        os.close(fd)


def _remove_quietly(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass


@dataclass(frozen=True)
class DiskUsage:
    total: int
    free: int

    def below_reserve(self, reserve_bytes: int, reserve_percent: float) -> bool:
        return self.free < self.reserve(reserve_bytes, reserve_percent)

    def reserve(self, reserve_bytes: int, reserve_percent: float) -> int:
        return max(reserve_bytes, int(self.total * reserve_percent / 100))


class ImageStore:
    """The data directory's image folders; paths in the database are relative to `root`."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._resolved_root = self.root.resolve()
        self._folders: dict[str, Path] = {}

    def staging_path(self, device_id: str, day: str, seq: int, sha256: str) -> str:
        # The hash in the name keeps two different uploads of one seq from ever sharing a file.
        return f"{STAGING}/{device_id}/{day}/{seq:012d}-{sha256[:12]}.jpg"

    def event_path(self, device_id: str, event_id: int, kind: str, suffix: str = "jpg") -> str:
        return f"{EVENTS}/{device_id}/{event_id}/{kind}.{suffix}"

    def absolute(self, relative: str) -> Path:
        """The file's path; refuses one that leaves the data directory, also through a symlink.

        Folders are resolved once and remembered: a full resolve costs a syscall per path
        component, on every frame otherwise.
        """
        normal = os.path.normpath(relative)
        if os.path.isabs(normal) or normal in (".", "..") or normal.startswith("../"):
            raise ValueError(f"path {relative!r} leaves the data directory")
        folder, _, name = normal.rpartition("/")
        resolved = self._folders.get(folder)
        if resolved is None:
            resolved = (self._resolved_root / folder).resolve()
            if not resolved.is_relative_to(self._resolved_root):
                raise ValueError(f"path {relative!r} leaves the data directory")
            if len(self._folders) >= MAX_REMEMBERED_FOLDERS:
                self._folders.clear()
            self._folders[folder] = resolved
        return resolved / name

    def write(self, relative: str, data: bytes) -> None:
        atomic_write(self.absolute(relative), data)

    def write_many(self, files: dict[str, bytes]) -> dict[str, Exception | None]:
        """Write several files and make them durable together: the outcome per path.

        For files whose database row commits after this returns, and counts them (staging
        frames: a file without a row is deleted at the next start). One failed file (a full disk, say) leaves nothing of itself and does not stop the
        others. Where syncfs(2) is available, the files are not fsynced one by one: a
        single syncfs of their filesystem then makes files, names and folders durable with
        one device flush, where an fsync per file and folder costs a flush each (on an SD
        card, a journal commit each). The price: it also waits for other programs' pending
        writes to that filesystem, which on the appliance are few. Elsewhere, and for a lone
        file, each file is fsynced and each folder once. A failed sync takes the files it
        covered back out.

        A lone file (a camera in baseline sends one frame every 30 s) is fsynced with its
        folder instead: syncfs would also flush every other dirty page of the disk, among
        them the database's WAL index (-shm), which every commit dirties again, and on a
        filesystem without a journal its bitmaps; each frame would write them all anew
        (~10-30 KiB per frame, bench-sdwrites). It is renamed into place before its fsync,
        so that fsync commits the data and the name in one ext4 journal transaction, as
        syncfs did (fsync, rename, fsync of the folder take two). The rows of these files
        commit only after the fsyncs (captures.py), and a file that has no row is deleted
        at the next start (CaptureStore.recover), so a crash before that leaves nothing
        that counts, whatever the file then holds.
        """
        one_flush = _SYNCFS is not None and len(files) > 1
        lone = len(files) == 1
        outcomes: dict[str, Exception | None] = {}
        folders: dict[Path, list[str]] = {}
        for relative, data in files.items():
            try:
                path = self.absolute(relative)
                _place(path, data, sync_file=not one_flush, renamed_first=lone)
            except Exception as exc:
                outcomes[relative] = exc
                continue
            outcomes[relative] = None
            folders.setdefault(path.parent, []).append(relative)
        sync = self._sync_filesystems if one_flush else self._sync_folders
        for written, exc in sync(folders):
            for relative in written:
                self.delete(relative)
                outcomes[relative] = disk_error(exc)
        return outcomes

    @staticmethod
    def _sync_folders(folders: dict[Path, list[str]]) -> list[tuple[list[str], OSError]]:
        failed = []
        for folder, written in folders.items():
            try:
                fsync_dir(folder)
            except OSError as exc:
                failed.append((written, exc))
        return failed

    @staticmethod
    def _sync_filesystems(folders: dict[Path, list[str]]) -> list[tuple[list[str], OSError]]:
        """One syncfs per filesystem the folders are on (one, unless a folder is a mount)."""
        by_device: dict[int, tuple[Path, list[str]]] = {}
        failed = []
        for folder, written in folders.items():
            try:
                device = os.stat(folder).st_dev
            except OSError as exc:
                failed.append((written, exc))
                continue
            by_device.setdefault(device, (folder, []))[1].extend(written)
        for folder, written in by_device.values():
            try:
                sync_filesystem(folder)
            except OSError as exc:
                failed.append((written, exc))
        return failed

    def read(self, relative: str) -> bytes:
        return self.absolute(relative).read_bytes()

    def delete(self, relative: str) -> int:
        """Remove a file; returns the bytes freed (0 when it was already gone)."""
        path = self.absolute(relative)
        try:
            size = path.stat().st_size
            path.unlink()
        except FileNotFoundError:
            return 0
        return size

    def usage(self) -> DiskUsage:
        total, _, free = shutil.disk_usage(self.root)
        return DiskUsage(total=total, free=free)

    def sweep_temp_files(self) -> int:
        """Delete temp files a crash left behind; returns how many."""
        removed = 0
        for folder in (self.root / STAGING, self.root / EVENTS):
            if folder.exists():
                for temp in folder.rglob(f"{TEMP_PREFIX}*"):
                    _remove_quietly(temp)
                    removed += 1
        return removed

    def staging_files(self) -> list[str]:
        base = self.root / STAGING
        if not base.exists():
            return []
        return [str(p.relative_to(self.root)) for p in base.rglob("*.jpg")]
