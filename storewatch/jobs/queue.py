"""The jobs' lifecycle over the jobs table, which is the truth about every frame's analysis.

    queued → running → done
               ↘ failed (retried after a capped exponential backoff) → … → dead

A job is claimed with a lease (lease_until, lease_owner) and an attempt is counted at the
claim, so a frame that kills its worker still runs out of attempts. Huey only carries
job ids; whatever it loses, the reconciler finds again from here.

Claims and lease renewals commit without a flush of their own (Database.write(flush=False)):
other processes see the lease at once, and a crash of the worker's process keeps the
attempt counted, which is what they are for. Only a power cut can take one back, and then
the job is simply queued (or running for a gone worker) again and re-runs; the job's
result commits flushed, and so makes its claim durable with it. That spares the SD card a
flush per frame (~4-8 KiB: the WAL's last page again and its inode, a journal commit).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from storewatch import contract
from storewatch.backoff import capped_exponential
from storewatch.store import Database, Row
from storewatch.store.jobs import DEAD, FAILED, FINISHED, RETRYABLE, RUNNING, STATES, JobStore
from storewatch.errors import JobNotFound, JobNotRetryable

PURGEABLE = FINISHED
__all__ = ["PURGEABLE", "STATES", "JobQueue", "RetryPolicy", "parse_age", "public_job"]


@dataclass(frozen=True)
class RetryPolicy:
    """Delay before attempt n+1 after n failed ones: base * 2**(n-1), at most cap."""

    base_s: float = 2.0
    cap_s: float = 300.0

    def delay(self, attempts: int) -> float:
        return capped_exponential(self.base_s, self.cap_s, attempts - 1)


class JobQueue:
    """The jobs' lifecycle rules over the jobs table (storewatch/store/jobs.py holds its SQL)."""

    def __init__(self, db: Database, max_attempts: Any):
        """`max_attempts()` reads the job_max_attempts setting (it may change while running)."""
        self.db = db
        self.store = JobStore(db)
        self.max_attempts = max_attempts

    # --- the worker's side --------------------------------------------------------------

    def get(self, job_id: int) -> Row | None:
        return self.store.get(job_id)

    def head(self, device_id: str) -> Row | None:
        """The device's lowest-seq job that is not finished, with its capture's arrival time."""
        return self.store.head(device_id)

    def claim(self, job: Row, owner: str, lease_s: float, now: datetime) -> bool:
        """Take the job as it was read (compare-and-set); counts one attempt (not flushed: see above)."""
        return self.store.claim(job, owner, now, now + timedelta(seconds=lease_s))

    def renew(self, job_ids: Iterable[int], owner: str, until: datetime) -> int:
        """Extend the leases `owner` still holds on these running jobs; returns how many (not flushed)."""
        return self.store.renew(job_ids, owner, until)

    def still_ours(self, job_id: int, owner: str) -> bool:
        return self.store.held_by(job_id, owner)

    def finish(self, job_id: int, now: datetime, duration_ms: float, late: bool = False) -> None:
        """Mark done; call inside the transaction that commits the job's effects."""
        self.store.mark_done(job_id, now, duration_ms, late)

    def release(self, job_id: int, now: datetime) -> None:
        """Give a claimed job back without counting the attempt (another writer got there first)."""
        self.store.release(job_id, now)

    def fail(self, job_id: int, error: str, now: datetime, policy: RetryPolicy,
             permanent: bool = False) -> tuple[str, datetime | None]:
        """Record a failed attempt: ('failed', next attempt time) or ('dead', None)."""
        with self.db.write():
            job = self.get(job_id)
            if job is None:
                return DEAD, None
            if permanent or job["attempts"] >= self.max_attempts():
                self.store.mark_dead(job_id, error, now)
                return DEAD, None
            retry_at = now + timedelta(seconds=policy.delay(job["attempts"]))
            self.store.mark_failed(job_id, error, now, retry_at, enqueued_at=now)
            return FAILED, retry_at

    def unnoted(self, job_ids: Iterable[int]) -> list[int]:
        """Those of the jobs not noted as enqueued (a read: ingest notes its own in its commit)."""
        ids = list(job_ids)
        noted = self.store.noted(ids)
        return [job_id for job_id in ids if job_id not in noted]

    def mark_enqueued(self, job_ids: Iterable[int], now: datetime) -> None:
        self.store.mark_enqueued(list(job_ids), now)

    # --- the reconciler's side ----------------------------------------------------------

    def running(self) -> list[Row]:
        return self.store.running()

    def expire(self, job_id: int, now: datetime, reason: str) -> str:
        """A running job whose worker is gone: counts as a failed attempt, due at once."""
        with self.db.write():
            job = self.get(job_id)
            if job is None or job["state"] != RUNNING:
                return job["state"] if job else "gone"
            if job["attempts"] >= self.max_attempts():
                self.store.mark_dead(job_id, reason, now, clear_next_attempt=False)
                return DEAD
            self.store.mark_failed(job_id, reason, now, now, enqueued_at=None)
            return FAILED

    def waiting_for_task(self, now: datetime, grace_s: float, stale_s: float) -> dict[str, list[int]]:
        """Due jobs no Huey task is known to carry: {device_id: [job ids in seq order]}.

        `grace_s` leaves ingest time to enqueue its own job; `stale_s` is how long an
        enqueued job may wait before we assume its task was lost.
        """
        rows = self.store.due_unnoted(now - timedelta(seconds=grace_s), now - timedelta(seconds=stale_s))
        found: dict[str, list[int]] = {}
        for row in rows:
            found.setdefault(row["device_id"], []).append(row["id"])
        return found

    # --- the admin's side ---------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        return self.store.counts()

    def oldest_queued_age_s(self, now: datetime) -> float | None:
        oldest = self.store.oldest_unfinished_created_at()
        if oldest is None:
            return None
        return round(max(0.0, (now - contract.parse_timestamp(oldest)).total_seconds()), 3)

    def list(self, state: str | None = None, device_id: str | None = None, limit: int = 100) -> list[Row]:
        if state is not None and state not in STATES:
            raise ValueError(f"state must be one of {', '.join(STATES)}")
        return self.store.list(state, device_id, limit)

    def retry(self, job_ids: Iterable[int] = (), all_dead: bool = False, now: datetime | None = None) -> list[Row]:
        """Put dead or failed jobs back in the queue with fresh attempts; returns them."""
        now = now or contract.utc_now()
        with self.db.write():
            if all_dead:
                ids = self.store.dead_ids()
            else:
                ids = list(job_ids)
                for job_id in ids:
                    job = self.get(job_id)
                    if job is None:
                        raise JobNotFound(f"no job {job_id}")
                    if job["state"] not in RETRYABLE:
                        raise JobNotRetryable(f"job {job_id} is {job['state']}; only dead or failed jobs"
                                              " are retried")
            self.store.requeue(ids, now)
        return [self.get(job_id) for job_id in ids]

    def purge(self, state: str, older_than: timedelta, now: datetime | None = None) -> int:
        """Delete finished jobs (done or dead) last changed before now - older_than."""
        if state not in PURGEABLE:
            raise ValueError(f"only {' or '.join(PURGEABLE)} jobs can be purged, not {state!r}")
        return self.store.purge(state, (now or contract.utc_now()) - older_than)


def public_job(row: Row) -> dict[str, Any]:
    """A job as the admin API and the CLI show it."""
    shown = {key: row[key] for key in ("id", "capture_id", "device_id", "seq", "state", "attempts",
                                        "last_error", "created_at", "updated_at", "finished_at",
                                        "next_attempt_at") if key in row}
    if "late" in row:
        shown["late"] = bool(row["late"])
    return shown


def parse_age(text: str) -> timedelta:
    """"7d", "12h", "30m", "45s" (or plain seconds)."""
    units = {"d": 86400, "h": 3600, "m": 60, "s": 1}
    text = text.strip().lower()
    try:
        if text and text[-1] in units:
            seconds = float(text[:-1]) * units[text[-1]]
        else:
            seconds = float(text)
    except ValueError:
        raise ValueError(f"{text!r} is not an age like 7d, 12h, 30m or 45s") from None
    if seconds < 0 or seconds != seconds:
        raise ValueError("an age cannot be negative")
    return timedelta(seconds=seconds)
