"""The built-in camera's state file: what status, doctor and the panel read of it."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta

from storewatch.ops import camera_state, doctor
from storewatch import contract
from storewatch.ops.camera_state import CameraState


def _failed(**fields) -> CameraState:
    retry_at = contract.format_timestamp(contract.utc_now() + timedelta(seconds=40))
    return CameraState("failed", "picamera2", message="no camera detected: check the ribbon cable",
                       error_kind="NoCameraError", next_step="Power off, reseat the ribbon cable.",
                       retry_at=retry_at, attempt=2, **fields)


def test_a_failed_state_reads_back_with_when_it_tries_again(data_dir):
    camera_state.write(data_dir, _failed())
    shown = camera_state.report(data_dir)
    assert shown["state"] == "failed" and 35 <= shown["retry_in_s"] <= 40
    assert shown["summary"].startswith("not working: no camera detected: check the ribbon cable; trying again in")
    assert shown["summary"].endswith("(attempt 3)")
    assert json.loads((data_dir / "camera" / "state.json").read_text())["error_kind"] == "NoCameraError"


def test_a_state_left_by_a_process_that_is_gone_reads_as_stopped(data_dir):
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    camera_state.write(data_dir, CameraState("running", "picamera2", pid=int(gone.stdout)))
    shown = camera_state.report(data_dir)
    assert shown["state"] == "stopped" and shown["summary"] == "stopped (storewatch run is not running)"


def test_no_or_a_damaged_state_file_reads_as_none(data_dir):
    assert camera_state.report(data_dir) is None
    (data_dir / "camera").mkdir()
    (data_dir / "camera" / "state.json").write_text("{not json")
    assert camera_state.report(data_dir) is None


def test_same_as_ignores_only_when_it_began():
    first = CameraState("running", "auto (picamera2)", since="2026-01-01T00:00:00.000Z")
    assert first.same_as(CameraState("running", "auto (picamera2)", since="2026-01-02T00:00:00.000Z"))
    assert not first.same_as(CameraState("failed", "auto (picamera2)")) and not first.same_as(None)


def test_doctor_says_fail_with_what_to_do_for_a_failed_camera(appliance):
    assert doctor.check_builtin_camera(appliance).status == doctor.SKIP
    camera_state.write(appliance.data_dir, _failed())
    check = doctor.check_builtin_camera(appliance)
    assert check.status == doctor.FAIL and check.name == "built-in camera"
    assert check.message.startswith("not working: no camera detected")
    assert check.next_step.startswith("Power off, reseat the ribbon cable. storewatch keeps trying by itself")
    camera_state.write(appliance.data_dir, CameraState("running", "picamera2 (picamera2)"))
    assert doctor.check_builtin_camera(appliance).status == doctor.OK
