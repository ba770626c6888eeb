"""Huey on its own SQLite file (data_dir/huey.db), carrying nothing but job ids.

The app database is never opened with the stdlib sqlite3 module; Huey's file is.
Any process may enqueue (the server at ingest, the CLI at `queue retry`); only a
process with a handler (the worker) runs tasks. A worker in the same process is woken
at once through `wake` and carries that process's own tasks in memory (`keep_local`);
one in another process polls Huey's file. A damaged file is
moved aside and replaced, at open and whenever SQLite says it is corrupt (`taskfile`).

Huey is used through its public API only: the storage interface (`BaseStorage`'s methods
and its `blocking` flag), the keyword arguments SqliteStorage passes to `sqlite3.connect`
(a connection `factory`), `create_consumer`, `Consumer.start`/`stop`/`check_worker_health`
and the task decorator.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import logging
import signal
import sqlite3
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from huey import SqliteHuey
from huey.consumer import Consumer
from huey.storage import SqliteStorage

from storewatch import contract
from storewatch.jobs import taskfile
from storewatch.jobs.queue import JobQueue
from storewatch.durable import make_private

log = logging.getLogger("storewatch.jobs")

HUEY_NAME = "storewatch"
TASK_NAME = "run_job"
# Huey's storage interface (huey.storage.BaseStorage) as SqliteStorage implements it: each
# call that finds the file corrupt replaces it (see _TaskStorage).
STORAGE_INTERFACE = (
    "enqueue", "dequeue", "queue_size", "enqueued_items", "flush_queue", "add_to_schedule", "read_schedule",
    "schedule_size", "scheduled_items", "flush_schedule", "put_data", "peek_data", "pop_data", "delete_data",
    "has_data_for_key", "put_if_empty", "incr", "delete_counter", "result_store_size", "result_items",
    "flush_results", "flush_counters", "initialize_schema",
)
# Consumer.start() sets handlers for these (huey.consumer.Consumer, graceful and interrupt
# signals and SIGHUP for a restart).
CONSUMER_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


def _replacing_when_corrupt(method: Callable[..., Any]) -> Callable[..., Any]:
    """The storage method, but a corrupt file is replaced before the error goes on."""

    @functools.wraps(method)
    def guarded(self: _GuardedSqliteStorage, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.DatabaseError as exc:
            if not taskfile.is_corrupt(exc):
                raise
            self.replace(str(exc))
            raise

    return guarded


class _GuardedSqliteStorage(SqliteStorage):
    """SqliteStorage whose every interface method replaces a file SQLite finds corrupt."""

    def replace(self, reason: str) -> None:
        raise NotImplementedError


for _name in STORAGE_INTERFACE:
    setattr(_GuardedSqliteStorage, _name, _replacing_when_corrupt(getattr(SqliteStorage, _name)))
del _name


class _TaskStorage(_GuardedSqliteStorage):
    """Huey's file without an fsync per task: synchronous=NORMAL in WAL mode.

    A power cut can then take the last tasks back, never corrupt the file, and losing a
    task is what the reconciler is for: the jobs table is the truth. With SQLite's default
    (FULL) every enqueue at ingest and every dequeue in the worker cost the SD card a flush.
    SqliteStorage's `fsync` option knows only FULL and OFF, so each connection is made by a
    `sqlite3.Connection` subclass (the `factory` SqliteStorage passes to `sqlite3.connect`)
    that sets NORMAL and notes which file it opened.

    When SQLite finds the file corrupt mid-operation, that operation fails as before, but
    the file is replaced at once (see `taskfile`) and `on_replaced` is called, so the
    next operation works and the worker can re-enqueue from the jobs table.

    `dequeue` blocks (the storage interface's `blocking`): with nothing to take, it waits on
    `wake` (set by an enqueue in this process) for the poll delay, which grows by `backoff`
    up to `max_delay` while the queue stays empty, then answers None, as Huey's worker would
    have slept between polls.
    """

    blocking = True
    on_replaced: Callable[[], None] | None = None

    def __init__(self, *args: Any, **kwargs: Any):
        self.opened_inode: int | None = None  # the file of the open connection (or of a failed open)
        self.wake = threading.Event()
        self._local: collections.deque[bytes] | None = None
        self._replacing = threading.Lock()
        self._idle = threading.local()  # each worker thread's poll delay
        self.poll(0.05, 1.5, 0.5)
        super().__init__(*args, factory=self._connection_class(), **kwargs)

    def _connection_class(self) -> type[sqlite3.Connection]:
        storage = self

        class TaskConnection(sqlite3.Connection):
            def __init__(self, database: str, *args: Any, **kwargs: Any):
                super().__init__(database, *args, **kwargs)
                self.inode = storage.opened_inode = taskfile.inode(Path(database))
                self.execute("pragma synchronous=NORMAL")

            def close(self) -> None:
                if storage.opened_inode == self.inode:
                    storage.opened_inode = None
                super().close()

        return TaskConnection

    def poll(self, initial_s: float, backoff: float, max_s: float) -> None:
        """How long an idle `dequeue` waits: initial_s, times backoff while idle, at most max_s."""
        self._poll = (initial_s, backoff, max_s)

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
        data = self._take()
        if data is not None:
            self._idle.delay = self._poll[0]
            return data
        initial, backoff, max_s = self._poll
        delay = min(getattr(self._idle, "delay", initial), max_s)
        if self.wake.wait(delay):
            self.wake.clear()
            self._idle.delay = initial
        else:
            self._idle.delay = delay * backoff
        return None

    def _take(self) -> bytes | None:
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

    def reopen_if_replaced(self) -> bool:
        """Another process replaced the file: drop our handle on the old one (True if so)."""
        opened = self.opened_inode
        if opened is None or opened == taskfile.inode(Path(self.filename)):
            return False
        if not self.close():  # no connection was open after all
            return False
        self.initialize_schema()
        return True

    def replace(self, reason: str) -> None:
        """Move the damaged file aside (unless another process already did) and start a new one."""
        with self._replacing:
            damaged = self.opened_inode
            with contextlib.suppress(sqlite3.Error):
                self.close()
            taskfile.move_aside(Path(self.filename), reason, damaged)
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
        self.wake = self.huey.storage.wake  # set at each enqueue: a worker here takes the task at once
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

    def consumer(self, workers: int, poll_max_s: float) -> Consumer:
        """Huey's consumer with `workers` threads; an idle thread looks again at most every poll_max_s."""
        initial_s, backoff = 0.05, 1.5
        self.huey.storage.poll(initial_s, backoff, poll_max_s)
        return self.huey.create_consumer(workers=workers, worker_type="thread", periodic=False,
                                         initial_delay=initial_s, backoff=backoff, max_delay=poll_max_s,
                                         check_worker_health=True)

    def reopen_if_replaced(self) -> None:
        """Follow a task file another process replaced (called every maintenance round)."""
        if self.huey.storage.reopen_if_replaced():
            log.warning("the task queue file %s was replaced by another process; using the new one",
                        self.huey.storage.filename)
            self.replaced.set()

    def close(self) -> None:
        self.huey.storage.close()


def start_consumer(consumer: Consumer) -> None:
    """Start Huey's consumer threads; the process's signal handlers stay its own.

    Consumer.start() ends by setting Huey's handlers for CONSUMER_SIGNALS. The process's
    owner (uvicorn in `storewatch run`, the CLI in `storewatch worker`) handles signals, so
    in the main thread its handlers are put back at once; in any other thread Python refuses
    Huey's (ValueError) once every worker thread and the scheduler run, and nothing changed.
    """
    if threading.current_thread() is not threading.main_thread():
        try:
            consumer.start()
        except ValueError as exc:  # the threads are started; only the handlers were refused
            if "main thread" not in str(exc):
                raise
        return
    kept = {sig: signal.getsignal(sig) for sig in CONSUMER_SIGNALS}
    try:
        consumer.start()
    finally:
        for sig, handler in kept.items():
            signal.signal(sig, handler)
