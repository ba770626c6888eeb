"""scripts/bench-replay-panel runs end to end (short turns) against a real `storewatch run` and
prints the live camera's figures with and without the panel's replays, beside each other."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from support import REPO

pytestmark = pytest.mark.slow  # runs a benchmark script end to end: scripts/test --fast leaves it out


def test_the_panel_bench_prints_the_live_latency_with_and_without_replays() -> None:
    done = subprocess.run([sys.executable, "scripts/bench-replay-panel", "--kept", "240", "--seconds", "6",
                           "--rounds", "2"], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    figures = r"p50 +[0-9.]+ ms  p95 +[0-9.]+ ms  max +[0-9.]+ ms  \((\d+)\)"
    for case in ("no replay (baseline)", "panel replays running"):
        block = out[out.index(case):]
        trips = re.search(r"upload round trip +" + figures, block)
        analysed = re.search(r"received to analysed +" + figures, block)
        assert trips and analysed, out
        assert int(trips.group(1)) >= 10 and int(analysed.group(1)) == int(trips.group(1)), out
    assert re.search(r"replays of 240 kept frames meanwhile: .+; \d+ frames replayed, \d+ a second "
                     r"\(process nice 10\)", out), out
