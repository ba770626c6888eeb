"""Stored frames: the ingest transaction and the listing of what is kept.

A frame is stored in two steps: its file is written atomically, then its capture row and
its analysis job commit in one transaction. A crash between the two leaves a file with no
row, which `recover()` removes at the next start; never a row without its file.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import apsw

from storewatch import contract
from storewatch.db import Database, Row
from storewatch.storage import ImageStore


class FrameConflict(Exception):
    """The seq is already stored with different bytes."""


@dataclass(frozen=True)
class StoredFrame:
    capture_id: int
    job_id: int | None
    duplicate: bool


def _is_new(outcome: object) -> bool:
    return isinstance(outcome, StoredFrame) and not outcome.duplicate


class CaptureStore:
    def __init__(self, db: Database, images: ImageStore,
                 on_job_queued: Callable[[int], None] | None = None):
        self.db = db
        self.images = images
        self.on_job_queued = on_job_queued

    def find(self, device_id: str, seq: int) -> Row | None:
        return self.db.query_one("SELECT * FROM captures WHERE device_id = ? AND seq = ?",
                                 (device_id, seq))

    def check_existing(self, device_id: str, seq: int, sha256: str) -> StoredFrame | None:
        """A duplicate's answer, a FrameConflict, or None when the seq is new."""
        row = self.find(device_id, seq)
        if row is None:
            return None
        if row["sha256"] != sha256:
            raise FrameConflict(f"seq {seq} of {device_id} is already stored with different bytes")
        return StoredFrame(capture_id=row["id"], job_id=None, duplicate=True)

    def store(self, meta: dict[str, Any], jpeg: bytes) -> StoredFrame:
        """Store one validated frame; idempotent on (device_id, seq), also under races."""
        outcome = self.store_batch([(meta, jpeg)])[0]
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    def store_batch(self, frames: list[tuple[dict[str, Any], bytes]],
                    before_write: Callable[[int], None] | None = None) -> list[StoredFrame | Exception]:
        """Store validated frames together: one transaction, so one WAL fsync for all of them.

        The outcome of each frame, in order, is its StoredFrame or the exception that
        refused it (FrameConflict, DiskFull, apsw.FullError, or whatever `before_write`
        raised for it); one refused frame never undoes the others. Idempotent on
        (device_id, seq), also between twins inside one batch. `before_write` gets the bytes
        the batch will have written with each new frame, and may refuse that frame (the disk
        reserve).
        """
        outcomes: list[StoredFrame | Exception | None] = [None] * len(frames)
        received = contract.format_timestamp(contract.utc_now())
        day = received[:10].replace("-", "")
        new: list[tuple[int, dict[str, Any], bytes, str, str]] = []  # index, meta, jpeg, sha256, path
        incoming = 0
        for index, (meta, jpeg) in enumerate(frames):
            sha256 = hashlib.sha256(jpeg).hexdigest()
            try:
                outcomes[index] = self.check_existing(meta["device_id"], meta["seq"], sha256)
                if outcomes[index] is None:
                    if before_write:
                        before_write(incoming + len(jpeg))
                    incoming += len(jpeg)
                    path = self.images.staging_path(meta["device_id"], day, meta["seq"], sha256)
                    new.append((index, meta, jpeg, sha256, path))
            except Exception as exc:
                outcomes[index] = exc
        written = self.images.write_many({path: jpeg for _, _, jpeg, _, path in new})
        pending = []
        for index, meta, jpeg, sha256, path in new:
            failure = written[path]
            if failure is None:
                pending.append((index, meta, jpeg, sha256, path))
            else:
                outcomes[index] = failure
        queued = self._insert(pending, received, outcomes) if pending else []
        for job_id in queued:
            if self.on_job_queued:
                self.on_job_queued(job_id)
        return outcomes  # type: ignore[return-value]

    def _insert(self, pending: list[tuple[int, dict[str, Any], bytes, str, str]], received: str,
                outcomes: list[StoredFrame | Exception | None]) -> list[int]:
        """The rows of files already written (capture, job, device update); the new job ids."""
        committed = False
        try:
            with self.db.write() as conn:
                for index, meta, jpeg, sha256, path in pending:
                    try:
                        with conn:  # a savepoint: one frame that fails does not undo the others
                            outcomes[index] = self._insert_one(conn, meta, jpeg, sha256, path, received)
                    except (FrameConflict, apsw.Error) as exc:
                        outcomes[index] = exc
            committed = True
        except Exception as exc:  # the commit failed: none of them is stored
            for index, *_ in pending:
                outcomes[index] = exc
        finally:
            self._drop_unreferenced({path for index, *_, path in pending
                                     if not (committed and _is_new(outcomes[index]))})
        return [outcome.job_id for outcome in outcomes if _is_new(outcome)]  # type: ignore[union-attr]

    def _insert_one(self, conn: apsw.Connection, meta: dict[str, Any], jpeg: bytes, sha256: str,
                    path: str, received: str) -> StoredFrame:
        device_id, seq = meta["device_id"], meta["seq"]
        existing = self.check_existing(device_id, seq, sha256)
        if existing:  # a twin committed first (maybe earlier in this batch); same bytes, same file
            return existing
        captured = contract.parse_timestamp(meta["capture_ts"])
        conn.execute(
            "INSERT INTO captures (device_id, seq, capture_ts, capture_epoch, received_at,"
            " width, height, jpeg_quality, size_bytes, sha256, path, mode, rssi, fw_version,"
            " notes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (device_id, seq, meta["capture_ts"], captured.timestamp(), received,
             meta["width"], meta["height"], meta["jpeg_quality"], len(jpeg), sha256, path,
             meta.get("mode"), meta.get("rssi"), meta.get("fw_version"), meta.get("notes")),
        )
        capture_id = conn.last_insert_rowid()
        conn.execute(
            "INSERT INTO jobs (capture_id, device_id, seq, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?)", (capture_id, device_id, seq, received, received))
        job_id = conn.last_insert_rowid()
        conn.execute(
            "UPDATE devices SET last_seen = ?, last_seq = MAX(COALESCE(last_seq, -1), ?),"
            " fw_version = COALESCE(?, fw_version) WHERE id = ?",
            (received, seq, meta.get("fw_version"), device_id))
        return StoredFrame(capture_id=capture_id, job_id=job_id, duplicate=False)

    def _drop_unreferenced(self, paths: set[str]) -> None:
        """Delete written files that no committed row points to (a twin's row may share one)."""
        for path in paths:
            if self.db.query_one("SELECT 1 FROM captures WHERE path = ?", (path,)) is None:
                self.images.delete(path)

    def list(self, device_id: str, limit: int = 1000) -> list[Row]:
        rows = self.db.query(
            "SELECT id, seq, capture_ts, received_at, width, height, size_bytes, mode, path"
            " FROM captures WHERE device_id = ? ORDER BY seq DESC LIMIT ?", (device_id, limit))
        return rows[::-1]

    def recover(self) -> dict[str, int]:
        """After a crash: drop temp files and files whose row never committed."""
        temps = self.images.sweep_temp_files()
        known = {row["path"] for row in self.db.query("SELECT path FROM captures")}
        orphans = [p for p in self.images.staging_files() if p not in known]
        for path in orphans:
            self.images.delete(path)
        return {"temp_files": temps, "orphan_files": len(orphans)}
