"""Frames on which the analysis starts a visit and then drops it: a lighting change's onset.

A wall of grey blocks; from frame CHANGE_AT the picture inside ROI changes (two frames: a
visit starts), and from DIM_AT on the whole room is at half brightness, so the start was the
lighting's first frames and the visit is dropped with no verdict. Real JPEGs, decoded as the
worker decodes them.
"""

from __future__ import annotations

import io
from collections.abc import Iterator

import numpy as np
from PIL import Image

from storewatch.analysis.decode import decode_gray

ROI = ((0.25, 0.25), (0.5, 0.25), (0.5, 0.5), (0.25, 0.5))
CHANGE_AT, DIM_AT, FRAMES = 20, 22, 40


def blocks(seed: int, height: int, width: int) -> np.ndarray:
    """A texture of random grey 8x8 blocks."""
    grey = np.random.default_rng(seed).integers(40, 200, (height // 8, width // 8))
    return np.kron(grey, np.ones((8, 8))).astype(np.float32)


def jpeg_gray(pixels: np.ndarray) -> np.ndarray:
    """`pixels` through a JPEG and the worker's decode."""
    out = io.BytesIO()
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(out, format="JPEG", quality=90)
    return decode_gray(out.getvalue())


def lighting_onset(count: int = FRAMES) -> Iterator[np.ndarray]:
    """The frames, decoded (320x240: ROI's inside is pixels 88..152 x 64..112)."""
    wall = blocks(1, 240, 320)
    for i in range(count):
        frame = wall.copy()
        if i >= CHANGE_AT:
            frame[64:112, 88:152] = blocks(2, 48, 64)
        yield jpeg_gray(frame * (0.5 if i >= DIM_AT else 1.0))
