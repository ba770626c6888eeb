"""Finding jobs that Huey lost: at start and every little while.

A queued (or due failed) job nobody enqueued, or enqueued long ago, gets a new task
(one per device: the drain takes the device's jobs in order anyway). A running job whose
lease lapsed, or whose worker process is gone, counts as a failed attempt and is retried;
never one this process still has in hand (its lease is renewed while it runs, and a
late renewal must not start the same frame a second time beside the first).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime

from storewatch import contract
from storewatch.jobs import leases
from storewatch.jobs.queue import JobQueue

log = logging.getLogger("storewatch.jobs")


@dataclass(frozen=True)
class ReconcileReport:
    expired: int
    enqueued: int


class Reconciler:
    def __init__(self, queue: JobQueue, enqueue_many: Callable[[list[int]], None], owner: str,
                 grace_s: float = 5.0, stale_s: float = 60.0,
                 clock: Callable[[], datetime] = contract.utc_now,
                 in_hand: Callable[[], Collection[int]] = frozenset):
        self.queue = queue
        self.enqueue_many = enqueue_many
        self.owner = owner
        self.grace_s = grace_s
        self.stale_s = stale_s
        self.clock = clock
        self.in_hand = in_hand

    def run(self, at_start: bool = False) -> ReconcileReport:
        now = self.clock()
        expired = 0
        held = self.in_hand()
        for job in self.queue.running():
            if job["id"] in held:
                continue
            if leases.abandoned(job, now, self.owner, gate_held=False):
                leases.take_back(self.queue, job["id"], now)
                expired += 1
        # At start nothing is in flight in this process, so no grace is needed.
        waiting = self.queue.waiting_for_task(now, 0.0 if at_start else self.grace_s,
                                              0.0 if at_start else self.stale_s)
        heads = [job_ids[0] for job_ids in waiting.values()]
        if heads:
            self.enqueue_many(heads)
            self.queue.mark_enqueued([i for ids in waiting.values() for i in ids], now)
        if expired or heads:
            log.info("reconciled: %d lapsed job(s) retried, %d device(s) re-enqueued", expired, len(heads))
        return ReconcileReport(expired=expired, enqueued=len(heads))
