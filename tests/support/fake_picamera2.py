"""A stand-in for the `picamera2` module with the real library's job-queue semantics.

Read from raspberrypi/picamera2 (picamera2.py, job.py, previews/null_preview.py):
- `start()` starts an event-loop thread (the NullPreview, a daemon) that turns each new
  frame into a completed request and then runs the queued jobs strictly in order: the
  first job that is not done yet (no frame for it) blocks every job behind it.
- `capture_request(wait=...)` / `capture_metadata(wait=...)` queue a job; `wait` may be a
  number of seconds, and then the wait ends in `TimeoutError` (the Future's own).
- `stop()` while the event loop runs is itself a job queued behind the others (wait=True):
  behind a stuck capture it never returns.
- `cancel_all_and_flush()` cancels every queued job (their waits raise CancelledError).
- `close()` stops the event loop first (NullPreview.stop joins its thread), then stops the
  camera directly, so it does not queue behind a stuck job.
- `create_still_configuration` aligns sizes to even numbers, `configure` lets "libcamera"
  adjust them (ALIGN) and `camera_configuration()` gives back what was really configured.
- A USB (UVC) webcam has no `ColorFilterArrangement` property and gives one stream only;
  a mono sensor advertises no `AwbEnable`/`ColourGains` controls.

Set `FakePicamera2.stalled` to stop frames arriving (a loose ribbon cable); the one frame
the real library holds back is dropped too, so the next capture surely waits.
"""

from __future__ import annotations

import os
import sys
import threading
import types
from concurrent.futures import CancelledError, Future
from pathlib import Path
from typing import Any, Callable

import numpy as np
from PIL import Image

PI_CAMERA = {"Model": "imx708", "Id": "/base/soc/i2c0mux/i2c@1/imx708@1a", "Num": 0}
USB_CAMERA = {"Model": "HD Pro Webcam C920", "Id": "/base/scb/pcie@7d500000/usb@0,0-1:1.0-046d:082d"}
RGB_CONTROLS = {"AeEnable": (False, True, True), "AwbEnable": (False, True, True),
                "ExposureTime": (14, 200000, None), "AnalogueGain": (1.0, 16.0, None),
                "ColourGains": (0.0, 32.0, None), "AeFlickerMode": (0, 1, 0),
                "AeFlickerPeriod": (100, 1000000, None), "FrameDurationLimits": (33333, 120000000, None)}
MONO_CONTROLS = {k: v for k, v in RGB_CONTROLS.items() if k not in ("AwbEnable", "ColourGains")}
UVC_CONTROLS = {"AeEnable": (False, True, True), "ExposureTime": (1, 10000, None)}
METADATA = {"ExposureTime": 12345, "AnalogueGain": 2.5, "ColourGains": (1.8, 1.4), "Lux": 80.0}


class Job:
    """picamera2.job.Job: a list of functions, each returning (done, result), run in order."""

    def __init__(self, functions: list[Callable[[], tuple[bool, Any]]]) -> None:
        self._functions = list(functions)
        self._future: Future = Future()
        self._future.set_running_or_notify_cancel()
        self._result: Any = None

    def execute(self) -> bool:
        try:
            while self._functions:
                done, result = self._functions[0]()
                if not done:
                    break
                self._functions.pop(0)
            if not self._functions:
                self._result = result
        except Exception as exc:
            self._future.set_exception(exc)
            self._functions = []
        return not self._functions

    def signal(self) -> None:
        if not self._future.done():
            self._future.set_result(self._result)

    def get_result(self, timeout: float | None = None) -> Any:
        return self._future.result(timeout=timeout)

    def cancel(self) -> None:
        self._future.set_exception(CancelledError())


class FakeRequest:
    def __init__(self, camera: "FakePicamera2", frame: int) -> None:
        self.camera, self.frame = camera, frame
        self.config = camera.camera_config
        self.released = False

    def save(self, name: str, file_output: Any, format: str | None = None) -> None:
        self.camera.calls.append(("save", name, format, self.camera.options.get("quality")))
        width, height = self.config[name]["size"]
        Image.new("RGB", (width, height), (90, 120, 150)).save(
            file_output, format="JPEG", quality=self.camera.options.get("quality", 90))

    def make_array(self, name: str) -> np.ndarray:
        self.camera.calls.append(("make_array", name))
        stream = self.config[name]
        if stream is None:
            raise RuntimeError(f"stream {name!r} is not configured")
        width, height = stream["size"]
        if stream["format"] == "YUV420":
            yuv = np.full((height * 3 // 2, width), 128, np.uint8)
            yuv[:height] = 77  # the Y plane
            return yuv
        return np.full((height, width, 3), 77, np.uint8)

    def release(self) -> None:
        self.released = True


class FakePicamera2:
    cameras: list[dict] = [PI_CAMERA]
    busy = False
    stalled = threading.Event()
    align = 2  # libcamera's adjustment of the main width (the real ISP may want more)
    frame_interval_s = 0.01
    instances: list["FakePicamera2"] = []

    @staticmethod
    def global_camera_info() -> list[dict]:
        return FakePicamera2.cameras

    def __init__(self, camera_num: int = 0) -> None:
        if FakePicamera2.busy:
            try:
                raise RuntimeError("camera.acquire() returned unexpected code: -16")
            except RuntimeError:
                raise RuntimeError("Camera __init__ sequence did not complete.")
        info = FakePicamera2.cameras[camera_num]
        self.usb = "usb@" in info["Id"]
        self.mono = info["Model"].endswith("_mono")
        self.camera_properties = {"Model": info["Model"]}
        if not self.usb:
            self.camera_properties["ColorFilterArrangement"] = 5 if self.mono else 0
        self.camera_controls = dict(UVC_CONTROLS if self.usb else MONO_CONTROLS if self.mono else RGB_CONTROLS)
        self.calls: list = [("init", camera_num)]
        self.options: dict = {}
        self.controls: dict = {}
        self.camera_config: dict | None = None
        self.lock = threading.Lock()
        self._job_list: list[Job] = []
        self.completed_requests: list[FakeRequest] = []
        self.started = False
        self.is_open = True
        self._preview: threading.Thread | None = None
        self._event_loop_running = False
        self._prod = threading.Event()
        self._frames = 0
        FakePicamera2.instances.append(self)

    # --- configuration ------------------------------------------------------------------

    @staticmethod
    def _even(stream: dict) -> dict:
        width, height = stream["size"]
        return {**stream, "size": (width - width % 2, height - height % 2)}

    def create_still_configuration(self, main={}, lores=None, raw={}, buffer_count=1, controls={},
                                   **_: Any) -> dict:
        self.calls.append(("create_still_configuration", main, lores, buffer_count, controls))
        main = self._even({"format": "BGR888", "size": (4608, 2592), **main})
        lores = None if lores is None else self._even({"format": "YUV420", "size": main["size"], **lores})
        return {"use_case": "still", "buffer_count": buffer_count, "main": main, "lores": lores,
                "raw": None if self.usb else raw, "controls": dict(controls)}

    def configure(self, config: dict) -> None:
        self.calls.append("configure")
        if self.started:
            raise RuntimeError("Camera must be stopped before configuring")
        if self.usb and config.get("lores") is not None:
            raise RuntimeError(f"Invalid camera configuration: {config}")  # UVC: one stream
        unknown = set(config["controls"]) - set(self.camera_controls)
        if unknown:
            raise RuntimeError(f"Control {sorted(unknown)[0]} is not advertised by the camera")
        width, height = config["main"]["size"]
        config = {**config, "main": {**config["main"], "size": (width - width % self.align, height)}}
        self.camera_config = config
        self.controls = dict(config["controls"])

    def camera_configuration(self) -> dict | None:
        return self.camera_config

    def set_controls(self, controls: dict) -> None:
        self.calls.append(("set_controls", dict(controls)))
        unknown = set(controls) - set(self.camera_controls)
        if unknown:
            raise RuntimeError(f"Control {sorted(unknown)[0]} is not advertised by the camera")
        self.controls.update(controls)

    # --- the event loop --------------------------------------------------------------------

    def start(self, config: dict | None = None, show_preview: bool = False) -> None:
        self.calls.append("start")
        if config is not None:
            self.configure(config)
        if self.camera_config is None:
            raise RuntimeError("Camera has not been configured")
        if not self._event_loop_running:
            self._event_loop_running = True
            self._preview = threading.Thread(target=self._event_loop, name="fake-null-preview", daemon=True)
            self._preview.start()
        self.started = True

    def _event_loop(self) -> None:
        while self._event_loop_running:
            self._prod.wait(self.frame_interval_s)
            self._prod.clear()
            self._process_requests()

    def _process_requests(self) -> None:
        finished = []
        with self.lock:
            if FakePicamera2.stalled.is_set():
                self.completed_requests.clear()  # and the frame held back is gone: the next capture waits
            elif self.started:
                self._frames += 1
                self.completed_requests.append(FakeRequest(self, self._frames))
            while self._job_list:
                if self._job_list[0].execute():
                    finished.append(self._job_list.pop(0))
                else:
                    break  # strictly in order: a job without its frame holds up the rest
            del self.completed_requests[:-1]
        for job in finished:
            job.signal()

    def dispatch_functions(self, functions: list, wait: Any, signal_function: Any = None,
                           immediate: bool = False) -> Any:
        if wait is None:
            wait = signal_function is None
        timeout = None if wait is True else wait
        with self.lock:
            only_job = not self._job_list
            job = Job(functions)
            self._job_list.append(job)
            if only_job and (self.completed_requests or immediate):
                self._prod.set()
        return job.get_result(timeout=timeout) if wait else job

    def wait(self, job: Job, timeout: float | None = None) -> Any:
        return job.get_result(timeout=timeout)

    def cancel_all_and_flush(self) -> None:
        self.calls.append("cancel_all_and_flush")
        with self.lock:
            for job in self._job_list:
                job.cancel()
            self._job_list = []

    # --- captures ---------------------------------------------------------------------------

    def _pop_request(self) -> tuple[bool, Any]:
        if not self.completed_requests:
            return False, None
        return True, self.completed_requests.pop(0)

    def _metadata_(self) -> tuple[bool, Any]:
        done, request = self._pop_request()
        if not done:
            return False, None
        request.release()
        return True, dict(METADATA)

    def capture_request(self, wait: Any = None, signal_function: Any = None, flush: Any = None) -> Any:
        self.calls.append(("capture_request", wait))
        return self.dispatch_functions([self._pop_request], wait, signal_function)

    def capture_metadata(self, wait: Any = None, signal_function: Any = None) -> Any:
        self.calls.append(("capture_metadata", wait))
        return self.dispatch_functions([self._metadata_], wait, signal_function)

    # --- stop and close ----------------------------------------------------------------------

    def stop_(self) -> tuple[bool, None]:
        if self.started:
            self.started = False
            self.completed_requests = []
        return True, None

    def stop(self) -> None:
        self.calls.append("stop")
        if not self.started:
            return
        if self._event_loop_running:  # the real stop() queues itself behind every job
            self.dispatch_functions([self.stop_], wait=True, immediate=True)
        else:
            self.stop_()

    def _stop_preview(self) -> None:
        self._event_loop_running = False
        self._prod.set()
        assert self._preview is not None
        self._preview.join()
        self._preview = None

    def close(self) -> None:
        self.calls.append("close")
        if self._preview is not None:
            self._stop_preview()
        if not self.is_open:
            return
        self.stop()  # the event loop is gone: this stops directly
        self.is_open = False


def reset() -> type[FakePicamera2]:
    FakePicamera2.cameras = [PI_CAMERA]
    FakePicamera2.busy = False
    FakePicamera2.stalled = threading.Event()
    FakePicamera2.align = 2
    FakePicamera2.instances = []
    return FakePicamera2


def install() -> type[FakePicamera2]:
    """Put the stand-in in sys.modules as `picamera2` (for a subprocess; tests use monkeypatch)."""
    module = types.ModuleType("picamera2")
    module.Picamera2 = FakePicamera2
    sys.modules["picamera2"] = module
    return reset()


def hide_picamera2(monkeypatch: Any, folder: Path) -> None:
    """Make `picamera2` fail to import in the processes a test starts (through PYTHONPATH), so
    a `storewatch run` under test misses the library even on a Pi that has the real one."""
    package = folder / "picamera2"
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text('raise ImportError("No module named \'picamera2\' (hidden by the test)")\n')
    paths = [str(folder), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(paths))
