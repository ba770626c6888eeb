"""Image files on disk: where they go, and writing them so a power cut never leaves half a file.

Every file is written as a temp file in its final folder, fsynced, renamed into place,
and the folder fsynced. Temp files carry TEMP_PREFIX (storewatch.durable), so start-up can sweep the ones a
crash left behind. Staging frames (ImageStore.write_many), which count only once their
row commits after them: a batch of several is made durable with one syncfs(2) of its
filesystem where Linux offers it, instead of an fsync per file and folder; a lone frame,
the usual case in baseline, is renamed into place and then fsynced with its folder.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from storewatch import durable

STAGING = "staging"
MAX_REMEMBERED_FOLDERS = 4096

EVENTS = "events"


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
        durable.atomic_write(self.absolute(relative), data)

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
        one_flush = durable.SYNCFS is not None and len(files) > 1
        lone = len(files) == 1
        outcomes: dict[str, Exception | None] = {}
        folders: dict[Path, list[str]] = {}
        for relative, data in files.items():
            try:
                path = self.absolute(relative)
                durable.place(path, data, sync_file=not one_flush, renamed_first=lone)
            except Exception as exc:
                outcomes[relative] = exc
                continue
            outcomes[relative] = None
            folders.setdefault(path.parent, []).append(relative)
        sync = self._sync_filesystems if one_flush else self._sync_folders
        for written, exc in sync(folders):
            for relative in written:
                self.delete(relative)
                outcomes[relative] = durable.disk_error(exc)
        return outcomes

    @staticmethod
    def _sync_folders(folders: dict[Path, list[str]]) -> list[tuple[list[str], OSError]]:
        failed = []
        for folder, written in folders.items():
            try:
                durable.fsync_dir(folder)
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
                durable.sync_filesystem(folder)
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
                for temp in folder.rglob(f"{durable.TEMP_PREFIX}*"):
                    durable.remove_quietly(temp)
                    removed += 1
        return removed

    def staging_files(self) -> list[str]:
        base = self.root / STAGING
        if not base.exists():
            return []
        return [str(p.relative_to(self.root)) for p in base.rglob("*.jpg")]
