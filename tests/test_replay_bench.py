"""scripts/bench-replay runs end to end (a short span) and prints its figures beside the decode."""

from __future__ import annotations

import subprocess
import sys

import pytest

from support import REPO

pytestmark = pytest.mark.slow  # runs a benchmark script end to end: scripts/test --fast leaves it out


def test_the_replay_bench_prints_storage_replay_and_latency_beside_the_decode() -> None:
    done = subprocess.run([sys.executable, "scripts/bench-replay", "--frames", "240", "--size", "640x480",
                           "--latency-s", "2"], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for line in ("burst (2 fps):", "baseline (1 per 30 s):", "reduced decode (baseline)", "keep for replay",
                 "replay of the hour: 240 frames", "beside the reduced decode of the same frames",
                 "no replay", "replay on a nice-10 thread", "storewatch replay (own process, nice 10)"):
        assert line in out, out
