"""A rendered shop shelf: the default source where no Pi camera exists.

Three shelf boards of labelled items in distinct colours. Now and then (every 20-60 s of
scene time, the first within ~20 s) an arm reaches in from the top or a side and takes
an item, puts one into a gap, or only touches one, over 2-6 s. Light drifts slowly and
each frame carries sensor noise. Everything follows from the seed and the scene time,
which is the capture clock's time since `open` (real time in production; tests inject
a clock), so a replay with the same seed and clock gives the same frames.

The drawing and the scene model are `storewatch.camera.scene`'s (the detection benchmark's
scripted scenes use the same ones); the random timeline here generates its `Reach`es, and
`SimulatedShelf.script` gives the timeline as a scene `Script`, truth included.
"""

from __future__ import annotations

import io
import math
import random
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from PIL import Image, ImageChops, ImageDraw

from storewatch.camera import scene
from storewatch.camera.scene import (PALETTE, SHELF_TOPS, SKIN_TONES, SLOTS_PER_SHELF, Item,  # noqa: F401 (re-exported)
                                     Reach, slot_box, starter_rois)
from storewatch.camera.sources.base import DEFAULT_QUALITY, CapturedFrame, Clock, FrameSource
from storewatch.contract import utc_now

LORES_SIZE = (320, 240)
EVENT_KINDS = ("take", "place", "touch")
ShelfEvent = Reach  # one scheduled arm trip (the scene's Reach)


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
        event = Reach(start, rng.uniform(2.0, 6.0), kind, slot,
                      rng.choice(("top", "top", "left", "right")), rng.choice(SKIN_TONES), item,
                      visit=len(self.events))
        self.events.append(event)
        self.next_start = start + event.duration + rng.uniform(20.0, 60.0)


class SimulatedShelf(FrameSource):
    name = "simulated"

    def __init__(self, seed: int = 1, clock: Clock | None = None, noise: bool = True) -> None:
        self.seed = seed
        self.clock = clock or utc_now
        self.noise = noise
        self.width = self.height = 0
        self.quality = DEFAULT_QUALITY
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
        self._background, self._stocked = scene.render_background(width, height), None
        noise_rng = np.random.default_rng(self.seed)
        # One precomputed noise field, added and subtracted in turns: cheap per frame.
        self._noise = scene.noise_images(noise_rng, width, height) if self.noise else None

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

    def script(self, until_s: float) -> scene.Script:
        """The timeline up to `until_s` as a scene script (for its truth: visits, hand masks)."""
        stock = tuple(scene.Placed(item) if item is not None else None for item in self._initial)
        return scene.Script("simulated", self.seed, until_s, stock, tuple(self.events(until_s)), noise=0.0)

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
            scene.draw_arm(image, active, t)
        gain = 1.0 + 0.05 * math.sin(2 * math.pi * t / 300.0) + 0.02 * math.sin(2 * math.pi * t / 47.0)
        # Pillow's table lookup and saturating add/subtract work in place of numpy's int16
        # and float32 copies of the frame (6 MB as RGB, 24 MB as float32): the simulated
        # camera runs inside the appliance, whose memory target it would otherwise eat.
        image = scene.apply_light(image, gain)
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
                    scene.draw_item(draw, image.size, slot, item)
            self._stocked = (stock, image)
        return self._stocked[1]

    def close(self) -> None:
        self._background = self._stocked = None
        self._noise = None

