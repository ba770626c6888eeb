"""The verdict beyond the cases it was built on: other item sets, patterned walls, plain items, lights.

A bounded sample of `support.verdict_matrix` (real JPEGs through the worker's decode and
`inventory.decide`): the items of two seeds the verdict's own tests do not use, each on
some of the walls (together: plain grey, plain white, the shaded wall, coloured tiles,
stripes, bricks, a checker), labelled and plain, each combination under one of the lights
(cycled: the same, dim, dimmed or brightened between Before and After, a white-balance
shift, heavy noise), with takes, placements, moves (shifts of 0.15 and 1.0 item widths,
half over a neighbour, turns of 30 and 90 degrees) and the shelf as it was. The counts of wrong verdicts may not rise above
what the verdict reached (CEILING, measured when this test was written); lower is better,
and then the ceiling goes down with it. A lighting change alone is never a verdict.
"""

from __future__ import annotations

import itertools
import time
from collections import Counter

import pytest

from support import verdict_matrix as matrix

WALLS_OF = {2: ("grey", "wall", "stripes", "checker"), 3: ("white", "tiles", "bricks")}  # seed -> walls
CASES = ("take between two neighbours", "take from between touching neighbours", "place into the gap",
         "place between two neighbours", "shift left half over a neighbour", "shift right by 0.15 width",
         "shift right by 1.0 width", "turn by 30 degrees", "turn by 90 degrees", "as it was")
CHANGES = ("taken", "placed")

# What the verdict reached on this sample (140 decisions); the verdict before this test (the
# outline reading alone, f279fbd) made 42 wrong here: 14, 14 and 11 of these kinds. See
# docs/PERFORMANCE.md, Detection.
CEILING = {
    "wrong": 24,
    "change read as the other change": 8,  # a take read placed or the reverse: the worst mistake
    "change read as moved": 6,  # one more since a change's edge cells count towards its size: a take
    # in dim light on grey, too small to count before (unchanged), reads moved
    "move read as a change": 10,
    "unchanged read as anything else": 0,
}
# Under Bookworm's Pillow 9.4, which draws the labels' text a little differently, the sample makes
# the same mistakes (scripts/test-bookworm's venv; one more before items turned side-on were moved).


def _sample() -> list[matrix.Decision]:
    lights = itertools.cycle(matrix.LIGHTS)
    out = []
    for seed, walls in WALLS_OF.items():
        for wall, style in itertools.product(walls, matrix.STYLES):
            out += matrix.run(seeds=(seed,), walls=(wall,), styles=(style,), lights=(next(lights),), names=CASES)
    return out


@pytest.fixture(scope="module")
def decisions() -> list[matrix.Decision]:
    started = time.perf_counter()
    out = _sample()
    print(f"\n{matrix.report(out, time.perf_counter() - started)}")
    return out


def _counts(decisions: list[matrix.Decision]) -> Counter:
    counts: Counter = Counter()
    for d in decisions:
        if not d.wrong:
            continue
        counts["wrong"] += 1
        if d.expected in CHANGES and d.said in CHANGES:
            counts["change read as the other change"] += 1
        elif d.expected in CHANGES and d.said == "moved":
            counts["change read as moved"] += 1
        elif d.expected == "moved" and d.said in CHANGES:
            counts["move read as a change"] += 1
        elif d.expected == "unchanged":
            counts["unchanged read as anything else"] += 1
    return counts


def test_the_sample_is_what_it_says(decisions) -> None:
    assert len(decisions) == len(matrix.WALLS) * len(matrix.STYLES) * len(CASES)
    assert {d.wall for d in decisions} == set(matrix.WALLS) and {d.light for d in decisions} == set(matrix.LIGHTS)


@pytest.mark.parametrize("kind", CEILING)
def test_wrong_verdicts_do_not_rise(decisions, kind: str) -> None:
    counts = _counts(decisions)
    wrong = sorted(f"{d.seed} {d.wall} {d.style} {d.light}: {d.case} read {d.said}" for d in decisions if d.wrong)
    assert counts[kind] <= CEILING[kind], "\n".join(wrong)


def test_a_lighting_change_alone_is_no_verdict() -> None:
    """The shelf as it was, under every light change, on every wall, is unchanged."""
    said = matrix.run(seeds=(2,), styles=("labelled",), names=("as it was",))
    assert {(d.wall, d.light): d.said for d in said if d.said != "unchanged"} == {}


def test_an_item_turned_side_on_is_moved_on_the_shaded_wall_and_tiles() -> None:
    """A labelled item turned by 90 degrees shows only its dark side, narrower, where it stood: an
    item on both sides, neither like the wall. With seed 3's items (and with seed 11's under
    Bookworm's Pillow 9.4) the wall's strips either side of the dark side, alike in shadow, let
    the outline reading call it taken."""
    said = matrix.run(seeds=(3,), walls=("wall", "tiles"), styles=("labelled",),
                      names=("turn by 90 degrees", "turn by -90 degrees"))
    assert [f"{d.wall} {d.light}: {d.case} read {d.said}" for d in said if d.wrong] == []


def test_a_plain_item_turned_a_little_on_the_grey_wall_is_moved() -> None:
    """A label-less item turned by 30 degrees: its flat face narrows and a dark side shows. Only its
    edges differ, so a turn (or a shift) of a flat item explains less of the change than one of a
    printed item (0.27-0.35 of it); they read placed while moved needed 0.35."""
    said = matrix.run(seeds=(1, 3), walls=("grey",), styles=("plain",),
                      lights=("same light", "dimmed between", "white balance", "heavy noise"),
                      names=("turn by 30 degrees",))
    assert [f"{d.seed} {d.light}: {d.case} read {d.said}" for d in said if d.wrong] == []
