"""Taking turns between devices, so one device's backlog never holds up the others.

A drain gives its thread back after `drain_budget_s` of work and queues a *resume* task
for its device behind every task already waiting (other devices' included). Until that
resume task comes up, the device's other tasks (one per ingested frame) are skipped:
otherwise each of them would start a fresh turn at once and the backlog would win anyway.
A turn that was never resumed (its task lost with a crash) expires after `max_wait_s`.
"""

from __future__ import annotations

import threading
import time


class Turns:
    def __init__(self, max_wait_s: float = 30.0):
        self.max_wait_s = max_wait_s
        self._lock = threading.Lock()
        self._waiting: dict[str, float] = {}  # device -> when it gave its turn away

    def give_away(self, device_id: str) -> None:
        with self._lock:
            self._waiting[device_id] = time.monotonic()

    def must_wait(self, device_id: str) -> bool:
        """True while the device's resume task is still queued behind the others."""
        with self._lock:
            since = self._waiting.get(device_id)
            if since is None:
                return False
            if time.monotonic() - since > self.max_wait_s:
                del self._waiting[device_id]
                return False
            return True

    def resume(self, device_id: str) -> None:
        with self._lock:
            self._waiting.pop(device_id, None)

    def clear(self) -> None:
        """Forget every queued turn (their resume tasks were lost with a replaced task file)."""
        with self._lock:
            self._waiting.clear()
