"""What happened inside an ROI: taken, placed, moved or unchanged.

Given the clean Before and After crops and the cells that changed between them
(`scoring`, lighting-blind), the common lighting change of the ROI is divided out and
the pixels that differ inside the changed cells are read on both sides. Two questions,
each asked of Before and of After, must agree before anything counts as a change of stock:

- *Whose outline is it?* Along the border of the differing pixels, the side that has
  an edge there (a jump to the unchanged surroundings) holds the object; the side that
  runs on smoothly into the surroundings shows what is behind it. A removal leaves the
  edges on Before only, a placement on After only. A shifted item has its old outline on
  Before and its new one on After; a turned item keeps its outline on both.
- *Is the emptied side empty?* The side said to show the background must be plainer than
  the other side inside the region, or no busier than the unchanged surroundings just
  around it (a textured wall). A turned item shows its side face where its front was:
  both sides stay busy, so it is not a removal even where the outline says so.

Taken / placed when both agree; otherwise the same things are there, re-arranged: moved.
With too few differing pixels to read an outline (a change only of brightness, say a dark
sleeve left on a white shelf), the older reading decides: the same grey-level mix and
about as much structure is a move, else the fuller side says placed or taken.

It runs once per interaction, on a small crop: a few numpy passes, no search.
"""

from __future__ import annotations

import math

import numpy as np

from storewatch.analysis.scoring import CELL, cell_mean, common_gain

TAKEN, PLACED, MOVED, UNCHANGED = "taken", "placed", "moved", "unchanged"
VERDICTS = (TAKEN, PLACED, MOVED, UNCHANGED)

# A pixel differs when its 3x3 mean moved by this many grey levels (sensor noise of sigma 8
# moves a 3x3 mean by about 4), and stays put below half of it.
_DIFFERS = 12.0
_OUTLINE_STEP = 2  # pixels from a border pixel to the surroundings it is compared with (JPEG blurs edges)
_MIN_OUTLINE = 16  # border pixels needed to read an outline at all
# Outline share (After's edges minus Before's, over all) beyond which one side holds the object.
# A removal or placement measures 0.5-1.0, or down to 0.25 for an item packed between touching
# neighbours (their edges are on both sides); a shift up to an item's width -0.35..0.25. So the
# plainer the emptied side, the less the outline has to say: _OUTLINE_SIDED when its edge energy
# is _PLAINER of the other side's, _OUTLINE_PER_PLAIN less or more per e-fold plainer or busier
# (down to _OUTLINE_LEAST; a side only _PLAINER_STILL of the other needs a strong outline).
_OUTLINE_SIDED, _OUTLINE_PER_PLAIN, _OUTLINE_LEAST = 0.3, 0.1, 0.15
_PLAINER, _PLAINER_STILL, _OUTLINE_PER_BUSIER = 0.5, 0.65, 1.0
# On a busy background the emptied side is still the plainer one (_PLAINER_AT_ALL) and no busier
# than its own surroundings (_LIKE_SURROUNDINGS: the differing pixels of a textured wall are its
# busiest ones); being less sure, the outline must say _OUTLINE_SIDED_BUSY. A turned item's side
# face measures 0.65-1.0 of its front and 2.3 times its surroundings and up.
_PLAINER_AT_ALL, _LIKE_SURROUNDINGS, _OUTLINE_SIDED_BUSY = 0.8, 1.6, 0.45
_ENERGY_NOISE = 1.0  # grey levels per pixel: noise on a plain surface does not make big ratios
_RING = (1, 5)  # the surroundings: this many pixels out from the differing region

# The older reading (too few differing pixels): edge energy per cell, grey-level mix.
_ENERGY_FLOOR = 3.0
_BALANCED = 0.35
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
    post = post / _common_gain(pre, post, changed, weights)
    pixels = _pixel_mask(changed, pre.shape)
    verdict = _by_outline(_mean3(pre), _mean3(post), pixels)
    return verdict if verdict is not None else _by_mix(pre, post, pixels, changed, weights)


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


# ---- the outline reading --------------------------------------------------------------

def _by_outline(pre: np.ndarray, post: np.ndarray, cells: np.ndarray) -> str | None:
    """taken / placed / moved from the differing pixels of 3x3-mean crops; None: too few to tell."""
    gap = np.abs(pre - post)
    region = cells & (gap > _DIFFERS)
    still = gap < _DIFFERS / 2
    sided = _outline_side(pre, post, region, still)
    if sided is None:
        return None
    ring = _grow(region, _RING[1]) & ~_grow(region, _RING[0]) & still
    e_pre, e_post = _gradient(pre), _gradient(post)
    inside_pre, inside_post = float(e_pre[region].mean()), float(e_post[region].mean())
    around_pre = float(e_pre[ring].mean()) if ring.any() else 0.0
    around_post = float(e_post[ring].mean()) if ring.any() else 0.0
    if -sided >= _outline_needed(inside_post, inside_pre, around_post):
        return TAKEN
    if sided >= _outline_needed(inside_pre, inside_post, around_pre):
        return PLACED
    return MOVED


def _outline_side(pre: np.ndarray, post: np.ndarray, region: np.ndarray, still: np.ndarray) -> float | None:
    """(After's outline - Before's) / all outline along the region's border, -1..1; None: too short.

    Each border pixel of `region` is compared with the unchanged pixel _OUTLINE_STEP away
    outside it: the jump only one side has counts for that side, the part both have for neither.
    """
    only_pre = only_post = both = 0.0
    count = 0
    k = _OUTLINE_STEP
    for dy, dx in ((0, k), (0, -k), (k, 0), (-k, 0)):
        inner, outer = _pairs(region.shape, dy, dx)
        border = region[inner] & still[outer]
        if not border.any():
            continue
        jump_pre = np.abs(pre[inner][border] - pre[outer][border])
        jump_post = np.abs(post[inner][border] - post[outer][border])
        only_pre += float(np.maximum(jump_pre - jump_post, 0.0).sum())
        only_post += float(np.maximum(jump_post - jump_pre, 0.0).sum())
        both += float(np.minimum(jump_pre, jump_post).sum())
        count += int(border.sum())
    total = only_pre + only_post + both
    if count < _MIN_OUTLINE or total <= 0.0:
        return None
    return (only_post - only_pre) / total


def _pairs(shape: tuple[int, ...], dy: int, dx: int) -> tuple[tuple[slice, slice], tuple[slice, slice]]:
    """Slices (inner, outer) such that outer pixel = inner pixel + (dy, dx), both in the image."""
    def axis(n: int, d: int) -> tuple[slice, slice]:
        return (slice(0, n - d), slice(d, n)) if d >= 0 else (slice(-d, n), slice(0, n + d))
    (iy, oy), (ix, ox) = axis(shape[0], dy), axis(shape[1], dx)
    return (iy, ix), (oy, ox)


def _outline_needed(inside: float, other: float, around: float) -> float:
    """How one-sided the outline must be to call this side of the region empty (inf: it is not empty).

    `inside` and `other` are the edge energies of this side and of the other inside the region,
    `around` this side's in the unchanged surroundings.
    """
    plainer = math.log((other + _ENERGY_NOISE) / (inside + _ENERGY_NOISE))
    beyond = plainer + math.log(_PLAINER)  # > 0: plainer than _PLAINER of the other side
    if beyond >= 0:
        return max(_OUTLINE_LEAST, _OUTLINE_SIDED - _OUTLINE_PER_PLAIN * beyond)
    needed = _OUTLINE_SIDED - _OUTLINE_PER_BUSIER * beyond if plainer >= -math.log(_PLAINER_STILL) else math.inf
    if inside <= _PLAINER_AT_ALL * other and inside <= _LIKE_SURROUNDINGS * around + _ENERGY_NOISE:
        needed = min(needed, _OUTLINE_SIDED_BUSY)
    return needed


def _mean3(img: np.ndarray) -> np.ndarray:
    """3x3 mean (edges repeated): sensor noise down by 3 before pixels are compared."""
    padded = np.pad(img, 1, mode="edge")
    rows = padded[:-2] + padded[1:-1] + padded[2:]
    return (rows[:, :-2] + rows[:, 1:-1] + rows[:, 2:]) / 9.0


def _gradient(img: np.ndarray) -> np.ndarray:
    """Absolute horizontal plus vertical difference per pixel (grey levels per pixel)."""
    g = np.zeros_like(img)
    g[:, :-1] += np.abs(np.diff(img, axis=1))
    g[:-1, :] += np.abs(np.diff(img, axis=0))
    return g


def _grow(mask: np.ndarray, steps: int) -> np.ndarray:
    """`mask` grown by `steps` pixels (4-neighbour)."""
    out = mask.copy()
    for _ in range(steps):
        grown = out.copy()
        grown[1:] |= out[:-1]
        grown[:-1] |= out[1:]
        grown[:, 1:] |= out[:, :-1]
        grown[:, :-1] |= out[:, 1:]
        out = grown
    return out


# ---- the older reading: grey-level mix and edge energy per cell -----------------------

def _by_mix(pre: np.ndarray, post: np.ndarray, pixels: np.ndarray, changed: np.ndarray,
            weights: np.ndarray) -> str:
    balance = _energy_balance(pre, post, changed)
    mix = _mix_distance(pre[pixels], post[pixels])
    if (mix < _SAME_MIX and abs(balance) < _MOVED_BALANCE) or (mix < _SIMILAR_MIX and abs(balance) < _BALANCED):
        return MOVED
    if balance <= -_BALANCED:
        return TAKEN
    if balance >= _BALANCED:
        return PLACED
    return _by_background(pre, post, pixels, changed, weights, balance)


def _edge_energy(img: np.ndarray) -> np.ndarray:
    """Mean absolute gradient of each cell (grey levels per pixel)."""
    return cell_mean(_gradient(img))


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
