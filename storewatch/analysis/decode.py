"""Decode JPEGs at a reduced size using the JPEG decoder's own DCT scaling, within bounds.

Pillow's draft mode makes libjpeg decode at 1/2, 1/4 or 1/8 scale, which costs a
fraction of a full decode; only the last small step (from the DCT-scaled size to
`max_width`) is an ordinary resize, and only when it is needed.

A frame can reach the worker without passing ingest's check (an older appliance stored
it, or it was copied into staging), so the same structural check runs first
(`storewatch.jpeg.inspect_jpeg`: scans, sides and progressive pixels, which bound the
decode's work and memory). Behind it, a hard time bound: Pillow feeds libjpeg the file
in chunks it reads from us, and libjpeg does the work of each chunk as it arrives, so a
reader that refuses to hand out more once the time is up stops any decode within one
small chunk's work.
"""

from __future__ import annotations

import io
import time

import numpy as np
from PIL import Image

from storewatch.jpeg import NotAJpeg, inspect_jpeg

# The worst frame inspect_jpeg accepts decodes in under a second on the dev machine and
# in a few on a Pi; a legitimate frame never comes near this, well inside a job's lease.
DECODE_TIME_LIMIT_S = 15.0
READ_CHUNK = 4096  # the most libjpeg gets between two looks at the clock


class ImageDecodeError(ValueError):
    """The bytes are not an image we can decode within our bounds (retrying cannot help)."""


class _OutOfTime(Exception):
    pass


class _DeadlineReader(io.BytesIO):
    def __init__(self, data: bytes, deadline: float):
        super().__init__(data)
        self.deadline = deadline

    def read(self, size: int | None = -1) -> bytes:
        if time.monotonic() > self.deadline:
            raise _OutOfTime()
        if size is not None and size > READ_CHUNK:
            size = READ_CHUNK  # a short read is allowed; Pillow asks again
        return super().read(size)


def decode_gray(jpeg: bytes, max_width: int = 320, time_limit_s: float = DECODE_TIME_LIMIT_S) -> np.ndarray:
    """Decode `jpeg` to float32 grayscale 0..255, at most `max_width` pixels wide."""
    img = _open_reduced(jpeg, "L", max_width, time_limit_s)
    return np.asarray(img, dtype=np.float32)


def decode_rgb(jpeg: bytes, max_width: int = 640, time_limit_s: float = DECODE_TIME_LIMIT_S) -> np.ndarray:
    """Decode `jpeg` to uint8 RGB (H, W, 3), at most `max_width` pixels wide."""
    img = _open_reduced(jpeg, "RGB", max_width, time_limit_s)
    return np.asarray(img, dtype=np.uint8)


def _open_reduced(data: bytes, mode: str, max_width: int, time_limit_s: float) -> Image.Image:
    if max_width < 1:
        raise ValueError("max_width must be at least 1")
    try:
        inspect_jpeg(data)
    except NotAJpeg as exc:
        raise ImageDecodeError(f"refused before decoding: {exc}") from None
    try:
        img = Image.open(_DeadlineReader(data, time.monotonic() + time_limit_s))
        width, height = img.size
        # draft() picks the strongest DCT scaling that keeps the image at least this big.
        img.draft(mode, (max_width, max(1, round(height * max_width / width))))
        img = img.convert(mode)
        img.load()
    except _OutOfTime:
        raise ImageDecodeError(f"decoding took over {time_limit_s:g} s and was stopped") from None
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise ImageDecodeError(f"cannot decode image: {exc}") from None
    if img.width > max_width:
        height = max(1, round(img.height * max_width / img.width))
        # BOX is an exact area average: cheap and it does not sharpen noise.
        img = img.resize((max_width, height), Image.BOX)
    return img
