"""`storewatch worker` as a process: SIGKILL in the middle of an interaction, restart, and
the events come out exactly as from an uninterrupted run; SIGTERM stops it cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from support.worker import (add_roi, comparable, event_rows, picture_files, running_worker, scene, store_frames,
                            wait_finished)

from storewatch.appliance import Appliance
from storewatch.jobs.service import connect_ingest
from support.waiting import wait_for

pytestmark = pytest.mark.slow  # kills a worker process mid-interaction and restarts it: scripts/test --fast leaves it out

REPO = Path(__file__).resolve().parents[1]


def start_worker(data_dir: Path, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "storewatch", "--data-dir", str(data_dir), "worker", "--threads", "2",
         "--poll", "0.05"],
        stdout=open(log, "ab"), stderr=subprocess.STDOUT, cwd=REPO, env={**os.environ, "PYTHONUNBUFFERED": "1"})


def finished_count(appliance: Appliance) -> int:
    return appliance.db.scalar("SELECT COUNT(*) FROM jobs WHERE state = 'done'")


def outcome(appliance: Appliance) -> tuple:
    state = appliance.db.scalar("SELECT state FROM analysis_state")
    return comparable(event_rows(appliance)), picture_files(appliance), state


def test_a_worker_killed_mid_interaction_and_restarted_gives_the_same_events(tmp_path: Path) -> None:
    sequence = scene()
    reference = Appliance(tmp_path / "reference")
    try:
        add_roi(reference, reference.devices.add("cam", "cam")[0], "top shelf", 2)
        with running_worker(reference):
            store_frames(reference, "cam", sequence)
            wait_finished(reference, len(sequence.jpegs))
        expected = outcome(reference)
    finally:
        reference.close()
    assert len(expected[0]) == 1

    appliance = Appliance(tmp_path / "killed")
    log = tmp_path / "worker.log"
    try:
        add_roi(appliance, appliance.devices.add("cam", "cam")[0], "top shelf", 2)
        connect_ingest(appliance)  # this process ingests; the worker process analyses
        worker = start_worker(appliance.data_dir, log)
        store_frames(appliance, "cam", sequence, list(range(10)))
        wait_finished(appliance, 10)  # the arm has been in the shelf for two frames: an interaction is open
        assert appliance.db.scalar("SELECT COUNT(*) FROM events") == 0
        store_frames(appliance, "cam", sequence, [10, 11])
        caught_running = None
        deadline = time.monotonic() + 10
        while caught_running is None and time.monotonic() < deadline and finished_count(appliance) < 12:
            caught_running = appliance.db.scalar("SELECT id FROM jobs WHERE state = 'running'")
            time.sleep(0.001)
        worker.send_signal(signal.SIGKILL)  # most often with a job in hand
        worker.wait(10)
        cut_off = appliance.db.scalar("SELECT id FROM jobs WHERE state = 'running'")  # still in hand when killed
        store_frames(appliance, "cam", sequence, list(range(12, len(sequence.jpegs))))
        assert appliance.db.scalar("SELECT COUNT(*) FROM jobs WHERE state = 'done'") < len(sequence.jpegs)
        worker = start_worker(appliance.data_dir, log)
        try:
            wait_finished(appliance, len(sequence.jpegs), timeout=60)
        finally:
            worker.send_signal(signal.SIGTERM)
            assert worker.wait(20) == 0, log.read_text()
        assert outcome(appliance) == expected
        assert "rebuilt the analysis of cam from its checkpoint" in log.read_text()  # the replay path ran
        assert appliance.db.scalar("SELECT COUNT(*) FROM jobs WHERE state != 'done' OR late = 1") == 0
        if cut_off is not None:  # the job cut off by the kill ran again, and counted it
            assert appliance.db.scalar("SELECT attempts FROM jobs WHERE id = ?", (cut_off,)) == 2
    finally:
        appliance.close()


def test_sigterm_stops_an_idle_worker_cleanly(tmp_path: Path) -> None:
    Appliance(tmp_path / "data").close()
    worker = start_worker(tmp_path / "data", tmp_path / "worker.log")
    log = tmp_path / "worker.log"
    wait_for(lambda: b"analysing" in log.read_bytes(), timeout=20, what="the worker to start")
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(20) == 0
    assert "stopped" in log.read_text()
