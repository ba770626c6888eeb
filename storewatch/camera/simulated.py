"""A rendered shop shelf: the default source where no Pi camera exists.

Three shelf boards of labelled items in distinct colours. Now and then (every 20-60 s of
scene time, the first within ~20 s) an arm reaches in from the top or a side and takes
an item, puts one into a gap, or only touches one, over 2-6 s. Light drifts slowly and
each frame carries sensor noise. Everything follows from the seed and the scene time,
which is the capture clock's time since `open` (real time in production; tests inject
a clock), so a replay with the same seed and clock gives the same frames.
"""

from __future__ import annotations

import io
import math
import random
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageFont

from storewatch.camera.source import CapturedFrame, Clock, FrameSource
from storewatch.contract import utc_now

SHELF_TOPS = (0.34, 0.64, 0.94)  # normalized y of each board's top surface
SLOTS_PER_SHELF = 8
LORES_SIZE = (320, 240)
PALETTE = ((200, 40, 40), (40, 90, 200), (240, 200, 30), (40, 160, 70), (150, 60, 170),
           (240, 130, 30), (30, 170, 180), (230, 230, 230), (120, 80, 40), (220, 90, 150))
SKIN_TONES = ((224, 172, 135), (198, 134, 96), (141, 85, 54), (241, 194, 160))
EVENT_KINDS = ("take", "place", "touch")


@dataclass(frozen=True)
class Item:
    label: str
    colour: tuple[int, int, int]
    height: float  # fraction of the shelf spacing
    bottle: bool


@dataclass(frozen=True)
class ShelfEvent:
    start: float
    duration: float
    kind: str  # take | place | touch
    slot: int
    side: str  # top | left | right
    skin: tuple[int, int, int]
    item: Item

    def progress(self, t: float) -> float:
        return (t - self.start) / self.duration


@dataclass
class _Timeline:
    """Events generated lazily, in order, so each one sees the shelf as it then is."""

    rng: random.Random
    stock: list[Item | None]
    spare: list[Item]
    events: list[ShelfEvent] = field(default_factory=list)
    next_start: float = 0.0

    def until(self, t: float) -> list[ShelfEvent]:
        while self.next_start <= t + 10:
            self._add()
        return self.events

    def _add(self) -> None:
        rng, start = self.rng, self.next_start
        full = [i for i, item in enumerate(self.stock) if item is not None]
        gaps = [i for i, item in enumerate(self.stock) if item is None]
        kinds = [k for k in EVENT_KINDS if (k == "place" and gaps and self.spare) or (k != "place" and full)]
        kind = rng.choice(kinds)
        slot = rng.choice(gaps if kind == "place" else full)
        if kind == "place":
            item = self.spare.pop(rng.randrange(len(self.spare)))
            self.stock[slot] = item
        else:
            item = self.stock[slot]  # type: ignore[assignment]
            if kind == "take":
                self.stock[slot] = None
                self.spare.append(item)
        event = ShelfEvent(start, rng.uniform(2.0, 6.0), kind, slot,
                           rng.choice(("top", "top", "left", "right")), rng.choice(SKIN_TONES), item)
        self.events.append(event)
        self.next_start = start + event.duration + rng.uniform(20.0, 60.0)


class SimulatedShelf(FrameSource):
    name = "simulated"

    def __init__(self, seed: int = 1, clock: Clock | None = None, noise: bool = True) -> None:
        self.seed = seed
        self.clock = clock or utc_now
        self.noise = noise
        self.width = self.height = 0
        self.quality = 85
        self._start: datetime | None = None
        self._initial: list[Item | None] = []
        self._timeline: _Timeline | None = None
        self._background: Image.Image | None = None
        self._stocked: tuple[tuple[Item | None, ...], Image.Image] | None = None
        self._noise: tuple[Image.Image, Image.Image] | None = None
        self._frames = 0

    def open(self, width: int, height: int, jpeg_quality: int) -> None:
        if self._start is None:
            self._start = self.clock()
            self._build_shelf()
        self.width, self.height, self.quality = width, height, jpeg_quality
        self._background, self._stocked = _render_background(width, height), None
        noise_rng = np.random.default_rng(self.seed)
        # One precomputed noise field, added and subtracted in turns: cheap per frame.
        self._noise = _noise_images(noise_rng, width, height) if self.noise else None

    def _build_shelf(self) -> None:
        rng = random.Random(self.seed)
        items = [Item(f"{chr(65 + n % 26)}{n // 26 + 1}", PALETTE[n % len(PALETTE)],
                      rng.uniform(0.45, 0.8), rng.random() < 0.3)
                 for n in range(len(SHELF_TOPS) * SLOTS_PER_SHELF + 6)]
        stock: list[Item | None] = list(items[: len(SHELF_TOPS) * SLOTS_PER_SHELF])
        for slot in rng.sample(range(len(stock)), 4):  # a few gaps to place into
            stock[slot] = None
        self._initial = list(stock)
        spare = [item for item in items if item not in stock]
        self._timeline = _Timeline(random.Random(self.seed + 1), list(stock), spare,
                                   next_start=rng.uniform(8.0, 20.0))

    def scene_time(self, moment: datetime) -> float:
        assert self._start is not None
        return max(0.0, (moment - self._start).total_seconds())

    def events(self, until_s: float) -> list[ShelfEvent]:
        """The scheduled events up to `until_s` seconds of scene time (for tests and demos)."""
        assert self._timeline is not None
        return [e for e in self._timeline.until(until_s) if e.start <= until_s]

    def capture(self) -> CapturedFrame:
        now = self.clock()
        image = self.render(self.scene_time(now))
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=self.quality)
        lores = np.asarray(image.resize(LORES_SIZE, Image.Resampling.BILINEAR).convert("L"))
        self._frames += 1
        return CapturedFrame(buffer.getvalue(), self.width, self.height, now, lores)

    def capture_lores(self) -> np.ndarray:
        image = self.render(self.scene_time(self.clock()))
        self._frames += 1
        return np.asarray(image.resize(LORES_SIZE, Image.Resampling.BILINEAR).convert("L"))

    def render(self, t: float) -> Image.Image:
        stock, active = self._state_at(t)
        image = self._stocked_image(stock).copy()
        if active is not None:
            _draw_arm(image, active, active.progress(t))
        gain = 1.0 + 0.05 * math.sin(2 * math.pi * t / 300.0) + 0.02 * math.sin(2 * math.pi * t / 47.0)
        # Pillow's table lookup and saturating add/subtract work in place of numpy's int16
        # and float32 copies of the frame (6 MB as RGB, 24 MB as float32): the simulated
        # camera runs inside the appliance, whose memory target it would otherwise eat.
        image = image.point([min(255, int(value * gain)) for value in range(256)] * 3)
        if self._noise:
            brighter, darker = self._noise if self._frames % 2 == 0 else self._noise[::-1]
            image = ImageChops.subtract(ImageChops.add(image, brighter), darker)
        return image

    def _state_at(self, t: float) -> tuple[tuple[Item | None, ...], ShelfEvent | None]:
        stock = list(self._initial)
        active = None
        for event in self.events(t):
            progress = event.progress(t)
            if progress < 1.0:
                active = event
            if progress >= 0.5 and event.kind == "take":
                stock[event.slot] = None
            elif progress >= 0.5 and event.kind == "place":
                stock[event.slot] = event.item
        return tuple(stock), active

    def _stocked_image(self, stock: tuple[Item | None, ...]) -> Image.Image:
        if self._stocked is None or self._stocked[0] != stock:
            assert self._background is not None
            image = self._background.copy()
            draw = ImageDraw.Draw(image)
            for slot, item in enumerate(stock):
                if item is not None:
                    _draw_item(draw, image.size, slot, item)
            self._stocked = (stock, image)
        return self._stocked[1]

    def close(self) -> None:
        self._background = self._stocked = None
        self._noise = None


def starter_rois() -> list[tuple[str, list[list[float]]]]:
    """One ROI per shelf board, normalized: what a newcomer would draw on this scene."""
    spacing = SHELF_TOPS[1] - SHELF_TOPS[0]
    rois = []
    for number, bottom in enumerate(SHELF_TOPS, 1):
        top = round(bottom - spacing * 0.92, 3)
        rois.append((f"shelf {number}", [[0.04, top], [0.96, top], [0.96, bottom], [0.04, bottom]]))
    return rois


def slot_box(size: tuple[int, int], slot: int, item_height: float = 1.0) -> tuple[int, int, int, int]:
    """Pixel box of an item standing in `slot` (left, top, right, bottom)."""
    width, height = size
    shelf, column = divmod(slot, SLOTS_PER_SHELF)
    spacing = SHELF_TOPS[1] - SHELF_TOPS[0]
    pitch = 0.9 / SLOTS_PER_SHELF
    left = 0.05 + column * pitch + pitch * 0.12
    bottom = SHELF_TOPS[shelf]
    top = bottom - spacing * 0.85 * item_height
    return (int(left * width), int(top * height), int((left + pitch * 0.76) * width), int(bottom * height))


def _font(pixels: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=max(8, pixels))
    except (TypeError, OSError, ImportError):  # Pillow without FreeType
        return ImageFont.load_default()


def _noise_images(rng: np.random.Generator, width: int, height: int) -> tuple[Image.Image, Image.Image]:
    """Sensor-like noise (sigma 3) as two RGB images: its positive part and its negative part."""
    noise = (rng.standard_normal((height, width, 3), dtype=np.float32) * 3.0).astype(np.int8)
    brighter = Image.fromarray(np.maximum(noise, 0).astype(np.uint8), "RGB")
    darker = Image.fromarray(np.maximum(-noise, 0).astype(np.uint8), "RGB")
    return brighter, darker


def _render_background(width: int, height: int) -> Image.Image:
    ramp = np.linspace(205, 165, height, dtype=np.float32)[:, None, None]
    wall = np.broadcast_to(ramp * np.array([1.0, 0.97, 0.9], np.float32), (height, width, 3))
    image = Image.fromarray(wall.astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(image)
    board = max(3, int(0.035 * height))
    for top in SHELF_TOPS:
        y = int(top * height)
        draw.rectangle((0, y, width, y + board), fill=(120, 85, 55))
        draw.rectangle((0, y + board, width, y + board + max(1, board // 4)), fill=(70, 50, 35))
    draw.rectangle((0, 0, int(0.03 * width), height), fill=(150, 140, 130))
    draw.rectangle((int(0.97 * width), 0, width, height), fill=(150, 140, 130))
    return image


def _draw_item(draw: ImageDraw.ImageDraw, size: tuple[int, int], slot: int, item: Item) -> None:
    left, top, right, bottom = slot_box(size, slot, item.height)
    dark = tuple(max(0, c - 60) for c in item.colour)
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


def _reach(progress: float) -> float:
    """How far the arm is extended (0..1) at a point of the event: out, hold, back."""
    if progress <= 0.0 or progress >= 1.0:
        return 0.0
    phase = min(1.0, progress / 0.4, (1.0 - progress) / 0.4)
    return phase * phase * (3 - 2 * phase)


def _draw_arm(image: Image.Image, event: ShelfEvent, progress: float) -> None:
    width, height = image.size
    left, top, right, bottom = slot_box(image.size, event.slot, event.item.height)
    target = ((left + right) / 2, (top + bottom) / 2)
    entry = {"top": (target[0] + 0.05 * width, -0.05 * height),
             "left": (-0.05 * width, target[1] - 0.08 * height),
             "right": (1.05 * width, target[1] - 0.08 * height)}[event.side]
    reach = _reach(progress)
    hand = (entry[0] + (target[0] - entry[0]) * reach, entry[1] + (target[1] - entry[1]) * reach)
    draw = ImageDraw.Draw(image)
    arm_width = max(4, int(0.07 * width))
    sleeve = tuple(c // 3 for c in event.skin)
    elbow = (entry[0] + (hand[0] - entry[0]) * 0.35, entry[1] + (hand[1] - entry[1]) * 0.35)
    draw.line((entry, elbow), fill=sleeve, width=int(arm_width * 1.3), joint="curve")
    draw.line((elbow, hand), fill=event.skin, width=arm_width, joint="curve")
    carrying = (event.kind == "take" and progress >= 0.5) or (event.kind == "place" and progress < 0.5)
    if carrying:
        half_w, half_h = (right - left) / 2, (bottom - top) / 2
        draw.rectangle((hand[0] - half_w, hand[1] - half_h, hand[0] + half_w, hand[1] + half_h), fill=event.item.colour)
    radius = arm_width * 0.8
    draw.ellipse((hand[0] - radius, hand[1] - radius, hand[0] + radius, hand[1] + radius), fill=event.skin)
    for finger in range(4):
        angle = math.atan2(target[1] - entry[1], target[0] - entry[0]) + (finger - 1.5) * 0.35
        tip = (hand[0] + math.cos(angle) * radius * 1.9, hand[1] + math.sin(angle) * radius * 1.9)
        draw.line((hand, tip), fill=event.skin, width=max(2, arm_width // 4))
