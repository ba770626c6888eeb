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
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from storewatch.analysis.thresholds import Thresholds

CELL = 8
# Cells this bright are clipped: their texture is gone, so structure is not compared.
_SATURATED = 250.0
# Cells whose correlation stays above this are "unchanged" when estimating lighting.
_PRESERVED = 0.2


@dataclass(frozen=True)
class CellStats:
    """Per-cell mean and variance of one image (shape = cell grid)."""

    mean: np.ndarray
    var: np.ndarray


def grid_shape(shape: tuple[int, int]) -> tuple[int, int]:
    """Number of whole cells (rows, cols) in an image of `shape`."""
    return shape[0] // CELL, shape[1] // CELL


def cell_mean(img: np.ndarray) -> np.ndarray:
    """Mean of each whole cell of a 2-D float32 image (partial border cells dropped)."""
    rows, cols = grid_shape(img.shape)
    view = img[: rows * CELL, : cols * CELL]
    return view.reshape(rows, CELL, cols, CELL).mean(axis=(1, 3), dtype=np.float32)


def cell_stats(img: np.ndarray) -> CellStats:
    mean = cell_mean(img)
    var = np.maximum(cell_mean(img * img) - mean * mean, 0.0)
    return CellStats(mean, var)


def cell_weights(mask: np.ndarray) -> np.ndarray:
    """Fraction of each cell covered by `mask` (float32 grid)."""
    return cell_mean(mask.astype(np.float32))


@dataclass(frozen=True)
class CellDiff:
    """Per-cell dissimilarity (0 same .. 1 different) and whether it could be judged."""

    d: np.ndarray
    judged: np.ndarray


def compare(ref: np.ndarray, ref_stats: CellStats, img: np.ndarray, img_stats: CellStats,
            weights: np.ndarray, thr: Thresholds) -> CellDiff:
    """Compare `img` with `ref` (same-shape float32 images) cell by cell."""
    d_struct = structure_difference(ref, ref_stats, img, img_stats, thr.flat_contrast)
    struct_ok = structure_judgeable(ref_stats, img_stats, thr.dark_level)
    lit_r = ref_stats.mean > thr.dark_level
    lit_i = img_stats.mean > thr.dark_level
    bright_ok = (lit_r | lit_i) & (weights > 0)
    eps = max(thr.dark_level, 1.0)  # keeps noise in near-black cells from looking like big ratios
    log_ratio = np.log((img_stats.mean + eps) / (ref_stats.mean + eps))
    gain = common_gain(log_ratio, struct_ok & (d_struct < _PRESERVED) & (weights > 0), bright_ok)
    d_bright = (np.abs(log_ratio - gain) > thr.brightness_change).astype(np.float32)
    d = np.where(struct_ok, np.maximum(d_struct, d_bright), np.where(bright_ok, d_bright, 0.0))
    return CellDiff(d.astype(np.float32), struct_ok | bright_ok)


def structure_difference(ref: np.ndarray, ref_stats: CellStats, img: np.ndarray, img_stats: CellStats,
                         flat_contrast: float) -> np.ndarray:
    """1 - regularized zero-mean normalized correlation per cell, clipped to 0..1."""
    reg = flat_contrast ** 2
    cov = cell_mean(ref * img) - ref_stats.mean * img_stats.mean
    corr = (cov + reg) / np.sqrt((ref_stats.var + reg) * (img_stats.var + reg))
    return np.clip(1.0 - corr, 0.0, 1.0)


def structure_judgeable(a: CellStats, b: CellStats, dark_level: float) -> np.ndarray:
    """Cells lit and unclipped in both images, so their structure can be compared."""
    return (a.mean > dark_level) & (b.mean > dark_level) & (a.mean < _SATURATED) & (b.mean < _SATURATED)


def common_gain(log_ratio: np.ndarray, preserved: np.ndarray, lit: np.ndarray) -> float:
    """The lighting change shared by the ROI: from cells whose structure held, else all lit cells."""
    if np.count_nonzero(preserved) >= 3:
        return float(np.median(log_ratio[preserved]))
    if lit.any():
        return float(np.median(log_ratio[lit]))
    return 0.0


def changed_cells(diff: CellDiff, level: float) -> np.ndarray:
    return diff.judged & (diff.d > level)


def area_score(changed: np.ndarray, weights: np.ndarray) -> float:
    """Fraction of the ROI's area (by cell weights) covered by changed cells."""
    total = float(weights.sum())
    if total <= 0.0:
        return 0.0
    return float((weights * changed).sum()) / total
