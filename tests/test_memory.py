"""The whole appliance with its camera in burst mode stays under 150 MB of RSS, and its
CPU time per frame stays modest.

`storewatch run --camera simulated` (server, worker, retention, metrics and the camera
thread rendering 1640x1232 frames) with burst forced through the admin API, sampled from
/proc every half second (VmRSS summed over the process tree). `scripts/bench-memory` runs
the same for longer and writes the figures into docs/PERFORMANCE.md.
"""

from __future__ import annotations

import signal
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from support.servers import LiveServer, free_port, prepare_data_dir
from support.reliability import Sampler, open_db, tree_cpu_s, tree_rss_kb
from support.waiting import wait_for

pytestmark = pytest.mark.slow  # the whole appliance in burst, sampled for its memory: scripts/test --fast leaves it out

LIMIT_MB = 150.0  # the target, for the whole process tree
CPU_MS_PER_FRAME = 200.0  # camera + ingest + analysis of one burst frame
CAMERA = "local-camera"


@dataclass
class BurstRun:
    rss_mb: list[tuple[float, float]]  # (s since burst, MB)
    frames: int  # frames the camera stored during the burst
    analysed: int
    cpu_s: float
    seconds: float

    @property
    def cpu_ms_per_frame(self) -> float:
        return self.cpu_s * 1000 / max(1, self.frames)


def captures(data_dir: Path) -> tuple[int, int]:
    db = open_db(data_dir)
    try:
        return (db.scalar("SELECT COUNT(*) FROM captures WHERE device_id = ?", (CAMERA,)),
                db.scalar("SELECT COUNT(*) FROM jobs WHERE device_id = ? AND state = 'done'", (CAMERA,)))
    finally:
        db.close()


def burst_run(data_dir: Path, seconds: float) -> BurstRun:
    """Start the appliance with the simulated camera, hold it in burst for `seconds`."""
    prepare_data_dir(data_dir)
    server = LiveServer(data_dir, free_port(), ["--camera", "simulated"])
    server.start()
    try:
        wait_for(lambda: captures(data_dir)[0] > 0, 30, "the camera's first frame")
        pid = server.process.pid
        with server.admin_client() as admin:
            admin.post(f"/api/v1/admin/devices/{CAMERA}/burst").raise_for_status()
            first, done_before = captures(data_dir)
            cpu_before, started = tree_cpu_s(pid), time.monotonic()
            sampler = Sampler(lambda: tree_rss_kb(pid) / 1024, every_s=0.5)
            sampler.start()
            while time.monotonic() - started < seconds:
                time.sleep(min(5.0, seconds - (time.monotonic() - started)))
                admin.post(f"/api/v1/admin/devices/{CAMERA}/burst").raise_for_status()  # hold it
            sampler.stop()
            cpu, elapsed = tree_cpu_s(pid) - cpu_before, time.monotonic() - started
            last, done_after = captures(data_dir)
        return BurstRun(sampler.samples, last - first, done_after - done_before, cpu, elapsed)
    finally:
        assert server.stop(signal.SIGTERM) == 0, server.log()[-2000:]


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
