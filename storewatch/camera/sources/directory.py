"""Replays a folder of JPEGs in name order, at a given rate; for demos and bench tests.

The files are sent as they are (no re-encoding), so the requested size and quality are
ignored: each frame's width and height come from the JPEG itself.
"""

from __future__ import annotations

import io
import time
from pathlib import Path

import numpy as np
from PIL import Image

from storewatch.camera.sources.base import CameraError, CapturedFrame, Clock, FrameSource, SourceExhaustedError
from storewatch.contract import utc_now

LORES_SIZE = (320, 240)
JPEG_SUFFIXES = (".jpg", ".jpeg", ".JPG", ".JPEG")


class DirectorySource(FrameSource):
    name = "directory"

    def __init__(self, folder: Path, loop: bool = True, rate_hz: float | None = None,
                 clock: Clock | None = None) -> None:
        self.folder = Path(folder)
        self.loop = loop
        self.rate_hz = rate_hz
        self.clock = clock or utc_now
        self.quality = 0
        self._files: list[Path] = []
        self._index = 0
        self._last = 0.0

    def open(self, width: int, height: int, jpeg_quality: int) -> None:
        if not self.folder.is_dir():
            raise CameraError(f"{self.folder} is not a folder")
        self._files = sorted(p for p in self.folder.iterdir() if p.suffix in JPEG_SUFFIXES and p.is_file())
        if not self._files:
            raise CameraError(f"{self.folder} has no .jpg files")
        self.quality = jpeg_quality
        self._index = 0

    def reconfigure(self, width: int, height: int, jpeg_quality: int) -> None:
        self.quality = jpeg_quality  # the replayed files keep their own size

    def capture(self) -> CapturedFrame:
        if self._index >= len(self._files):
            if not self.loop or not self._files:
                raise SourceExhaustedError(f"replayed all {len(self._files)} frames of {self.folder}")
            self._index = 0
        self._pace()
        path = self._files[self._index]
        self._index += 1
        data = path.read_bytes()
        try:
            with Image.open(io.BytesIO(data)) as image:
                if image.format != "JPEG":
                    raise CameraError(f"{path} is not a JPEG")
                width, height = image.size
                image.draft("L", (LORES_SIZE[0] * 2, LORES_SIZE[1] * 2))  # fast DCT-scaled decode
                lores = np.asarray(image.convert("L").resize(LORES_SIZE, Image.Resampling.BILINEAR))
        except (OSError, SyntaxError) as exc:
            raise CameraError(f"{path} cannot be read as a JPEG: {exc}") from exc
        return CapturedFrame(data, width, height, self.clock(), lores)

    def _pace(self) -> None:
        if not self.rate_hz:
            return
        wait = self._last + 1.0 / self.rate_hz - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        self._last = time.monotonic()

    def close(self) -> None:
        self._files = []
