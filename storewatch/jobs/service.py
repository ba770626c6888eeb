"""The analysis worker as a Service: Huey consumer threads plus a maintenance thread.

Runs inside `storewatch run` (started after the server listens) and alone as
`storewatch worker`. Stopping lets the threads finish the frame in hand; a job cut
off by a crash is found again by the reconciler, and its frame is applied once.
"""

from __future__ import annotations

import logging
import threading

from storewatch.appliance import Appliance
from storewatch.jobs.broker import Broker
from storewatch.jobs.processor import Processor, WorkerOptions, new_owner
from storewatch.jobs.queue import JobQueue
from storewatch.jobs.reconciler import Reconciler

log = logging.getLogger("storewatch.jobs")

IDLE_CHECKPOINT_S = 5.0  # a device quiet this long gets its analysis checkpointed


def job_queue(appliance: Appliance) -> JobQueue:
    return JobQueue(appliance.db, lambda: appliance.settings.get("job_max_attempts"))


def connect_ingest(appliance: Appliance) -> Broker:
    """Make ingest hand each new job to Huey (for processes that store frames but run no worker)."""
    broker = Broker(appliance.huey_path, job_queue(appliance))
    appliance.captures.on_jobs_queued = broker.enqueue_many
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
        self.queue = job_queue(appliance)
        self.broker = Broker(appliance.huey_path, self.queue)
        self.owner = new_owner()
        self.processor = Processor(appliance, self.queue, self.broker.schedule, options, self.owner)
        self.broker.handler = self.processor.handle
        self.reconciler = Reconciler(self.queue, self.broker.enqueue_many, self.owner, grace_s=grace_s,
                                     stale_s=stale_s)
        self._consumer = None
        self._stop = threading.Event()
        self._maintenance: threading.Thread | None = None

    def start(self) -> None:
        if logging.getLogger("huey").level == logging.NOTSET:
            logging.getLogger("huey").setLevel(logging.WARNING)  # Huey logs every task at INFO
        self.reconciler.run(at_start=True)
        self._consumer = self.broker.consumer(self.workers, self.poll_max_s)
        self._consumer.start()
        self.appliance.captures.on_jobs_queued = self.broker.enqueue_many
        self._maintenance = threading.Thread(target=self._maintain, name="worker-maintenance", daemon=True)
        self._maintenance.start()
        log.info("analysis worker started with %d thread(s)", self.workers)

    def stop(self, timeout: float) -> None:
        if self.appliance.captures.on_jobs_queued == self.broker.enqueue_many:
            self.appliance.captures.on_jobs_queued = None
        self._stop.set()
        if self._consumer is not None:
            self._consumer.shutdown_timeout = timeout
            self._consumer.stop(graceful=True)
        if self._maintenance is not None:
            self._maintenance.join(timeout)
        try:
            self.processor.save_idle_checkpoints(0.0)  # a restart then has nothing to replay
        except Exception:
            log.exception("could not checkpoint the analysis at stop; the next start replays")
        if self.flush_counters:
            self.appliance.counters.flush()
        self.broker.close()

    def _maintain(self) -> None:
        while not self._stop.wait(self.reconcile_every_s):
            try:
                self.reconciler.run()
                self.processor.save_idle_checkpoints(IDLE_CHECKPOINT_S)
                if self._consumer is not None:
                    self._consumer.check_worker_health()
                if self.flush_counters:
                    self.appliance.counters.flush()
            except Exception:  # a busy disk must not end maintenance; next round retries
                log.exception("worker maintenance failed")
