"""Huey's consumer inside our processes: its threads run the tasks, the process keeps its signals."""

from __future__ import annotations

import signal
import threading
import time

from storewatch.appliance import Appliance
from storewatch.jobs.service import WorkerService

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def wait_until_carried(service: WorkerService, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while service.broker.pending() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert service.broker.pending() == 0


def test_a_worker_started_in_the_main_thread_leaves_the_processs_signal_handlers_alone(appliance: Appliance) -> None:
    def owners_handler(signum: int, frame: object) -> None:  # as `storewatch worker` sets its own
        pass

    before = {sig: signal.signal(sig, owners_handler) for sig in SIGNALS}
    service = WorkerService(appliance, workers=1, poll_max_s=0.1)
    try:
        service.start()
        assert {sig: signal.getsignal(sig) for sig in SIGNALS} == dict.fromkeys(SIGNALS, owners_handler)
        service.broker.enqueue(424242)  # a job id the table does not hold: the task runs and does nothing
        wait_until_carried(service)
    finally:
        service.stop(5.0)
        for sig, handler in before.items():
            signal.signal(sig, handler)


def test_a_worker_started_in_another_thread_runs_its_tasks(appliance: Appliance) -> None:
    # `storewatch run` starts its services from a thread once the server listens.
    service = WorkerService(appliance, workers=2, poll_max_s=0.1)
    before = {sig: signal.getsignal(sig) for sig in SIGNALS}
    failures: list[BaseException] = []

    def start() -> None:
        try:
            service.start()
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            failures.append(exc)

    starter = threading.Thread(target=start)
    starter.start()
    starter.join(10.0)
    try:
        assert failures == [] and not starter.is_alive()
        assert {sig: signal.getsignal(sig) for sig in SIGNALS} == before
        service.broker.enqueue_many([424242, 424243])
        wait_until_carried(service)
    finally:
        service.stop(5.0)
