"""Online backup, integrity check and restore of the app database (apsw's backup API).

A backup copies every page inside one read transaction of the live database: in WAL
mode that neither blocks ingest nor sees half of a write, so a backup taken while frames
arrive is consistent. It is written beside its destination as a hidden partial file,
checked, fsynced and renamed, so a cut-off backup never looks like a good one.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import apsw

from storewatch.store import database_file
from storewatch.store.database_file import open_file as _open
from storewatch.store.migrations import SCHEMA_VERSION
from storewatch.durable import fsync_dir, make_private

Progress = Callable[[str], None]


class BackupError(RuntimeError):
    """The backup or restore could not be made; the message says why, for a person."""


@dataclass
class CheckResult:
    path: Path
    ok: bool
    schema_version: int
    problems: list[str] = field(default_factory=list)
    full: bool = False


@dataclass
class BackupResult:
    path: Path
    size_bytes: int
    pages: int
    duration_s: float
    check: CheckResult


def check(path: Path, full: bool = False) -> CheckResult:
    """PRAGMA quick_check (or integrity_check with `full`) and foreign_key_check."""
    path = Path(path)
    if not path.exists():
        return CheckResult(path, False, 0, [f"{path} does not exist"], full)
    try:
        conn = _open(path, read_only=True)
    except apsw.Error as exc:
        return CheckResult(path, False, 0, [f"cannot open {path}: {exc}"], full)
    try:
        version, problems = database_file.check(conn, full)
    except apsw.Error as exc:
        return CheckResult(path, False, 0, [f"{type(exc).__name__}: {exc}"], full)
    finally:
        conn.close()
    return CheckResult(path, not problems, version, problems, full)


def backup(source: Path, destination: Path, progress: Progress | None = None) -> BackupResult:
    """Copy the live database at `source` to `destination` (a file path), consistent and checked."""
    progress = progress or (lambda message: None)
    destination = Path(destination)
    if destination.is_dir():
        raise BackupError(f"{destination} is a folder; give a file name, e.g. {destination}/storewatch.db")
    if destination.resolve() == Path(source).resolve():
        raise BackupError("the backup cannot overwrite the live database")
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(f".{destination.name}.partial")
    _remove(partial)
    make_private(partial, side_files=())  # owner-only like the live file: it holds hashes and channel secrets
    started = time.monotonic()
    pages = _copy(Path(source), partial, progress)
    result = check(partial)
    if not result.ok:
        _remove(partial)
        raise BackupError(f"the copy failed its check ({'; '.join(result.problems)}); the live database "
                          "may be damaged: run `storewatch db check --full`")
    _fsync(partial)
    os.replace(partial, destination)
    fsync_dir(destination.parent)
    result.path = destination
    return BackupResult(destination, destination.stat().st_size, pages, time.monotonic() - started, result)


def _copy(source: Path, target: Path, progress: Progress) -> int:
    src = _open(source)
    dst = _open(target)
    try:
        pages = database_file.copy_pages(src, dst)  # consistent, and WAL lets writers go on
        progress(f"copied {pages} pages")
        database_file.set_journal_mode(dst, "DELETE")  # one self-contained file, no -wal beside it
    except apsw.Error as exc:
        _remove(target)
        raise BackupError(f"backup failed: {exc}") from exc
    finally:
        dst.close()
        src.close()
    return pages


def restore(backup_file: Path, live: Path, progress: Progress | None = None) -> Path:
    """Replace the live database's content with a checked backup; returns where the old one was kept.

    Stop the services first: a running appliance would keep working from memory on the
    old state until its next restart.
    """
    progress = progress or (lambda message: None)
    result = check(Path(backup_file), full=True)
    if not result.ok:
        raise BackupError(f"{backup_file} fails its check: {'; '.join(result.problems)}")
    if result.schema_version > SCHEMA_VERSION:
        raise BackupError(f"{backup_file} is at schema {result.schema_version}, newer than this storewatch "
                          f"({SCHEMA_VERSION}); upgrade storewatch first")
    kept = live.with_name(f"{live.name}.before-restore-{time.strftime('%Y%m%d-%H%M%S')}")
    if live.exists():
        progress(f"keeping the current database as {kept}")
        backup(live, kept)
    src = _open(Path(backup_file), read_only=True)
    dst = _open(live)
    try:
        database_file.copy_pages(src, dst)
        database_file.set_journal_mode(dst, "WAL")
    except apsw.Error as exc:
        raise BackupError(f"restore failed: {exc}; the previous database is in {kept}") from exc
    finally:
        dst.close()
        src.close()
    progress(f"restored {backup_file} (schema {result.schema_version}); it is migrated at the next start")
    return kept


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass
