"""A shelf with a screen hung over part of it, as real JPEGs: the screen's ROI is busy without a
break while the screen shows a changing picture (restless), and calm once it is dark again."""

from __future__ import annotations

import io
from functools import lru_cache

import numpy as np
from PIL import Image

from support import shelf_scenes

SIZE = (320, 240)  # the worker's analysis width: no downscale, cheap to render
SCREEN = (0.55, 0.58, 0.92, 0.90)  # normalized box of the screen, over the bottom shelf's right half
SCREEN_ROI = [[0.56, 0.59], [0.91, 0.59], [0.91, 0.89], [0.56, 0.89]]
SHELF_ROI = [list(p) for p in shelf_scenes.roi_around(0, 1)]  # the top shelf's left, away from the screen


def screen_scene(on: float, off: float, duration: float, step: float = 1.0) -> shelf_scenes.Sequence:
    """Frames every `step` s over `duration` s; the screen changes every frame in [on, off)."""
    times = shelf_scenes.uniform_times(int(duration / step) + 1, step)
    start = times[0]
    jpegs = [_frame(i, on <= t - start < off) for i, t in enumerate(times)]
    return shelf_scenes.Sequence([shelf_scenes.Frame()] * len(times), times, SIZE, 0, jpegs)


@lru_cache(maxsize=256)
def _frame(index: int, screen_on: bool) -> bytes:
    pixels = np.array(Image.open(io.BytesIO(shelf_scenes.render(shelf_scenes.Frame(), SIZE, 0, index))))
    if screen_on:  # new 8x8 blocks every frame (seeded by its index)
        h, w = pixels.shape[:2]
        x0, y0, x1, y1 = (round(v * n) for v, n in zip(SCREEN, (w, h, w, h)))
        blocks = np.random.default_rng(index).integers(30, 220, ((y1 - y0 + 7) // 8, (x1 - x0 + 7) // 8, 3))
        pixels[y0:y1, x0:x1] = np.kron(blocks, np.ones((8, 8, 1), int))[: y1 - y0, : x1 - x0].astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "JPEG", quality=85)
    return out.getvalue()
