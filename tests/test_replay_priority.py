"""A replay thread runs at a lower priority than the live threads of its process."""

from __future__ import annotations

import os
import threading

from storewatch.replay.priority import REPLAY_NICE, lower_priority


def test_lower_priority_lowers_only_the_calling_thread() -> None:
    main_tid = threading.get_native_id()
    before = os.getpriority(os.PRIO_PROCESS, main_tid)
    seen: dict[str, int | None] = {}

    def replay_thread() -> None:
        seen["returned"] = lower_priority()
        seen["now"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    thread = threading.Thread(target=replay_thread)
    thread.start()
    thread.join(10)
    assert seen["returned"] == seen["now"] == max(before, REPLAY_NICE)
    assert os.getpriority(os.PRIO_PROCESS, main_tid) == before  # the live threads keep theirs
