"""The built-in camera of `storewatch run`: retried with backoff, never the appliance's end,
never a fake shelf on a Pi, and its state visible to `status`, `doctor` and the panel."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import threading
import types
from pathlib import Path

import httpx
import pytest

from support import fake_picamera2
import storewatch.camera.service as service
from support.fake_picamera2 import hide_picamera2
from storewatch.ops import camera_state
from storewatch.camera.modes import DEFAULT_CONFIG
from storewatch.camera.sources.base import CameraError, FrameSource
from storewatch.camera.uploader import Backoff
from storewatch.ops.services import LOCAL_CAMERA_ID, BuiltinCamera
from support import REPO
from support.frames import capture_ts, make_jpeg
from support.servers import LiveServer, free_port, prepare_data_dir
from support.waiting import wait_for


@pytest.fixture
def pi_model(tmp_path: Path) -> Path:
    model = tmp_path / "model"
    model.write_bytes(b"Raspberry Pi 4 Model B Rev 1.5\0")
    return model


def _camera(appliance, spec: str, **options) -> BuiltinCamera:
    # Nothing listens on this port: the client's first config fetch just fails, as offline.
    return BuiltinCamera(appliance, spec, f"http://127.0.0.1:{free_port()}",
                         backoff=Backoff(base_s=0.05, cap_s=0.2), **options)


def test_auto_on_a_pi_without_picamera2_is_a_failed_camera_retried_not_a_fake_shelf(
        appliance, pi_model, monkeypatch):
    monkeypatch.setitem(sys.modules, "picamera2", None)  # the import fails, as with the numpy mismatch
    camera = _camera(appliance, "auto", board_model_file=pi_model)
    camera.start()
    try:
        state = wait_for(lambda: (s := camera_state.report(appliance.data_dir))
                          and s["state"] == "failed" and s["attempt"] >= 3 and s, timeout=20)
    finally:
        camera.stop(5)
    assert state["error_kind"] == "CameraNotInstalledError"
    assert state["message"] == "picamera2 (the Pi camera library) is not installed"
    assert "sudo apt install python3-picamera2" in state["next_step"]
    assert state["summary"].startswith("not working: picamera2 (the Pi camera library) is not installed")
    assert appliance.rois.list(LOCAL_CAMERA_ID) == []  # no starter ROIs
    assert camera_state.report(appliance.data_dir)["state"] == "stopped"


def test_auto_off_a_pi_runs_the_simulated_shelf_with_starter_rois(appliance, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "picamera2", None)
    camera = _camera(appliance, "auto", board_model_file=tmp_path / "no-model")
    camera.start()
    try:
        state = wait_for(lambda: (s := camera_state.report(appliance.data_dir)) and s["state"] == "running" and s, timeout=20)
        assert state["source"] == "auto (simulated)" and state["summary"] == "capturing (auto (simulated))"
    finally:
        camera.stop(10)
    assert len(appliance.rois.list(LOCAL_CAMERA_ID)) == 3


def test_the_backoff_grows_and_the_state_is_written_only_when_it_changes(appliance, monkeypatch):
    monkeypatch.setitem(sys.modules, "picamera2", None)
    camera = _camera(appliance, "picamera2")
    writes: list[camera_state.CameraState] = []
    original = camera_state.write
    monkeypatch.setattr(camera_state, "write", lambda data_dir, state: (writes.append(state),
                                                                         original(data_dir, state)))
    camera.start()
    try:
        wait_for(lambda: sum(w.state == "failed" for w in writes) >= 4, timeout=20)
    finally:
        camera.stop(5)
    failed = [w for w in writes if w.state == "failed"]
    assert [w.attempt for w in failed[:4]] == [1, 2, 3, 4]
    assert [w.state for w in writes[:2]] == ["starting", "failed"] and writes[-1].state == "stopped"
    assert len(writes) == len(failed) + 2  # one write per change, none in between


def test_a_camera_part_that_crashes_is_reported_as_a_camera_error(appliance, monkeypatch):
    def broken(*args, **kwargs):
        raise KeyError("config")

    monkeypatch.setattr(service, "build_camera_client", broken)
    camera = _camera(appliance, "simulated")
    camera.start()
    try:
        state = wait_for(lambda: (s := camera_state.report(appliance.data_dir)) and s["state"] == "failed" and s, timeout=20)
    finally:
        camera.stop(5)
    assert state["error_kind"] == "CameraError" and "the camera part crashed: KeyError" in state["message"]


def _status(data_dir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "storewatch", "--data-dir", str(data_dir), *args],
                          capture_output=True, text=True, timeout=60, cwd=REPO)


@pytest.mark.slow  # storewatch run with a broken camera, through its retries
def test_a_broken_camera_leaves_the_server_serving_and_says_why_everywhere(data_dir, tmp_path, monkeypatch):
    """`storewatch run --camera picamera2` where picamera2 cannot load: the server stays up."""
    hide_picamera2(monkeypatch, tmp_path / "shadow")
    prepare_data_dir(data_dir)
    server = LiveServer(data_dir, free_port(), ["--camera", "picamera2"])
    server.start()
    try:
        state = wait_for(lambda: (s := camera_state.report(data_dir)) and s["state"] == "failed"
                          and s["attempt"] >= 2 and s, timeout=30)
        assert state["error_kind"] == "CameraNotInstalledError"
        device_id, token = server.add_device("Aisle 2")
        meta = {"device_id": device_id, "capture_ts": capture_ts(), "seq": 1, "width": 64,
                "height": 48, "jpeg_quality": 85}
        answer = httpx.post(f"{server.url}/api/v1/ingest/frame", headers={"Authorization": f"Bearer {token}"},
                            files={"meta": (None, json.dumps(meta), "application/json"),
                                   "image": ("f.jpg", make_jpeg(64, 48), "image/jpeg")}, timeout=10)
        assert answer.status_code == 201, answer.text  # another camera's ingest goes on
        with server.admin_client() as admin:
            shown = admin.get(f"/api/v1/admin/devices/{LOCAL_CAMERA_ID}").json()["camera"]
            listed = {d["id"]: d for d in admin.get("/api/v1/admin/devices").json()["devices"]}
        assert shown["state"] == "failed"
        assert shown["summary"].startswith("not working: picamera2 (the Pi camera library) is not installed")
        assert listed[LOCAL_CAMERA_ID]["camera"]["error_kind"] == "CameraNotInstalledError"
        assert "camera" not in listed[device_id]

        status = _status(data_dir, "status", "--json")
        problems = {p["name"]: p for p in json.loads(status.stdout)["problems"]}
        assert problems["built-in camera"]["status"] == "FAIL"
        assert "apt install python3-picamera2" in problems["built-in camera"]["next_step"]
        text = _status(data_dir, "status").stdout
        assert "Built-in camera: not working: picamera2 (the Pi camera library) is not installed" in text
        doctor = _status(data_dir, "doctor", "--camera", "none", "--url", server.url)
        assert doctor.returncode == 1
        line = next(x for x in doctor.stdout.splitlines() if "built-in camera" in x)
        assert line.startswith("FAIL") and "trying again" in line
        assert server.process.poll() is None
    finally:
        assert server.stop() == 0
    log = server.log()
    assert "camera failed (CameraNotInstalledError): picamera2 (the Pi camera library) is not installed" in log
    assert "Traceback" not in log
    assert camera_state.report(data_dir)["state"] == "stopped"


def test_a_capture_that_gets_stuck_is_closed_and_the_camera_comes_back_by_itself(appliance, monkeypatch):
    """The Pi camera stand-in with picamera2's job queue: a stall mid-run, then the cable is back."""
    module = types.ModuleType("picamera2")
    module.Picamera2 = fake_picamera2.FakePicamera2
    monkeypatch.setitem(sys.modules, "picamera2", module)
    fake = fake_picamera2.reset()
    quick = dataclasses.replace(DEFAULT_CONFIG, baseline_interval_s=0.1, width=320, height=240)
    camera = _camera(appliance, "picamera2", source_options={"warmup_s": 0, "capture_timeout_s": 0.3,
                                                             "config": quick})
    camera.start()
    try:
        wait_for(lambda: (s := camera_state.report(appliance.data_dir)) and s["state"] == "running", timeout=20)
        fake.stalled.set()
        state = wait_for(lambda: (s := camera_state.report(appliance.data_dir)) and s["state"] == "failed" and s, timeout=20)
        assert state["error_kind"] == "CaptureTimeoutError"
        assert "delivered no frame within 0.3 s" in state["message"]
        first = fake.instances[0]
        assert not first.is_open and first._job_list == []
        assert "stop" not in first.calls[:first.calls.index("close")][-3:]  # cancelled, then closed: no stop() first
        fake.stalled.clear()
        wait_for(lambda: (s := camera_state.report(appliance.data_dir)) and s["state"] == "running", timeout=20)
        assert len(fake.instances) >= 2 and fake.instances[-1].is_open
    finally:
        camera.stop(10)
        fake.stalled.clear()
    assert camera_state.report(appliance.data_dir)["state"] == "stopped"


def test_a_camera_call_that_never_returns_is_abandoned_and_reported(appliance, monkeypatch):
    release = threading.Event()

    class Wedged(FrameSource):
        name = "wedged"

        def open(self, width, height, jpeg_quality):
            pass

        def capture(self):
            release.wait(30)  # libcamera stuck in a call with no timeout of its own
            raise CameraError("released")

        def close(self):
            pass

    monkeypatch.setattr(service, "make_source", lambda spec, **options: Wedged())
    camera = _camera(appliance, "simulated", stall_limit_s=0.5)
    camera.start()
    try:
        state = wait_for(lambda: (s := camera_state.report(appliance.data_dir)) and s["state"] == "failed" and s, timeout=20)
        assert state["error_kind"] == "CaptureTimeoutError" and "stopped responding" in state["message"]
        assert camera._thread.is_alive()  # the supervisor goes on: the next attempt follows the backoff
    finally:
        release.set()
        camera.stop(5)
