"""Stored frames: the ingest transaction and the listing of what is kept.

A frame is stored in two steps: its file is written atomically, then its capture row and
its analysis job commit in one transaction. A crash between the two leaves a file with no
row, which `recover()` removes at the next start; never a row without its file.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import apsw

from storewatch import contract
from storewatch.store import Database, Row
from storewatch.errors import FrameConflict, SeqTooOld
from storewatch.store.nonces import SeenNonces
from storewatch.store.images import ImageStore
from storewatch.store.jobs import DUE, UNFINISHED, sql_list


@dataclass(frozen=True)
class StoredFrame:
    capture_id: int
    job_id: int | None
    duplicate: bool


@dataclass(frozen=True)
class NewFrame:
    """A validated frame on its way in, with its hash."""

    meta: dict[str, Any]
    jpeg: bytes
    sha256: str

    @classmethod
    def of(cls, meta: dict[str, Any], jpeg: bytes) -> NewFrame:
        return cls(meta, jpeg, hashlib.sha256(jpeg).hexdigest())

    @property
    def key(self) -> tuple[str, int]:
        return self.meta["device_id"], self.meta["seq"]


Outcome = StoredFrame | Exception
JobIds = Callable[[list[int]], None]


class Enqueue:
    """The system's enqueue: hands new job ids to the worker's queue (Huey).

    One per appliance (`Appliance.enqueue`), read by ingest once per batch and by the admin's
    retry. The process that runs a broker connects it (jobs/service.py); while nobody has,
    jobs wait in the table for the reconciler.
    """

    def __init__(self) -> None:
        self.target: JobIds | None = None

    @property
    def connected(self) -> bool:
        return self.target is not None

    def connect(self, target: JobIds) -> None:
        self.target = target

    def disconnect(self, target: JobIds) -> None:
        """Undo `connect(target)`; a target connected since by someone else stays."""
        if self.target == target:
            self.target = None

    def __call__(self, job_ids: list[int]) -> None:
        """Hand these jobs over, if anyone is connected (else the reconciler finds them)."""
        target = self.target
        if target is not None and job_ids:
            target(job_ids)


def _twin_outcome(first: Outcome | None, first_frame: NewFrame, twin: NewFrame) -> Outcome:
    """A second copy of a seq in one batch gets the answer its first copy got, as a duplicate."""
    if isinstance(first, StoredFrame):
        return _answer_for_stored(first.capture_id, first_frame.sha256, twin)
    return first if isinstance(first, Exception) else RuntimeError("the first copy got no answer")


def _answer_for_stored(capture_id: int, sha256: str, frame: NewFrame) -> Outcome:
    """The answer to a frame whose seq is already stored: a duplicate, or a FrameConflict."""
    if sha256 != frame.sha256:
        device_id, seq = frame.key
        return FrameConflict(f"seq {seq} of {device_id} is already stored with different bytes")
    return StoredFrame(capture_id=capture_id, job_id=None, duplicate=True)


class CaptureStore:
    def __init__(self, db: Database, images: ImageStore, enqueue: Enqueue | None = None,
                 nonces: SeenNonces | None = None):
        self.db = db
        self.images = images
        self.nonces = nonces  # HMAC nonces, saved in each batch's transaction (see nonces.py)
        # Hands the new jobs to the worker's queue, once per batch (the appliance's, see Enqueue).
        self.enqueue = enqueue if enqueue is not None else Enqueue()

    def find(self, device_id: str, seq: int) -> Row | None:
        return self.db.query_one("SELECT * FROM captures WHERE device_id = ? AND seq = ?",
                                 (device_id, seq))

    def is_stored(self, device_id: str, seq: int, jpeg: bytes) -> bool:
        """Whether exactly this frame (same device, seq and bytes) is already stored."""
        row = self.find(device_id, seq)
        return row is not None and row["sha256"] == hashlib.sha256(jpeg).hexdigest()

    def store(self, meta: dict[str, Any], jpeg: bytes) -> StoredFrame:
        """Store one validated frame; idempotent on (device_id, seq)."""
        outcome = self.store_batch([NewFrame.of(meta, jpeg)])[0]
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def store_batch(self, frames: list[NewFrame],
                    before_write: Callable[[int], None] | None = None) -> list[Outcome]:
        """Store validated frames together: one transaction, so one WAL fsync for all of them.

        The outcome of each frame, in order, is its StoredFrame or the exception that
        refused it (FrameConflict, SeqTooOld, DiskFull, apsw errors, or what `before_write` raised);
        one refused frame never undoes the others, except when the commit itself fails.
        Idempotent on (device_id, seq), also between twins inside one batch.
        `before_write` gets the bytes the batch will have written with each new frame, and
        may refuse that frame (the disk reserve).
        """
        outcomes: list[Outcome | None] = [None] * len(frames)
        received = contract.format_timestamp(contract.utc_now())
        day = received[:10].replace("-", "")
        stored = self._stored_versions({frame.key for frame in frames})
        analysed = self._analysed_marks({frame.key[0] for frame in frames})
        first_of: dict[tuple[str, int], int] = {}  # a seq sent twice in this batch: stored once
        paths: dict[int, str] = {}
        incoming = 0
        for index, frame in enumerate(frames):
            if frame.key in first_of:
                continue  # a twin: answered below, from its first copy's outcome
            if frame.key in stored:
                outcomes[index] = _answer_for_stored(*stored[frame.key], frame)
                continue
            device_id, seq = frame.key
            if device_id in analysed and seq <= analysed[device_id]:
                outcomes[index] = SeqTooOld(device_id, seq, analysed[device_id])
                continue
            try:
                if before_write:
                    before_write(incoming + len(frame.jpeg))
            except Exception as exc:
                outcomes[index] = exc
                continue
            incoming += len(frame.jpeg)
            first_of[frame.key] = index
            paths[index] = self.images.staging_path(frame.meta["device_id"], day, frame.meta["seq"], frame.sha256)
        written = self.images.write_many({paths[index]: frames[index].jpeg for index in paths})
        for index, path in list(paths.items()):
            if written[path] is not None:
                outcomes[index] = written[path]
                del paths[index]
        if paths:
            self._insert(frames, paths, received, outcomes)
        for index, frame in enumerate(frames):
            first = first_of.get(frame.key)
            if first is not None and first != index:
                outcomes[index] = _twin_outcome(outcomes[first], frames[first], frame)
        job_ids = [o.job_id for o in outcomes if isinstance(o, StoredFrame) and o.job_id is not None]
        if job_ids:
            self._hand_over(job_ids)
        return outcomes  # type: ignore[return-value]

    def _hand_over(self, job_ids: list[int]) -> None:
        """Give the batch's new jobs to the worker's queue; if that fails, un-note them, so the
        reconciler takes them up after its short grace, as jobs nobody enqueued."""
        hand_over = self.enqueue.target
        if hand_over is None:  # unhooked meanwhile: the jobs went in unnoted only if it was unset then
            self._unnote(job_ids)
            return
        try:
            hand_over(job_ids)
        except BaseException:
            self._unnote(job_ids)
            raise

    def _unnote(self, job_ids: list[int]) -> None:
        marks = ", ".join("?" for _ in job_ids)
        if self.db.scalar(f"SELECT COUNT(*) FROM jobs WHERE enqueued_at IS NOT NULL AND id IN ({marks})",
                          job_ids):
            with self.db.write() as conn:
                conn.execute(f"UPDATE jobs SET enqueued_at = NULL WHERE state IN {sql_list(DUE)}"
                             f" AND id IN ({marks})", job_ids)

    def _stored_versions(self, keys: set[tuple[str, int]]) -> dict[tuple[str, int], tuple[int, str]]:
        """(capture id, sha256) of the keys already stored, in one indexed query."""
        if not keys:
            return {}
        values = ", ".join("(?, ?)" for _ in keys)
        rows = self.db.query(
            f"SELECT c.device_id, c.seq, c.id, c.sha256 FROM (VALUES {values}) AS k"
            " JOIN captures AS c ON c.device_id = k.column1 AND c.seq = k.column2",
            [part for key in keys for part in key])
        return {(row["device_id"], row["seq"]): (row["id"], row["sha256"]) for row in rows}

    def _analysed_marks(self, device_ids: set[str]) -> dict[str, int]:
        """The last seq analysed per device. Read before the batch's transaction: a frame the
        worker passes meanwhile is still stored, and done as late (the jobs table shows it)."""
        marks = ", ".join("?" for _ in device_ids)
        rows = self.db.query(f"SELECT device_id, last_applied_seq FROM analysis_state WHERE device_id IN ({marks})",
                             list(device_ids)) if device_ids else []
        return {row["device_id"]: row["last_applied_seq"] for row in rows if row["last_applied_seq"] is not None}

    def _transaction(self) -> Any:
        return self.nonces.transaction() if self.nonces is not None else self.db.write()

    def _insert(self, frames: list[NewFrame], paths: dict[int, str], received: str,
                outcomes: list[Outcome | None]) -> None:
        """The rows of the frames whose files are written: capture and job, then each device once."""
        inserted: list[int] = []
        committed = False
        # Jobs about to be handed over are noted as enqueued in this commit, which spares the
        # SD card a commit of their own (~12 KiB per frame). Should the hand-over fail, the
        # note is taken back (see `_hand_over`); after a crash, the reconciler's round at
        # start re-enqueues every queued job whatever its note says.
        enqueued = received if self.enqueue.connected else None
        try:
            with self._transaction() as conn:
                latest: dict[str, NewFrame] = {}
                for index, path in paths.items():
                    frame = frames[index]
                    try:
                        capture_id = self._insert_capture(conn, frame, path, received)
                    except apsw.ConstraintError as exc:  # SQLite undoes this statement alone
                        outcomes[index] = self._refused_row(frame, exc)
                        continue
                    conn.execute(
                        "INSERT INTO jobs (capture_id, device_id, seq, created_at, updated_at, enqueued_at)"
                        " VALUES (?, ?, ?, ?, ?, ?)", (capture_id, *frame.key, received, received, enqueued))
                    outcomes[index] = StoredFrame(capture_id=capture_id, job_id=conn.last_insert_rowid(),
                                                  duplicate=False)
                    inserted.append(index)
                    device_id, seq = frame.key
                    if device_id not in latest or seq > latest[device_id].meta["seq"]:
                        latest[device_id] = frame
                for device_id, frame in latest.items():
                    conn.execute(
                        "UPDATE devices SET last_seen = ?, last_seq = MAX(COALESCE(last_seq, -1), ?),"
                        " fw_version = COALESCE(?, fw_version) WHERE id = ?",
                        (received, frame.meta["seq"], frame.meta.get("fw_version"), device_id))
            committed = True
        except Exception as exc:  # rolled back: nothing of the batch is stored
            for index in inserted:
                outcomes[index] = exc
        finally:
            kept = set(inserted) if committed else set()
            self._drop_unreferenced(path for index, path in paths.items() if index not in kept)

    def _drop_unreferenced(self, paths: Iterable[str]) -> None:
        """Delete written files no committed row points to (a twin stored elsewhere may share one)."""
        for path in paths:
            if self.db.query_one("SELECT 1 FROM captures WHERE path = ?", (path,)) is None:
                self.images.delete(path)

    def _insert_capture(self, conn: apsw.Connection, frame: NewFrame, path: str, received: str) -> int:
        meta = frame.meta
        conn.execute(
            "INSERT INTO captures (device_id, seq, capture_ts, capture_epoch, received_at,"
            " width, height, jpeg_quality, size_bytes, sha256, path, mode, rssi, fw_version,"
            " notes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (meta["device_id"], meta["seq"], meta["capture_ts"],
             contract.parse_timestamp(meta["capture_ts"]).timestamp(), received,
             meta["width"], meta["height"], meta["jpeg_quality"], len(frame.jpeg), frame.sha256, path,
             meta.get("mode"), meta.get("rssi"), meta.get("fw_version"), meta.get("notes")),
        )
        return conn.last_insert_rowid()

    def _refused_row(self, frame: NewFrame, error: apsw.ConstraintError) -> Outcome:
        """A capture row the database refused: a twin stored meanwhile by someone else, or not."""
        row = self.find(*frame.key)
        if row is None:
            return error  # e.g. the device was deleted since it was authenticated
        return _answer_for_stored(row["id"], row["sha256"], frame)

    def list(self, device_id: str, limit: int = 1000) -> list[Row]:
        rows = self.db.query(
            "SELECT id, seq, capture_ts, received_at, width, height, size_bytes, mode, path"
            " FROM captures WHERE device_id = ? ORDER BY seq DESC LIMIT ?", (device_id, limit))
        return rows[::-1]

    def latest(self, device_id: str, limit: int) -> list[Row]:
        """The device's newest frames (id, capture_ts, path), newest first."""
        return self.db.query("SELECT id, capture_ts, path FROM captures WHERE device_id = ?"
                             " ORDER BY seq DESC LIMIT ?", (device_id, limit))

    def total_bytes(self) -> int:
        return int(self.db.scalar("SELECT COALESCE(SUM(size_bytes), 0) FROM captures") or 0)

    def count(self) -> int:
        return int(self.db.scalar("SELECT COUNT(*) FROM captures"))

    # --- what retention and the disk audit may delete ----------------------------------

    def settled_page(self, after: tuple[str, int], before: str | None, limit: int) -> list[Row]:
        """Frames whose job is finished (or gone), received after the keyset `after`
        (received_at, id) and before `before` (if given), oldest first."""
        return self.db.query(
            "SELECT c.id, c.path, c.size_bytes, c.received_at FROM captures c"
            " LEFT JOIN jobs j ON j.capture_id = c.id"
            " WHERE (c.received_at, c.id) > (?, ?) AND (? IS NULL OR c.received_at < ?)"
            f" AND (j.state IS NULL OR j.state NOT IN {sql_list(UNFINISHED)})"
            " ORDER BY c.received_at, c.id LIMIT ?", (*after, before, before, limit))

    def settled_before(self, received_before: str) -> list[Row]:
        """(id, path) of the frames received before then whose job is finished (or gone)."""
        return self.db.query(
            "SELECT c.id, c.path FROM captures c LEFT JOIN jobs j ON j.capture_id = c.id"
            f" WHERE c.received_at < ? AND (j.state IS NULL OR j.state NOT IN {sql_list(UNFINISHED)})",
            (received_before,))

    def needed_ids(self) -> set[int]:
        """Frames still needed whatever their age: an event's picture, the start frame of an
        event whose images are kept, or the frame the worker's state points at."""
        rows = self.db.query(
            "SELECT capture_id AS id FROM event_images WHERE capture_id IS NOT NULL"
            " UNION SELECT start_capture_id FROM events"
            "  WHERE start_capture_id IS NOT NULL AND images_expired = 0"
            " UNION SELECT last_capture_id FROM analysis_state WHERE last_capture_id IS NOT NULL")
        return {row["id"] for row in rows}

    @staticmethod
    def delete_settled(conn: apsw.Connection, capture_id: int) -> bool:
        """Delete a frame's row (and its job's, by cascade) unless its job is pending; inside the
        caller's transaction. Whether it went; the file is the caller's to delete."""
        conn.execute("DELETE FROM captures WHERE id = ? AND NOT EXISTS (SELECT 1 FROM jobs"
                     f" WHERE capture_id = captures.id AND state IN {sql_list(UNFINISHED)})", (capture_id,))
        return bool(conn.changes())

    def recover(self) -> dict[str, int]:
        """After a crash: drop temp files and files whose row never committed."""
        temps = self.images.sweep_temp_files()
        known = {row["path"] for row in self.db.query("SELECT path FROM captures")}
        orphans = [p for p in self.images.staging_files() if p not in known]
        for path in orphans:
            self.images.delete(path)
        return {"temp_files": temps, "orphan_files": len(orphans)}
