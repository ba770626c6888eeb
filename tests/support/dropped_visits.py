"""Frames of a textured wall on which the analysis starts visits: one it drops (a lighting change's
onset), and a figure that stands still in an ROI for a while (`standing`).

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


def blocks(seed: int, height: int, width: int, size: int = 8) -> np.ndarray:
    """A texture of random grey size x size blocks."""
    grey = np.random.default_rng(seed).integers(40, 200, (height // size, width // size))
    return np.kron(grey, np.ones((size, size))).astype(np.float32)


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


def standing(fidgets: bool, still_frames: int = 10) -> Iterator[np.ndarray]:
    """A figure comes into ROI, stands still for `still_frames`, moves again and leaves.

    Frames 0-19 the bare wall; 20-25 the figure (a 24x32 px patch of finer texture) steps across
    the ROI; then it stands, changing one 8x8 cell of itself every other frame when `fidgets`
    (far below the motion that keeps an ROI active), else not at all; then 6 frames of steps
    again and the bare wall for 12 frames.
    """
    wall, figure = blocks(1, 240, 320), blocks(5, 32, 24, size=4)
    frames = [None] * 20 + [88 + 8 * k for k in range(6)] + [128] * still_frames + [128 - 6 * k for k in range(6)]
    for i, x in enumerate(frames + [None] * 12):
        frame = wall.copy()
        if x is not None:
            frame[72:104, x:x + 24] = figure
            if fidgets and 26 <= i < 26 + still_frames and i % 2:
                frame[80:88, x + 8:x + 16] = blocks(100 + i, 8, 8, size=2)
        yield jpeg_gray(frame)
