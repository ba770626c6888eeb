"""scripts/bench-notify keeps working: a tiny run reports every figure it promises.

Two scripted visits posted to a real `storewatch run` at 320x240, each written as an event and
received by the webhook with a latency; the floor; the idle runs with 0 and 3 channels with
their CPU and RSS. No speed is asserted: speed targets live in the benchmark's output.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from support import REPO

pytestmark = pytest.mark.slow  # runs a benchmark script end to end: scripts/test --fast leaves it out

SCRIPT = REPO / "scripts" / "bench-notify"


@pytest.mark.timeout(120)
def test_a_tiny_run_has_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "result.json"
    done = subprocess.run([sys.executable, str(SCRIPT), "--events", "2", "--idle-s", "1", "--size", "320x240",
                           "--timeout", "30", "--json", str(out)], capture_output=True, text=True, timeout=110,
                          cwd=REPO)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert "event row written -> webhook received" in done.stdout and "per channel" in done.stdout
    result = json.loads(out.read_text())
    latency = result["latency"]
    assert latency["visits_posted"] == 2 and latency["events_written"] >= 1
    assert latency["events_received"] == latency["events_written"]
    figures = latency["written_to_received_s"]
    assert figures["n"] == latency["events_received"] and 0 <= figures["p50"] <= figures["p99"] <= figures["max"]
    assert latency["floor_plain_post_s"]["n"] == 20
    base, three = result["idle"]
    assert (base["channels"], three["channels"]) == (0, 3)
    for run in (base, three):
        assert run["window_s"] >= 1 and run["cpu_s"] >= 0 and run["rss_mb"] > 10 and run["received"] == 0
    assert set(result["idle_per_channel"]) == {"cpu_percent", "rss_mb"}
