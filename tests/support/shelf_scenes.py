"""Rendered shelf scenes as real JPEGs, for tests and the benchmark.

A wall with two shelves of boxes and cans (distinct colours and textures), an arm
(skin, sleeve, a hand) reaching in from the top or a side, items taken or placed,
a person passing, lights switching with a colour cast, exposure drift, sensor
noise and JPEG compression. Everything is deterministic for a given seed.

The analysis tests are tuned on these frames, so they stay as they are. Scenes that know
their own truth (hand masks, item boxes, visits and verdicts), which the simulated camera
draws too, are `storewatch.camera.scene` and `storewatch.camera.scenarios`.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field, replace
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw

Box = tuple[float, float, float, float]  # normalized x0, y0, x1, y1


@dataclass(frozen=True)
class Item:
    box: Box
    colour: tuple[int, int, int]
    pattern: str  # "stripes", "blocks", "can", "dots"


SHELF_Y = (0.48, 0.92)  # the tops of the two shelf boards
ITEMS: tuple[Item, ...] = (
    Item((0.06, 0.22, 0.18, 0.47), (200, 40, 40), "stripes"),
    Item((0.21, 0.28, 0.30, 0.47), (40, 90, 190), "can"),
    Item((0.33, 0.18, 0.47, 0.47), (240, 200, 40), "blocks"),
    Item((0.50, 0.26, 0.60, 0.47), (60, 160, 70), "can"),
    Item((0.63, 0.20, 0.78, 0.47), (150, 60, 160), "dots"),
    Item((0.81, 0.30, 0.93, 0.47), (230, 120, 30), "stripes"),
    Item((0.08, 0.64, 0.22, 0.91), (30, 140, 140), "blocks"),
    Item((0.26, 0.70, 0.36, 0.91), (210, 210, 215), "can"),
    Item((0.40, 0.62, 0.56, 0.91), (120, 70, 40), "dots"),
    Item((0.60, 0.68, 0.70, 0.91), (220, 60, 120), "can"),
    Item((0.74, 0.63, 0.90, 0.91), (90, 90, 200), "stripes"),
)


@dataclass(frozen=True)
class Arm:
    """An arm from `side` ("top", "left", "right") reaching to `reach` (normalized x, y)."""

    side: str
    reach: tuple[float, float]
    width: float = 0.09


@dataclass(frozen=True)
class Frame:
    """What one rendered frame shows."""

    removed: frozenset[int] = frozenset()
    extra: tuple[Item, ...] = ()
    arm: Arm | None = None
    person_x: float | None = None  # centre of a person passing in the bottom strip
    gain: float = 1.0
    cast: tuple[float, float, float] = (1.0, 1.0, 1.0)
    noise: float = 2.0


def render(frame: Frame, size: tuple[int, int] = (640, 480), seed: int = 0, index: int = 0,
           quality: int = 85) -> bytes:
    """JPEG bytes of `frame` at `size` (width, height); `index` varies the sensor noise."""
    width, height = size
    base = _shelf(size, seed)
    img = Image.fromarray(base)
    draw = ImageDraw.Draw(img)
    for i in sorted(frame.removed):
        _erase_item(img, base, ITEMS[i], size, seed)
    for item in frame.extra:
        _draw_item(img, item, size, seed + 7)
    if frame.person_x is not None:
        _draw_person(draw, frame.person_x, size)
    if frame.arm is not None:
        _draw_arm(img, frame.arm, size, seed)
    pixels = np.asarray(img, dtype=np.float32)
    pixels = pixels * frame.gain * np.asarray(frame.cast, np.float32)
    rng = np.random.default_rng((seed, index))
    pixels += rng.normal(0.0, frame.noise, pixels.shape).astype(np.float32)
    out = io.BytesIO()
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(out, "JPEG", quality=quality)
    return out.getvalue()


@lru_cache(maxsize=8)
def _shelf(size: tuple[int, int], seed: int) -> np.ndarray:
    width, height = size
    rng = np.random.default_rng(seed)
    yy = np.linspace(0, 1, height, dtype=np.float32)[:, None]
    wall = 175 + 25 * yy + rng.normal(0, 4, (height, width)).astype(np.float32)
    img = Image.fromarray(np.repeat(np.clip(wall, 0, 255)[..., None], 3, 2).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    for top in SHELF_Y:
        draw.rectangle([0, top * height, width, (top + 0.05) * height], fill=(120, 85, 50))
        draw.line([0, top * height, width, top * height], fill=(70, 45, 25), width=max(1, height // 160))
    for item in ITEMS:
        _draw_item(img, item, size, seed)
    return np.asarray(img).copy()


def _px(box: Box, size: tuple[int, int]) -> tuple[int, int, int, int]:
    return (round(box[0] * size[0]), round(box[1] * size[1]), round(box[2] * size[0]), round(box[3] * size[1]))


def _draw_item(img: Image.Image, item: Item, size: tuple[int, int], seed: int) -> None:
    x0, y0, x1, y1 = _px(item.box, size)
    w, h = x1 - x0, y1 - y0
    rng = np.random.default_rng((seed, x0, y0))
    colour = np.asarray(item.colour, np.float32)
    patch = np.ones((h, w, 3), np.float32) * colour
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    if item.pattern == "stripes":
        patch *= (0.75 + 0.25 * (np.sin(yy / max(h, 1) * 40) > 0))[..., None]
    elif item.pattern == "can":
        patch *= (0.55 + 0.45 * np.sin(np.pi * (xx + 0.5) / w))[..., None]
        patch[h // 3: h // 3 + max(2, h // 6)] = 235
    elif item.pattern == "dots":
        patch *= (0.7 + 0.3 * ((np.sin(xx / 3.0) * np.sin(yy / 3.0)) > 0.3))[..., None]
    else:
        for _ in range(8):  # printed blocks of "text"
            bx, by = rng.integers(0, max(1, w - w // 3)), rng.integers(0, max(1, h - h // 8))
            patch[by: by + max(2, h // 10), bx: bx + max(3, w // 3)] = rng.integers(10, 80)
    patch[:, :2] *= 0.6
    patch[:, -2:] *= 0.6
    img.paste(Image.fromarray(np.clip(patch, 0, 255).astype(np.uint8)), (x0, y0))


def _erase_item(img: Image.Image, base: np.ndarray, item: Item, size: tuple[int, int], seed: int) -> None:
    x0, y0, x1, y1 = _px(item.box, size)
    rng = np.random.default_rng(seed + 1)
    yy = np.linspace(y0 / size[1], y1 / size[1], y1 - y0, dtype=np.float32)[:, None]
    wall = 175 + 25 * yy + rng.normal(0, 4, (y1 - y0, x1 - x0)).astype(np.float32)
    wall *= 0.8  # the empty slot is in the shadow of the shelf above
    img.paste(Image.fromarray(np.repeat(np.clip(wall, 0, 255)[..., None], 3, 2).astype(np.uint8)), (x0, y0))


def _draw_arm(img: Image.Image, arm: Arm, size: tuple[int, int], seed: int) -> None:
    width, height = size
    tx, ty = arm.reach[0] * width, arm.reach[1] * height
    sx, sy = {"top": (tx + 0.1 * width, -10), "left": (-10, ty - 0.1 * height),
              "right": (width + 10, ty - 0.1 * height)}[arm.side]
    half = arm.width * width / 2
    dx, dy = tx - sx, ty - sy
    norm = max(1e-6, (dx * dx + dy * dy) ** 0.5)
    nx, ny = -dy / norm * half, dx / norm * half
    layer = Image.new("L", size, 0)
    d = ImageDraw.Draw(layer)
    d.polygon([(sx + nx, sy + ny), (tx + nx, ty + ny), (tx - nx, ty - ny), (sx - nx, sy - ny)], fill=1)
    sleeve = Image.new("L", size, 0)
    ds = ImageDraw.Draw(sleeve)
    mx, my = sx + dx * 0.55, sy + dy * 0.55
    ds.polygon([(sx + nx * 1.2, sy + ny * 1.2), (mx + nx * 1.2, my + ny * 1.2),
                (mx - nx * 1.2, my - ny * 1.2), (sx - nx * 1.2, sy - ny * 1.2)], fill=1)
    r = half * 1.3
    d.ellipse([tx - r, ty - r, tx + r, ty + r], fill=1)
    for k in range(4):  # fingers
        fx = tx + (k - 1.5) * r * 0.45
        d.line([(fx, ty), (fx + dx / norm * r * 0.9, ty + dy / norm * r * 1.6)], fill=1, width=max(2, int(r * 0.3)))
    rng = np.random.default_rng((seed, 99))
    h, w = size[1], size[0]
    skin = np.array([224, 172, 140], np.float32) * (0.9 + 0.1 * rng.random((h, w, 1), np.float32))
    yy, xx = np.mgrid[0:h, 0:w]
    cloth = np.array([40, 60, 110], np.float32) * (0.8 + 0.4 * ((xx + yy) // max(2, w // 100) % 2))[..., None]
    pixels = np.asarray(img, dtype=np.float32)
    arm_mask = np.asarray(layer, bool)[..., None]
    sleeve_mask = np.asarray(sleeve, bool)[..., None]
    pixels = np.where(arm_mask, skin, pixels)
    pixels = np.where(sleeve_mask, cloth, pixels)
    img.paste(Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)))


def _draw_person(draw: ImageDraw.ImageDraw, x: float, size: tuple[int, int]) -> None:
    width, height = size
    cx = x * width
    draw.ellipse([cx - 0.05 * width, 0.52 * height, cx + 0.05 * width, 0.66 * height], fill=(190, 140, 110))
    draw.rectangle([cx - 0.09 * width, 0.66 * height, cx + 0.09 * width, height], fill=(60, 70, 50))
    draw.rectangle([cx - 0.06 * width, 0.72 * height, cx + 0.06 * width, 0.76 * height], fill=(200, 190, 60))


# ---- sequences -------------------------------------------------------------------

@dataclass
class Sequence:
    frames: list[Frame]
    times: list[float]
    size: tuple[int, int] = (640, 480)
    seed: int = 0
    jpegs: list[bytes] = field(default_factory=list)

    def render(self) -> "Sequence":
        self.jpegs = [render(f, self.size, self.seed, i) for i, f in enumerate(self.frames)]
        return self


def uniform_times(count: int, step: float = 0.5, start: float = 1000.0) -> list[float]:
    return [start + i * step for i in range(count)]


def reach_sequence(item: int, outcome: str, side: str = "top", idle: int = 8, after: int = 20,
                   step: float = 0.5, **kw) -> Sequence:
    """An arm reaches for `item`: outcome "take" removes it, "touch" leaves it, "place" adds one."""
    x0, y0, x1, y1 = ITEMS[item].box
    target = ((x0 + x1) / 2, (y0 + y1) / 2)
    before = frozenset([item]) if outcome == "place" else frozenset()
    after_removed = frozenset([item]) if outcome == "take" else frozenset()
    path = [0.35, 0.7, 1.0, 1.0, 1.0, 0.7, 0.35]
    frames = [Frame(removed=before)] * idle
    for k, p in enumerate(path):
        start = (target[0], 0.0) if side == "top" else ((0.0 if side == "left" else 1.0), target[1])
        reach = (start[0] + (target[0] - start[0]) * p, start[1] + (target[1] - start[1]) * p)
        removed = after_removed if k >= 4 else before
        frames.append(Frame(removed=removed, arm=Arm(side, reach)))
    frames += [Frame(removed=after_removed)] * after
    frames = [replace(f, **kw) for f in frames]
    return Sequence(frames, uniform_times(len(frames), step)).render()


def roi_around(*items: int, margin: float = 0.02) -> tuple[tuple[float, float], ...]:
    """Rectangle polygon around the given items (normalized)."""
    boxes = [ITEMS[i].box for i in items]
    x0, y0 = min(b[0] for b in boxes) - margin, min(b[1] for b in boxes) - margin
    x1, y1 = max(b[2] for b in boxes) + margin, max(b[3] for b in boxes) + margin
    return ((x0, y0), (x1, y0), (x1, y1), (x0, y1))
