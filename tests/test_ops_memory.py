"""The allocator tuning that keeps long-running processes' RSS near what they use."""

from __future__ import annotations

import platform

import pytest

from storewatch.ops.memory import tune_allocator


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the tuning is for glibc only")
def test_glibc_accepts_the_allocator_settings():
    assert tune_allocator() is True
