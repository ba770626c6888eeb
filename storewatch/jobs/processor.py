"""Applying a device's frames to its analysis, in seq order, each exactly once in effect.

A Huey task names a job; the processor then drains that job's *device*: it takes the
device's lowest-seq unfinished job again and again until none is ready. A gate keeps
one thread per device in this process (other threads never block on it: they flag the
device and leave, and the holder drains again); across processes the analysis_state
row decides, since each job's effects commit only if the row is still the one the job
started from. A job whose seq is not above the device's last applied seq is late: it is
marked done (late) and leaves the state alone.

A job in hand is never run twice while it runs: the processor knows which jobs its
threads hold, the service renews their leases every third of the lease (`renew_leases`),
and the reconciler leaves jobs in hand alone even if a renewal was late. A frame that
cannot be decoded (or is a decode bomb) is dead at once with the reason, not retried.
Devices take turns: a drain gives its thread back after `drain_budget_s` (see `turns`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from storewatch import contract
from storewatch.analysis.decode import ImageDecodeError, decode_gray
from storewatch.appliance import Appliance
from storewatch.store import Row
from storewatch.store.jobs import DEAD, DONE, FAILED, QUEUED, RUNNING
from storewatch.jobs import leases, outputs
from storewatch.jobs.live import LiveAnalyzers, specs_key
from storewatch.jobs.queue import JobQueue, RetryPolicy
from storewatch.jobs.state import AnalysisStates, StateConflict
from storewatch.jobs.turns import Turns
from storewatch.replay.keeper import FrameKeeper

log = logging.getLogger("storewatch.jobs")

ANALYSIS_WIDTH = 320
DURATION_BUCKETS_MS = (25, 50, 100, 250, 500, 1000, 5000)


class PermanentJobError(Exception):
    """Retrying cannot help (the frame file is gone or is not an image): the job dies at once."""


class LostLease(Exception):
    """The job was taken back from us (lease expired) before we committed."""


@dataclass(frozen=True)
class WorkerOptions:
    lease_s: float = 60.0
    reorder_wait_s: float = 1.0  # a frame after a seq gap waits this long for the missing ones
    analysis_width: int = ANALYSIS_WIDTH
    max_batch: int = 1000        # jobs per drain before giving the thread back
    drain_budget_s: float = 1.0  # ... or seconds of work, so other devices get their turn
    retry: RetryPolicy = RetryPolicy()


class DeviceGate:
    """At most one draining thread per device; latecomers flag the device instead of waiting."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._busy: set[str] = set()
        self._again: set[str] = set()

    def enter(self, device_id: str) -> bool:
        with self._lock:
            if device_id in self._busy:
                self._again.add(device_id)
                return False
            self._busy.add(device_id)
            return True

    def leave_unless_flagged(self, device_id: str) -> bool:
        """Leave, or (if someone flagged the device meanwhile) stay and return True."""
        with self._lock:
            if device_id in self._again:
                self._again.discard(device_id)
                return True
            self._busy.discard(device_id)
            return False

    def leave(self, device_id: str) -> None:
        with self._lock:
            self._again.discard(device_id)
            self._busy.discard(device_id)


class Processor:
    def __init__(self, appliance: Appliance, queue: JobQueue, schedule: Callable[[int, float], None],
                 options: WorkerOptions = WorkerOptions(), owner: str | None = None,
                 clock: Callable[[], datetime] = contract.utc_now,
                 resume: Callable[[int], None] | None = None):
        self.appliance = appliance
        self.queue = queue
        self.schedule = schedule
        self.resume = resume or (lambda job_id: schedule(job_id, 0))
        self.turns = Turns()
        self.options = options
        self.owner = owner or leases.new_owner()
        self.clock = clock
        self.states = AnalysisStates(appliance.db)
        self.live = LiveAnalyzers(self.states, self._read_frame, options.analysis_width)
        self.rois = appliance.rois
        self.events = appliance.events
        self.gate = DeviceGate()
        self.kept = FrameKeeper(appliance)  # frames kept for what-if replay (storewatch/replay)
        self._scheduled: dict[str, tuple[int, datetime]] = {}
        self._scheduled_lock = threading.Lock()
        self._in_hand: set[int] = set()
        self._in_hand_lock = threading.Lock()
        self.fault_hook: Callable[[str, Row], None] | None = None  # tests inject crashes here

    # --- entry points ---------------------------------------------------------------------

    def handle(self, job_id: int, resume: bool = False) -> None:
        """The Huey task: drain the job's device (unless its next turn is already queued)."""
        job = self.queue.get(job_id)
        if job is None:
            return
        if resume:
            self.turns.resume(job["device_id"])
        elif self.turns.must_wait(job["device_id"]):
            return
        self.drain(job["device_id"])

    def drain(self, device_id: str) -> None:
        if self.gate.enter(device_id):
            self._drain_entered(device_id)

    def _drain_entered(self, device_id: str) -> None:
        """Drain holding the device's gate, and leave it."""
        try:
            while True:
                if self._drain_once(device_id):  # gave its turn away: the resume task continues
                    self.gate.leave(device_id)
                    return
                if not self.gate.leave_unless_flagged(device_id):
                    return
        except BaseException:
            self.gate.leave(device_id)
            raise

    # --- the loop -------------------------------------------------------------------------

    def _drain_once(self, device_id: str) -> bool:
        """Run the device's ready jobs in seq order; True when it stopped to let others go first."""
        started = time.monotonic()
        for n in range(self.options.max_batch):
            job = self.queue.head(device_id)
            if job is None:
                return False
            if n and time.monotonic() - started >= self.options.drain_budget_s:
                break
            now = self.clock()
            if job["state"] == RUNNING and leases.abandoned(job, now, self.owner, gate_held=True):
                leases.take_back(self.queue, job["id"], now)
                continue
            wait = self._wait_before(job, now)
            if wait > 0:
                self._schedule_once(device_id, job["id"], now, wait)
                return False
            if not self.queue.claim(job, self.owner, self.options.lease_s, now):
                continue  # changed under us (another process); read the head again
            if not self._run_claimed(job):
                return False
        self.turns.give_away(device_id)  # a long backlog: the other devices' tasks go first
        self.resume(job["id"])
        return True

    def _wait_before(self, job: Row, now: datetime) -> float:
        if job["state"] == FAILED and job["next_attempt_at"]:
            return _seconds_until(job["next_attempt_at"], now)
        if job["state"] == RUNNING:  # only another worker's, or a dead one's
            return max(0.05, _seconds_until(job["lease_until"], now))
        if job["state"] == QUEUED and self.options.reorder_wait_s > 0:
            last = self.states.load(job["device_id"]).last_applied_seq
            if last is not None and job["seq"] > last + 1:  # a gap: the missing frames may be on their way
                waited = (now - contract.parse_timestamp(job["received_at"])).total_seconds()
                return max(0.0, self.options.reorder_wait_s - waited)
        return 0.0

    def _schedule_once(self, device_id: str, job_id: int, now: datetime, wait: float) -> None:
        due = now + timedelta(seconds=wait)
        with self._scheduled_lock:
            known = self._scheduled.get(device_id)
            if known and known[0] == job_id and now < known[1] <= due + timedelta(seconds=1):
                return  # a task for this wait is already scheduled
            self._scheduled[device_id] = (job_id, due)
        self.schedule(job_id, wait)

    def in_hand(self) -> frozenset[int]:
        """The jobs this process's threads have claimed and not yet finished."""
        with self._in_hand_lock:
            return frozenset(self._in_hand)

    def renew_leases(self) -> int:
        """Push the lease of every job in hand a full lease ahead; returns how many."""
        held = self.in_hand()
        if not held:
            return 0
        return self.queue.renew(held, self.owner, self.clock() + timedelta(seconds=self.options.lease_s))

    def _run_claimed(self, job: Row) -> bool:
        """Run one claimed job; False when the device must stop here (a retry is pending)."""
        with self._in_hand_lock:
            self._in_hand.add(job["id"])
        try:
            return self._run_held(job)
        finally:
            with self._in_hand_lock:
                self._in_hand.discard(job["id"])

    def _run_held(self, job: Row) -> bool:
        started = time.perf_counter()
        try:
            late = self._apply(job, started)
        except StateConflict:
            self.queue.release(job["id"], self.clock())
            return True
        except LostLease:
            log.warning("job %s was taken back before it committed", job["id"])
            return True
        except PermanentJobError as exc:
            self.queue.fail(job["id"], str(exc), self.clock(), self.options.retry, permanent=True)
            self.appliance.counters.add("jobs", DEAD)
            log.error("job %s (%s seq %s) is dead: %s", job["id"], job["device_id"], job["seq"], exc)
            return True
        except Exception as exc:  # any other failure is retried with backoff, then dead
            log.exception("job %s (%s seq %s) failed", job["id"], job["device_id"], job["seq"])
            state, retry_at = self.queue.fail(job["id"], f"{type(exc).__name__}: {exc}", self.clock(),
                                              self.options.retry)
            self.appliance.counters.add("jobs", state)
            if state == FAILED and retry_at is not None:
                self.schedule(job["id"], max(0.0, (retry_at - self.clock()).total_seconds()))
                return False
            return True
        self._count_duration(job, started, late)
        return True

    def _count_duration(self, job: Row, started: float, late: bool) -> None:
        ms = (time.perf_counter() - started) * 1000
        counters = self.appliance.counters
        counters.add("jobs", "late" if late else DONE)
        counters.add("job_duration_ms", "sum", int(round(ms)))
        counters.add("job_duration_ms", "count", 1)
        bucket = next((f"le_{b}" for b in DURATION_BUCKETS_MS if ms <= b), "le_inf")
        counters.add("job_duration_ms", bucket, 1)

    # --- one frame ------------------------------------------------------------------------

    def _apply(self, job: Row, started: float) -> bool:
        """Analyse the frame and commit its effects; returns True when it was late."""
        device_id = job["device_id"]
        saved = self.states.load(device_id)
        if saved.last_applied_seq is not None and job["seq"] <= saved.last_applied_seq:
            with self.appliance.db.write():
                self._check_lease(job)
                self.queue.finish(job["id"], self.clock(), _ms_since(started), late=True)
            return True
        capture = self.states.store.frame(job["capture_id"])
        if capture is None:
            raise PermanentJobError("its capture row is gone")
        self._fault("before_decode", job)
        gray = self._decode(capture)
        specs, device_thresholds = self.rois.specs(device_id)
        key = specs_key(specs, device_thresholds)
        analyzer = self.live.take(device_id, saved, specs, device_thresholds)
        self.kept.keep(device_id, job["seq"], capture, gray, analyzer, key)
        result = analyzer.feed(gray, capture["capture_epoch"], capture["id"])
        checkpoint = (analyzer.to_state(), key) if self.live.checkpoint_due(saved, job["seq"], key) else None
        prepared = outputs.prepare(self.appliance, capture, result, specs)
        with self.appliance.db.write():
            self._check_lease(job)
            outputs.commit(self.appliance, self.events, prepared)
            self._fault("before_state", job)
            self.states.save(device_id, saved.last_applied_seq, job["seq"], capture["id"], capture["capture_epoch"],
                             checkpoint)
            self.queue.finish(job["id"], self.clock(), _ms_since(started))
            self._fault("before_commit", job)
        self.live.put(device_id, analyzer, job["seq"], key, job["seq"] if checkpoint else saved.state_seq)
        outputs.count(self.appliance, prepared)
        return False

    def _decode(self, capture: Row) -> np.ndarray:
        try:
            return decode_gray(self._read_frame(capture), self.options.analysis_width)
        except FileNotFoundError:
            raise PermanentJobError(f"its frame file {capture['path']} is gone") from None
        except ImageDecodeError as exc:
            raise PermanentJobError(str(exc)) from None

    def _read_frame(self, capture: Row) -> bytes:
        return self.appliance.images.read(capture["path"])

    def save_idle_checkpoints(self, idle_s: float) -> int:
        """Checkpoint the analyzers of devices idle for idle_s (or all, with 0, at a stop)."""
        saved = 0
        for device_id in self.live.unsaved(idle_s):
            if not self.gate.enter(device_id):
                continue  # it is being drained; it will be idle again later
            try:
                self.live.save_checkpoint(device_id)
                saved += 1
            except BaseException:
                self.gate.leave(device_id)
                raise
            if self.gate.leave_unless_flagged(device_id):  # a task came for it meanwhile
                self._drain_entered(device_id)
        return saved

    def _check_lease(self, job: Row) -> None:
        if not self.queue.still_ours(job["id"], self.owner):
            raise LostLease(job["id"])

    def _fault(self, point: str, job: Row) -> None:
        if self.fault_hook is not None:
            self.fault_hook(point, job)


def _seconds_until(text: str | None, now: datetime) -> float:
    if not text:
        return 0.0
    return max(0.0, (contract.parse_timestamp(text) - now).total_seconds())


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000
