"""The jobs table: one row per stored frame's analysis, the truth about it.

    queued → running → done
               ↘ failed (retried after a backoff) → … → dead

The states are defined here once; every module names them through these constants (the
CHECK of the migration that made the table lists the same five, and a test holds the two
equal). The rules (when a failure is final, how long a retry waits, when a lease is
abandoned) live in storewatch/jobs; this module only reads and writes rows.

Claims and lease renewals commit without a flush of their own (`Database.write(flush=False)`);
see storewatch/jobs/queue.py for why that is safe.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from storewatch import contract
from storewatch.store import Database, Row

QUEUED, RUNNING, DONE, FAILED, DEAD = "queued", "running", "done", "failed", "dead"
STATES = (QUEUED, RUNNING, DONE, FAILED, DEAD)
UNFINISHED = (QUEUED, RUNNING, FAILED)  # its frame is still needed (not pruned, not purged)
DUE = (QUEUED, FAILED)  # waiting for a task to carry it (a failed one from its next attempt on)
FINISHED = (DONE, DEAD)  # may be purged
RETRYABLE = (DEAD, FAILED)  # an admin may put it back in the queue
MAX_ERROR = 2000
LATE_NOTE = "late: its device had already analysed a later frame"
LISTED = ("id, capture_id, device_id, seq, state, attempts, last_error, late, created_at, updated_at,"
          " started_at, finished_at, next_attempt_at, duration_ms")


def sql_list(states: Iterable[str]) -> str:
    """States as an SQL list literal, e.g. "('queued', 'failed')" (they are our constants, never input)."""
    names = tuple(states)
    if not names or not set(names) <= set(STATES):
        raise ValueError(f"not job states: {names!r}")
    return "(" + ", ".join(f"'{name}'" for name in names) + ")"


def ts(moment: datetime) -> str:
    return contract.format_timestamp(moment)


class JobStore:
    def __init__(self, db: Database):
        self.db = db

    # --- one job --------------------------------------------------------------------------

    def get(self, job_id: int) -> Row | None:
        return self.db.query_one("SELECT * FROM jobs WHERE id = ?", (job_id,))

    def head(self, device_id: str) -> Row | None:
        """The device's lowest-seq unfinished job, with its capture's arrival time."""
        return self.db.query_one(
            "SELECT j.*, c.received_at FROM jobs j JOIN captures c ON c.id = j.capture_id"
            f" WHERE j.device_id = ? AND j.state IN {sql_list(UNFINISHED)}"
            " ORDER BY j.seq LIMIT 1", (device_id,))

    def claim(self, job: Row, owner: str, now: datetime, lease_until: datetime) -> bool:
        """Take the job as it was read (compare-and-set), counting one attempt (not flushed)."""
        with self.db.write(flush=False) as conn:
            conn.execute(
                f"UPDATE jobs SET state = '{RUNNING}', attempts = attempts + 1, started_at = ?,"
                " lease_until = ?, lease_owner = ?, updated_at = ? WHERE id = ? AND state = ? AND attempts = ?",
                (ts(now), ts(lease_until), owner, ts(now), job["id"], job["state"], job["attempts"]))
            return conn.changes() == 1

    def renew(self, job_ids: Iterable[int], owner: str, until: datetime) -> int:
        """Extend the leases `owner` still holds on these running jobs; returns how many (not flushed)."""
        renewed = 0
        with self.db.write(flush=False) as conn:
            for job_id in job_ids:
                conn.execute(f"UPDATE jobs SET lease_until = ? WHERE id = ? AND state = '{RUNNING}'"
                             " AND lease_owner = ?", (ts(until), job_id, owner))
                renewed += conn.changes()
        return renewed

    def held_by(self, job_id: int, owner: str) -> bool:
        return self.db.query_one(f"SELECT 1 FROM jobs WHERE id = ? AND state = '{RUNNING}' AND lease_owner = ?",
                                 (job_id, owner)) is not None

    def mark_done(self, job_id: int, now: datetime, duration_ms: float, late: bool) -> None:
        with self.db.write() as conn:
            conn.execute(
                f"UPDATE jobs SET state = '{DONE}', finished_at = ?, updated_at = ?, lease_until = NULL,"
                " lease_owner = NULL, next_attempt_at = NULL, late = ?, duration_ms = ?, last_error = ?"
                " WHERE id = ?",
                (ts(now), ts(now), int(late), round(duration_ms, 3), LATE_NOTE if late else None, job_id))

    def release(self, job_id: int, now: datetime) -> None:
        """Back to queued without the attempt its claim counted."""
        with self.db.write() as conn:
            conn.execute(f"UPDATE jobs SET state = '{QUEUED}', attempts = MAX(0, attempts - 1), lease_until = NULL,"
                         f" lease_owner = NULL, updated_at = ? WHERE id = ? AND state = '{RUNNING}'",
                         (ts(now), job_id))

    def mark_dead(self, job_id: int, error: str, now: datetime, clear_next_attempt: bool = True) -> None:
        """Dead with its error. A job taken back from a gone worker keeps its next_attempt_at as it was."""
        next_attempt = ", next_attempt_at = NULL" if clear_next_attempt else ""
        with self.db.write() as conn:
            conn.execute(f"UPDATE jobs SET state = '{DEAD}', last_error = ?, finished_at = ?, updated_at = ?,"
                         f" lease_until = NULL, lease_owner = NULL{next_attempt} WHERE id = ?",
                         (error[:MAX_ERROR], ts(now), ts(now), job_id))

    def mark_failed(self, job_id: int, error: str, now: datetime, next_attempt_at: datetime,
                    enqueued_at: datetime | None) -> None:
        """Failed with its error, due again at next_attempt_at (enqueued_at: when its retry task was given)."""
        with self.db.write() as conn:
            conn.execute(f"UPDATE jobs SET state = '{FAILED}', last_error = ?, updated_at = ?, lease_until = NULL,"
                         " lease_owner = NULL, next_attempt_at = ?, enqueued_at = ? WHERE id = ?",
                         (error[:MAX_ERROR], ts(now), ts(next_attempt_at),
                          None if enqueued_at is None else ts(enqueued_at), job_id))

    # --- handing jobs to the queue ----------------------------------------------------------

    def noted(self, job_ids: list[int]) -> set[int]:
        """Those of the jobs noted as enqueued."""
        if not job_ids:
            return set()
        marks = ", ".join("?" for _ in job_ids)
        return {row["id"] for row in self.db.query(
            f"SELECT id FROM jobs WHERE enqueued_at IS NOT NULL AND id IN ({marks})", job_ids)}

    def mark_enqueued(self, job_ids: list[int], now: datetime) -> None:
        if not job_ids:
            return
        with self.db.write() as conn:
            for job_id in job_ids:
                conn.execute(f"UPDATE jobs SET enqueued_at = ? WHERE id = ? AND state IN {sql_list(DUE)}",
                             (ts(now), job_id))

    def running(self) -> list[Row]:
        return self.db.query(f"SELECT id, device_id, lease_until, lease_owner, attempts FROM jobs"
                             f" WHERE state = '{RUNNING}'")

    def due_unnoted(self, due_by: datetime, enqueued_by: datetime) -> list[Row]:
        """Due jobs (by due_by) not noted as enqueued, or noted by enqueued_by: (id, device_id) in seq order."""
        return self.db.query(
            f"SELECT id, device_id FROM jobs WHERE state IN {sql_list(DUE)}"
            " AND COALESCE(next_attempt_at, created_at) <= ?"
            " AND (enqueued_at IS NULL OR enqueued_at <= ?) ORDER BY device_id, seq",
            (ts(due_by), ts(enqueued_by)))

    # --- the admin's side -------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        found = {row["state"]: row["n"] for row in
                 self.db.query("SELECT state, COUNT(*) AS n FROM jobs GROUP BY state")}
        return {state: found.get(state, 0) for state in STATES}

    def oldest_unfinished_created_at(self) -> str | None:
        return self.db.scalar(f"SELECT MIN(created_at) FROM jobs WHERE state IN {sql_list(UNFINISHED)}")

    def list(self, state: str | None, device_id: str | None, limit: int) -> list[Row]:
        return self.db.query(
            f"SELECT {LISTED} FROM jobs"
            " WHERE (? IS NULL OR state = ?) AND (? IS NULL OR device_id = ?) ORDER BY id DESC LIMIT ?",
            (state, state, device_id, device_id, limit))

    def dead_ids(self) -> list[int]:
        return [row["id"] for row in self.db.query(f"SELECT id FROM jobs WHERE state = '{DEAD}'")]

    def requeue(self, job_ids: list[int], now: datetime) -> None:
        """Back in the queue with fresh attempts."""
        with self.db.write() as conn:
            for job_id in job_ids:
                conn.execute(f"UPDATE jobs SET state = '{QUEUED}', attempts = 0, next_attempt_at = NULL,"
                             " enqueued_at = NULL, finished_at = NULL, updated_at = ? WHERE id = ?",
                             (ts(now), job_id))

    def purge(self, state: str, changed_before: datetime) -> int:
        with self.db.write() as conn:
            conn.execute("DELETE FROM jobs WHERE state = ? AND updated_at < ?", (state, ts(changed_before)))
            return conn.changes()
