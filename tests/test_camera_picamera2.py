"""The Pi camera source against a stand-in module with Picamera2's API shape."""

from __future__ import annotations

import io
import sys
import threading
import types

import numpy as np
import pytest
from PIL import Image

from storewatch.camera import picamera2_source
from storewatch.camera.picamera2_source import Picamera2Source, detect_camera
from storewatch.camera.source import (
    CameraBusyError,
    CameraError,
    CameraNotInstalledError,
    CaptureTimeoutError,
    NoCameraError,
)


class FakeRequest:
    def __init__(self, camera: "FakePicamera2") -> None:
        self.camera = camera

    def save(self, name, file_output, format=None):
        self.camera.calls.append(("save", name, format, self.camera.options.get("quality")))
        width, height = self.camera.config["main"]["size"]
        Image.new("RGB", (width, height), (90, 120, 150)).save(
            file_output, format="JPEG", quality=self.camera.options.get("quality", 90))

    def make_array(self, name):
        self.camera.calls.append(("make_array", name))
        width, height = self.camera.config["lores"]["size"]
        yuv = np.full((height * 3 // 2, width), 128, np.uint8)
        yuv[:height] = 77  # the Y plane
        return yuv

    def release(self):
        self.camera.calls.append("release")


class FakePicamera2:
    cameras = [{"Model": "imx708", "Id": "/base/i2c@1/imx708@1a", "Num": 0}]
    busy = False
    hang: threading.Event | None = None
    instances: list["FakePicamera2"] = []

    @staticmethod
    def global_camera_info():
        return FakePicamera2.cameras

    def __init__(self, camera_num=0):
        if FakePicamera2.busy:
            try:
                raise RuntimeError("camera.acquire() returned unexpected code: -16")
            except RuntimeError:
                raise RuntimeError("Camera __init__ sequence did not complete.")
        self.calls: list = [("init", camera_num)]
        self.options: dict = {}
        self.config: dict = {}
        FakePicamera2.instances.append(self)

    def create_still_configuration(self, main=None, lores=None, buffer_count=1, controls=None):
        self.calls.append(("create_still_configuration", main, lores, buffer_count, controls))
        return {"main": dict(main), "lores": dict(lores), "controls": dict(controls)}

    def configure(self, config):
        self.calls.append("configure")
        self.config = config

    def start(self):
        self.calls.append("start")

    def stop(self):
        self.calls.append("stop")

    def close(self):
        self.calls.append("close")

    def capture_metadata(self):
        self.calls.append("capture_metadata")
        return {"ExposureTime": 12000, "AnalogueGain": 2.5, "ColourGains": (1.8, 1.4), "Lux": 80.0}

    def set_controls(self, controls):
        self.calls.append(("set_controls", controls))

    def capture_request(self):
        self.calls.append("capture_request")
        if FakePicamera2.hang is not None:
            FakePicamera2.hang.wait(5)
        return FakeRequest(self)


@pytest.fixture
def fake_picamera2(monkeypatch):
    module = types.ModuleType("picamera2")
    module.Picamera2 = FakePicamera2
    monkeypatch.setitem(sys.modules, "picamera2", module)
    FakePicamera2.cameras = [{"Model": "imx708", "Id": "/base/i2c@1/imx708@1a", "Num": 0}]
    FakePicamera2.busy, FakePicamera2.hang, FakePicamera2.instances = False, None, []
    yield FakePicamera2
    if FakePicamera2.hang is not None:
        FakePicamera2.hang.set()


def _open(**options) -> Picamera2Source:
    source = Picamera2Source(warmup_s=0, **options)
    source.open(1640, 1232, 77)
    return source


def test_missing_picamera2_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "picamera2", None)
    with pytest.raises(CameraNotInstalledError, match="apt install python3-picamera2"):
        Picamera2Source().open(640, 480, 80)
    assert detect_camera() == (False, "picamera2 not installed")


def test_no_camera_detected(fake_picamera2):
    fake_picamera2.cameras = []
    with pytest.raises(NoCameraError, match="no camera detected"):
        _open()
    assert detect_camera() == (False, "picamera2 found no camera")


def test_camera_held_by_another_process_is_reported_as_busy(fake_picamera2):
    fake_picamera2.busy = True
    with pytest.raises(CameraBusyError, match="in use by another process"):
        _open()


def test_detect_names_the_model(fake_picamera2):
    assert detect_camera() == (True, "imx708 detected")


def test_open_configures_still_main_with_a_yuv_lores_and_capped_frame_duration(fake_picamera2):
    source = _open()
    camera = fake_picamera2.instances[0]
    assert camera.calls[:4] == [
        ("init", 0),
        ("create_still_configuration", {"size": (1640, 1232)}, {"size": (320, 240), "format": "YUV420"}, 2,
         {"FrameDurationLimits": picamera2_source.FRAME_DURATION_LIMITS_US}),
        "configure", "start"]
    assert camera.options["quality"] == 77
    assert picamera2_source.FRAME_DURATION_LIMITS_US[1] <= 250_000
    source.close()


def test_capture_saves_jpeg_and_the_lores_y_plane_from_one_request(fake_picamera2):
    source = _open()
    camera = fake_picamera2.instances[0]
    del camera.calls[:]
    frame = source.capture()
    assert camera.calls == ["capture_request", ("save", "main", "jpeg", 77), ("make_array", "lores"), "release"]
    with Image.open(io.BytesIO(frame.jpeg)) as image:
        assert image.format == "JPEG" and image.size == (1640, 1232) == (frame.width, frame.height)
    assert frame.lores_gray.shape == (240, 320) and (frame.lores_gray == 77).all()
    assert frame.captured_at.tzinfo is not None


def test_lock_exposure_freezes_the_warmed_up_values(fake_picamera2):
    _open(lock_exposure=True)
    camera = fake_picamera2.instances[0]
    assert camera.calls[-2:] == ["capture_metadata", ("set_controls", {
        "AeEnable": False, "AwbEnable": False, "ExposureTime": 12000, "AnalogueGain": 2.5,
        "ColourGains": (1.8, 1.4)})]


def test_reconfigure_changes_quality_in_place_and_size_by_restarting(fake_picamera2):
    source = _open()
    camera = fake_picamera2.instances[0]
    del camera.calls[:]
    source.reconfigure(1640, 1232, 60)
    assert camera.calls == [] and camera.options["quality"] == 60
    source.reconfigure(820, 616, 60)
    assert camera.calls[0] == "stop" and camera.calls[-2:] == ["configure", "start"]
    assert source.capture().width == 820


def test_a_hung_capture_times_out_and_the_source_stays_broken(fake_picamera2):
    source = _open(capture_timeout_s=0.2)
    fake_picamera2.hang = threading.Event()
    with pytest.raises(CaptureTimeoutError, match="within 0.2 s"):
        source.capture()
    fake_picamera2.hang.set()
    with pytest.raises(CameraError, match="within 0.2 s"):
        source.capture()
    source.close()
    assert fake_picamera2.instances[0].calls[-2:] == ["stop", "close"]


def test_capture_without_open_is_an_error(fake_picamera2):
    with pytest.raises(CameraError, match="not open"):
        Picamera2Source().capture()
