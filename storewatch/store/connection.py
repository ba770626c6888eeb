"""Connections to the app database.

Reads use one connection per thread; every write goes through `Database.write()`, which
serialises writers in this process with a lock and opens `BEGIN IMMEDIATE`, so a writer
never meets SQLITE_BUSY half-way through a transaction. Other processes (the CLI, a
separate worker) are covered by the busy timeout.
"""

from __future__ import annotations

import errno
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import apsw

from storewatch.store.migrations import migrate
from storewatch.durable import StorageUnavailable, disk_error, make_private

# SD cards can stall for seconds under write load; give writers time before failing.
BUSY_TIMEOUT_MS = 15_000
PAGE_SIZE = 1024  # bytes, for a new database file

Row = dict[str, Any]

# What SQLite says when the disk under it is read-only or failing (not full: that is
# apsw.FullError, which ingest answers with 507).
DISK_ERRORS = (apsw.ReadOnlyError, apsw.IOError, apsw.CantOpenError)
_DISK_REASONS = {apsw.ReadOnlyError: ("read_only", errno.EROFS), apsw.IOError: ("io_error", errno.EIO),
                 apsw.CantOpenError: ("cant_open", errno.EIO)}


def storage_error(exc: BaseException) -> BaseException:
    """`exc` as StorageUnavailable when it is SQLite's or the OS's word for a disk that
    refuses writes; any other exception as it is."""
    if isinstance(exc, OSError):
        return disk_error(exc)
    for kind, (reason, code) in _DISK_REASONS.items():
        if isinstance(exc, kind):
            return StorageUnavailable(code, f"the database cannot write to the data disk: {exc}", reason)
    return exc


def _row_factory(cursor: apsw.Cursor, row: tuple) -> Row:
    return {d[0]: value for d, value in zip(cursor.getdescription(), row)}


class Database:
    def __init__(self, path: Path | str, *, migrate_schema: bool = True):
        self.path = str(path)
        self._local = threading.local()
        self._write_lock = threading.RLock()
        self._all: list[apsw.Connection] = []
        self._all_lock = threading.Lock()
        self._unflushed = False  # a commit with flush=False since the last flushed one
        make_private(Path(self.path))  # before SQLite creates it (and its -wal, -shm) world-readable
        if migrate_schema:
            with self._write_lock:
                migrate(self.connection())

    def connection(self) -> apsw.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = apsw.Connection(self.path)
            conn.setbusytimeout(BUSY_TIMEOUT_MS)
            conn.row_trace = _row_factory
            # synchronous=FULL: in WAL mode NORMAL may roll back the last commits after a
            # power cut, and a device drops a frame once it got its 2xx. page_size: 1 KiB
            # pages for a new file (an existing one keeps its own): a commit writes whole
            # pages to the WAL, and most of ours change a few rows in several tables and
            # indexes, so 4 KiB pages wrote the SD card about three times the bytes.
            for pragma in (f"page_size={PAGE_SIZE}", "journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON"):
                conn.execute(f"PRAGMA {pragma}").fetchall()
            self._local.conn = conn
            with self._all_lock:
                self._all.append(conn)
        return conn

    def query(self, sql: str, params: Any = ()) -> list[Row]:
        return list(self.connection().execute(sql, params))

    def query_one(self, sql: str, params: Any = ()) -> Row | None:
        for row in self.connection().execute(sql, params):
            return row
        return None

    def scalar(self, sql: str, params: Any = ()) -> Any:
        row = self.connection().execute(sql, params).fetchone()
        return None if row is None else next(iter(row.values()))

    @contextmanager
    def write(self, *, flush: bool = True) -> Iterator[apsw.Connection]:
        """One IMMEDIATE transaction: commits on success, rolls back on any exception.

        flush=False commits without an fsync of its own (synchronous=NORMAL for this one
        commit): at once visible to every connection and process, and kept through a crash
        of this process (it is in the kernel's page cache), but a power cut may take it back
        until the next flushed commit, which makes it durable with its own. For bookkeeping
        that a power cut may lose, as the worker's claim of a job (see jobs/queue.py): each
        flush is a WAL page written again, the WAL's inode and a journal commit on the SD card.
        A nested use joins the open transaction, and so its flush. `close` flushes what
        is left unflushed.
        """
        with self._write_lock:
            conn = self.connection()
            if conn.in_transaction:  # nested use joins the open transaction
                yield conn
                return
            try:
                if not flush:
                    conn.execute("PRAGMA synchronous=NORMAL")
                try:
                    conn.execute("BEGIN IMMEDIATE")
                    changes = conn.total_changes()
                    try:
                        yield conn
                        conn.execute("COMMIT")
                        if conn.total_changes() != changes:  # an empty commit writes (and syncs) nothing
                            self._unflushed = not flush  # a flushed commit syncs the WAL, earlier commits too
                    except BaseException:
                        if conn.in_transaction:  # also after a failed COMMIT, or the next write would join it
                            conn.execute("ROLLBACK")
                        raise
                finally:
                    if not flush:
                        conn.execute("PRAGMA synchronous=FULL")
            except DISK_ERRORS as exc:
                raise storage_error(exc) from exc

    def close(self) -> None:
        if self._unflushed:
            self._flush_wal()
        with self._all_lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()

    def _flush_wal(self) -> None:
        """Make unflushed commits durable before a clean stop: a checkpoint syncs the WAL first
        (the last connection to close checkpoints anyway, but not while another process has
        the file open)."""
        try:
            with self._write_lock:
                self.connection().execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                self._unflushed = False
        except apsw.Error:  # a failing disk: closing goes on, as a power cut would have had it
            pass
