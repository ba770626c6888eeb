"""Did the shelf inside an ROI change between before and after an interaction?

Compares the settled reference from before the interaction with the first settled
frame after it, cell by cell with the lighting-blind measure of `scoring`, and
reports the changed share of the ROI, the box around the changed cells and the
verdict (`verdict`: taken, placed, moved or unchanged).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from storewatch.analysis import scoring, verdict as verdicts
from storewatch.analysis.roi_mask import RoiGrid, mask_bbox, roi_grid
from storewatch.analysis.thresholds import Thresholds

Box = tuple[float, float, float, float]

# A cell beside a changed one that changed at least this share as much counts towards the
# change's size and box: an item's edge covers only part of the cells along it (how much
# depends on where the grid falls, so on the frame size), and a small item in a big ROI would
# otherwise fall short of min_changed_area by its edges. One cell out only, so no change creeps
# on through the ROI; the verdict reads the cells that surely changed.
_EDGE_SHARE = 0.5
_EDGE_QUANTILE, _EDGE_SAMPLE = 0.95, 20


@dataclass(frozen=True)
class InventoryDecision:
    """`score` is the changed share of the ROI; `box` is normalized (x0, y0, x1, y1) or None.

    `changed` is true exactly for the verdicts taken and placed (a move is not a change
    of stock). A decision made before verdicts existed (a saved state) gets its verdict
    from `changed` (see `legacy_verdict`).
    """

    changed: bool
    score: float
    box: Box | None
    verdict: str | None = None

    def __post_init__(self) -> None:
        if self.verdict is None:
            object.__setattr__(self, "verdict", legacy_verdict(self.changed))
        elif self.verdict not in verdicts.VERDICTS:
            raise ValueError(f"unknown verdict {self.verdict!r}")


def legacy_verdict(changed: bool) -> str:
    """The verdict of a decision that only said changed or not.

    Which of taken or placed it was cannot be told any more; a stock change was almost
    always a take (what the old decision was built to find), and `changed` must stay
    true exactly for taken or placed, so changed maps to taken.
    """
    return verdicts.TAKEN if changed else verdicts.UNCHANGED


def decide(pre: np.ndarray, post: np.ndarray, mask: np.ndarray, thresholds: Thresholds) -> InventoryDecision:
    """Compare full-frame grayscale `pre` and `post` inside `mask` (all the same shape)."""
    grid = roi_grid(mask)
    as_float = lambda img: grid.crop(np.asarray(img, dtype=np.float32))  # noqa: E731
    return decide_in_grid(as_float(pre), as_float(post), grid, thresholds)


def decide_in_grid(pre: np.ndarray, post: np.ndarray, grid: RoiGrid, thr: Thresholds) -> InventoryDecision:
    """`decide` on crops already cut to `grid` (float32)."""
    if grid.weights.size == 0:
        return InventoryDecision(False, 0.0, None, verdicts.UNCHANGED)
    diff = scoring.compare(pre, scoring.cell_stats(pre), post, scoring.cell_stats(post), grid.weights, thr)
    changed = scoring.changed_cells(diff, thr.change_threshold) & (grid.weights > 0)
    edged = _with_edges(changed, diff, grid.weights, thr.change_threshold)
    score = scoring.area_score(edged, grid.weights)
    if not changed.any():
        return InventoryDecision(False, score, None, verdicts.UNCHANGED)
    rows, cols = np.nonzero(edged)
    box = grid.normalized_box(int(rows.min()), int(cols.min()), int(rows.max()) + 1, int(cols.max()) + 1)
    if score < thr.min_changed_area or score <= 0.0:
        return InventoryDecision(False, score, box, verdicts.UNCHANGED)
    verdict = verdicts.classify(pre, post, changed, grid.weights)
    return InventoryDecision(verdict in (verdicts.TAKEN, verdicts.PLACED), score, box, verdict)


def _with_edges(strong: np.ndarray, diff: scoring.CellDiff, weights: np.ndarray, level: float) -> np.ndarray:
    """`strong` (the cells changed beyond `level`) and their 8-neighbours changed beyond _EDGE_SHARE of it."""
    near = strong.copy()
    near[1:] |= strong[:-1]
    near[:-1] |= strong[1:]
    row = near.copy()
    near[:, 1:] |= row[:, :-1]
    near[:, :-1] |= row[:, 1:]
    inside = diff.judged & (weights > 0)
    rest = diff.d[inside & ~near]
    # ... and beyond what most cells away from the change show (noise in flat cells, JPEG)
    floor = float(np.quantile(rest, _EDGE_QUANTILE)) if rest.size >= _EDGE_SAMPLE else level
    return strong | (near & inside & (diff.d > max(level * _EDGE_SHARE, floor)))


def render_difference(pre: np.ndarray, post: np.ndarray, mask: np.ndarray, box: Box | None) -> np.ndarray:
    """Picture of the difference: `post` dimmed, changed pixels in red, ROI in yellow, box in red.

    `pre` and `post` are the same shape, gray (H, W) or RGB (H, W, 3), any size;
    `mask` may be at the analysis size and is scaled to the picture.
    """
    pre_g, post_g = _gray(pre), _gray(post)
    height, width = post_g.shape
    diff = np.abs(post_g - pre_g * _gain(pre_g, post_g))
    heat = np.clip((diff - 12.0) * 4.0, 0, 255)
    out = np.repeat((post_g * 0.6)[..., None], 3, axis=2)
    out[..., 0] = np.maximum(out[..., 0], heat)
    roi = _scaled_mask(mask, (height, width))
    out[_outline(roi)] = (255, 220, 0)
    if box is not None:
        _draw_box(out, box)
    return out.clip(0, 255).astype(np.uint8)


def _gray(img: np.ndarray) -> np.ndarray:
    img = np.asarray(img, dtype=np.float32)
    return img if img.ndim == 2 else img @ np.array([0.299, 0.587, 0.114], np.float32)


def _gain(pre: np.ndarray, post: np.ndarray) -> float:
    # Matching overall brightness first keeps a lighting change from painting everything red.
    return float(np.median(post) + 1.0) / float(np.median(pre) + 1.0)


def _scaled_mask(mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    if mask.shape == shape:
        return mask.astype(bool)
    img = Image.fromarray(mask.astype(np.uint8) * 255).resize((shape[1], shape[0]), Image.NEAREST)
    return np.asarray(img) > 127


def _outline(mask: np.ndarray) -> np.ndarray:
    inner = mask.copy()
    inner[1:, :] &= mask[:-1, :]
    inner[:-1, :] &= mask[1:, :]
    inner[:, 1:] &= mask[:, :-1]
    inner[:, :-1] &= mask[:, 1:]
    edge = mask & ~inner
    if mask_bbox(mask) is not None:  # thicken to 2 px so it survives JPEG
        edge[1:, :] |= edge[:-1, :]
    return edge


def _draw_box(out: np.ndarray, box: Box) -> None:
    height, width = out.shape[:2]
    x0, x1 = (int(round(v * width)) for v in (box[0], box[2]))
    y0, y1 = (int(round(v * height)) for v in (box[1], box[3]))
    x0, y0 = max(0, min(x0, width - 2)), max(0, min(y0, height - 2))
    x1, y1 = max(x0 + 2, min(x1, width)), max(y0 + 2, min(y1, height))
    red = (255, 0, 0)
    out[y0:y0 + 2, x0:x1] = red
    out[y1 - 2:y1, x0:x1] = red
    out[y0:y1, x0:x0 + 2] = red
    out[y0:y1, x1 - 2:x1] = red
