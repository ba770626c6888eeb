"""Frame sources, picked by name: the registry every part that opens a camera goes through.

`auto` takes the Pi camera when one is detected or when this is a Raspberry Pi, else the
simulated shelf; `picamera2`, `simulated` and `dir:PATH` name one outright. The Pi camera
module imports Picamera2 only when it opens, so this registry loads on any machine.
"""

from __future__ import annotations

import inspect
import logging
from pathlib import Path
from typing import Any, Callable

from storewatch.camera import board
from storewatch.camera.sources import directory, pi_camera, simulated
from storewatch.camera.sources.base import DEFAULT_HEIGHT, DEFAULT_QUALITY, DEFAULT_WIDTH, FrameSource

log = logging.getLogger("storewatch.camera")

SOURCE_NAMES = ("auto", "picamera2", "simulated", "dir:PATH")

# Each named source: its class and how the spec's argument (the folder of `dir:`) reaches it.
_REGISTRY: dict[str, tuple[type[FrameSource], Callable[[str], tuple[Any, ...]]]] = {
    "picamera2": (pi_camera.Picamera2Source, lambda arg: ()),
    "simulated": (simulated.SimulatedShelf, lambda arg: ()),
    "dir": (directory.DirectorySource, lambda arg: (Path(arg),)),
}


def open_source(spec: str, width: int = DEFAULT_WIDTH, height: int = DEFAULT_HEIGHT,
                jpeg_quality: int = DEFAULT_QUALITY, **options: Any) -> FrameSource:
    """Build and open the source named by `spec` (see SOURCE_NAMES).

    `options` go to the chosen source's constructor where it accepts them (seed, clock,
    loop, rate_hz, ...).
    """
    source = make_source(spec, **options)
    source.open(width, height, jpeg_quality)
    return source


def make_source(spec: str, board_model_file: Path | None = None, **options: Any) -> FrameSource:
    """The source named by `spec`, not opened yet. `board_model_file`: where the board's
    device-tree model is read (for tests; default /proc/device-tree/model)."""
    if spec == "auto":
        spec = _auto(board_model_file)
    kind, arg = _parse(spec)
    cls, arguments = _REGISTRY[kind]
    return cls(*arguments(arg), **_accepted(cls, options))


def check_spec(spec: str) -> str:
    """`spec` if it names a source (see SOURCE_NAMES), else ValueError saying which do."""
    if spec != "auto":
        _parse(spec)
    return spec


def _auto(board_model_file: Path | None) -> str:
    found, why = pi_camera.detect_camera()
    pi = board.raspberry_pi_model(board_model_file or board.DEVICE_TREE_MODEL)
    if found or pi:
        # On a Pi a fake shelf would hide a broken camera: the Pi camera it is, and
        # opening it says what is wrong (not installed, no camera, busy).
        (log.info if found else log.warning)("source auto: using the Pi camera (%s%s)", why,
                                             f", on a {pi}" if pi else "")
        return "picamera2"
    log.info("source auto: no Pi camera (%s); using the simulated shelf", why)
    return "simulated"


def _parse(spec: str) -> tuple[str, str]:
    kind, colon, arg = spec.partition(":")
    if kind in _REGISTRY and (kind == "dir") == bool(colon) and (kind != "dir" or arg):
        return kind, arg
    raise ValueError(f"unknown frame source {spec!r}; use one of: {', '.join(SOURCE_NAMES)}")


def _accepted(cls: type, options: dict[str, Any]) -> dict[str, Any]:
    names = inspect.signature(cls.__init__).parameters
    return {key: value for key, value in options.items() if key in names}
