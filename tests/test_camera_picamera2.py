"""The Pi camera source against a stand-in with Picamera2's API and its job-queue semantics."""

from __future__ import annotations

import io
import subprocess
import sys
import textwrap
import threading
import time
import types
from concurrent.futures import CancelledError
from pathlib import Path

import pytest
from PIL import Image

from support import fake_picamera2
from support.fake_picamera2 import METADATA, USB_CAMERA, FakePicamera2
from storewatch.camera.sources import pi_camera
from storewatch.camera.sources.pi_camera import Picamera2Source, detect_camera
from storewatch.camera.sources.base import (
    CameraBusyError,
    CameraError,
    CameraNotInstalledError,
    CaptureTimeoutError,
    NoCameraError,
)

TESTS = Path(__file__).resolve().parent


@pytest.fixture
def fake_picamera2_module(monkeypatch):
    module = types.ModuleType("picamera2")
    module.Picamera2 = FakePicamera2
    monkeypatch.setitem(sys.modules, "picamera2", module)
    fake = fake_picamera2.reset()
    yield fake
    fake.stalled.clear()
    for camera in fake.instances:
        camera.cancel_all_and_flush()
        camera.close()


def _open(width: int = 1640, height: int = 1232, **options) -> Picamera2Source:
    source = Picamera2Source(warmup_s=0, **options)
    source.open(width, height, 77)
    return source


def _config_calls(camera: FakePicamera2) -> list:
    return [c for c in camera.calls if isinstance(c, tuple) and c[0] == "create_still_configuration"]


# --- the stand-in itself behaves like picamera2 ---------------------------------------------


def test_the_stand_in_runs_jobs_in_order_so_stop_waits_behind_a_stuck_capture(fake_picamera2_module):
    camera = FakePicamera2()
    camera.configure(camera.create_still_configuration(main={"size": (640, 480)}))
    camera.start()
    assert camera.capture_request(wait=2).frame >= 1
    fake_picamera2_module.stalled.set()
    with pytest.raises(TimeoutError):
        camera.capture_request(wait=0.1)  # picamera2's own timeout; the job stays queued
    outcome: list[str] = []

    def stop() -> None:
        try:
            camera.stop()
            outcome.append("stopped")
        except CancelledError:
            outcome.append("cancelled")

    stopper = threading.Thread(target=stop, daemon=True)
    stopper.start()
    stopper.join(0.5)
    assert stopper.is_alive()  # the real stop() queues behind the stuck job
    camera.cancel_all_and_flush()
    stopper.join(2)
    assert outcome == ["cancelled"]
    waiting = camera.capture_request(wait=False)
    camera.cancel_all_and_flush()
    with pytest.raises(CancelledError):
        waiting.get_result(timeout=1)
    camera.close()  # stops the event loop first, then the camera directly
    assert not camera.is_open


# --- opening ----------------------------------------------------------------------------------


def test_missing_picamera2_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "picamera2", None)
    with pytest.raises(CameraNotInstalledError, match="picamera2 .* is not installed") as raised:
        Picamera2Source().open(640, 480, 80)
    assert "sudo apt install python3-picamera2" in raised.value.next_step
    assert detect_camera() == (False, "picamera2 not installed")


def test_no_camera_detected(fake_picamera2_module):
    fake_picamera2_module.cameras = []
    with pytest.raises(NoCameraError, match="no camera detected"):
        _open()
    assert detect_camera() == (False, "picamera2 found no camera")


def test_camera_held_by_another_process_is_reported_as_busy(fake_picamera2_module):
    fake_picamera2_module.busy = True
    with pytest.raises(CameraBusyError, match="in use by another process"):
        _open()


def test_detect_names_the_model(fake_picamera2_module):
    assert detect_camera() == (True, "imx708 detected")


def test_open_configures_still_main_with_a_yuv_lores_and_capped_frame_duration(fake_picamera2_module):
    source = _open()
    camera = fake_picamera2_module.instances[0]
    assert camera.calls[:4] == [
        ("init", 0),
        ("create_still_configuration", {"size": (1640, 1232)}, {"size": (320, 240), "format": "YUV420"}, 2,
         {"FrameDurationLimits": pi_camera.FRAME_DURATION_LIMITS_US}),
        "configure", "start"]
    assert camera.options["quality"] == 77
    assert pi_camera.FRAME_DURATION_LIMITS_US[1] <= 250_000
    source.close()


def test_capture_saves_jpeg_and_the_lores_y_plane_from_one_request(fake_picamera2_module):
    source = _open()
    camera = fake_picamera2_module.instances[0]
    del camera.calls[:]
    frame = source.capture()
    assert camera.calls == [("capture_request", 5.0), ("save", "main", "jpeg", 77), ("make_array", "lores")]
    with Image.open(io.BytesIO(frame.jpeg)) as image:
        assert image.format == "JPEG" and image.size == (1640, 1232) == (frame.width, frame.height)
    assert frame.lores_gray.shape == (240, 320) and (frame.lores_gray == 77).all()
    assert frame.captured_at.tzinfo is not None
    source.close()


# --- A6: what the camera really gives -----------------------------------------------------------


def test_the_frame_size_is_read_back_after_picamera2_and_libcamera_align_it(fake_picamera2_module):
    fake_picamera2_module.align = 32  # the ISP wants widths in multiples of 32
    source = _open(1651, 1239)
    frame = source.capture()
    with Image.open(io.BytesIO(frame.jpeg)) as image:
        assert image.size == (frame.width, frame.height) == (1632, 1238)
    source.reconfigure(1651, 1239, 60)  # the same request: no restart for a size it already has
    assert _config_calls(fake_picamera2_module.instances[0]).__len__() == 1
    source.close()


def test_a_usb_webcam_gets_one_stream_and_its_grey_image_comes_from_main(fake_picamera2_module):
    fake_picamera2_module.cameras = [USB_CAMERA]
    source = _open(640, 480, lock_exposure=True, lock_white_balance=True, mains_hz=50)
    camera = fake_picamera2_module.instances[0]
    (_, main, lores, _, controls), = _config_calls(camera)
    assert lores is None and main == {"size": (640, 480)}
    assert set(controls) <= set(camera.camera_controls)  # no FrameDurationLimits, no flicker controls
    frame = source.capture()
    assert (frame.width, frame.height) == (640, 480)
    assert frame.lores_gray.ndim == 2 and frame.lores_gray.shape[1] <= 320 and (frame.lores_gray == 77).all()
    assert source.capture_lores().shape == frame.lores_gray.shape
    source.close()


def test_a_mono_sensor_locks_exposure_without_white_balance(fake_picamera2_module):
    fake_picamera2_module.cameras = [{"Model": "ov9281_mono", "Id": "/base/soc/i2c0mux/i2c@1/ov9281@60"}]
    _open(lock_exposure=True, lock_white_balance=True)
    camera = fake_picamera2_module.instances[0]
    assert camera.calls[-1] == ("set_controls", {"AeEnable": False, "ExposureTime": 12345, "AnalogueGain": 2.5})


def test_lock_exposure_and_white_balance_freeze_the_warmed_up_values(fake_picamera2_module):
    _open(lock_exposure=True, lock_white_balance=True)
    camera = fake_picamera2_module.instances[0]
    assert camera.calls[-2:] == [("capture_metadata", 5.0), ("set_controls", {
        "AeEnable": False, "ExposureTime": 12345, "AnalogueGain": 2.5,
        "AwbEnable": False, "ColourGains": (1.8, 1.4)})]


def test_white_balance_alone_leaves_auto_exposure_on(fake_picamera2_module):
    _open(lock_white_balance=True)
    camera = fake_picamera2_module.instances[0]
    assert camera.calls[-1] == ("set_controls", {"AwbEnable": False, "ColourGains": (1.8, 1.4)})


@pytest.mark.parametrize("mains_hz, period_us", [(50, 10_000), (60, 8_333)])
def test_the_mains_flicker_period_goes_to_auto_exposure(fake_picamera2_module, mains_hz, period_us):
    _open(mains_hz=mains_hz)
    (_, _, _, _, controls), = _config_calls(fake_picamera2_module.instances[0])
    assert controls["AeFlickerMode"] == pi_camera.AE_FLICKER_MANUAL
    assert controls["AeFlickerPeriod"] == period_us


def test_a_locked_exposure_is_a_whole_number_of_flicker_periods(fake_picamera2_module):
    _open(lock_exposure=True, mains_hz=50)
    locked = fake_picamera2_module.instances[0].calls[-1][1]
    assert locked["ExposureTime"] == 10_000  # 12345 us would beat with 100 Hz light
    assert locked["AnalogueGain"] == pytest.approx(METADATA["AnalogueGain"] * 12345 / 10_000)


def test_locks_and_flicker_are_reapplied_after_a_reconfigure(fake_picamera2_module):
    source = _open(lock_exposure=True, lock_white_balance=True, mains_hz=60)
    camera = fake_picamera2_module.instances[0]
    locked = camera.calls[-1][1]
    source.reconfigure(820, 616, 60)
    assert camera.calls[-4] == "stop" and camera.calls[-2:] == ["configure", "start"]
    _, main, _, _, controls = _config_calls(camera)[-1]
    assert main == {"size": (820, 616)}
    assert controls == {"FrameDurationLimits": pi_camera.FRAME_DURATION_LIMITS_US,
                        "AeFlickerMode": 1, "AeFlickerPeriod": 8_333, **locked}
    assert camera.controls == controls
    assert source.capture().width == 820
    source.close()


def test_reconfigure_changes_quality_in_place(fake_picamera2_module):
    source = _open()
    camera = fake_picamera2_module.instances[0]
    del camera.calls[:]
    source.reconfigure(1640, 1232, 60)
    assert camera.calls == [] and camera.options["quality"] == 60
    source.close()


def test_a_bad_mains_frequency_is_refused():
    with pytest.raises(ValueError, match="50 or 60"):
        Picamera2Source(mains_hz=55)


# --- A5: a stuck capture ---------------------------------------------------------------------------


def test_a_stuck_capture_times_out_cancels_its_job_and_closes_without_stop_first(fake_picamera2_module):
    source = _open(capture_timeout_s=0.3)
    camera = fake_picamera2_module.instances[0]
    source.capture()
    fake_picamera2_module.stalled.set()
    started = time.monotonic()
    with pytest.raises(CaptureTimeoutError, match="within 0.3 s"):
        source.capture()
    assert time.monotonic() - started < 2.0
    last = max(i for i, call in enumerate(camera.calls) if call == ("capture_request", 0.3))
    after = camera.calls[last:]
    assert after[:3] == [("capture_request", 0.3), "cancel_all_and_flush", "close"]  # no stop() before close()
    assert not camera.is_open and camera._job_list == []
    with pytest.raises(CameraError, match="within 0.3 s"):
        source.capture()
    source.close()


def test_a_process_whose_capture_is_stuck_still_exits(tmp_path):
    script = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(TESTS)!r})
        from support import fake_picamera2
        from storewatch.camera.sources.pi_camera import Picamera2Source
        from storewatch.camera.sources.base import CaptureTimeoutError
        fake = fake_picamera2.install()
        source = Picamera2Source(warmup_s=0, capture_timeout_s=0.5)
        source.open(640, 480, 80)
        source.capture()
        fake.stalled.set()
        try:
            source.capture()
        except CaptureTimeoutError as exc:
            print("timed out:", exc, flush=True)
        source.close()
        print("closed", flush=True)
    """)
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=20,
                          cwd=TESTS.parent)
    assert done.returncode == 0, done.stderr
    assert "timed out: the camera delivered no frame within 0.5 s" in done.stdout and "closed" in done.stdout
    assert time.monotonic() - started < 15


def test_capture_without_open_is_an_error(fake_picamera2_module):
    with pytest.raises(CameraError, match="not open"):
        Picamera2Source().capture()
