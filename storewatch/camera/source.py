"""The frame source interface, its errors, and `open_source` which picks one by name.

A source produces JPEG frames at a requested size and quality. Three implementations:
the Pi camera (`picamera2_source`), a rendered shop shelf (`simulated`) and a folder of
JPEGs replayed in name order (`directory`).
"""

from __future__ import annotations

import abc
import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

import numpy as np

from storewatch.contract import CONFIG_FIELD

log = logging.getLogger("storewatch.camera")

# What a source opens at unless told: the device config's defaults.
DEFAULT_WIDTH, DEFAULT_HEIGHT, DEFAULT_QUALITY = (CONFIG_FIELD[name].default
                                                  for name in ("width", "height", "jpeg_quality"))
SOURCE_NAMES = ("auto", "picamera2", "simulated", "dir:PATH")

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


def open_source(spec: str, width: int = DEFAULT_WIDTH, height: int = DEFAULT_HEIGHT,
                jpeg_quality: int = DEFAULT_QUALITY, **options: Any) -> FrameSource:
    """Build and open the source named by `spec` (see SOURCE_NAMES).

    `options` go to the chosen source's constructor where it accepts them (seed, clock,
    loop, rate_hz, ...). `auto` takes the Pi camera when one is detected or when this is
    a Raspberry Pi, else the simulated shelf, and logs which and why.
    """
    source = make_source(spec, **options)
    source.open(width, height, jpeg_quality)
    return source


def make_source(spec: str, board_model_file: Path | None = None, **options: Any) -> FrameSource:
    """The source named by `spec`, not opened yet. `board_model_file`: where the board's
    device-tree model is read (for tests; default /proc/device-tree/model)."""
    from storewatch.camera import board, directory, picamera2_source, simulated

    if spec == "auto":
        found, why = picamera2_source.detect_camera()
        pi = board.raspberry_pi_model(board_model_file or board.DEVICE_TREE_MODEL)
        if found or pi:
            # On a Pi a fake shelf would hide a broken camera: the Pi camera it is, and
            # opening it says what is wrong (not installed, no camera, busy).
            (log.info if found else log.warning)("source auto: using the Pi camera (%s%s)", why,
                                                 f", on a {pi}" if pi else "")
            return picamera2_source.Picamera2Source(**_accepted(picamera2_source.Picamera2Source, options))
        log.info("source auto: no Pi camera (%s); using the simulated shelf", why)
        return simulated.SimulatedShelf(**_accepted(simulated.SimulatedShelf, options))
    if spec == "picamera2":
        return picamera2_source.Picamera2Source(**_accepted(picamera2_source.Picamera2Source, options))
    if spec == "simulated":
        return simulated.SimulatedShelf(**_accepted(simulated.SimulatedShelf, options))
    if spec.startswith("dir:") and len(spec) > 4:
        return directory.DirectorySource(Path(spec[4:]), **_accepted(directory.DirectorySource, options))
    raise _unknown(spec)


def check_spec(spec: str) -> str:
    """`spec` if it names a source (see SOURCE_NAMES), else ValueError saying which do."""
    if spec in SOURCE_NAMES[:3] or (spec.startswith("dir:") and len(spec) > 4):
        return spec
    raise _unknown(spec)


def _unknown(spec: str) -> ValueError:
    return ValueError(f"unknown frame source {spec!r}; use one of: {', '.join(SOURCE_NAMES)}")


def _accepted(cls: type, options: dict[str, Any]) -> dict[str, Any]:
    import inspect

    names = inspect.signature(cls.__init__).parameters
    return {key: value for key, value in options.items() if key in names}
