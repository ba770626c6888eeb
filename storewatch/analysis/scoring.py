"""Per-cell comparison of a frame against a reference, and ROI activity scores.

The image is cut into CELL x CELL cells. Each cell is compared by zero-mean
normalized correlation (regularized by `flat_contrast`, so noise in flat cells
does not look like change), which ignores any per-cell gain and offset: auto
exposure, white balance and dimming leave it near 1, an arm or a missing box
does not. Cells that are flat in both images cannot be compared that way, so a
second test flags a brightness change well beyond the common lighting change of
the ROI (a dark sleeve over a white shelf). Cells too dark or clipped are not
judged at all.

The ROI score is the fraction of the ROI's area whose cells changed (0..1).

Speed: the frames are whole grey levels 0..255 (as float32), so every sum over a
cell -- of the pixels, their squares, or two frames' products -- is a whole number
below 2**24, which float32 holds exactly whatever the order of the additions. Such
images (`CellStats.whole`) take `_cell_sums`, a few times cheaper than numpy's mean
over two strided axes, and give the very same bits; any other image takes that mean.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from storewatch.analysis.thresholds import Thresholds

CELL = 8
# Cells this bright are clipped: their texture is gone, so structure is not compared.
_SATURATED = 250.0
# Cells whose correlation stays above this are "unchanged" when estimating lighting.
_PRESERVED = 0.2
_PER_PIXEL = np.float32(1 / (CELL * CELL))  # a power of two: scaling by it is exact


@dataclass(frozen=True)
class CellStats:
    """Per-cell mean and variance of one image (shape = cell grid).

    `whole`: the image holds whole grey levels 0..255, so its cell sums are exact (see above).
    An image is compared with several others by the same thresholds, so what `compare` derives
    from one side alone is worked out once per image (`_memo`).
    """

    mean: np.ndarray
    var: np.ndarray
    whole: bool = False
    _memo: dict = field(default_factory=dict, compare=False, repr=False)

    def lit(self, dark_level: float) -> tuple[np.ndarray, np.ndarray]:
        """Cells above `dark_level`, and those of them not clipped either."""
        key = ("lit", dark_level)
        if key not in self._memo:
            lit = self.mean > dark_level
            self._memo[key] = lit, lit & (self.mean < _SATURATED)
        return self._memo[key]

    def plus(self, name: str, value: float) -> np.ndarray:
        """`mean` or `var` plus `value` (float32)."""
        key = (name, value)
        if key not in self._memo:
            self._memo[key] = getattr(self, name) + value
        return self._memo[key]


def grid_shape(shape: tuple[int, int]) -> tuple[int, int]:
    """Number of whole cells (rows, cols) in an image of `shape`."""
    return shape[0] // CELL, shape[1] // CELL


def cell_mean(img: np.ndarray) -> np.ndarray:
    """Mean of each whole cell of a 2-D float32 image (partial border cells dropped)."""
    rows, cols = grid_shape(img.shape)
    view = img[: rows * CELL, : cols * CELL]
    return view.reshape(rows, CELL, cols, CELL).mean(axis=(1, 3), dtype=np.float32)


def is_whole(img: np.ndarray) -> bool:
    """Does the float32 image hold only whole grey levels 0..255 (so `_cell_sums` is exact)?"""
    if img.dtype != np.float32:
        return False
    with np.errstate(invalid="ignore"):  # NaN or infinity: not whole, and no warning about the cast
        return bool((img.astype(np.uint8) == img).all())


def _cell_sums(img: np.ndarray) -> np.ndarray:
    """cell_mean for an image whose cell sums are exact: 8 rows added, then 8 columns."""
    rows, cols = grid_shape(img.shape)
    strips = img[: rows * CELL, : cols * CELL].reshape(rows, CELL, cols * CELL).sum(axis=1)
    return np.add.reduceat(strips, _cell_starts(cols), axis=1) * _PER_PIXEL


@lru_cache(maxsize=64)
def _cell_starts(cols: int) -> np.ndarray:
    return np.arange(0, cols * CELL, CELL)


def cell_stats(img: np.ndarray) -> CellStats:
    whole = is_whole(img)
    means = _cell_sums if whole else cell_mean
    mean = means(img)
    var = np.maximum(means(img * img) - mean * mean, 0.0)
    return CellStats(mean, var, whole)


def cell_weights(mask: np.ndarray) -> np.ndarray:
    """Fraction of each cell covered by `mask` (float32 grid)."""
    return _cell_sums(mask.astype(np.float32))


@dataclass(frozen=True)
class CellDiff:
    """Per-cell dissimilarity (0 same .. 1 different) and whether it could be judged."""

    d: np.ndarray
    judged: np.ndarray


def compare(ref: np.ndarray, ref_stats: CellStats, img: np.ndarray, img_stats: CellStats,
            weights: np.ndarray, thr: Thresholds) -> CellDiff:
    """Compare `img` with `ref` (same-shape float32 images) cell by cell."""
    d_struct = structure_difference(ref, ref_stats, img, img_stats, thr.flat_contrast)
    lit_r, lit_i = ref_stats.lit(thr.dark_level)[0], img_stats.lit(thr.dark_level)[0]
    struct_ok = structure_judgeable(ref_stats, img_stats, thr.dark_level)
    in_roi = weights > 0
    bright_ok = (lit_r | lit_i) & in_roi
    eps = max(thr.dark_level, 1.0)  # keeps noise in near-black cells from looking like big ratios
    log_ratio = np.log(img_stats.plus("mean", eps) / ref_stats.plus("mean", eps))
    gain = common_gain(log_ratio, struct_ok & (d_struct < _PRESERVED) & in_roi, bright_ok)
    bright = np.abs(log_ratio - gain) > thr.brightness_change
    # As max(d_struct, bright) where the structure is judged, else bright where the brightness
    # is: d_struct lies in 0..1, so a changed brightness makes a cell 1 either way.
    d = np.where(struct_ok, d_struct, np.float32(0.0)).astype(np.float32, copy=False)
    judged = struct_ok | bright_ok
    d[bright & judged] = 1.0
    return CellDiff(d, judged)


def structure_difference(ref: np.ndarray, ref_stats: CellStats, img: np.ndarray, img_stats: CellStats,
                         flat_contrast: float) -> np.ndarray:
    """1 - regularized zero-mean normalized correlation per cell, clipped to 0..1."""
    reg = flat_contrast ** 2
    product = np.multiply(ref, img)
    cross = _cell_sums(product) if ref_stats.whole and img_stats.whole else cell_mean(product)
    cov = cross - ref_stats.mean * img_stats.mean
    corr = (cov + reg) / np.sqrt(ref_stats.plus("var", reg) * img_stats.plus("var", reg))
    corr = np.subtract(1.0, corr, out=corr)
    return np.minimum(np.maximum(corr, 0.0, out=corr), 1.0, out=corr)  # np.clip, without its overhead


def structure_judgeable(a: CellStats, b: CellStats, dark_level: float) -> np.ndarray:
    """Cells lit and unclipped in both images, so their structure can be compared."""
    return a.lit(dark_level)[1] & b.lit(dark_level)[1]


def common_gain(log_ratio: np.ndarray, preserved: np.ndarray, lit: np.ndarray) -> float:
    """The lighting change shared by the ROI: from cells whose structure held, else all lit cells."""
    if np.count_nonzero(preserved) >= 3:
        return median(log_ratio[preserved])
    if lit.any():
        return median(log_ratio[lit])
    return 0.0


def median(values: np.ndarray) -> float:
    """np.median of a non-empty 1-D float32 array, bit for bit, without its general machinery.

    The same partition and the same float32 mean of the two middle values (NaN if any is).
    """
    half = values.size // 2
    kth = [half - 1, half, -1] if values.size % 2 == 0 else [half, -1]
    part = np.partition(values, kth)
    if np.isnan(part[-1]):
        return float("nan")
    middle = part[half: half + 1] if values.size % 2 else part[half - 1: half + 1]
    return float(np.add.reduce(middle) / middle.size)


def changed_cells(diff: CellDiff, level: float) -> np.ndarray:
    return diff.judged & (diff.d > level)


def area_score(changed: np.ndarray, weights: np.ndarray) -> float:
    """Fraction of the ROI's area (by cell weights) covered by changed cells."""
    total = float(weights.sum())
    if total <= 0.0:
        return 0.0
    return float((weights * changed).sum()) / total
