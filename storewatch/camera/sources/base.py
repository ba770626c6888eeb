"""The frame source interface and its errors.

A source produces JPEG frames at a requested size and quality. The implementations live
beside this module (`pi_camera`, `simulated`, `directory`); the package picks one by name.
"""

from __future__ import annotations

import abc
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

import numpy as np

from storewatch.contract import CONFIG_FIELD

log = logging.getLogger("storewatch.camera")

# What a source opens at unless told: the device config's defaults.
DEFAULT_WIDTH, DEFAULT_HEIGHT, DEFAULT_QUALITY = (CONFIG_FIELD[name].default
                                                  for name in ("width", "height", "jpeg_quality"))

Clock = Callable[[], datetime]


class CameraError(RuntimeError):
    """A frame source cannot deliver frames; the message says why, for a person."""

    next_step = "Look for the camera's own messages in the log: `journalctl -u storewatch -n 100`."


class CameraNotInstalledError(CameraError):
    """The picamera2 library is not importable (apt install python3-picamera2)."""

    next_step = ("Install it with `sudo apt install python3-picamera2`; the venv must see the system's "
                 "packages (`scripts/install-pi` sets both up).")


class NoCameraError(CameraError):
    """No camera is attached or detected."""

    next_step = ("Power off, reseat the camera's ribbon cable (contacts the right way round), power on, "
                 "then check with `rpicam-hello --list-cameras`.")


class CameraBusyError(CameraError):
    """Another process holds the camera."""

    next_step = ("Another program holds the camera: stop it (`sudo systemctl stop storewatch-camera` "
                 "if this Pi runs both services).")


class CaptureTimeoutError(CameraError):
    """A capture did not finish in time; the camera is treated as broken."""

    next_step = ("The camera stopped sending pictures: check its ribbon cable and the power supply; "
                 "`journalctl -u storewatch` shows libcamera's errors.")


class SourceExhaustedError(CameraError):
    """A replayed folder has no more frames and was not asked to loop."""


@dataclass(frozen=True)
class CapturedFrame:
    jpeg: bytes
    width: int
    height: int
    captured_at: datetime
    lores_gray: np.ndarray | None = None  # small 2-D uint8 luminance, for motion checks


class FrameSource(abc.ABC):
    """What the capture loop needs from a camera.

    `open` once, then `capture` as often as wanted (it may block for one exposure, never
    for long), `reconfigure` between captures to change size or quality, `close` at the
    end. Errors are `CameraError` subclasses.
    """

    name: str = "source"

    @abc.abstractmethod
    def open(self, width: int, height: int, jpeg_quality: int) -> None: ...

    @abc.abstractmethod
    def capture(self) -> CapturedFrame: ...

    def capture_lores(self) -> np.ndarray | None:
        """Only the small grey image, for motion checks between uploads; override if cheaper."""
        return self.capture().lores_gray

    def reconfigure(self, width: int, height: int, jpeg_quality: int) -> None:
        """Change size and quality; the default closes and opens again."""
        self.close()
        self.open(width, height, jpeg_quality)

    @abc.abstractmethod
    def close(self) -> None: ...
