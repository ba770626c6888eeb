"""The Raspberry Pi camera through Picamera2 (imported lazily: absent on a laptop).

One still configuration. A Pi camera gives two streams: `main` at the requested size,
encoded to JPEG in memory by Picamera2 at `options["quality"]`, and a small YUV420 `lores`
stream whose Y plane is the motion check's grey image; both come from the same request,
so they show the same instant. A USB webcam (libcamera's UVC pipeline) gives one stream:
the grey image is then cut down from `main`.

Every capture goes through Picamera2's own job queue with its own timeout
(`capture_request(wait=seconds)` raises TimeoutError). Picamera2 runs its jobs strictly in
order, so after a timeout the stuck job is cancelled (`cancel_all_and_flush`) and the
camera closed without `stop()` first (which would queue behind the stuck job forever);
`close()` runs on a daemon thread with a bounded wait, so the process can always exit.
"""

from __future__ import annotations

import importlib
import io
import logging
import threading
import time
from typing import Any, Callable

import numpy as np

from storewatch.camera.sources.base import (
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
# libcamera's AeFlickerMode: FlickerOff 0, FlickerManual 1, FlickerAuto 2. Lights on 50 Hz
# mains flicker at 100 Hz (a 10 ms period), on 60 Hz at 120 Hz (8.333 ms).
AE_FLICKER_MANUAL = 1
FLICKER_PERIOD_US = {50: 10_000, 60: 8_333}
_BUSY_HINTS = ("busy", "acquire", "-16", "in use by another process")


def _import_picamera2() -> Any:
    try:
        return importlib.import_module("picamera2").Picamera2
    except ImportError as exc:
        raise CameraNotInstalledError("picamera2 (the Pi camera library) is not installed") from exc
    except Exception as exc:  # e.g. "numpy.dtype size changed" from a simplejpeg built for another numpy
        raise CameraNotInstalledError(f"picamera2 is installed but does not load: {exc}") from exc


def detect_camera() -> tuple[bool, str]:
    """Whether a Pi camera is usable here, and a few words on why (for the log)."""
    try:
        picamera2 = _import_picamera2()
        cameras = picamera2.global_camera_info()
    except CameraNotInstalledError as exc:
        return False, "picamera2 not installed" if isinstance(exc.__cause__, ImportError) else str(exc)
    except Exception as exc:  # libcamera can fail in many ways; any failure means "no"
        return False, f"camera probe failed: {exc}"
    if not cameras:
        return False, "picamera2 found no camera"
    return True, f"{cameras[0].get('Model', 'camera')} detected"


class Picamera2Source(FrameSource):
    name = "picamera2"

    def __init__(self, camera_num: int = 0, capture_timeout_s: float = 5.0, warmup_s: float = 1.0,
                 lock_exposure: bool = False, lock_white_balance: bool = False, mains_hz: int | None = None,
                 frame_duration_limits_us: tuple[int, int] = FRAME_DURATION_LIMITS_US,
                 close_timeout_s: float = 5.0) -> None:
        if mains_hz not in (None, *FLICKER_PERIOD_US):
            raise ValueError(f"mains frequency must be 50 or 60 Hz, not {mains_hz}")
        self.camera_num = camera_num
        self.capture_timeout_s, self.close_timeout_s = capture_timeout_s, close_timeout_s
        self.warmup_s = warmup_s
        self.lock_exposure, self.lock_white_balance = lock_exposure, lock_white_balance
        self.mains_hz = mains_hz
        self.frame_duration_limits_us = frame_duration_limits_us
        self._camera: Any = None
        self._broken: str | None = None
        self._locked: dict[str, Any] = {}  # frozen exposure/white balance, kept over reconfigures
        self._requested = (0, 0)
        self.size = (0, 0)
        self.single_stream = False

    # --- opening and configuring ---------------------------------------------------------------

    def open(self, width: int, height: int, jpeg_quality: int) -> None:
        picamera2 = _import_picamera2()
        try:
            cameras = picamera2.global_camera_info()
        except Exception as exc:
            raise NoCameraError(f"camera probe failed: {exc}") from exc
        if len(cameras) <= self.camera_num:
            raise NoCameraError("no camera detected: check the ribbon cable and that the camera "
                                "is enabled (rpicam-hello --list-cameras)")
        try:
            self._camera = picamera2(self.camera_num)
        except Exception as exc:
            if _looks_busy(exc):
                raise CameraBusyError("the camera is in use by another process "
                                      "(stop it, or the other storewatch service)") from exc
            raise CameraError(f"could not open the camera: {exc}") from exc
        self._broken, self._locked = None, {}
        try:
            self._start(width, height, jpeg_quality)
            if self.warmup_s > 0:
                time.sleep(self.warmup_s)
            if self.lock_exposure or self.lock_white_balance:
                self._lock()
        except CameraError:
            self.close()
            raise

    def _start(self, width: int, height: int, jpeg_quality: int) -> None:
        camera = self._camera
        # picamera2's own test for a Pi camera (vs a USB webcam, which gives one stream only).
        self.single_stream = "ColorFilterArrangement" not in camera.camera_properties
        lores = None if self.single_stream else {
            "size": (min(LORES_SIZE[0], width) // 2 * 2, min(LORES_SIZE[1], height) // 2 * 2), "format": "YUV420"}
        try:
            config = camera.create_still_configuration(main={"size": (width, height)}, lores=lores,
                                                       buffer_count=2, controls=self._controls())
            camera.configure(config)
            # picamera2 and libcamera align sizes: the frame is what was configured, not what was asked.
            self.size = tuple(camera.camera_configuration()["main"]["size"])
            camera.options["quality"] = int(jpeg_quality)
            camera.start()
        except Exception as exc:
            raise CameraError(f"could not start the camera at {width}x{height}: {exc}") from exc
        self._requested = (width, height)
        if self.size != (width, height):
            log.info("the camera gives %dx%d for the %dx%d asked", *self.size, width, height)

    def _controls(self) -> dict[str, Any]:
        """The controls every configuration starts with: only those this camera advertises."""
        wanted: dict[str, Any] = {"FrameDurationLimits": self.frame_duration_limits_us}
        if self.mains_hz:
            wanted |= {"AeFlickerMode": AE_FLICKER_MANUAL, "AeFlickerPeriod": FLICKER_PERIOD_US[self.mains_hz]}
        wanted |= self._locked
        advertised = self._camera.camera_controls
        return {key: value for key, value in wanted.items() if key in advertised}

    def _lock(self) -> None:
        """Freeze exposure and/or white balance at their warmed-up values.

        A hand or a dark jacket entering the view then changes only the pixels it covers,
        instead of the whole frame brightening or shifting colour.
        """
        metadata = self._job(self._camera.capture_metadata)
        advertised = self._camera.camera_controls
        locked: dict[str, Any] = {}
        if self.lock_exposure:
            exposure, gain = metadata.get("ExposureTime"), metadata.get("AnalogueGain")
            if exposure and gain and self.mains_hz:
                exposure, gain = _flicker_safe(exposure, gain, FLICKER_PERIOD_US[self.mains_hz],
                                               advertised.get("AnalogueGain"))
            locked |= {"AeEnable": False, "ExposureTime": exposure, "AnalogueGain": gain}
        if self.lock_white_balance:  # a mono sensor has no white balance to lock
            locked |= {"AwbEnable": False, "ColourGains": metadata.get("ColourGains")}
        self._locked = {k: v for k, v in locked.items() if v is not None and k in advertised}
        if self._locked:
            self._camera.set_controls(self._locked)
            log.info("camera locked: %s", ", ".join(f"{k}={v}" for k, v in self._locked.items()))

    def reconfigure(self, width: int, height: int, jpeg_quality: int) -> None:
        if self._camera is None and self._broken is None:
            return self.open(width, height, jpeg_quality)
        self._check_usable()
        if (width, height) == self._requested:
            self._camera.options["quality"] = int(jpeg_quality)
            return None
        try:
            self._camera.stop()  # nothing is queued between captures, so this does not wait
        except Exception as exc:
            raise CameraError(f"could not stop the camera to reconfigure: {exc}") from exc
        self._start(width, height, jpeg_quality)  # the locks and flicker period come back with it
        return None

    # --- capturing ----------------------------------------------------------------------------

    def capture(self) -> CapturedFrame:
        self._check_usable()
        request = self._job(self._camera.capture_request)
        try:
            buffer = io.BytesIO()
            request.save("main", buffer, format="jpeg")
            grey = self._grey(request)
        except Exception as exc:
            raise CameraError(f"capture failed: {exc}") from exc
        finally:
            request.release()
        return CapturedFrame(buffer.getvalue(), self.size[0], self.size[1], utc_now(), grey)

    def capture_lores(self) -> np.ndarray:
        self._check_usable()
        request = self._job(self._camera.capture_request)
        try:
            return self._grey(request)
        except Exception as exc:
            raise CameraError(f"capture failed: {exc}") from exc
        finally:
            request.release()

    def _grey(self, request: Any) -> np.ndarray:
        if self.single_stream:
            return _small_grey(request.make_array("main"))
        return _y_plane(request.make_array("lores"))

    def _job(self, start: Callable[..., Any]) -> Any:
        """One Picamera2 job, waited for with Picamera2's own timeout."""
        try:
            return start(wait=self.capture_timeout_s)
        except TimeoutError:
            self._give_up(f"the camera delivered no frame within {self.capture_timeout_s:g} s")
            raise CaptureTimeoutError(self._broken) from None
        except Exception as exc:
            raise CameraError(f"capture failed: {exc}") from exc

    def _check_usable(self) -> None:
        if self._broken:
            raise CameraError(self._broken)
        if self._camera is None:
            raise CameraError("the camera is not open")

    def _give_up(self, reason: str) -> None:
        """After a timeout: cancel the stuck job, then close (its stop() no longer waits behind it)."""
        self._broken = reason
        camera, self._camera = self._camera, None
        try:
            camera.cancel_all_and_flush()
        except Exception as exc:
            log.warning("picamera2 cancel_all_and_flush failed: %s", exc)
        self._close_bounded(camera)

    # --- closing --------------------------------------------------------------------------------

    def close(self) -> None:
        camera, self._camera = self._camera, None
        if camera is not None:
            self._close_bounded(camera)

    def _close_bounded(self, camera: Any) -> None:
        """Picamera2's close(), given a bounded time: a wedged libcamera must not hold the process."""
        done = threading.Event()

        def close() -> None:
            try:
                camera.close()
            except Exception as exc:  # closing is best effort
                log.warning("picamera2 close failed: %s", exc)
            finally:
                done.set()

        threading.Thread(target=close, name="picamera2-close", daemon=True).start()
        if not done.wait(self.close_timeout_s):
            log.error("the camera did not close within %g s; going on without it", self.close_timeout_s)


def _flicker_safe(exposure_us: float, gain: float, period_us: int,
                  gain_limits: tuple | None) -> tuple[int, float]:
    """A whole number of flicker periods for the exposure, the gain making up the difference."""
    if exposure_us < period_us:
        return int(exposure_us), float(gain)
    rounded = round(exposure_us / period_us) * period_us
    new_gain = gain * exposure_us / rounded
    if gain_limits and gain_limits[0] is not None and gain_limits[1] is not None:
        new_gain = min(max(new_gain, float(gain_limits[0])), float(gain_limits[1]))
    return int(rounded), float(new_gain)


def _y_plane(yuv: np.ndarray) -> np.ndarray:
    """The luminance of a YUV420 array, whose planes are stacked: Y, then U and V."""
    return np.ascontiguousarray(yuv[: yuv.shape[0] * 2 // 3], dtype=np.uint8)


def _small_grey(image: np.ndarray) -> np.ndarray:
    """A grey image of at most LORES_SIZE from a full-size main-stream array."""
    height, width = image.shape[:2]
    step = max(1, -(-width // LORES_SIZE[0]), -(-height // LORES_SIZE[1]))
    small = image[::step, ::step]
    if small.ndim == 3:
        small = small[..., :3].mean(axis=2)
    return np.ascontiguousarray(small, dtype=np.uint8)


def _looks_busy(exc: BaseException) -> bool:
    """Picamera2 wraps a busy camera in a generic RuntimeError; the cause says EBUSY."""
    seen: BaseException | None = exc
    while seen is not None:
        if any(hint in str(seen).lower() for hint in _BUSY_HINTS):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
