"""storewatch.backoff: the capped exponential, and the jittered Backoff built on it."""

from __future__ import annotations

import random

from storewatch.backoff import MAX_DOUBLINGS, Backoff, capped_exponential
from storewatch.jobs.queue import RetryPolicy


def test_the_ceiling_doubles_from_the_base_up_to_the_cap():
    assert [capped_exponential(2.0, 300.0, n) for n in range(10)] == [2, 4, 8, 16, 32, 64, 128, 256, 300, 300]


def test_fewer_than_no_doublings_is_the_base_and_a_huge_count_stays_finite():
    assert capped_exponential(2.0, 300.0, -5) == 2.0
    assert capped_exponential(1.0, float("inf"), 10**9) == 2.0**MAX_DOUBLINGS


def test_the_job_queue_retries_at_the_ceiling_without_jitter():
    policy = RetryPolicy(base_s=2.0, cap_s=300.0)
    assert [policy.delay(n) for n in (0, 1, 2, 5, 9, 10_000)] == [2, 2, 4, 32, 300, 300]


def test_backoff_delays_are_jittered_within_the_upper_half_of_each_ceiling():
    backoff = Backoff(base_s=0.5, cap_s=10.0, rng=random.Random(7))
    for attempt in range(12):
        ceiling = capped_exponential(0.5, 10.0, attempt)
        assert ceiling / 2 <= backoff.next_delay() <= ceiling
    assert backoff.attempt == 12
    backoff.reset()
    assert backoff.attempt == 0 and backoff.next_delay() <= 0.5


def test_a_retry_after_is_a_floor_capped_at_retry_after_cap():
    backoff = Backoff(base_s=1.0, cap_s=4.0, retry_after_cap_s=90.0, rng=random.Random(1))
    assert backoff.next_delay(30.0) == 30.0
    assert backoff.next_delay(5_000.0) == 90.0
    assert backoff.next_delay(0.0) <= 4.0  # a Retry-After shorter than the backoff changes nothing
