"""The replay tests' and bench's rig: a shop session of the simulated shelf, recorded by a
real `storewatch worker` (its Huey consumer) that is killed and restarted mid-session.

The session is the `two-visits` scenario of storewatch/camera/scenarios.py with more visits
on the same shelf after it (a take from the middle shelf, a touch, a passer), so that one
continuous scene holds several events of different verdicts.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

from storewatch import contract
from storewatch.appliance import Appliance
from storewatch.camera.scenarios import scenario
from storewatch.camera.scene import Passer, Script, ScriptRenderer
from storewatch.jobs.service import connect_ingest
from support import REPO
from support.waiting import wait_for

START = 1_790_000_000.0  # capture time of the session's first frame
SIZE = (640, 480)
FPS = 2.0


def session_script() -> Script:
    """two-visits, then a take from the middle shelf, a touch on it and a passer (5 visits)."""
    base = scenario("two-visits")
    first = base.reaches[0]
    t = base.duration
    more = (replace(first, start=t + 6, slot=12, side="right", item=base.stock[12].item, visit=2),
            replace(first, start=t + 22, duration=4.0, kind="touch", slot=10, side="left",
                    item=base.stock[10].item, visit=3))
    passers = (Passer(t + 40, 4.0, visit=4),)
    return replace(base, name="session", duration=t + 56, reaches=base.reaches + more, passers=passers)


@dataclass
class Session:
    times: list[float]
    jpegs: list[bytes]

    @property
    def end(self) -> float:
        return START + self.times[-1]


def render(script: Script | None = None, fps: float = FPS, size: tuple[int, int] = SIZE) -> Session:
    script = script or session_script()
    renderer = ScriptRenderer(script, size)
    times = script.times(fps)
    return Session(times, [renderer.jpeg(t, i) for i, t in enumerate(times)])


def add_rois(appliance: Appliance, device_id: str, script: Script | None = None) -> list[int]:
    return [appliance.rois.add(device_id, name, [list(p) for p in polygon])["id"]
            for name, polygon in (script or session_script()).rois]


def store(appliance: Appliance, device_id: str, session: Session, indexes: range | list[int]) -> None:
    for i in indexes:
        stamp = contract.format_timestamp(datetime.fromtimestamp(START + session.times[i], timezone.utc))
        appliance.captures.store({"device_id": device_id, "seq": i, "capture_ts": stamp, "width": SIZE[0],
                                  "height": SIZE[1], "jpeg_quality": 85}, session.jpegs[i])


def done(appliance: Appliance) -> int:
    return appliance.db.scalar("SELECT COUNT(*) FROM jobs WHERE state IN ('done', 'dead')")


def start_worker(data_dir: Path, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "storewatch", "--data-dir", str(data_dir), "worker", "--threads", "2",
         "--poll", "0.05"],
        stdout=open(log, "ab"), stderr=subprocess.STDOUT, cwd=REPO, env={**os.environ, "PYTHONUNBUFFERED": "1"})


def record_session(appliance: Appliance, device_id: str, session: Session, log: Path,
                   change_at: int, kill_at: int, change: dict[str, float]) -> dict[str, object]:
    """Analyse the session with a real worker process: ROI 2's thresholds change (`change`)
    after frame `change_at`; the worker is SIGKILLed after frame `kill_at` (with a job in hand
    when it can be caught) and a new one finishes. Returns what happened."""
    connect_ingest(appliance)
    rois = appliance.rois
    second = rois.list(device_id)[1]["id"]
    worker = start_worker(appliance.data_dir, log)
    try:
        store(appliance, device_id, session, range(change_at))
        wait_for(lambda: done(appliance) >= change_at, 60, "the frames before the change")
        rois.update(device_id, second, thresholds=change)
        store(appliance, device_id, session, range(change_at, kill_at))
        wait_for(lambda: done(appliance) >= kill_at - 2, 60, "the frames before the kill")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and done(appliance) < kill_at:
            if appliance.db.scalar("SELECT 1 FROM jobs WHERE state = 'running'"):
                break
            time.sleep(0.001)
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
        killed_after = done(appliance)
        store(appliance, device_id, session, range(kill_at, len(session.jpegs)))
        worker = start_worker(appliance.data_dir, log)
        wait_for(lambda: done(appliance) >= len(session.jpegs), 120, "every frame analysed")
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(20)
    return {"killed_after": killed_after, "log": log.read_text()}
