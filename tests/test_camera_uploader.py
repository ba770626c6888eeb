"""Backoff and Retry-After: capped, jittered, never shorter than the server asked."""

from __future__ import annotations

import email.utils
import random
import time

from storewatch.camera.transport import Answer, retry_after
from storewatch.camera.uploader import Backoff


def test_backoff_grows_exponentially_with_jitter_up_to_the_cap():
    backoff = Backoff(base_s=1, cap_s=8, rng=random.Random(1))
    delays = [backoff.next_delay() for _ in range(8)]
    for attempt, delay in enumerate(delays):
        ceiling = min(8, 2**attempt)
        assert ceiling / 2 <= delay <= ceiling
    assert len(set(delays)) == len(delays)  # jittered
    backoff.reset()
    assert backoff.next_delay() <= 1


def test_retry_after_is_honoured_but_bounded():
    backoff = Backoff(base_s=0.1, cap_s=1, retry_after_cap_s=120)
    assert backoff.next_delay(30) == 30
    assert backoff.next_delay(10_000) == 120


def test_retry_after_header_forms():
    assert retry_after("5") == 5.0 and retry_after(None) is None and retry_after("soon") is None
    later = email.utils.formatdate(time.time() + 60, usegmt=True)
    assert 55 <= retry_after(later) <= 61


def test_which_answers_are_retried():
    assert Answer(None).retryable
    for status in (429, 500, 502, 503, 504, 507, 599):
        assert Answer(status).retryable
    for status in (400, 401, 403, 409, 413, 415, 422):
        assert not Answer(status).retryable and not Answer(status).ok
    assert Answer(201).ok and Answer(200).ok
