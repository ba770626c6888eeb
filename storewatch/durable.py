"""Writing files so a power cut never leaves half of one: temp + fsync + rename, and the folder.

Both the camera (its spool, its state file) and the server (frames, event pictures, the
address file, backups) write through these. Temp files carry TEMP_PREFIX, so start-up can
sweep the ones a crash left behind. The disk's own refusals (full, read-only, failing)
come out as DiskFull or StorageUnavailable, whoever wrote.
"""

from __future__ import annotations

import ctypes
import errno
import os
import random
import sys
from collections.abc import Callable
from pathlib import Path

TEMP_PREFIX = ".tmp-"
_TEMP_NAMES = random.Random()
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
    place(path, data, sync_file=True)
    if sync_folder:
        fsync_dir(path.parent)


def place(path: Path, data: bytes, *, sync_file: bool, renamed_first: bool = False) -> None:
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
        remove_quietly(placed)
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


# libc's syncfs, or None where it is missing or too old (tests set it to take either path).
SYNCFS = _linux_syncfs()


def sync_filesystem(folder: Path) -> None:
    """Make everything written to `folder`'s filesystem durable (syncfs(2)): files, names, folders."""
    if SYNCFS is None:
        raise OSError(errno.ENOSYS, "syncfs is not available here")
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        # A fresh descriptor still sees write errors that nobody has reported yet (errseq).
        if SYNCFS(fd) != 0:  # ctypes releases the GIL for the call, as os.fsync does
            code = ctypes.get_errno()
            raise OSError(code, os.strerror(code), str(folder))
    finally:
        os.close(fd)


def remove_quietly(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass
