"""Group commit for ingest: the frames that arrive together are stored together.

Requests validate their frame on the event loop, then hand it to one writer thread. That
thread takes every frame waiting, writes their files (a lone frame fsynced with its folder;
several made durable together by one syncfs of the data disk where Linux has it), commits their
rows in one transaction (one WAL fsync), and answers each request. A lone frame is
stored at once: nothing waits for a batch to fill; batches form only while a commit is
under way. Compared with a worker thread and a transaction per request, this spares the
threads' fight over the GIL and the write lock, and a WAL fsync per frame.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import queue
import threading
from dataclasses import dataclass
from typing import Any

from storewatch import contract
from storewatch.appliance import Appliance
from storewatch.store.captures import NewFrame, StoredFrame
from storewatch.upkeep.retention import disk_reserve, emergency_free
from storewatch.store.connection import storage_error
from storewatch.store.images import DiskUsage
from storewatch.durable import DiskFull, StorageUnavailable

log = logging.getLogger("storewatch.server")

# Bounds one transaction (and the memory of frames held for it); the queue itself is bounded
# by the server's connection limit, one frame per request.
MAX_BATCH = 32


class WriterStopped(RuntimeError):
    """The appliance is shutting down; the frame was not stored."""


@dataclass(frozen=True)
class Stored:
    frame: StoredFrame
    mode: str
    config_version: str


@dataclass
class _Pending:
    meta: dict[str, Any]
    jpeg: bytes
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future


class IngestWriter:
    def __init__(self, appliance: Appliance, max_batch: int = MAX_BATCH):
        self.appliance = appliance
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._state_lock = threading.Lock()
        self._stopped = False
        self._usage: DiskUsage | None = None  # the data disk, looked at once per batch
        self.batches = 0  # how many transactions, and frames in them: the grouping at work
        self.frames = 0

    async def store(self, meta: dict[str, Any], jpeg: bytes) -> Stored:
        """Store a validated frame; raises what refused it (FrameConflict, DiskFull, ...)."""
        loop = asyncio.get_running_loop()
        pending = _Pending(meta, jpeg, loop, loop.create_future())
        pending.future.add_done_callback(_retrieve)  # no "never retrieved" noise after a cancel
        with self._state_lock:
            if self._stopped:
                raise WriterStopped("the ingest writer has stopped")
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="ingest-writer", daemon=True)
                self._thread.start()
            self._queue.put(pending)
        # A cancelled request (its client went away) does not cancel the write: the frame
        # is stored, and the device's retry gets the duplicate answer.
        return await asyncio.shield(pending.future)

    def stop(self, timeout: float = 30.0) -> None:
        """Store what is queued, then end the thread; later frames get WriterStopped."""
        with self._state_lock:
            self._stopped = True
            thread = self._thread
            if thread is not None:
                self._queue.put(None)
        if thread is not None:
            thread.join(timeout)

    def _run(self) -> None:
        stop = False
        while not stop:
            batch: list[_Pending] = []
            item = self._queue.get()
            while item is not None:
                batch.append(item)
                if len(batch) >= self.max_batch:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            stop = item is None
            if batch:
                self._commit(batch)

    def _commit(self, batch: list[_Pending]) -> None:
        self._usage = None
        try:
            # The hash is taken here, not on the event loop, which is the busier of the two.
            outcomes: list[Any] = self.appliance.captures.store_batch(
                [NewFrame.of(pending.meta, pending.jpeg) for pending in batch],
                before_write=self._check_disk_reserve)
        except Exception as exc:  # store_batch answers per frame; never leave a request waiting
            if not isinstance(storage_error(exc), StorageUnavailable):
                log.exception("storing a batch of %d frames failed", len(batch))
            outcomes = [exc] * len(batch)
        # A read-only or failing disk is the device's 503 (it keeps the frame), not our 500.
        outcomes = [storage_error(o) if isinstance(o, Exception) else o for o in outcomes]
        unavailable = [o for o in outcomes if isinstance(o, StorageUnavailable)]
        if unavailable:
            log.error("the data disk refuses writes (%s); %d frames refused", unavailable[0], len(unavailable))
        self.batches += 1
        self.frames += len(batch)
        modes: dict[str, tuple[str, str]] = {}
        now = contract.utc_now()
        answers: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future, Any]]] = {}
        for pending, outcome in zip(batch, outcomes):
            if isinstance(outcome, StoredFrame):
                try:
                    device_id = pending.meta["device_id"]
                    if device_id not in modes:  # one read per device and batch
                        modes[device_id] = self.appliance.devices.current_mode(device_id, now)[:2]
                    outcome = Stored(outcome, *modes[device_id])
                except Exception as exc:
                    outcome = exc
            answers.setdefault(pending.loop, []).append((pending.future, outcome))
        for loop, settled in answers.items():  # one wake-up of each loop per batch
            try:
                loop.call_soon_threadsafe(_settle, settled)
            except RuntimeError:  # the loop has closed; nobody waits for these answers any more
                pass

    def _check_disk_reserve(self, incoming: int) -> None:
        """Refuse a frame that would take the disk below its reserve, after one emergency cleanup.

        `incoming` counts the batch's frames so far, so one look at the disk serves the batch.
        """
        if self._usage is None:
            self._usage = self.appliance.images.usage()
        if self._usage.free - incoming < disk_reserve(self.appliance, self._usage):
            if not emergency_free(self.appliance, incoming):
                raise DiskFull(errno.ENOSPC, "the data disk is below its reserve")
            self._usage = self.appliance.images.usage()


def _settle(settled: list[tuple[asyncio.Future, Any]]) -> None:
    for future, outcome in settled:
        if future.done():
            continue
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)


def _retrieve(future: asyncio.Future) -> None:
    if not future.cancelled():
        future.exception()
