"""Decode JPEGs at a reduced size using the JPEG decoder's own DCT scaling.

Pillow's draft mode makes libjpeg decode at 1/2, 1/4 or 1/8 scale, which costs a
fraction of a full decode; only the last small step (from the DCT-scaled size to
`max_width`) is an ordinary resize, and only when it is needed.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image


class ImageDecodeError(ValueError):
    """The bytes are not an image Pillow can decode."""


def decode_gray(jpeg: bytes, max_width: int = 320) -> np.ndarray:
    """Decode `jpeg` to float32 grayscale 0..255, at most `max_width` pixels wide."""
    img = _open_reduced(jpeg, "L", max_width)
    return np.asarray(img, dtype=np.float32)


def decode_rgb(jpeg: bytes, max_width: int = 640) -> np.ndarray:
    """Decode `jpeg` to uint8 RGB (H, W, 3), at most `max_width` pixels wide."""
    img = _open_reduced(jpeg, "RGB", max_width)
    return np.asarray(img, dtype=np.uint8)


def _open_reduced(data: bytes, mode: str, max_width: int) -> Image.Image:
    if max_width < 1:
        raise ValueError("max_width must be at least 1")
    try:
        img = Image.open(io.BytesIO(data))
        width, height = img.size
        # draft() picks the strongest DCT scaling that keeps the image at least this big.
        img.draft(mode, (max_width, max(1, round(height * max_width / width))))
        img = img.convert(mode)
        img.load()
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise ImageDecodeError(f"cannot decode image: {exc}") from None
    if img.width > max_width:
        height = max(1, round(img.height * max_width / img.width))
        # BOX is an exact area average: cheap and it does not sharpen noise.
        img = img.resize((max_width, height), Image.BOX)
    return img
