"""`storewatch camera` as a process: a camera failure ends it with exit 1 and one line that
says what failed and the next step (the CameraError's, also when the client wraps it)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from support.servers import free_port
from storewatch.camera.sources.base import CameraError


def run_camera(tmp_path: Path, source: str) -> subprocess.CompletedProcess[str]:
    token = tmp_path / "token"
    token.write_text("not-a-real-token\n")
    command = [sys.executable, "-m", "storewatch", "--data-dir", str(tmp_path / "data"), "camera",
               "--server", f"http://127.0.0.1:{free_port()}", "--device-id", "cam", "--token-file", str(token),
               "--source", source]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def test_a_source_that_cannot_open_says_why_and_the_next_step(tmp_path: Path) -> None:
    done = run_camera(tmp_path, f"dir:{tmp_path / 'nowhere'}")
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == f"storewatch camera: {tmp_path / 'nowhere'} is not a folder. {CameraError.next_step}"


def test_a_camera_failing_mid_run_says_the_clients_message_and_the_sources_next_step(tmp_path: Path) -> None:
    frames = tmp_path / "frames"
    frames.mkdir()
    (frames / "a.jpg").write_bytes(b"not a jpeg at all")
    done = run_camera(tmp_path, f"dir:{frames}")
    assert done.returncode == 1
    last = done.stderr.splitlines()[-1]
    assert last.startswith(f"storewatch camera: camera failed: {frames / 'a.jpg'} cannot be read as a JPEG")
    assert last.endswith(f". {CameraError.next_step}")
