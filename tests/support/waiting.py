"""One bounded poll for every test that waits for something to happen."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(check: Callable[[], T], timeout: float = 10.0, what: str | None = None, step: float = 0.05) -> T:
    """Call `check` every `step` s until it returns something truthy, and return that.

    Bounded: after `timeout` s it raises AssertionError naming `what` (or the check).
    """
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or check}")
        time.sleep(step)
