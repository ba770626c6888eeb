"""Retention in the running appliance (at start) and `storewatch retention run` beside it."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from storewatch.appliance import Appliance
from support import REPO
from support.servers import start_live_server

pytestmark = pytest.mark.slow  # retention beside a running appliance and at its start: scripts/test --fast leaves it out

OLD = "2020-01-01T00:00:00.000Z"


def cli(data_dir, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "storewatch", "--data-dir", str(data_dir), *args],
                          capture_output=True, text=True, cwd=REPO, timeout=120)


def stored_frames(data_dir, old: int, young: int) -> None:
    opened = Appliance(data_dir)
    try:
        opened.devices.add("cam", "cam-1")
        for seq in range(old + young):
            meta = {"device_id": "cam-1", "capture_ts": "2026-01-01T00:00:00Z", "seq": seq, "width": 16,
                    "height": 16, "jpeg_quality": 80}
            opened.captures.store(meta, seq.to_bytes(4, "big") * 250)
        with opened.db.write() as conn:
            conn.execute("UPDATE jobs SET state = 'done'")
            conn.execute("UPDATE captures SET received_at = ? WHERE seq < ?", (OLD, old))
    finally:
        opened.close()


def frames_left(data_dir) -> tuple[int, int]:
    opened = Appliance(data_dir)
    try:
        return opened.db.scalar("SELECT COUNT(*) FROM captures"), len(opened.images.staging_files())
    finally:
        opened.close()


def wait_for_start_round(data_dir) -> None:
    """The appliance runs retention's start round on its own thread once it is up; frames
    planted before that round finishes could be deleted by it rather than by the CLI."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        opened = Appliance(data_dir)
        try:
            if opened.db.scalar("SELECT COUNT(*) FROM retention_runs WHERE trigger = 'start'"
                                " AND finished_at IS NOT NULL"):
                return
        finally:
            opened.close()
        time.sleep(0.1)
    raise AssertionError("the appliance's start round of retention did not finish within 20 s")


def test_storewatch_run_applies_retention_at_start(data_dir):
    stored_frames(data_dir, old=5, young=2)
    server = start_live_server(data_dir)
    try:
        deadline = time.monotonic() + 20
        while frames_left(data_dir) != (2, 2) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert frames_left(data_dir) == (2, 2)
        history = cli(data_dir, "retention", "history")
        assert history.returncode == 0 and "start" in history.stdout and "staging_expired 5" in history.stdout
    finally:
        assert server.stop() == 0


def test_retention_run_dry_run_then_real_beside_a_running_appliance(data_dir):
    server = start_live_server(data_dir)
    try:
        wait_for_start_round(data_dir)
        stored_frames(data_dir, old=4, young=1)
        dry = cli(data_dir, "retention", "run", "--dry-run")
        assert dry.returncode == 0, dry.stderr
        assert "dry run" in dry.stderr and "would delete 4 frames" in dry.stderr and "reconcile:" in dry.stderr
        assert "Would free" in dry.stdout and "staging_expired 4" in dry.stdout
        assert frames_left(data_dir) == (5, 5)
        real = cli(data_dir, "retention", "run")
        assert real.returncode == 0 and "Freed" in real.stdout and "staging_expired 4" in real.stdout
        assert frames_left(data_dir) == (1, 1)
    finally:
        assert server.stop() == 0


def test_retention_settings_shows_and_changes_only_retention_settings(data_dir):
    changed = cli(data_dir, "retention", "settings", "staging_retention_hours=6", "event_image_retention_days=3")
    assert changed.returncode == 0
    assert "staging_retention_hours = 6.0" in changed.stdout and "event_image_retention_days = 3.0" in changed.stdout
    assert "only these are retention settings" in cli(data_dir, "retention", "settings", "max_body_bytes=100000").stderr
    assert "at least" in cli(data_dir, "retention", "settings", "staging_retention_hours=0").stderr
