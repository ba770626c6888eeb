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
        """Store a validated frame; idempotent on (device_id, seq), also under races."""
        sha256 = hashlib.sha256(jpeg).hexdigest()
        device_id, seq = meta["device_id"], meta["seq"]
        existing = self.check_existing(device_id, seq, sha256)
        if existing:
            return existing
        captured = contract.parse_timestamp(meta["capture_ts"])
        received = contract.format_timestamp(contract.utc_now())
        path = self.images.staging_path(device_id, received[:10].replace("-", ""), seq, sha256)
        self.images.write(path, jpeg)
        try:
            with self.db.write() as conn:
                existing = self.check_existing(device_id, seq, sha256)
                if existing:  # a concurrent twin committed first; same bytes, same file
                    return existing
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
        except FrameConflict:
            self.images.delete(path)
            raise
        except BaseException:
            if not self.find(device_id, seq):
                self.images.delete(path)
            raise
        if self.on_job_queued:
            self.on_job_queued(job_id)
        return StoredFrame(capture_id=capture_id, job_id=job_id, duplicate=False)

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
