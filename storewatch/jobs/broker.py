"""Huey on its own SQLite file (data_dir/huey.db), carrying nothing but job ids.

The app database is never opened with the stdlib sqlite3 module; Huey's file is.
Any process may enqueue (the server at ingest, the CLI at `queue retry`); only a
process with a handler (the worker) runs tasks. A worker in the same process is woken
at once through `wake` and carries that process's own tasks in memory (`keep_local`);
one in another process polls Huey's file. A damaged file is
moved aside and replaced, at open and whenever SQLite says it is corrupt (`taskfile`).
"""

from __future__ import annotations

import collections
import contextlib
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from huey import SqliteHuey
from huey.consumer import Consumer, Worker
from huey.storage import SqliteStorage

from storewatch import contract
from storewatch.jobs import taskfile
from storewatch.jobs.queue import JobQueue
from storewatch.durable import make_private

log = logging.getLogger("storewatch.jobs")

HUEY_NAME = "storewatch"
TASK_NAME = "run_job"


class _TaskStorage(SqliteStorage):
    """Huey's file without an fsync per task: synchronous=NORMAL in WAL mode.

    A power cut can then take the last tasks back, never corrupt the file, and losing a
    task is what the reconciler is for: the jobs table is the truth. With SQLite's default
    (FULL) every enqueue at ingest and every dequeue in the worker cost the SD card a flush.

    When SQLite finds the file corrupt mid-operation, that operation fails as before, but
    the file is replaced at once (see `taskfile`) and `on_replaced` is called, so the
    next operation works and the worker can re-enqueue from the jobs table.
    """

    on_replaced: Callable[[], None] | None = None
    _opened_inode: int | None = None
    _local: collections.deque[bytes] | None = None

    def keep_local(self) -> None:
        """Carry this process's own tasks in memory, for a worker in the same process.

        Each task through the file was an INSERT and a DELETE per frame, ~29 KiB of huey.db
        WAL and WAL index on the SD card. Nothing is lost that the file would have kept: a
        stop or crash empties the memory, and the reconciler's round at start hands every
        queued job over again from the jobs table (the file, at synchronous=NORMAL, already
        lost its last tasks at a power cut). Other processes' tasks (the CLI's `queue retry`,
        a separate server) still come through the file, and are taken first. Delayed tasks
        (retries) stay in the file's schedule.
        """
        self._local = collections.deque()

    def enqueue(self, data, priority=None):  # type: ignore[no-untyped-def]
        if self._local is None:
            return super().enqueue(data, priority)
        self._local.append(data)  # deque appends and pops are atomic under the GIL

    def dequeue(self):  # type: ignore[no-untyped-def]
        data = super().dequeue()
        if data is not None or not self._local:
            return data
        try:
            return self._local.popleft()
        except IndexError:  # another worker thread took the last one
            return None

    def queue_size(self) -> int:
        return super().queue_size() + len(self._local or ())

    def enqueued_items(self, limit=None):  # type: ignore[no-untyped-def]
        items = super().enqueued_items(limit) + list(self._local or ())
        return items if limit is None else items[:limit]

    def flush_queue(self) -> None:
        super().flush_queue()
        if self._local is not None:
            self._local.clear()

    def _create_connection(self):  # type: ignore[no-untyped-def]
        self._opened_inode = taskfile.inode(Path(self.filename))  # the file we found damaged, if it is
        conn = super()._create_connection()
        conn.execute("pragma synchronous=NORMAL")
        self._opened_inode = taskfile.inode(Path(self.filename))
        return conn

    def reopen_if_replaced(self) -> bool:
        """Another process replaced the file: drop our handle on the old one (True if so)."""
        with self.lock:
            if self._conn is None or self._opened_inode == taskfile.inode(Path(self.filename)):
                return False
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()
            self._conn = None
        self.initialize_schema()
        return True

    @contextlib.contextmanager
    def db(self, commit: bool = False, close: bool = False) -> Iterator[sqlite3.Cursor]:
        try:
            with super().db(commit=commit, close=close) as cursor:
                yield cursor
        except sqlite3.DatabaseError as exc:
            if not taskfile.is_corrupt(exc):
                raise
            self._replace(str(exc))
            raise

    def _replace(self, reason: str) -> None:
        with self.lock:
            if self._conn is not None:
                with contextlib.suppress(sqlite3.Error):
                    self._conn.close()
                self._conn = None
            taskfile.move_aside(Path(self.filename), reason, self._opened_inode)
            make_private(Path(self.filename))
        self.initialize_schema()
        if self.on_replaced is not None:
            self.on_replaced()


class _TaskHuey(SqliteHuey):
    storage_class = _TaskStorage


class Broker:
    def __init__(self, huey_path: Path, queue: JobQueue, local: bool = False):
        """`local`: this process runs the consumer, so its own tasks skip the file (see keep_local)."""
        taskfile.ensure_sound(huey_path)
        make_private(huey_path)  # SQLite would create it, and its -wal and -shm, world-readable
        self.huey = _TaskHuey(HUEY_NAME, filename=str(huey_path), results=False, utc=True, timeout=15)
        self.queue = queue
        self.wake = threading.Event()
        self.replaced = threading.Event()  # set when the file was replaced while open
        self.huey.storage.on_replaced = self.replaced.set
        if local:
            self.huey.storage.keep_local()
        self.handler: Callable[[int, bool], None] | None = None
        self._task = self.huey.task(name=TASK_NAME)(self._run)

    def _run(self, job_id: int, resume: bool = False) -> None:
        if self.handler is None:  # an enqueue-only process never consumes, but be clear if it does
            raise RuntimeError("this process has no job handler")
        self.handler(int(job_id), bool(resume))

    def enqueue(self, job_id: int) -> None:
        self.enqueue_many([job_id])

    def enqueue_many(self, job_ids: Iterable[int]) -> None:
        """Hand jobs to Huey now and note them in the jobs table (one transaction for all, if any
        is not noted yet)."""
        ids = list(job_ids)
        if ids:
            self.reopen_if_replaced()  # one stat: a worker process may have replaced a damaged file
        try:
            for job_id in ids:
                self._task(int(job_id))
        except sqlite3.DatabaseError as exc:
            if not taskfile.is_corrupt(exc):
                raise
            for job_id in ids:  # the file was just replaced by a sound one: hand them all over again
                self._task(int(job_id))
        if ids:
            self.wake.set()
            # Ingest notes its jobs as enqueued in its own commit: a commit only for the others.
            self.queue.mark_enqueued(self.queue.unnoted(ids), contract.utc_now())

    def resume(self, job_id: int) -> None:
        """A device's next turn, queued behind the tasks of the other devices."""
        self._task(int(job_id), True)
        self.wake.set()

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

    def reopen_if_replaced(self) -> None:
        """Follow a task file another process replaced (called every maintenance round)."""
        if self.huey.storage.reopen_if_replaced():
            log.warning("the task queue file %s was replaced by another process; using the new one",
                        self.huey.storage.filename)
            self.replaced.set()

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
