"""The whole-appliance runs a reliability test and its benchmark share: twenty cameras' load
against `storewatch run` (tests/test_load_soak.py, scripts/bench-e2e, scripts/bench-sdwrites)
and the appliance held in burst with its memory sampled (tests/test_memory.py,
scripts/bench-memory)."""

from __future__ import annotations

import signal
import time
from dataclasses import dataclass
from pathlib import Path

from storewatch.appliance import Appliance
from support import shelf_scenes
from support.reliability import LoadResult, Sampler, open_db, run_load, shelf_jpegs, tree_cpu_s, tree_rss_kb
from support.servers import LiveServer, free_port, prepare_data_dir
from support.waiting import wait_for

SIZE = (1640, 1232)  # what a Pi camera sends
LIMIT_MB = 150.0  # the memory target, for the whole process tree
CAMERA = "local-camera"


def prepare_devices(data_dir: Path, count: int) -> dict[str, str]:
    prepare_data_dir(data_dir)
    appliance = Appliance(data_dir)
    try:
        tokens = {}
        rois = appliance.rois
        for n in range(count):
            device_id, token = appliance.devices.add(f"load cam {n}", f"load-{n:02d}")
            tokens[device_id] = token
            rois.add(device_id, "top", [list(p) for p in shelf_scenes.roi_around(2)])
            rois.add(device_id, "bottom", [list(p) for p in shelf_scenes.roi_around(9)])
        return tokens
    finally:
        appliance.close()


def soak(data_dir: Path, devices: int, rate_hz: float, duration_s: float) -> LoadResult:
    tokens = prepare_devices(data_dir, devices)
    server = LiveServer(data_dir, free_port(), ["--camera", "none"])
    server.start()
    try:
        return run_load(data_dir, server.url, server.process.pid, tokens, shelf_jpegs(8, SIZE), SIZE,
                        rate_hz, duration_s)
    finally:
        assert server.stop(signal.SIGTERM) == 0, server.log()[-2000:]


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
