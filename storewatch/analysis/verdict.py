"""What happened inside an ROI: taken, placed, moved or unchanged.

Given the clean Before and After crops and the cells that changed between them
(`scoring`, lighting-blind), the changed region is read on both sides, after the
common lighting change of the ROI has been divided out:

- *moved*: the same things are there, re-arranged. The changed region holds the
  same mix of grey levels before and after (an item shifted inside the region, or
  turned, brings its own pixels along) and about as much structure.
- *taken* / *placed*: one side of the changed region has the object, the other the
  background. The object's side has more edge energy (a removal uncovers a plainer
  wall or shelf, a placement adds edges and texture). When both sides are about as
  structured (a textured background), the side that looks like the unchanged rest of
  the ROI is the empty one.

It runs once per interaction, on a small crop: a few numpy passes, no search.
"""

from __future__ import annotations

import numpy as np

from storewatch.analysis.scoring import CELL, cell_mean, common_gain

TAKEN, PLACED, MOVED, UNCHANGED = "taken", "placed", "moved", "unchanged"
VERDICTS = (TAKEN, PLACED, MOVED, UNCHANGED)

# Edge energy (grey levels per pixel) added to both sides so sensor noise on a plain
# surface does not make big ratios out of small numbers.
_ENERGY_FLOOR = 3.0
# |log energy ratio| beyond which one side is the fuller one (an item on a plain wall: 0.5-1.2).
_BALANCED = 0.35
# Grey-level mix distance (0 same .. ~1 unrelated) below which the region holds the same things:
# moves measure 0.0-0.1 (a dark item in dim light up to 0.25), takes and placements 0.2 and up.
# A close mix with an energy within _MOVED_BALANCE, or a looser one with an even energy, is a move.
_SAME_MIX, _MOVED_BALANCE = 0.18, 0.6
_SIMILAR_MIX = 0.35
_QUANTILES = np.linspace(0.05, 0.95, 19)


def classify(pre: np.ndarray, post: np.ndarray, changed: np.ndarray, weights: np.ndarray) -> str:
    """The verdict for float32 crops `pre`/`post` (same shape) given the changed cell grid.

    `changed` and `weights` are cell grids of the crop (`scoring.grid_shape`); no changed
    cell means `unchanged` (the caller decides what is too small to count).
    """
    if not changed.any():
        return UNCHANGED
    gain = _common_gain(pre, post, changed, weights)
    post = post / gain
    pixels = _pixel_mask(changed, pre.shape)
    balance = _energy_balance(pre, post, changed)
    mix = _mix_distance(pre[pixels], post[pixels])
    if (mix < _SAME_MIX and abs(balance) < _MOVED_BALANCE) or (mix < _SIMILAR_MIX and abs(balance) < _BALANCED):
        return MOVED
    if balance <= -_BALANCED:
        return TAKEN
    if balance >= _BALANCED:
        return PLACED
    return _by_background(pre, post, pixels, changed, weights, balance)


def _common_gain(pre: np.ndarray, post: np.ndarray, changed: np.ndarray, weights: np.ndarray) -> float:
    """The ROI's brightness ratio post/pre over the cells that did not change (else all cells)."""
    m_pre, m_post = cell_mean(pre), cell_mean(post)
    lit = (m_pre > 8.0) & (m_post > 8.0) & (weights > 0)
    with np.errstate(divide="ignore", invalid="ignore"):  # unlit cells are never chosen
        log_ratio = np.log(m_post / m_pre)
    return float(np.exp(common_gain(log_ratio, lit & ~changed, lit)))


def _pixel_mask(cells: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    full = np.repeat(np.repeat(cells, CELL, axis=0), CELL, axis=1)
    out = np.zeros(shape, bool)
    out[: full.shape[0], : full.shape[1]] = full
    return out


def _edge_energy(img: np.ndarray) -> np.ndarray:
    """Mean absolute gradient of each cell (grey levels per pixel)."""
    e = np.zeros_like(img)
    e[:, :-1] += np.abs(np.diff(img, axis=1))
    e[:-1, :] += np.abs(np.diff(img, axis=0))
    return cell_mean(e)


def _energy_balance(pre: np.ndarray, post: np.ndarray, changed: np.ndarray) -> float:
    """log(After's edge energy / Before's) over the changed cells: < 0 emptier, > 0 fuller."""
    e_pre = float(_edge_energy(pre)[changed].mean())
    e_post = float(_edge_energy(post)[changed].mean())
    return float(np.log((e_post + _ENERGY_FLOOR) / (e_pre + _ENERGY_FLOOR)))


def _mix_distance(a: np.ndarray, b: np.ndarray) -> float:
    """How different two bags of grey levels are, ignoring where each pixel sits (0 = same)."""
    qa, qb = np.quantile(a, _QUANTILES), np.quantile(b, _QUANTILES)
    spread = max(qa[-1] - qa[0], qb[-1] - qb[0], 1.0)
    return float(np.mean(np.abs(qa - qb)) / (spread + 8.0))


def _by_background(pre: np.ndarray, post: np.ndarray, pixels: np.ndarray, changed: np.ndarray,
                   weights: np.ndarray, balance: float) -> str:
    """Both sides equally structured: the side more like the unchanged rest of the ROI is the empty one."""
    rest = _pixel_mask(~changed & (weights > 0.5), pre.shape)
    if np.count_nonzero(rest) < CELL * CELL:
        return TAKEN if balance < 0 else PLACED
    background = np.concatenate([pre[rest], post[rest]])
    pre_gap = _mix_distance(pre[pixels], background)
    post_gap = _mix_distance(post[pixels], background)
    return PLACED if pre_gap < post_gap else TAKEN
