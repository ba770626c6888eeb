"""Running a replay below the live analysis: a higher nice value for the calling thread only.

Linux schedules threads as tasks, so `setpriority(PRIO_PROCESS, native thread id)` lowers
just this thread. Replays run in a process of their own, which shares no interpreter lock
with the live worker: the `storewatch replay` command, and the admin panel's replay process
(server/replay_runner.py, which also puts it in a scheduler group of its own); a nice-10
thread inside `storewatch run` still held the interpreter lock while it waited, and slowed
live uploads (scripts/bench-replay-panel measured it).
"""

from __future__ import annotations

import logging
import os
import threading

log = logging.getLogger("storewatch.replay")

REPLAY_NICE = 10


def lower_priority(nice: int = REPLAY_NICE) -> int | None:
    """Raise the calling thread's nice value to at least `nice`; returns it (None if refused)."""
    tid = threading.get_native_id()
    try:
        os.setpriority(os.PRIO_PROCESS, tid, max(os.getpriority(os.PRIO_PROCESS, tid), nice))
        return os.getpriority(os.PRIO_PROCESS, tid)
    except (OSError, AttributeError) as exc:  # not Linux, or not allowed: run at the usual priority
        log.warning("could not lower the replay's priority: %s", exc)
        return None
