"""A Service that calls one function now and then every `interval_s`, on its own thread.

Housekeeping (retention, the metrics sampler) runs this way inside `storewatch run`. A
failing round is logged and the next round runs as planned: a busy disk must not stop
the appliance.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger("storewatch.ops.periodic")


class PeriodicService:
    def __init__(self, name: str, interval_s: float, tick: Callable[[int], None],
                 first_delay_s: float = 0.0):
        """`tick(round)` is called with 0 for the first round, 1 for the next, and so on."""
        self.name = name
        self.interval_s = interval_s
        self.first_delay_s = first_delay_s
        self._tick = tick
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.rounds = 0

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        if self._stop.wait(self.first_delay_s):
            return
        while not self._stop.is_set():
            try:
                self._tick(self.rounds)
            except Exception:  # loop boundary: log, keep the schedule
                log.exception("%s: round %d failed", self.name, self.rounds)
            self.rounds += 1
            if self._stop.wait(self.interval_s):
                return
