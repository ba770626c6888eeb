"""Named, seeded scenes of the simulated shelf, each with its truth (see `scene.Script.truth`).

The detection benchmark (`scripts/bench-detection`) and its bounded part in the tests
replay these. Each scene warms up quietly for LEAD_S, then plays its visits, then stays
quiet for TAIL_S so that everything can settle. Visits of one scene are GAP_S apart unless
the scene is about a short gap. ROIs are the simulated camera's starter ROIs, one per shelf
(whole-shelf-take: one ROI round the whole unit).
"""

from __future__ import annotations

import random
from collections.abc import Callable

from storewatch.camera.scene import (PALETTE, SHELF_TOPS, SKIN_TONES, SLOTS_PER_SHELF, Item, Lighting, Passer,
                                     Placed, Reach, Script, Stock)

LEAD_S = 8.0
TAIL_S = 12.0
GAP_S = 15.0
GAPS = (5, 13, 21)  # an empty slot on each shelf, to place into
SPARE = 3  # items not on the shelf at the start (in shoppers' hands)


def items(seed: int) -> list[Item]:
    rng = random.Random(seed)
    count = len(SHELF_TOPS) * SLOTS_PER_SHELF + SPARE
    return [Item(f"{chr(65 + n % 26)}{n // 26 + 1}", PALETTE[n % len(PALETTE)], rng.uniform(0.5, 0.8), rng.random() < 0.3)
            for n in range(count)]


def stock(seed: int) -> tuple[Stock, list[Item]]:
    """A full shelf but for GAPS, and the spare items."""
    every = items(seed)
    shelf: list[Placed | None] = [Placed(item) for item in every[: len(SHELF_TOPS) * SLOTS_PER_SHELF]]
    for slot in GAPS:
        shelf[slot] = None
    return tuple(shelf), every[len(SHELF_TOPS) * SLOTS_PER_SHELF:]


class _Builder:
    """Reaches and passers on a timeline, visit by visit."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.stock, self.spare = stock(seed)
        self.reaches: list[Reach] = []
        self.passers: list[Passer] = []
        self.t = LEAD_S
        self.visit = 0

    def skin(self) -> tuple[int, int, int]:
        return self.rng.choice(SKIN_TONES)

    def reach(self, kind: str, slot: int, side: str = "top", duration: float = 3.0, at: float | None = None,
              item: Item | None = None, **kw) -> Reach:
        start = self.t if at is None else at
        if item is None:
            placed = self.stock[slot] if kind != "place" else None
            item = placed.item if placed is not None else self.spare[0]
        reach = Reach(start, duration, kind, slot, side, self.skin(), item, visit=self.visit, **kw)
        self.reaches.append(reach)
        self.t = max(self.t, reach.end)
        return reach

    def passer(self, duration: float = 4.0, **kw) -> None:
        self.passers.append(Passer(self.t, duration, visit=self.visit, **kw))
        self.t += duration

    def pause(self, seconds: float) -> None:
        self.t += seconds

    def next_visit(self, gap: float = GAP_S) -> None:
        self.visit += 1
        self.t += gap

    def script(self, name: str, description: str, **kw) -> Script:
        duration = kw.pop("duration", self.t + TAIL_S)
        return Script(name, self.seed, duration, self.stock, tuple(self.reaches), tuple(self.passers),
                      description=description, **kw)


def take(seed: int = 11) -> Script:
    b = _Builder(seed)
    b.reach("take", 2)
    return b.script("take", "an item is taken from the top shelf")


def place(seed: int = 12) -> Script:
    b = _Builder(seed)
    b.reach("place", GAPS[1], side="right")
    return b.script("place", "an item is put into the gap on the middle shelf")


def touch(seed: int = 13) -> Script:
    b = _Builder(seed)
    b.reach("touch", 11, side="left", duration=4.0)
    return b.script("touch", "a hand touches an item and leaves it as it was")


def return_exact(seed: int = 14) -> Script:
    b = _Builder(seed)
    taken = b.reach("take", 3)
    b.pause(0.8)
    b.reach("place", 3, item=taken.item)
    return b.script("return-exact", "taken and put back exactly in one visit")


def return_shifted(seed: int = 15) -> Script:
    b = _Builder(seed)
    taken = b.reach("take", 12, side="right")  # slot 13 is empty: room to shift into
    b.pause(0.8)
    b.reach("place", 12, side="right", item=taken.item, dx=0.8)
    return b.script("return-shifted", "taken and put back 0.8 of its width off its place in one visit")


def return_turned(seed: int = 16) -> Script:
    b = _Builder(seed)
    taken = b.reach("take", 4)
    b.pause(0.8)
    b.reach("place", 4, item=taken.item, turn=60.0)
    return b.script("return-turned", "taken and put back turned by 60 degrees in one visit")


def take_then_return(seed: int = 17) -> Script:
    b = _Builder(seed)
    taken = b.reach("take", 9, side="right")
    b.next_visit()
    b.reach("place", 9, side="right", item=taken.item)
    return b.script("take-then-return", "taken in one visit, put back exactly in the next")


def two_items(seed: int = 18) -> Script:
    b = _Builder(seed)
    b.reach("take", 1)
    b.pause(0.5)
    b.reach("take", 12, side="right")
    return b.script("two-items", "one visit takes an item from the top shelf and one from the middle")


def across_shelves(seed: int = 19) -> Script:
    b = _Builder(seed)
    b.reach("take", 19, duration=4.0)
    return b.script("across-shelves", "an arm from the top reaches through shelves 1 and 2 to take from shelf 3")


def hand_rests(seed: int = 20) -> Script:
    b = _Builder(seed)
    b.reach("take", 11, side="left", duration=10.0, hold=7.0)
    return b.script("hand-rests", "a hand rests still on the middle shelf for 7 s, then takes an item")


def two_hands(seed: int = 21) -> Script:
    b = _Builder(seed)
    start = b.t
    b.reach("take", 0, side="left", duration=4.0, at=start)
    b.reach("place", GAPS[1], side="right", duration=4.0, at=start + 0.5)
    return b.script("two-hands", "two hands at once: one takes from the top shelf, one places on the middle")


def passer(seed: int = 22) -> Script:
    b = _Builder(seed)
    b.passer(4.0)
    return b.script("passer", "a shopper walks past in front of the shelf, touching nothing")


def two_visits(seed: int = 23) -> Script:
    b = _Builder(seed)
    b.reach("take", 6)
    b.next_visit(gap=5.0)
    b.reach("place", GAPS[0], side="right")
    return b.script("two-visits", "a take, 5 s of quiet shelf, then a place: two visits")


def _quiet(seed: int, name: str, description: str, duration: float = 45.0, **kw) -> Script:
    b = _Builder(seed)
    return b.script(name, description, duration=duration, **kw)


WARM = (0.97, 1.0, 1.12)  # a bluish cast (r, g, b gains) ...
AMBER = (1.1, 0.95, 0.7)  # ... and a warm one


def lights_dim(seed: int = 24) -> Script:
    keys = ((0.0, 1.0, (1.0, 1.0, 1.0)), (15.0, 1.0, (1.0, 1.0, 1.0)), (18.0, 0.55, (1.0, 1.0, 1.0)),
            (30.0, 0.55, (1.0, 1.0, 1.0)), (33.0, 1.0, (1.0, 1.0, 1.0)))
    return _quiet(seed, "lights-dim", "nobody there; the lights dim to 55 % and come back", lighting=Lighting(keys))


def lights_switch(seed: int = 25) -> Script:
    keys = ((0.0, 1.0, (1.0, 1.0, 1.0)), (15.0, 1.0, (1.0, 1.0, 1.0)), (15.2, 0.6, AMBER),
            (28.0, 0.6, AMBER), (28.2, 1.1, WARM))
    return _quiet(seed, "lights-switch", "nobody there; the lights switch to a dim amber, then to a bright blue cast",
                  lighting=Lighting(keys))


def exposure_drift(seed: int = 26) -> Script:
    keys = ((0.0, 1.0, (1.0, 1.0, 1.0)), (10.0, 1.0, (1.0, 1.0, 1.0)), (25.0, 1.25, (1.0, 1.0, 1.0)),
            (40.0, 0.85, (1.0, 1.0, 1.0)))
    return _quiet(seed, "exposure-drift", "nobody there; auto exposure drifts up 25 % and down to 85 %",
                  lighting=Lighting(keys))


def noisy_take(seed: int = 27) -> Script:
    b = _Builder(seed)
    b.reach("take", 14, side="right")
    return b.script("noisy-take", "a take from the middle shelf under heavy sensor noise (sigma 8)", noise=8.0)


def grey_take(seed: int = 28) -> Script:
    b = _Builder(seed)
    b.reach("take", 18, side="left")
    return b.script("grey-take", "a take from the bottom shelf against a plain grey wall", background="grey")


def white_place(seed: int = 29) -> Script:
    b = _Builder(seed)
    b.reach("place", GAPS[2], side="right")
    return b.script("white-place", "an item put into the bottom shelf's gap against a plain white back",
                    background="white")


def baseline_take(seed: int = 30) -> Script:
    """The camera is at its baseline rate (a frame every 30 s) when the hand comes: the frame at
    60 s shows it half-way in, then the camera bursts."""
    b = _Builder(seed)
    b.reach("take", 7, duration=4.0, at=59.2)
    return b.script("baseline-take", "a take that starts while the camera is at its baseline rate", baseline=True)


WHOLE_SHELF = (("whole shelf", ((0.04, 0.04), (0.96, 0.04), (0.96, 0.94), (0.04, 0.94))),)


def whole_shelf_take(seed: int = 31) -> Script:
    """One ROI drawn round the whole shelf unit: the arm and the item are a few percent of it."""
    b = _Builder(seed)
    b.reach("take", 2)
    return b.script("whole-shelf-take", "an arm from the top takes from the top shelf; one ROI over the whole unit",
                    rois=WHOLE_SHELF)


def lights_at_visit_start(seed: int = 32) -> Script:
    """The lights switch a second after the hand comes in, while it is still there."""
    b = _Builder(seed)
    reach = b.reach("take", 11, side="left", duration=5.0, hold=2.0)
    switch = reach.start + 1.5
    keys = ((0.0, 1.0, (1.0, 1.0, 1.0)), (switch, 1.0, (1.0, 1.0, 1.0)), (switch + 0.1, 0.65, AMBER))
    return b.script("lights-at-visit-start", "a take from the middle shelf; 1.5 s in, the lights switch to amber",
                    lighting=Lighting(keys))


SCENARIOS: dict[str, Callable[[], Script]] = {
    "take": take, "place": place, "touch": touch, "return-exact": return_exact, "return-shifted": return_shifted,
    "return-turned": return_turned, "take-then-return": take_then_return, "two-items": two_items,
    "across-shelves": across_shelves, "hand-rests": hand_rests, "two-hands": two_hands, "passer": passer,
    "two-visits": two_visits, "lights-dim": lights_dim, "lights-switch": lights_switch,
    "exposure-drift": exposure_drift, "noisy-take": noisy_take, "grey-take": grey_take,
    "white-place": white_place, "baseline-take": baseline_take, "whole-shelf-take": whole_shelf_take,
    "lights-at-visit-start": lights_at_visit_start,
}


def scenario(name: str) -> Script:
    try:
        return SCENARIOS[name]()
    except KeyError:
        raise ValueError(f"unknown scenario {name!r}; known: {', '.join(SCENARIOS)}") from None
