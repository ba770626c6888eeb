"""Rasterise normalized ROI polygons to boolean masks, cached per size."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw

from storewatch.analysis.scoring import CELL, cell_mean, grid_shape

Polygon = Sequence[tuple[float, float]]
# Cells of surroundings around an ROI's crop in which an arm reaching into it is seen.
MARGIN_CELLS = 2


def polygon_mask(polygon: Polygon, shape: tuple[int, int]) -> np.ndarray:
    """Boolean (H, W) mask of `polygon` (normalized 0..1, x right, y down).

    The result is cached and read-only: copy it before modifying.
    """
    key = tuple((float(x), float(y)) for x, y in polygon)
    return _cached_mask(key, (int(shape[0]), int(shape[1])))


@lru_cache(maxsize=256)
def _cached_mask(polygon: tuple[tuple[float, float], ...], shape: tuple[int, int]) -> np.ndarray:
    height, width = shape
    if len(polygon) < 3:
        raise ValueError("an ROI polygon needs at least 3 points")
    canvas = Image.new("1", (width, height), 0)
    points = [(x * width, y * height) for x, y in polygon]
    ImageDraw.Draw(canvas).polygon(points, fill=1, outline=1)
    mask = np.asarray(canvas, dtype=bool).copy()
    mask.setflags(write=False)
    return mask


def mask_bbox(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """Pixel bounding box (x0, y0, x1, y1), end exclusive, of a mask; None if empty."""
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


@dataclass(frozen=True)
class RoiGrid:
    """An ROI snapped to the analysis cell grid: the crop to read and each cell's weight.

    `cells` is (row0, col0, row1, col1) in cells, end exclusive; `weights` is the share
    of each cell of the crop that lies inside the polygon.
    """

    frame_shape: tuple[int, int]
    cells: tuple[int, int, int, int]
    weights: np.ndarray

    def crop(self, img: np.ndarray) -> np.ndarray:
        r0, c0, r1, c1 = self.cells
        return img[r0 * CELL: r1 * CELL, c0 * CELL: c1 * CELL]

    def wide_cells(self) -> tuple[int, int, int, int]:
        """`cells` widened by MARGIN_CELLS on every side, within the frame."""
        rows, cols = grid_shape(self.frame_shape)
        r0, c0, r1, c1 = self.cells
        return (max(0, r0 - MARGIN_CELLS), max(0, c0 - MARGIN_CELLS),
                min(rows, r1 + MARGIN_CELLS), min(cols, c1 + MARGIN_CELLS))

    def wide_crop(self, img: np.ndarray) -> np.ndarray:
        """The crop with its margin band: what an arm reaching into the ROI passes through."""
        r0, c0, r1, c1 = self.wide_cells()
        return img[r0 * CELL: r1 * CELL, c0 * CELL: c1 * CELL]

    def wide_inside(self) -> np.ndarray:
        """Boolean cell grid of the wide crop: True for the ROI's own cells, False for the band.

        A border cell mostly outside the polygon belongs to the band: what stands just
        beyond the ROI (the foot of an item on the shelf above) must not count as inside.
        """
        w0, wc0, w1, wc1 = self.wide_cells()
        r0, c0, r1, c1 = self.cells
        inside = np.zeros((w1 - w0, wc1 - wc0), dtype=bool)
        inside[r0 - w0: r1 - w0, c0 - wc0: c1 - wc0] = self.weights >= 0.5
        return inside

    def normalized_box(self, row0: int, col0: int, row1: int, col1: int) -> tuple[float, float, float, float]:
        """Frame-normalized (x0, y0, x1, y1) of a cell range given relative to the crop."""
        r0, c0 = self.cells[0], self.cells[1]
        height, width = self.frame_shape
        return ((c0 + col0) * CELL / width, (r0 + row0) * CELL / height,
                (c0 + col1) * CELL / width, (r0 + row1) * CELL / height)


def roi_grid(mask: np.ndarray) -> RoiGrid:
    """Snap `mask` (frame-sized) to whole cells; an empty mask gives an empty grid."""
    weights = cell_mean(mask.astype(np.float32))
    inside = np.argwhere(weights > 0)
    if inside.size == 0:
        return RoiGrid(mask.shape, (0, 0, 0, 0), np.zeros((0, 0), np.float32))
    (r0, c0), (r1, c1) = inside.min(axis=0), inside.max(axis=0) + 1
    return RoiGrid((int(mask.shape[0]), int(mask.shape[1])), (int(r0), int(c0), int(r1), int(c1)),
                   weights[r0:r1, c0:c1])
