"""The Raspberry Pi camera through Picamera2 (imported lazily: absent on a laptop).

One still configuration with two streams: `main` at the requested size, encoded to
JPEG in memory by Picamera2 at `options["quality"]`, and a small YUV420 `lores` stream
whose Y plane is the motion check's grey image. Both come from the same request, so
they show the same instant. Every capture runs on a worker thread with a timeout: a
wedged camera must not hang the capture loop forever.
"""

from __future__ import annotations

import concurrent.futures
import importlib
import io
import logging
import time
from typing import Any

import numpy as np

from storewatch.camera.source import (
    CameraBusyError,
    CameraError,
    CameraNotInstalledError,
    CapturedFrame,
    CaptureTimeoutError,
    FrameSource,
    NoCameraError,
)
from storewatch.contract import utc_now

log = logging.getLogger("storewatch.camera")

LORES_SIZE = (320, 240)
# A dark shop makes auto-exposure stretch frames; capping the frame duration keeps a
# capture under a fifth of a second however dark it gets (the image is darker instead).
FRAME_DURATION_LIMITS_US = (33_333, 200_000)
_BUSY_HINTS = ("busy", "acquire", "-16", "in use by another process")


def _import_picamera2() -> Any:
    try:
        return importlib.import_module("picamera2").Picamera2
    except ImportError as exc:
        raise CameraNotInstalledError(
            "picamera2 is not installed; on Raspberry Pi OS: sudo apt install python3-picamera2 "
            "and create the venv with --system-site-packages") from exc


def detect_camera() -> tuple[bool, str]:
    """Whether a Pi camera is usable here, and a few words on why (for the log)."""
    try:
        picamera2 = _import_picamera2()
        cameras = picamera2.global_camera_info()
    except CameraNotInstalledError:
        return False, "picamera2 not installed"
    except Exception as exc:  # libcamera can fail in many ways; any failure means "no"
        return False, f"camera probe failed: {exc}"
    if not cameras:
        return False, "picamera2 found no camera"
    return True, f"{cameras[0].get('Model', 'camera')} detected"


class Picamera2Source(FrameSource):
    name = "picamera2"

    def __init__(self, camera_num: int = 0, capture_timeout_s: float = 5.0,
                 warmup_s: float = 1.0, lock_exposure: bool = False,
                 frame_duration_limits_us: tuple[int, int] = FRAME_DURATION_LIMITS_US) -> None:
        self.camera_num = camera_num
        self.capture_timeout_s = capture_timeout_s
        self.warmup_s = warmup_s
        self.lock_exposure = lock_exposure
        self.frame_duration_limits_us = frame_duration_limits_us
        self._camera: Any = None
        self._worker: concurrent.futures.ThreadPoolExecutor | None = None
        self._broken: str | None = None
        self.size = (0, 0)

    def open(self, width: int, height: int, jpeg_quality: int) -> None:
        picamera2 = _import_picamera2()
        try:
            cameras = picamera2.global_camera_info()
        except Exception as exc:
            raise NoCameraError(f"camera probe failed: {exc}") from exc
        if len(cameras) <= self.camera_num:
            raise NoCameraError("no camera detected: check the ribbon cable and that the camera "
                                "is enabled (libcamera-hello --list-cameras)")
        try:
            self._camera = picamera2(self.camera_num)
        except Exception as exc:
            if _looks_busy(exc):
                raise CameraBusyError("the camera is in use by another process "
                                      "(stop it, or the other storewatch service)") from exc
            raise CameraError(f"could not open the camera: {exc}") from exc
        self._worker = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="picamera2")
        self._broken = None
        try:
            self._start(width, height, jpeg_quality)
        except CameraError:
            self.close()
            raise
        if self.warmup_s > 0:
            time.sleep(self.warmup_s)
        if self.lock_exposure:
            self._lock_exposure()

    def _start(self, width: int, height: int, jpeg_quality: int) -> None:
        lores = (min(LORES_SIZE[0], width) // 2 * 2, min(LORES_SIZE[1], height) // 2 * 2)
        config = self._camera.create_still_configuration(
            main={"size": (width, height)},
            lores={"size": lores, "format": "YUV420"},
            buffer_count=2,
            controls={"FrameDurationLimits": self.frame_duration_limits_us})
        try:
            self._camera.configure(config)
            self._camera.options["quality"] = int(jpeg_quality)
            self._camera.start()
        except Exception as exc:
            raise CameraError(f"could not start the camera at {width}x{height}: {exc}") from exc
        self.size = (width, height)

    def _lock_exposure(self) -> None:
        """Freeze exposure and white balance at their warmed-up values.

        A hand or a dark jacket entering the view then changes only the pixels it covers,
        instead of the whole frame brightening or shifting colour.
        """
        metadata = self._run(self._camera.capture_metadata)
        controls = {"AeEnable": False, "AwbEnable": False}
        for key in ("ExposureTime", "AnalogueGain", "ColourGains"):
            if key in metadata:
                controls[key] = metadata[key]
        self._camera.set_controls(controls)

    def capture(self) -> CapturedFrame:
        if self._camera is None:
            raise CameraError("the camera is not open")
        if self._broken:
            raise CameraError(self._broken)
        jpeg, lores = self._run(self._capture_once)
        return CapturedFrame(jpeg, self.size[0], self.size[1], utc_now(), lores)

    def capture_lores(self) -> np.ndarray:
        if self._camera is None:
            raise CameraError("the camera is not open")
        if self._broken:
            raise CameraError(self._broken)
        return self._run(self._lores_once)

    def _lores_once(self) -> np.ndarray:
        request = self._camera.capture_request()
        try:
            yuv = request.make_array("lores")
        finally:
            request.release()
        return _y_plane(yuv)

    def _capture_once(self) -> tuple[bytes, np.ndarray]:
        request = self._camera.capture_request()
        try:
            buffer = io.BytesIO()
            request.save("main", buffer, format="jpeg")
            yuv = request.make_array("lores")
        finally:
            request.release()
        return buffer.getvalue(), _y_plane(yuv)

    def _run(self, function: Any) -> Any:
        assert self._worker is not None
        future = self._worker.submit(function)
        try:
            return future.result(timeout=self.capture_timeout_s)
        except concurrent.futures.TimeoutError:
            self._broken = f"capture did not finish within {self.capture_timeout_s:g} s"
            raise CaptureTimeoutError(self._broken) from None
        except CameraError:
            raise
        except Exception as exc:
            raise CameraError(f"capture failed: {exc}") from exc

    def reconfigure(self, width: int, height: int, jpeg_quality: int) -> None:
        if self._camera is None:
            return self.open(width, height, jpeg_quality)
        if (width, height) == self.size:
            self._camera.options["quality"] = int(jpeg_quality)
            return None
        try:
            self._camera.stop()
        except Exception as exc:
            raise CameraError(f"could not stop the camera to reconfigure: {exc}") from exc
        self._start(width, height, jpeg_quality)
        return None

    def close(self) -> None:
        camera, self._camera = self._camera, None
        if camera is not None:
            for step in (camera.stop, camera.close):
                try:
                    step()
                except Exception as exc:  # closing is best effort
                    log.debug("picamera2 %s failed: %s", step.__name__, exc)
        if self._worker is not None:
            self._worker.shutdown(wait=False, cancel_futures=True)
            self._worker = None


def _y_plane(yuv: np.ndarray) -> np.ndarray:
    """The luminance of a YUV420 array, whose planes are stacked: Y, then U and V."""
    return np.ascontiguousarray(yuv[: yuv.shape[0] * 2 // 3], dtype=np.uint8)


def _looks_busy(exc: BaseException) -> bool:
    """Picamera2 wraps a busy camera in a generic RuntimeError; the cause says EBUSY."""
    seen: BaseException | None = exc
    while seen is not None:
        if any(hint in str(seen).lower() for hint in _BUSY_HINTS):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
