"""What happened inside an ROI: taken, placed, moved or unchanged.

Given the clean Before and After crops and the cells that changed between them
(`scoring`, lighting-blind), After is mapped onto Before's light (a gain and an offset
fitted on the unchanged cells: dimming, exposure, white balance) and the pixels that
differ inside the changed cells are cut into blobs (changed cells that touch). Each blob
is asked, in this order:

- *Did it move?* An item shifted by up to about its own width (sideways, a few pixels up
  or down), or turned where it stands (its face squeezed or widened about its middle),
  shows Before's pixels again in After, displaced: for one shift or turn, most of the
  blob's After matches Before mapped there and most of its Before matches After mapped
  back, each landing inside the changed pixels (so an unchanged neighbour that looks the
  same is no match). Then it is moved, on a plain wall or a patterned one.
- *Which side shows the background?* Each patch of the blob is looked up among the
  patches of the unchanged surroundings around it, in the same picture. The side whose
  patches are found there continues its surroundings (the wall, plain or patterned, a
  board); the other holds an item. After like its surroundings and Before not is a
  removal, the reverse a placement; neither like them is an item on both sides (turned,
  swapped): moved. Each side is compared with its own surroundings, so a light change
  between the two does not matter; the tolerances shrink with the ROI's contrast (dim
  light) down to the sensor noise.
- Otherwise the blob is undecided (both sides somewhat like their surroundings: random
  tiles, a crop with hardly any surroundings).

The ROI's verdict from its decided blobs: taken if any is taken (unless as many placed
blobs of the same size and brightness take their places: an item carried further than its
width is moved), else placed if any is placed, else moved. With no decided blob, the
outline reading decides over the whole ROI: along the border of the differing pixels, the
side with an edge against the unchanged surroundings holds the object, and the emptied
side must be plainer or no busier than its surroundings (a turned item keeps both sides
busy); with too few differing pixels even for that (a change only of brightness), the
grey-level mix and the amount of structure decide.

It runs once per visit and touched ROI, on the changed part of a small crop: a bounded
search of shifts and turns on every other differing pixel, and one patch comparison per
blob without BLAS (its threads would make the cost depend on the machine's load).
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
_MIN_PIXELS = 16  # differing pixels a blob needs to be read at all
_MIN_SHARE = 0.15  # ... and its share of all the differing pixels (smaller blobs are JPEG or shadow)
# The shift search: sideways up to the blob's own width, up and down by _SHIFT_DY pixels, on
# every _SHIFT_STEP-th differing pixel; a pixel matches within _MATCH grey levels (3x3 means).
_SHIFT_DY, _SHIFT_STEP, _MATCH = 2, 2, 12.0
_TURN_SCALES = (0.5, 0.6, 0.7, 0.8, 0.9)  # cos(60 degrees) .. cos(25 degrees)
# A shift or turn explaining this share of the blob both ways: moved. A shift by d of an item w
# wide explains w/(w+d) of the blob on a wall (0.5 and up to a whole width, less beside a
# neighbour it half covers); of a flat, label-less item only its edges differ, so less lands in
# the changed pixels (0.27-0.35); a take or a placement 0.0-0.2 (what happens to look alike; 99 %
# below 0.3 on the broader matrix).
_MOVED_MATCH = 0.3
# A patch is a _GRID x _GRID grid of the 3x3-mean picture, _GRID_STEP pixels apart (9x9 pixels),
# centred on every _PATCH_STEP-th pixel; a blob's patch is like its surroundings (unchanged,
# _RING pixels out from the blob) when one of theirs, lit up to _SHADE brighter or darker,
# is within an RMS of _LIKE grey levels. Shares of the blob's patches: the emptied side at
# least _LIKE_ENOUGH and _LIKE_MORE above the other (takes and placements: 0.5-1.0 against
# 0.0-0.4; a turned item's sides 0.0-0.5); both below _LIKE_NEITHER: an item on both sides.
_GRID, _GRID_STEP, _PATCH_STEP, _RING, _LIKE, _SHADE = 5, 2, 2, (3, 12), 8.0, 1.15
_LIKE_ENOUGH, _LIKE_MORE, _LIKE_NEITHER = 0.6, 0.2, 0.3
# In shadow, the item's side of a take or placement stays below _LIKE_NONE (0.0-0.05); a turned
# item's sides are both partly like the wall (0.14 and up: the wall shows again beside its side).
_LIKE_NONE = 0.1
_SHADOW = 1.4  # how much darker an emptied gap may be (the board above shades it) before it is no background
_LEAST_RING = 0.25  # unchanged surroundings inside the ROI, as a share of the blob, to compare with at all
# The ROI's contrast (standard deviation of its grey levels) at which the tolerances are whole
# (a lit shelf measures 40-55, dimmed to half 20-27), and the least share of them.
_FULL_CONTRAST, _DIMMEST = 40.0, 0.35
# Two blobs, a taken and a placed one, are one item carried off and put down elsewhere in
# the ROI when their sizes are within this ratio and their mean grey levels within _SAME_LOOK.
_SAME_SIZE, _SAME_LOOK = 1.6, 15.0

# The outline reading, when no blob is decided by a match or by its surroundings.
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
_OUTLINE_RING = (1, 5)  # the surroundings: this many pixels out from the differing region

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
    said = _by_blobs(pre, post, changed, weights)
    if said is not None:
        return said
    matched = post / _common_gain(pre, post, changed, weights)
    pixels = _pixel_mask(changed, pre.shape)
    verdict = _by_outline(_mean3(pre), _mean3(matched), pixels)
    return verdict if verdict is not None else _by_mix(pre, matched, pixels, changed, weights)


def _by_blobs(pre: np.ndarray, post: np.ndarray, changed: np.ndarray, weights: np.ndarray) -> str | None:
    """The verdict from the blobs that a match or their surroundings decide; None: none does."""
    post = _matched_light(pre, post, changed, weights)
    a, b = _mean3(pre), _mean3(post)
    gap = np.abs(a - b)
    region, still = _pixel_mask(changed, pre.shape) & (gap > _DIFFERS), gap < _DIFFERS / 2
    calm = still & _pixel_mask(~changed & (weights > 0.5), pre.shape)
    # The sensor noise (of a pixel's difference between the two), robustly: the unchanged cells
    # may still hold an edge the light change moved.
    spread = pre[calm] - post[calm]
    noise = 1.4826 * float(np.median(np.abs(spread - np.median(spread)))) if spread.size > 64 else 0.0
    total = int(np.count_nonzero(region))
    # Contrast shrinks with the light: in a dim ROI the tolerances shrink with it (down to
    # what the sensor noise allows), else in dim light everything looks alike.
    inside = pre[_pixel_mask(weights > 0.5, pre.shape)]
    level = min(1.0, max(_DIMMEST, float(np.std(inside)) / _FULL_CONTRAST)) if inside.size else 1.0
    match, like = max(_MATCH * level, noise), max(_LIKE * level, noise)
    blobs = []
    for cells in _blobs(changed):
        mine = region & _pixel_mask(cells, pre.shape)
        count = int(np.count_nonzero(mine))
        if count >= _MIN_PIXELS and count >= _MIN_SHARE * total:
            verdict = _blob_verdict(a, b, mine, still, match, like)
            if verdict is not None:
                blobs.append((verdict, mine))
    return _combined(a, b, blobs) if blobs else None


def _matched_light(pre: np.ndarray, post: np.ndarray, changed: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """`post` mapped onto `pre`'s light: gain and offset fitted on the cells that did not change.

    Too few unchanged cells (or a fit that makes no sense) fall back to the ROI's common gain.
    """
    m_pre, m_post = cell_mean(pre), cell_mean(post)
    use = (~changed) & (weights > 0.5) & (m_pre > 8.0) & (m_post > 8.0) & (m_pre < 250.0) & (m_post < 250.0)
    if np.count_nonzero(use) >= 6 and float(np.ptp(m_pre[use])) >= 16.0:
        x, y = m_pre[use].astype(np.float64), m_post[use].astype(np.float64)
        gain, offset = np.polyfit(x, y, 1)
        if 0.2 <= gain <= 5.0:
            return ((post - offset) / gain).astype(np.float32)
    return post / _common_gain(pre, post, changed, weights)


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


def _blobs(cells: np.ndarray) -> list[np.ndarray]:
    """The changed cells cut into groups that touch (8-neighbour, across a one-cell gap)."""
    near = _grow(cells, 1, diagonal=True)
    label = np.full(cells.shape, -1, int)
    out = []
    for start in zip(*np.nonzero(cells)):
        if label[start] >= 0:
            continue
        label[start] = len(out)
        todo, members = [start], []
        while todo:
            y, x = todo.pop()
            members.append((y, x))
            for ny in range(max(0, y - 1), min(cells.shape[0], y + 2)):
                for nx in range(max(0, x - 1), min(cells.shape[1], x + 2)):
                    if near[ny, nx] and label[ny, nx] < 0:
                        label[ny, nx] = len(out)
                        todo.append((ny, nx))
        blob = np.zeros(cells.shape, bool)
        blob[tuple(np.array(members).T)] = True
        out.append(blob & cells)
    return out


# ---- one blob ---------------------------------------------------------------------------

def _blob_verdict(pre: np.ndarray, post: np.ndarray, region: np.ndarray, still: np.ndarray,
                  match: float, like: float) -> str | None:
    """moved (a match), taken or placed (one side like its surroundings), or None: undecided."""
    if max(_shift_match(pre, post, region, match), _turn_match(pre, post, region, match)) >= _MOVED_MATCH:
        return MOVED
    ring = _grow(region, _RING[1]) & ~_grow(region, _RING[0]) & still
    if np.count_nonzero(ring) < _LEAST_RING * np.count_nonzero(region):
        return None  # hardly any surroundings inside the ROI to compare with
    before, after = _likeness(pre, region, ring, like), _likeness(post, region, ring, like)
    if after >= _LIKE_ENOUGH and after - before >= _LIKE_MORE:
        return TAKEN
    if before >= _LIKE_ENOUGH and before - after >= _LIKE_MORE:
        return PLACED
    if max(before, after) < _LIKE_NEITHER:
        # Neither side continues its surroundings: an item on both (turned, swapped), unless one side
        # does in shadow (a gap the board above shades) and the other is nothing like them, even so.
        shaded = sorted((_likeness(pre, region, ring, like, _SHADOW), _likeness(post, region, ring, like, _SHADOW)))
        if shaded[1] < _LIKE_NEITHER or shaded[0] >= _LIKE_NONE:
            return MOVED
    return None


def _shift_match(pre: np.ndarray, post: np.ndarray, region: np.ndarray, match: float = _MATCH) -> float:
    """The largest share of `region` that one shift explains both ways (0..1).

    For a shift d, a pixel x of the region is explained forwards when After(x) matches
    Before(x - d) and backwards when Before(x) matches After(x + d), each only where the
    pixel it is compared with lies in the changed part too; the share is the lesser of both.
    """
    ys, xs = np.nonzero(region)
    keep = (ys % _SHIFT_STEP == 0) & (xs % _SHIFT_STEP == 0)
    ys, xs = ys[keep], xs[keep]
    if not len(xs):
        return 0.0
    reach = int(xs.max() - xs.min() + 1)
    height, width = region.shape
    landing = _grow(region, 2)
    shifts = np.arange(-reach, reach + 1)
    back, fwd = {}, {}  # row offset -> share matched per column shift
    for dy in range(-_SHIFT_DY, _SHIFT_DY + 1):
        sy = ys + dy
        sx = xs[:, None] + shifts[None, :]
        inside = ((sy >= 0) & (sy < height))[:, None] & (sx >= 0) & (sx < width)
        sy_c = np.clip(sy, 0, height - 1)[:, None]
        sx_c = np.clip(sx, 0, width - 1)
        lands = inside & landing[sy_c, sx_c]
        # the other picture at (y + dy, x + shifts[k]): for d = (dy, s) backwards, for d = (-dy, -s) forwards
        back[dy] = ((np.abs(pre[ys, xs][:, None] - post[sy_c, sx_c]) < match) & lands).mean(axis=0)
        fwd[dy] = ((np.abs(post[ys, xs][:, None] - pre[sy_c, sx_c]) < match) & lands).mean(axis=0)
    best = 0.0
    for dy in range(-_SHIFT_DY, _SHIFT_DY + 1):
        score = np.minimum(back[dy], fwd[-dy][::-1])  # column k: d = (dy, shifts[k])
        if abs(dy) < 2:
            score[np.abs(shifts) < 2] = 0.0  # (nearly) no shift: there the region differs by definition
        best = max(best, float(score.max()))
    return best


def _turn_match(pre: np.ndarray, post: np.ndarray, region: np.ndarray, match: float = _MATCH) -> float:
    """Like `_shift_match` for an item turned where it stands: its face narrower or wider.

    Turning an item about its upright axis squeezes (or, turned back, widens) its face
    sideways about where it stands, and shows a side: columns u of Before map to
    c + scale * (u - c) + d of After (c the blob's middle), for the scales in _TURN_SCALES
    and either way round, and every offset d up to half the blob's width.
    """
    ys, xs = np.nonzero(region)
    keep = (ys % _SHIFT_STEP == 0) & (xs % _SHIFT_STEP == 0)
    ys, xs = ys[keep], xs[keep]
    if not len(xs):
        return 0.0
    width = region.shape[1]
    centre = (float(xs.min()) + float(xs.max())) / 2.0
    reach = int(xs.max() - xs.min() + 1) // 2
    offsets = np.arange(-reach, reach + 1)[None, :]
    landing = _grow(region, 2)
    pre_here, post_here = pre[ys, xs][:, None], post[ys, xs][:, None]
    column = xs[:, None].astype(np.float64)
    rows = ys[:, None]
    best = 0.0
    for scale in (*_TURN_SCALES, *(1.0 / k for k in _TURN_SCALES)):
        there = np.rint(centre + scale * (column - centre) + offsets).astype(int)  # Before column -> After
        back_from = np.rint(centre + (column - centre - offsets) / scale).astype(int)  # After column -> Before
        shares = []
        for other, target, mine in ((post, there, pre_here), (pre, back_from, post_here)):
            inside = (target >= 0) & (target < width)
            target = np.clip(target, 0, width - 1)
            shares.append(((np.abs(mine - other[rows, target]) < match) & inside & landing[rows, target]).mean(axis=0))
        best = max(best, float(np.minimum(*shares).max()))
    return best


def _likeness(img: np.ndarray, region: np.ndarray, ring: np.ndarray, like: float, shade: float = 0.0) -> float:
    """The share of `region`'s patches in `img` that some patch of `ring` in `img` matches (0..1).

    A patch is read as a _GRID x _GRID grid of the 3x3-mean picture, _GRID_STEP pixels apart;
    the distances are summed offset by offset (no BLAS: its threads make the cost depend
    on what else runs on the machine).
    """
    reach = (_GRID // 2) * _GRID_STEP
    padded = np.pad(img, reach, mode="edge")
    centres = []
    for mask in (region, ring):
        ys, xs = np.nonzero(mask)
        keep = (ys % _PATCH_STEP == 0) & (xs % _PATCH_STEP == 0)
        centres.append((ys[keep] + reach, xs[keep] + reach))
    (ry, rx), (gy, gx) = centres
    if not len(ry) or not len(gy):
        return 0.0
    steps = range(-reach, reach + 1, _GRID_STEP)
    dot = own = theirs = 0.0
    for dy in steps:
        for dx in steps:
            mine, around = padded[ry + dy, rx + dx][:, None], padded[gy + dy, gx + dx][None, :]
            dot = dot + mine * around
            own, theirs = own + mine * mine, theirs + around * around
    # Each surrounding patch may be lit up to `shade` (default _SHADE) brighter or darker (a lamp's
    # falloff, a gap in the shade of the board above): the best gain within that range, per pair.
    shade = shade or _SHADE
    gain = np.clip(dot / np.maximum(theirs, 1e-6), 1.0 / shade, shade)
    distance = own - 2.0 * gain * dot + gain * gain * theirs
    return float(np.mean(distance.min(axis=1) < like * like * _GRID * _GRID))


def _combined(pre: np.ndarray, post: np.ndarray, blobs: list[tuple[str, np.ndarray]]) -> str:
    """The ROI's verdict from its blobs' (see the module's docstring)."""
    said = [verdict for verdict, _ in blobs]
    if TAKEN in said:
        placed = [region for verdict, region in blobs if verdict == PLACED]
        for verdict, region in blobs:
            if verdict == TAKEN and not any(_same_item(pre[region], post[other]) for other in placed):
                return TAKEN
        return MOVED if said.count(TAKEN) <= len(placed) else TAKEN
    if PLACED in said:
        return PLACED
    return MOVED


def _same_item(gone: np.ndarray, new: np.ndarray) -> bool:
    """Could what left one blob be what came into another (about as big, about as bright)?"""
    ratio = max(gone.size, new.size) / max(1, min(gone.size, new.size))
    return ratio <= _SAME_SIZE and abs(float(gone.mean()) - float(new.mean())) <= _SAME_LOOK


def _by_outline(pre: np.ndarray, post: np.ndarray, cells: np.ndarray) -> str | None:
    """taken / placed / moved from the differing pixels of 3x3-mean crops; None: too few to tell."""
    gap = np.abs(pre - post)
    region = cells & (gap > _DIFFERS)
    still = gap < _DIFFERS / 2
    sided = _outline_side(pre, post, region, still)
    if sided is None:
        return None
    ring = _grow(region, _OUTLINE_RING[1]) & ~_grow(region, _OUTLINE_RING[0]) & still
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


def _grow(mask: np.ndarray, steps: int, diagonal: bool = False) -> np.ndarray:
    """`mask` grown by `steps` pixels (4-neighbour, or 8-neighbour when `diagonal`)."""
    out = mask.copy()
    for _ in range(steps):
        grown = out.copy()
        grown[1:] |= out[:-1]
        grown[:-1] |= out[1:]
        if diagonal:
            out = grown.copy()
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
