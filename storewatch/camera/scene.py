"""The rendered shop shelf: one scene model and renderer, and the truth of what it shows.

Three shelf boards of labelled items. Arms reach in from the top or a side (`Reach`: take,
place, touch, with an optional still hold), people pass in front (`Passer`), the light
follows keyframes with a colour cast (`Lighting`), and every frame carries sensor noise.
A `Script` lists all of that on a timeline; `render` draws a moment of it and, when asked,
the mask of everything that is not the shelf (arms, hands, what they carry, passers-by).
`Script.truth` gives the visits and, per ROI, the net verdict each visit should get.

The simulated camera (`storewatch.camera.sources.simulated`) draws with the same functions; its
random timeline is a generator of `Reach`es. `storewatch.camera.scenarios` holds the
named, seeded scenarios the detection benchmark replays. Coordinates are normalized
(x right, y down, 0..1) unless a name says pixels.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageFont

from storewatch.contract import CONFIG_FIELD

SHELF_TOPS = (0.34, 0.64, 0.94)  # normalized y of each board's top surface
SLOTS_PER_SHELF = 8
PITCH = 0.9 / SLOTS_PER_SHELF  # normalized width of one slot
ITEM_WIDTH = PITCH * 0.76  # normalized width of an item's face
PALETTE = ((200, 40, 40), (40, 90, 200), (240, 200, 30), (40, 160, 70), (150, 60, 170),
           (240, 130, 30), (30, 170, 180), (230, 230, 230), (120, 80, 40), (220, 90, 150))
SKIN_TONES = ((224, 172, 135), (198, 134, 96), (141, 85, 54), (241, 194, 160))
VERDICTS = ("taken", "placed", "moved", "unchanged")
BACKGROUNDS = ("wall", "grey", "white")  # a shaded wall; a plain grey wall; a plain white back

Box = tuple[float, float, float, float]  # normalized left, top, right, bottom
Size = tuple[int, int]  # pixels: width, height


@dataclass(frozen=True)
class Item:
    label: str
    colour: tuple[int, int, int]
    height: float  # fraction of the shelf spacing
    bottle: bool


@dataclass(frozen=True)
class Placed:
    """An item standing in a slot: `dx` shifts it by that many item widths, `turn` (degrees)
    turns it about its vertical axis (its label moves round to the side)."""

    item: Item
    dx: float = 0.0
    turn: float = 0.0


Stock = tuple["Placed | None", ...]  # one entry per slot, shelf by shelf


def shelf_of(slot: int) -> int:
    return slot // SLOTS_PER_SHELF


def item_box(slot: int, item_height: float = 1.0, dx: float = 0.0, turn: float = 0.0) -> Box:
    """Normalized box of an item standing in `slot`."""
    shelf, column = divmod(slot, SLOTS_PER_SHELF)
    spacing = SHELF_TOPS[1] - SHELF_TOPS[0]
    left = 0.05 + column * PITCH + PITCH * 0.12 + dx * ITEM_WIDTH
    bottom = SHELF_TOPS[shelf]
    top = bottom - spacing * 0.85 * item_height
    right = left + ITEM_WIDTH
    if turn:
        face, side = _turned_widths(turn)
        centre = (left + right) / 2
        left, right = centre - (face + side) / 2, centre + (face + side) / 2
    return (left, top, right, bottom)


def slot_box(size: Size, slot: int, item_height: float = 1.0, dx: float = 0.0, turn: float = 0.0) -> tuple[int, int, int, int]:
    """Pixel box of an item standing in `slot` (left, top, right, bottom)."""
    width, height = size
    left, top, right, bottom = item_box(slot, item_height, dx, turn)
    return (int(left * width), int(top * height), int(right * width), int(bottom * height))


def _turned_widths(turn: float) -> tuple[float, float]:
    """Visible widths of the front face and of the side (60 % as deep as wide) of a turned item."""
    angle = math.radians(turn)
    return ITEM_WIDTH * abs(math.cos(angle)), ITEM_WIDTH * 0.6 * abs(math.sin(angle))


def starter_rois() -> list[tuple[str, list[list[float]]]]:
    """One ROI per shelf board, normalized: what a newcomer would draw on this scene."""
    spacing = SHELF_TOPS[1] - SHELF_TOPS[0]
    rois = []
    for number, bottom in enumerate(SHELF_TOPS, 1):
        top = round(bottom - spacing * 0.92, 3)
        rois.append((f"shelf {number}", [[0.04, top], [0.96, top], [0.96, bottom], [0.04, bottom]]))
    return rois


# ---- actions --------------------------------------------------------------------------

@dataclass(frozen=True)
class Reach:
    """One arm's trip into the scene: out, hold at `slot`, back, over `duration` seconds.

    `kind` take: the item in `slot` goes with the hand; place: `item` is put there (shifted
    by `dx` item widths, turned by `turn` degrees); touch: nothing changes. The change
    happens half-way through the hold. `hold` seconds of stillness are added at full reach.
    `visit` groups the reaches (and passers) that make one visit in the truth.
    """

    start: float
    duration: float
    kind: str  # take | place | touch
    slot: int
    side: str  # top | left | right
    skin: tuple[int, int, int]
    item: Item
    hold: float = 0.0
    dx: float = 0.0
    turn: float = 0.0
    visit: int = 0

    def progress(self, t: float) -> float:
        return (t - self.start) / self.duration

    @property
    def end(self) -> float:
        return self.start + self.duration

    @property
    def change_at(self) -> float:
        """Scene time at which the stock changes (the middle of the hold)."""
        return self.start + self.duration / 2

    def active(self, t: float) -> bool:
        return 0.0 <= self.progress(t) < 1.0

    def extension(self, t: float) -> float:
        """How far the arm is extended (0..1): out over 40 % of the motion, hold, back."""
        motion = self.duration - self.hold
        if motion <= 0:
            return 1.0 if self.active(t) else 0.0
        elapsed = t - self.start
        if elapsed <= 0.0 or elapsed >= self.duration:
            return 0.0
        phase = min(1.0, elapsed / (0.4 * motion), (self.duration - elapsed) / (0.4 * motion))
        return phase * phase * (3 - 2 * phase)

    def changed(self, t: float) -> bool:
        """Whether the stock change has happened by `t` (as progress, the simulated camera's rule)."""
        return self.progress(t) >= 0.5

    def carrying(self, t: float) -> bool:
        after = self.changed(t)
        return (self.kind == "take" and after) or (self.kind == "place" and not after)


@dataclass(frozen=True)
class Passer:
    """A shopper walking across in front of the shelf, touching nothing."""

    start: float
    duration: float
    leftwards: bool = False
    coat: tuple[int, int, int] = (60, 70, 50)
    visit: int = 0

    @property
    def end(self) -> float:
        return self.start + self.duration

    def active(self, t: float) -> bool:
        return self.start <= t < self.end

    def centre_x(self, t: float) -> float:
        p = (t - self.start) / self.duration
        x = -0.2 + 1.4 * p
        return 1.0 - x if self.leftwards else x


@dataclass(frozen=True)
class Lighting:
    """Gain and colour cast from keyframes (time, gain, (r, g, b)), linear in between."""

    keys: tuple[tuple[float, float, tuple[float, float, float]], ...] = ((0.0, 1.0, (1.0, 1.0, 1.0)),)

    def at(self, t: float) -> tuple[float, tuple[float, float, float]]:
        keys = self.keys
        if t <= keys[0][0]:
            return keys[0][1], keys[0][2]
        for (t0, g0, c0), (t1, g1, c1) in zip(keys, keys[1:]):
            if t < t1:
                f = (t - t0) / (t1 - t0) if t1 > t0 else 1.0
                return g0 + (g1 - g0) * f, tuple(a + (b - a) * f for a, b in zip(c0, c1))  # type: ignore[return-value]
        return keys[-1][1], keys[-1][2]


# ---- drawing --------------------------------------------------------------------------

def _font(pixels: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    return _cached_font(max(8, pixels))


@lru_cache(maxsize=32)
def _cached_font(pixels: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=pixels)
    except (TypeError, OSError, ImportError):  # Pillow without FreeType
        return ImageFont.load_default()


def noise_images(rng: np.random.Generator, width: int, height: int, sigma: float = 3.0) -> tuple[Image.Image, Image.Image]:
    """Sensor-like noise as two RGB images: its positive part and its negative part."""
    noise = np.clip(rng.standard_normal((height, width, 3), dtype=np.float32) * sigma, -127, 127).astype(np.int8)
    brighter = Image.fromarray(np.maximum(noise, 0).astype(np.uint8), "RGB")
    darker = Image.fromarray(np.maximum(-noise, 0).astype(np.uint8), "RGB")
    return brighter, darker


def render_background(width: int, height: int, kind: str = "wall") -> Image.Image:
    """The empty shelf: a back (shaded wall, plain grey or plain white) and three boards."""
    if kind == "wall":
        ramp = np.linspace(205, 165, height, dtype=np.float32)[:, None, None]
        wall = np.broadcast_to(ramp * np.array([1.0, 0.97, 0.9], np.float32), (height, width, 3))
        image = Image.fromarray(wall.astype(np.uint8), "RGB")
    elif kind in ("grey", "white"):
        image = Image.new("RGB", (width, height), (128, 128, 126) if kind == "grey" else (236, 236, 232))
    else:
        raise ValueError(f"unknown background {kind!r}; use one of {', '.join(BACKGROUNDS)}")
    draw = ImageDraw.Draw(image)
    board = max(3, int(0.035 * height))
    board_colour = (120, 85, 55) if kind != "white" else (225, 225, 220)
    edge = (70, 50, 35) if kind != "white" else (170, 170, 165)
    for top in SHELF_TOPS:
        y = int(top * height)
        draw.rectangle((0, y, width, y + board), fill=board_colour)
        draw.rectangle((0, y + board, width, y + board + max(1, board // 4)), fill=edge)
    draw.rectangle((0, 0, int(0.03 * width), height), fill=(150, 140, 130))
    draw.rectangle((int(0.97 * width), 0, width, height), fill=(150, 140, 130))
    return image


def draw_item(draw: ImageDraw.ImageDraw, size: Size, slot: int, item: Item, dx: float = 0.0, turn: float = 0.0) -> None:
    left, top, right, bottom = slot_box(size, slot, item.height, dx, turn)
    dark = tuple(max(0, c - 60) for c in item.colour)
    face_right = right
    if turn:  # the side shows, in shadow, on the side the item turned away from
        face, side = _turned_widths(turn)
        side_px = int(round(side * size[0]))
        if turn > 0:
            draw.rectangle((right - side_px, top, right, bottom), fill=dark)
            face_right = right - side_px
        else:
            draw.rectangle((left, top, left + side_px, bottom), fill=dark)
            left = left + side_px
        right = face_right
    if right - left < 3:
        return
    if item.bottle:
        neck = (right - left) // 4
        draw.rectangle((left + neck // 2, top + (bottom - top) // 4, right - neck // 2, bottom), fill=item.colour, outline=dark)
        draw.rectangle((left + neck + neck // 2, top, right - neck - neck // 2, top + (bottom - top) // 4), fill=dark)
    else:
        draw.rectangle((left, top, right, bottom), fill=item.colour, outline=dark, width=max(1, (right - left) // 30))
    stripe_top = top + (bottom - top) * 2 // 5
    stripe_bottom = stripe_top + max(4, (bottom - top) // 5)
    draw.rectangle((left + 2, stripe_top, right - 2, stripe_bottom), fill=(250, 250, 245))
    font = _font(int((stripe_bottom - stripe_top) * 0.8))
    draw.text(((left + right) // 2, (stripe_top + stripe_bottom) // 2), item.label, fill=(20, 20, 20), font=font, anchor="mm")


def draw_arm(image: Image.Image, reach: Reach, t: float, mask: Image.Image | None = None) -> None:
    """Draw `reach`'s arm as it is at scene time `t`; the same shapes go into `mask` (255)."""
    width, height = image.size
    left, top, right, bottom = slot_box(image.size, reach.slot, reach.item.height)
    target = ((left + right) / 2, (top + bottom) / 2)
    entry = {"top": (target[0] + 0.05 * width, -0.05 * height),
             "left": (-0.05 * width, target[1] - 0.08 * height),
             "right": (1.05 * width, target[1] - 0.08 * height)}[reach.side]
    extension = reach.extension(t)
    hand = (entry[0] + (target[0] - entry[0]) * extension, entry[1] + (target[1] - entry[1]) * extension)
    arm_width = max(4, int(0.07 * width))
    sleeve = tuple(c // 3 for c in reach.skin)
    elbow = (entry[0] + (hand[0] - entry[0]) * 0.35, entry[1] + (hand[1] - entry[1]) * 0.35)
    carried = None
    if reach.carrying(t):
        half_w, half_h = (right - left) / 2, (bottom - top) / 2
        carried = (hand[0] - half_w, hand[1] - half_h, hand[0] + half_w, hand[1] + half_h)
    radius = arm_width * 0.8
    angle = math.atan2(target[1] - entry[1], target[0] - entry[0])
    tips = [(hand[0] + math.cos(angle + (f - 1.5) * 0.35) * radius * 1.9,
             hand[1] + math.sin(angle + (f - 1.5) * 0.35) * radius * 1.9) for f in range(4)]
    for draw, one in ((ImageDraw.Draw(image), None), (ImageDraw.Draw(mask) if mask is not None else None, 255)):
        if draw is None:
            continue
        draw.line((entry, elbow), fill=one or sleeve, width=int(arm_width * 1.3), joint="curve")
        draw.line((elbow, hand), fill=one or reach.skin, width=arm_width, joint="curve")
        if carried:
            draw.rectangle(carried, fill=one or reach.item.colour)
        draw.ellipse((hand[0] - radius, hand[1] - radius, hand[0] + radius, hand[1] + radius), fill=one or reach.skin)
        for tip in tips:
            draw.line((hand, tip), fill=one or reach.skin, width=max(2, arm_width // 4))


def draw_passer(image: Image.Image, passer: Passer, t: float, mask: Image.Image | None = None) -> None:
    width, height = image.size
    cx = passer.centre_x(t) * width
    head = (cx - 0.045 * width, 0.12 * height, cx + 0.045 * width, 0.26 * height)
    body = (cx - 0.1 * width, 0.26 * height, cx + 0.1 * width, height)
    for draw, one in ((ImageDraw.Draw(image), None), (ImageDraw.Draw(mask) if mask is not None else None, 255)):
        if draw is None:
            continue
        draw.ellipse(head, fill=one or (190, 140, 110))
        draw.rectangle(body, fill=one or passer.coat)
        draw.rectangle((cx - 0.07 * width, 0.45 * height, cx + 0.07 * width, 0.5 * height), fill=one or (200, 190, 60))


def apply_light(image: Image.Image, gain: float, cast: tuple[float, float, float] = (1.0, 1.0, 1.0)) -> Image.Image:
    # Pillow's table lookup works in place of numpy's float copies of the frame (6 MB as RGB,
    # 24 MB as float32): the simulated camera runs inside the appliance's memory target.
    return image.point([min(255, int(value * gain * c)) for c in cast for value in range(256)])


# ---- scripts and their truth -----------------------------------------------------------

@dataclass(frozen=True)
class RoiTruth:
    """What one visit should report for one ROI (an ROI the visit touched)."""

    roi: int  # index into Script.rois
    verdict: str  # taken | placed | moved | unchanged


@dataclass(frozen=True)
class VisitTruth:
    start: float  # first frame time with a hand (or a passer) in any ROI
    end: float  # the last such frame time
    rois: tuple[RoiTruth, ...]  # the touched ROIs with their expected net verdicts
    passer_only: bool = False


@dataclass(frozen=True)
class FrameTruth:
    t: float
    hand: np.ndarray  # bool mask (H, W) of arms, hands, carried items and passers-by
    hand_in_roi: tuple[bool, ...]  # per ROI of the script: at least hand_pixels_min pixels
    hand_share: tuple[float, ...]  # per ROI: the share of its area under the hand
    items: tuple[tuple[str, int, Box, float], ...]  # (label, shelf, normalized box, turn)

    @property
    def hand_box(self) -> Box | None:
        """The normalized box around everything in `hand`, or None when nobody is in view."""
        ys, xs = np.nonzero(self.hand)
        if not len(xs):
            return None
        height, width = self.hand.shape
        return (xs.min() / width, ys.min() / height, (xs.max() + 1) / width, (ys.max() + 1) / height)


TOUCH_SHARE = 0.01  # a visit touched an ROI when the hand covered this much of it in some frame


def hand_pixels_min(size: Size) -> int:
    """Fewest hand pixels inside an ROI that count as "a hand in it" (JPEG edges aside)."""
    return max(4, size[0] * size[1] // 20000)


@dataclass(frozen=True)
class Script:
    """A named scene: its starting stock, its actions, light, noise and frame schedule."""

    name: str
    seed: int
    duration: float
    stock: Stock
    reaches: tuple[Reach, ...] = ()
    passers: tuple[Passer, ...] = ()
    lighting: Lighting = field(default_factory=Lighting)
    noise: float = 3.0
    background: str = "wall"
    baseline: bool = False  # one frame every BASELINE_S until a hand is seen, then burst
    rois: tuple[tuple[str, tuple[tuple[float, float], ...]], ...] = tuple(
        (name, tuple((x, y) for x, y in poly)) for name, poly in starter_rois())
    description: str = ""

    def stock_at(self, t: float) -> Stock:
        stock = list(self.stock)
        for reach in sorted(self.reaches, key=lambda r: r.change_at):
            if not reach.changed(t):
                continue
            if reach.kind == "take":
                stock[reach.slot] = None
            elif reach.kind == "place":
                stock[reach.slot] = Placed(reach.item, reach.dx, reach.turn)
        return tuple(stock)

    def actions_at(self, t: float) -> tuple[list[Reach], list[Passer]]:
        return [r for r in self.reaches if r.active(t)], [p for p in self.passers if p.active(t)]

    def times(self, fps: float) -> list[float]:
        """Capture times: `fps` throughout, or (baseline) one frame every BASELINE_S until a
        frame shows a hand in an ROI, then `fps` until BURST_HOLD_S after the last such frame."""
        step = 1.0 / fps
        if not self.baseline:
            return [round(n * step, 6) for n in range(int(self.duration * fps) + 1)]
        out, t, burst_until = [], 0.0, -math.inf
        while t <= self.duration:
            out.append(round(t, 6))
            if self._hand_in_rois(t):
                burst_until = t + BURST_HOLD_S
            t = t + step if t + step <= burst_until else (math.floor(t / BASELINE_S + 1e-9) + 1) * BASELINE_S
        return out

    def _hand_in_rois(self, t: float, size: Size = (160, 120)) -> bool:
        reaches, passers = self.actions_at(t)
        if not reaches and not passers:
            return False
        return any(hand_in_rois(self, _mask_only(self, t, size), size))

    def visits(self) -> list[int]:
        return sorted({a.visit for a in (*self.reaches, *self.passers)})

    def truth(self, times: list[float], size: Size = (320, 240)) -> tuple[list[VisitTruth], list[FrameTruth]]:
        """The visits and per-frame truth for frames captured at `times` (rendered at `size`)."""
        frames = [frame_truth(self, t, size) for t in times]
        visits = []
        for visit in self.visits():
            reaches = [r for r in self.reaches if r.visit == visit]
            passers = [p for p in self.passers if p.visit == visit]
            first = min(a.start for a in (*reaches, *passers))
            last = max(a.end for a in (*reaches, *passers))
            mine = [f for f in frames if first <= f.t < last and any(f.hand_in_roi)]
            if not mine:
                continue  # never seen: no frame caught it in an ROI
            touched = [k for k in range(len(self.rois)) if max(f.hand_share[k] for f in mine) >= TOUCH_SHARE]
            before, after = self.stock_at(first - 1e-6), self.stock_at(last)
            rois = tuple(RoiTruth(k, net_verdict(before, after, k)) for k in touched)
            visits.append(VisitTruth(mine[0].t, mine[-1].t, rois, passer_only=not reaches))
        return visits, frames


BASELINE_S = 30.0  # the camera's baseline interval
BURST_HOLD_S = 10.0  # how long the camera stays in burst after it last saw motion


def net_verdict(before: Stock, after: Stock, shelf: int) -> str:
    """taken / placed / moved / unchanged for the slots of `shelf` between two stocks.

    Items are known by label: one that is gone is taken, one that is new is placed (a take
    wins over a place in the same ROI, which the repertoire avoids), one that stands
    shifted or turned, in its slot or another on the same shelf, is moved.
    """
    def on_shelf(stock: Stock) -> dict[str, tuple[int, float, float]]:
        return {p.item.label: (slot, p.dx, p.turn) for slot, p in enumerate(stock)
                if p is not None and shelf_of(slot) == shelf}

    was, now = on_shelf(before), on_shelf(after)
    if set(was) - set(now):
        return "taken"
    if set(now) - set(was):
        return "placed"
    return "moved" if was != now else "unchanged"


def hand_in_rois(script: Script, mask: np.ndarray, size: Size) -> tuple[bool, ...]:
    least = hand_pixels_min(size)
    return tuple(int(np.count_nonzero(mask & m)) >= least for m in roi_masks(script.rois, size))


def hand_shares(script: Script, mask: np.ndarray, size: Size) -> tuple[float, ...]:
    return tuple(np.count_nonzero(mask & m) / max(1, np.count_nonzero(m)) for m in roi_masks(script.rois, size))


@lru_cache(maxsize=16)
def roi_masks(rois: tuple[tuple[str, tuple[tuple[float, float], ...]], ...], size: Size) -> tuple[np.ndarray, ...]:
    out = []
    for _, polygon in rois:
        layer = Image.new("L", size, 0)
        ImageDraw.Draw(layer).polygon([(x * size[0], y * size[1]) for x, y in polygon], fill=1)
        out.append(np.asarray(layer, bool))
    return tuple(out)


def _mask_only(script: Script, t: float, size: Size) -> np.ndarray:
    mask = Image.new("L", size, 0)
    scratch = Image.new("RGB", size)
    reaches, passers = script.actions_at(t)
    for reach in reaches:
        draw_arm(scratch, reach, t, mask)
    for passer in passers:
        draw_passer(scratch, passer, t, mask)
    return np.asarray(mask) > 0


def frame_truth(script: Script, t: float, size: Size = (320, 240)) -> FrameTruth:
    mask = _mask_only(script, t, size)
    items = tuple((p.item.label, shelf_of(slot), item_box(slot, p.item.height, p.dx, p.turn), p.turn)
                  for slot, p in enumerate(script.stock_at(t)) if p is not None)
    return FrameTruth(t, mask, hand_in_rois(script, mask, size), hand_shares(script, mask, size), items)


class ScriptRenderer:
    """Renders a script's frames; caches the stocked shelf and the noise field."""

    def __init__(self, script: Script, size: Size = (640, 480)) -> None:
        self.script, self.size = script, size
        self._background = render_background(*size, kind=script.background)
        self._stocked: tuple[Stock, Image.Image] | None = None
        pad = 16  # each frame takes the noise field at its own offset
        rng = np.random.default_rng(script.seed)
        self._noise = noise_images(rng, size[0] + pad, size[1] + pad, script.noise) if script.noise > 0 else None
        self._pad = pad

    def image(self, t: float, index: int = 0, mask: Image.Image | None = None) -> Image.Image:
        script = self.script
        image = self._stocked_image(script.stock_at(t)).copy()
        reaches, passers = script.actions_at(t)
        for reach in reaches:
            draw_arm(image, reach, t, mask)
        for passer in passers:
            draw_passer(image, passer, t, mask)
        gain, cast = script.lighting.at(t)
        image = apply_light(image, gain, cast)
        if self._noise is not None:
            rng = np.random.default_rng((script.seed, index))
            x, y = (int(v) for v in rng.integers(0, self._pad, 2))
            box = (x, y, x + self.size[0], y + self.size[1])
            brighter, darker = (part.crop(box) for part in self._noise)
            if index % 2:
                brighter, darker = darker, brighter
            image = ImageChops.subtract(ImageChops.add(image, brighter), darker)
        return image

    def jpeg(self, t: float, index: int = 0, quality: int = CONFIG_FIELD["jpeg_quality"].default) -> bytes:
        buffer = io.BytesIO()
        self.image(t, index).save(buffer, format="JPEG", quality=quality)
        return buffer.getvalue()

    def _stocked_image(self, stock: Stock) -> Image.Image:
        if self._stocked is None or self._stocked[0] != stock:
            image = self._background.copy()
            draw = ImageDraw.Draw(image)
            for slot, placed in enumerate(stock):
                if placed is not None:
                    draw_item(draw, image.size, slot, placed.item, placed.dx, placed.turn)
            self._stocked = (stock, image)
        return self._stocked[1]
