"""The analysis worker as a Service: Huey consumer threads plus a maintenance thread.

Runs inside `storewatch run` (started after the server listens) and alone as
`storewatch worker`. Stopping lets the threads finish the frame in hand; a job cut
off by a crash is found again by the reconciler, and its frame is applied once. A lease
thread renews the leases of the jobs in hand every third of a lease, so a slow frame is
never taken for a dead worker's and run a second time.
"""

from __future__ import annotations

import logging
import threading

from storewatch.appliance import Appliance
from storewatch.jobs.broker import Broker, start_consumer
from storewatch.jobs.leases import new_owner
from storewatch.jobs.processor import Processor, WorkerOptions
from storewatch.jobs.queue import JobQueue
from storewatch.jobs.reconciler import Reconciler

log = logging.getLogger("storewatch.jobs")

# A device quiet this long gets its analysis checkpointed. Longer than a baseline interval
# (30 s): the checkpoint is ~64 KB, and at 5 s every baseline frame wrote one to the SD card.
# A restart after a power cut replays at most CHECKPOINT_EVERY frames instead.
IDLE_CHECKPOINT_S = 300.0


def job_queue(appliance: Appliance) -> JobQueue:
    """The appliance's jobs (kept for callers written before the facade had them)."""
    return appliance.jobs


def connect_ingest(appliance: Appliance) -> Broker:
    """Make ingest hand each new job to Huey (for processes that store frames but run no worker)."""
    broker = Broker(appliance.huey_path, appliance.jobs)
    appliance.enqueue.connect(broker.enqueue_many)
    return broker


class WorkerService:
    name = "worker"

    def __init__(self, appliance: Appliance, workers: int = 2, options: WorkerOptions = WorkerOptions(),
                 reconcile_every_s: float = 10.0, poll_max_s: float = 0.5, flush_counters: bool = False,
                 stale_s: float = 60.0, grace_s: float = 5.0):
        self.appliance = appliance
        self.workers = workers
        self.reconcile_every_s = reconcile_every_s
        self.poll_max_s = poll_max_s
        self.flush_counters = flush_counters  # the server flushes them in `storewatch run`
        self.queue = appliance.jobs
        self.broker = Broker(appliance.huey_path, self.queue, local=True)
        self.owner = new_owner()
        self.processor = Processor(appliance, self.queue, self.broker.schedule, options, self.owner,
                                   resume=self.broker.resume)
        self.broker.handler = self.processor.handle
        self.reconciler = Reconciler(self.queue, self.broker.enqueue_many, self.owner, grace_s=grace_s,
                                     stale_s=stale_s, in_hand=self.processor.in_hand)
        self._consumer = None
        self._stop = threading.Event()
        self._stop_leases = threading.Event()
        self._maintenance: threading.Thread | None = None
        self._leases: threading.Thread | None = None

    def start(self) -> None:
        if logging.getLogger("huey").level == logging.NOTSET:
            logging.getLogger("huey").setLevel(logging.WARNING)  # Huey logs every task at INFO
        self.reconciler.run(at_start=True)
        self._leases = threading.Thread(target=self._keep_leases, name="worker-leases", daemon=True)
        self._leases.start()
        self._consumer = self.broker.consumer(self.workers, self.poll_max_s)
        start_consumer(self._consumer)
        self.appliance.enqueue.connect(self.broker.enqueue_many)
        self._maintenance = threading.Thread(target=self._maintain, name="worker-maintenance", daemon=True)
        self._maintenance.start()
        log.info("analysis worker started with %d thread(s)", self.workers)

    def stop(self, timeout: float) -> None:
        self.appliance.enqueue.disconnect(self.broker.enqueue_many)
        self._stop.set()
        if self._consumer is not None:
            self._consumer.shutdown_timeout = timeout
            self._consumer.stop(graceful=True)
        if self._maintenance is not None:
            self._maintenance.join(timeout)
        self._stop_leases.set()  # only now: the threads finished the frames in hand under their leases
        if self._leases is not None:
            self._leases.join(timeout)
        try:
            self.processor.save_idle_checkpoints(0.0)  # a restart then has nothing to replay
        except Exception:
            log.exception("could not checkpoint the analysis at stop; the next start replays")
        if self.flush_counters:
            self.appliance.counters.flush()
        self.broker.close()

    def _keep_leases(self) -> None:
        every = self.processor.options.lease_s / 3
        while not self._stop_leases.wait(every):
            try:
                self.processor.renew_leases()
            except Exception:  # a busy disk: the next round renews (a lease outlives two missed rounds)
                log.exception("could not renew the leases of the jobs in hand")

    def _maintain(self) -> None:
        while not self._stop.wait(self.reconcile_every_s):
            try:
                self.broker.reopen_if_replaced()
                if self.broker.replaced.is_set():  # a new, empty task file: hand it every due job now
                    self.broker.replaced.clear()
                    self.processor.turns.clear()
                    self.reconciler.run(at_start=True)
                else:
                    self.reconciler.run()
                self.processor.save_idle_checkpoints(IDLE_CHECKPOINT_S)
                if self._consumer is not None:
                    self._consumer.check_worker_health()
                if self.flush_counters:
                    self.appliance.counters.flush()
            except Exception:  # a busy disk must not end maintenance; next round retries
                log.exception("worker maintenance failed")
