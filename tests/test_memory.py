"""The whole appliance with its camera in burst mode stays under 150 MB of RSS, and its
CPU time per frame stays modest.

`storewatch run --camera simulated` (server, worker, retention, metrics and the camera
thread rendering 1640x1232 frames) with burst forced through the admin API, sampled from
/proc every half second (VmRSS summed over the process tree). `scripts/bench-memory` runs
the same for longer and writes the figures into docs/PERFORMANCE.md.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from support.load import LIMIT_MB, burst_run

pytestmark = pytest.mark.slow  # the whole appliance in burst, sampled for its memory: scripts/test --fast leaves it out

CPU_MS_PER_FRAME = 200.0  # camera + ingest + analysis of one burst frame


@pytest.mark.timeout(120)
def test_storewatch_run_in_burst_stays_under_150_mb(data_dir: Path) -> None:
    run = burst_run(data_dir, 25.0)
    rss = [mb for _, mb in run.rss_mb]
    print(f"\nburst for {run.seconds:.0f} s: {run.frames} frames stored, {run.analysed} analysed; "
          f"RSS max {max(rss):.1f} MB, mean {sum(rss) / len(rss):.1f} MB; "
          f"CPU {run.cpu_ms_per_frame:.0f} ms per frame (camera + ingest + analysis)")
    assert run.frames >= run.seconds  # burst is 2 frames/s; at least half of that arrived
    # ~110 MB here (docs/PERFORMANCE.md, "Memory"); the simulated camera's numpy copies of
    # each frame once put short peaks of 150-165 MB over that.
    assert max(rss) < LIMIT_MB, f"RSS peaked at {max(rss):.0f} MB, over the {LIMIT_MB:.0f} MB target"
    if run.cpu_ms_per_frame >= CPU_MS_PER_FRAME:
        # ~60-90 ms here; the capture loop's busy wait in burst (fixed in 06b6184) cost ~490 ms.
        pytest.xfail(f"{run.cpu_ms_per_frame:.0f} ms CPU per burst frame, over {CPU_MS_PER_FRAME:.0f} ms")
