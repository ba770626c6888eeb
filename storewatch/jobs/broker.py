"""Huey on its own SQLite file (data_dir/huey.db), carrying nothing but job ids.

The app database is never opened with the stdlib sqlite3 module; Huey's file is.
Any process may enqueue (the server at ingest, the CLI at `queue retry`); only a
process with a handler (the worker) runs tasks. A worker in the same process is woken
at once through `wake`; one in another process polls Huey's file.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

from huey import SqliteHuey
from huey.consumer import Consumer, Worker
from huey.storage import SqliteStorage

from storewatch import contract
from storewatch.jobs.queue import JobQueue
from storewatch.storage import make_private

log = logging.getLogger("storewatch.jobs")

HUEY_NAME = "storewatch"
TASK_NAME = "run_job"


class _TaskStorage(SqliteStorage):
    """Huey's file without an fsync per task: synchronous=NORMAL in WAL mode.

    A power cut can then take the last tasks back, never corrupt the file, and losing a
    task is what the reconciler is for: the jobs table is the truth. With SQLite's default
    (FULL) every enqueue at ingest and every dequeue in the worker cost the SD card a flush.
    """

    def _create_connection(self):  # type: ignore[no-untyped-def]
        conn = super()._create_connection()
        conn.execute("pragma synchronous=NORMAL")
        return conn


class _TaskHuey(SqliteHuey):
    storage_class = _TaskStorage


class Broker:
    def __init__(self, huey_path: Path, queue: JobQueue):
        make_private(huey_path)  # SQLite would create it, and its -wal and -shm, world-readable
        self.huey = _TaskHuey(HUEY_NAME, filename=str(huey_path), results=False, utc=True, timeout=15)
        self.queue = queue
        self.wake = threading.Event()
        self.handler: Callable[[int], None] | None = None
        self._task = self.huey.task(name=TASK_NAME)(self._run)

    def _run(self, job_id: int) -> None:
        if self.handler is None:  # an enqueue-only process never consumes, but be clear if it does
            raise RuntimeError("this process has no job handler")
        self.handler(int(job_id))

    def enqueue(self, job_id: int) -> None:
        self.enqueue_many([job_id])

    def enqueue_many(self, job_ids: Iterable[int]) -> None:
        """Hand jobs to Huey now and note them in the jobs table (one transaction for all)."""
        ids = list(job_ids)
        for job_id in ids:
            self._task(int(job_id))
        if ids:
            self.wake.set()
            self.queue.mark_enqueued(ids, contract.utc_now())

    def schedule(self, job_id: int, delay_s: float) -> None:
        """Run the job's task after `delay_s` (Huey's scheduler checks every second)."""
        if delay_s <= 0:
            self._task(int(job_id))
            self.wake.set()
        else:
            self._task.schedule(args=(int(job_id),), delay=delay_s)

    def pending(self) -> int:
        return self.huey.pending_count() + self.huey.scheduled_count()

    def consumer(self, workers: int, poll_max_s: float) -> "Consumer":
        return _Consumer(self.huey, self.wake, workers=workers, worker_type="thread", periodic=False,
                         initial_delay=0.05, backoff=1.5, max_delay=poll_max_s, check_worker_health=True)

    def close(self) -> None:
        self.huey.storage.close()


class _Worker(Worker):
    """Sleeps on the in-process wake event, so a frame ingested here is picked up at once."""

    wake: threading.Event

    def sleep(self) -> None:
        self.delay = min(self.delay, self.max_delay)
        if self.wake.wait(self.delay):
            self.wake.clear()
            self.delay = self.default_delay
        else:
            self.delay *= self.backoff


class _Consumer(Consumer):
    worker_class = _Worker

    def __init__(self, huey: SqliteHuey, wake: threading.Event, **options: object):
        self._wake = wake
        super().__init__(huey, **options)

    def _create_worker(self) -> Worker:
        worker = super()._create_worker()
        worker.wake = self._wake
        return worker

    def _set_signal_handlers(self) -> None:
        # The process's owner (uvicorn in `storewatch run`, the CLI in `storewatch worker`)
        # handles signals; Huey's would need the main thread and fight theirs.
        pass
