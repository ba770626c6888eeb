"""Capped exponential backoff: the one rule behind every retry delay in storewatch.

`capped_exponential` is the delay ceiling (the job queue uses it as it is: a failed job is
retried at a fixed time the admin can read); `Backoff` adds jitter and Retry-After for the
camera's uploads and its supervisor, where many devices must not retry in step.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

# base * 2**30 is past any cap worth having, and keeps the power a small finite float.
MAX_DOUBLINGS = 30


def capped_exponential(base_s: float, cap_s: float, doublings: int) -> float:
    """base_s * 2**doublings, at most cap_s (doublings below 0 count as 0)."""
    return min(cap_s, base_s * 2 ** min(max(0, doublings), MAX_DOUBLINGS))


@dataclass
class Backoff:
    """Successive delays: each in [ceiling / 2, ceiling] of the capped exponential, never
    shorter than a Retry-After (itself capped at `retry_after_cap_s`)."""

    base_s: float = 1.0
    cap_s: float = 60.0
    retry_after_cap_s: float = 600.0
    attempt: int = 0
    rng: random.Random = field(default_factory=random.Random)

    def next_delay(self, retry_after_s: float | None = None) -> float:
        ceiling = capped_exponential(self.base_s, self.cap_s, self.attempt)
        self.attempt += 1
        delay = self.rng.uniform(ceiling / 2, ceiling)  # jitter, but never near zero
        if retry_after_s is not None:
            delay = max(delay, min(retry_after_s, self.retry_after_cap_s))
        return delay

    def reset(self) -> None:
        self.attempt = 0
