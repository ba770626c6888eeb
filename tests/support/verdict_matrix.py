"""The verdict's broader matrix: shelf cases on many walls, item sets, item styles and lights.

Each case is a Before stock and an After stock of the top shelf of the scripted shop
(`storewatch.camera.scene`), with the verdict it must get: takes and placements (plain and
patterned walls, beside neighbours, between touching ones), moves (shifts from a few pixels
up to an item's width, one half over a neighbour, turns of 30 to 90 degrees either way), and
the shelf as it was. Every case is drawn on a wall (plain grey, plain white, the shaded wall,
small coloured tiles, stripes, bricks, a checker), with the items of a seed (their heights
and shapes differ by seed), labelled as the scene draws them or plain (no label: one colour
and an outline), and lit in one of several ways between Before and After (the same, dim,
dimmed between, brighter between, a white-balance shift, heavy sensor noise). Both pictures
go through a real JPEG and the worker's decode, and `inventory.decide` gives the verdict,
as in the worker.

    .venv/bin/python tests/support/verdict_matrix.py            # the whole matrix, errors by axis
    .venv/bin/python tests/support/verdict_matrix.py --sample   # the bounded sample the test runs

`tests/test_analysis_verdict_general.py` runs `SAMPLE` and asserts on its error counts.
"""

from __future__ import annotations

import argparse
import io
import itertools
import sys
import time
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from storewatch.analysis.decode import decode_gray  # noqa: E402
from storewatch.analysis.inventory import decide  # noqa: E402
from storewatch.analysis.roi_mask import polygon_mask  # noqa: E402
from storewatch.analysis.thresholds import Thresholds  # noqa: E402
from storewatch.camera import scenarios, scene  # noqa: E402

SIZE = (640, 480)
TOP_SHELF = scene.starter_rois()[0][1]  # one ROI over the whole top board, as a newcomer draws it
WALLS = ("grey", "white", "wall", "tiles", "stripes", "bricks", "checker")
PATTERNED = ("stripes", "bricks", "checker")
STYLES = ("labelled", "plain")
SEEDS = (11, 1, 2, 3)  # 11: the items of tests/test_analysis_verdict.py; the others are other item sets
# name: (Before's gain, cast, noise), (After's ...)
LIGHTS = {
    "same light": ((1.0, (1.0, 1.0, 1.0), 3.0), (1.0, (1.0, 1.0, 1.0), 3.0)),
    "dim": ((0.5, (1.0, 1.0, 1.0), 3.0), (0.5, (1.0, 1.0, 1.0), 3.0)),
    "dimmed between": ((1.0, (1.0, 1.0, 1.0), 3.0), (0.6, (1.0, 1.0, 1.0), 3.0)),
    "brighter between": ((0.8, (1.0, 1.0, 1.0), 3.0), (1.05, (1.0, 1.0, 1.0), 3.0)),
    "white balance": ((1.0, (1.0, 1.0, 1.0), 3.0), (1.0, (1.1, 0.95, 0.7), 3.0)),
    "heavy noise": ((1.0, (1.0, 1.0, 1.0), 8.0), (1.0, (1.0, 1.0, 1.0), 8.0)),
}

Stock = dict[int, scene.Placed]


def _put(items: list[scene.Item], slot: int, dx: float = 0.0, turn: float = 0.0, item: int | None = None) -> scene.Placed:
    return scene.Placed(items[slot if item is None else item], dx, turn)


def cases(seed: int) -> dict[str, tuple[Stock, Stock, str]]:
    """name: (Before's stock, After's stock, the verdict) on the top shelf, with the items of `seed`."""
    items = scenarios.items(seed)
    full = {slot: _put(items, slot) for slot in range(8) if slot != 5}  # slot 5 empty
    without_6 = {s: p for s, p in full.items() if s != 6}
    tight = {**full, 2: _put(items, 2, dx=0.31), 4: _put(items, 4, dx=-0.31)}  # items 2-4 touch

    def change(stock: Stock, **slots: scene.Placed | None) -> Stock:
        out = dict(stock)
        for name, placed in slots.items():
            out.pop(int(name[1:]), None)
            if placed is not None:
                out[int(name[1:])] = placed
        return out

    out = {
        "take between two neighbours": (full, change(full, s3=None), "taken"),
        "take at the end of the row": (full, change(full, s0=None), "taken"),
        "take beside the gap": (full, change(full, s4=None), "taken"),
        "take from between touching neighbours": (tight, change(tight, s3=None), "taken"),
        "place into the gap": (full, {**full, 5: _put(items, 5, item=20)}, "placed"),
        "place at the end of the row": (change(full, s7=None), full, "placed"),
        "place between two neighbours": (change(full, s2=None), full, "placed"),
        "shift left half over a neighbour": (full, change(full, s4=_put(items, 4, dx=-0.3)), "moved"),
        "shift right half over a neighbour": (full, change(full, s2=_put(items, 2, dx=0.3)), "moved"),
        "as it was": (full, full, "unchanged"),
    }
    for share in (0.15, 0.3, 0.6, 1.0):
        out[f"shift right by {share} width"] = (full, change(full, s4=_put(items, 4, dx=share)), "moved")
        out[f"shift left by {share} width"] = (without_6, change(without_6, s7=_put(items, 7, dx=-share)), "moved")
    for angle in (30.0, 60.0, 90.0, -30.0, -90.0):
        out[f"turn by {angle:g} degrees"] = (full, change(full, s3=_put(items, 3, turn=angle)), "moved")
    return out


CASE_NAMES = tuple(cases(11))


# ---- drawing ----------------------------------------------------------------------------

@lru_cache(maxsize=16)
def _wall(kind: str) -> Image.Image:
    """The empty top shelf: one of the scene's backs, or a patterned wall, with its boards."""
    if kind in ("grey", "white", "wall"):
        return scene.render_background(*SIZE, kind=kind)
    width, height = SIZE
    yy, xx = np.mgrid[0:height, 0:width]
    if kind == "tiles":  # small coloured tiles on the shaded wall (tests/test_analysis_verdict.py's "textured")
        image = scene.render_background(*SIZE, kind="wall")
        draw = ImageDraw.Draw(image)
        rng = np.random.default_rng(5)
        for _ in range(900):
            x, y, side = int(rng.integers(0, width)), int(rng.integers(0, height)), int(rng.integers(3, 14))
            draw.rectangle((x, y, x + side, y + side // 2 + 2), fill=tuple(int(v) for v in rng.integers(60, 230, 3)))
    else:
        if kind == "stripes":  # vertical stripes, 10 px each (5 at the analysis' width)
            on = (xx // 10) % 2 == 0
            rgb = np.where(on[..., None], np.array([215, 205, 190]), np.array([110, 120, 150]))
        elif kind == "bricks":  # red bricks 36x16 px, every other row offset, light mortar
            row = yy // 16
            brick_x = (xx + (row % 2) * 18) % 36
            mortar = (yy % 16 < 3) | (brick_x < 3)
            shade = np.random.default_rng(9).uniform(0.8, 1.15, (height // 16 + 1, width // 36 + 2))
            tone = shade[row, (xx + (row % 2) * 18) // 36][..., None]
            rgb = np.where(mortar[..., None], np.array([200, 195, 185]), np.array([165, 75, 50]) * tone)
        elif kind == "checker":  # 14 px squares of two tones
            on = ((xx // 14) + (yy // 14)) % 2 == 0
            rgb = np.where(on[..., None], np.array([225, 225, 220]), np.array([90, 90, 95]))
        else:
            raise ValueError(f"unknown wall {kind!r}; use one of {', '.join(WALLS)}")
        image = Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8), "RGB")
        draw = ImageDraw.Draw(image)
    for top in scene.SHELF_TOPS:  # the boards in front of the wall
        y, board = int(top * height), max(3, int(0.035 * height))
        draw.rectangle((0, y, width, y + board), fill=(120, 85, 55))
    return image


def _draw_plain(draw: ImageDraw.ImageDraw, slot: int, placed: scene.Placed) -> None:
    """An item without a label: its colour, a darker outline, its side in shadow when turned."""
    item = placed.item
    left, top, right, bottom = scene.slot_box(SIZE, slot, item.height, placed.dx, placed.turn)
    dark = tuple(max(0, c - 60) for c in item.colour)
    if placed.turn:
        _, side = scene._turned_widths(placed.turn)
        side_px = int(round(side * SIZE[0]))
        if placed.turn > 0:
            draw.rectangle((right - side_px, top, right, bottom), fill=dark)
            right -= side_px
        else:
            draw.rectangle((left, top, left + side_px, bottom), fill=dark)
            left += side_px
    if right - left < 3:
        return
    if item.bottle:
        neck = (right - left) // 4
        draw.rectangle((left + neck // 2, top + (bottom - top) // 4, right - neck // 2, bottom), fill=item.colour,
                       outline=dark)
        draw.rectangle((left + neck + neck // 2, top, right - neck - neck // 2, top + (bottom - top) // 4), fill=dark)
    else:
        draw.rectangle((left, top, right, bottom), fill=item.colour, outline=dark, width=max(1, (right - left) // 30))


def _jpeg(pixels: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(out, "JPEG", quality=85)
    return out.getvalue()


def shelf(wall: str, style: str, stock: Stock, light: tuple[float, tuple[float, float, float], float],
          index: int) -> np.ndarray:
    """The top shelf holding `stock`, lit, noisy, through a real JPEG, decoded as the worker does."""
    image = _wall(wall).copy()
    draw = ImageDraw.Draw(image)
    for slot, placed in sorted(stock.items()):
        if style == "labelled":
            scene.draw_item(draw, SIZE, slot, placed.item, placed.dx, placed.turn)
        else:
            _draw_plain(draw, slot, placed)
    gain, cast, noise = light
    pixels = np.asarray(scene.apply_light(image, gain, cast), np.float32)
    pixels += np.random.default_rng(index).standard_normal(pixels.shape, dtype=np.float32) * np.float32(noise)
    return decode_gray(_jpeg(pixels))


# ---- running it -------------------------------------------------------------------------

@dataclass(frozen=True)
class Decision:
    seed: int
    wall: str
    style: str
    light: str
    case: str
    expected: str
    said: str

    @property
    def wrong(self) -> bool:
        return self.said != self.expected


def run(seeds=SEEDS, walls=WALLS, styles=STYLES, lights=tuple(LIGHTS), names: tuple[str, ...] | None = None) -> list[Decision]:
    """Every case named (default: all) on every combination given, one decision each."""
    mask = polygon_mask(TOP_SHELF, (SIZE[1] // 2, SIZE[0] // 2))
    out = []
    for seed in seeds:
        table = cases(seed)
        for wall, style, light in itertools.product(walls, styles, lights):
            before_light, after_light = LIGHTS[light]
            before_cache: dict[int, np.ndarray] = {}
            for name in names or tuple(table):
                before, after, expected = table[name]
                key = id(before)
                if key not in before_cache:
                    before_cache[key] = shelf(wall, style, before, before_light, 0)
                decision = decide(before_cache[key], shelf(wall, style, after, after_light, 1), mask, Thresholds())
                out.append(Decision(seed, wall, style, light, name, expected, decision.verdict))
    return out


# The bounded sample tests/test_analysis_verdict_general.py runs: other item sets on every wall,
# both item styles, the lights that change between Before and After, and the cases that sat on
# the margin (moves next to neighbours, turns, small shifts) with takes and placements.
SAMPLE = {
    "seeds": (1, 3),
    "walls": WALLS,
    "styles": STYLES,
    "lights": ("same light", "dimmed between", "white balance"),
    "names": ("take between two neighbours", "take from between touching neighbours", "place into the gap",
              "place between two neighbours", "shift left half over a neighbour", "shift right half over a neighbour",
              "shift right by 0.15 width", "shift right by 1.0 width", "turn by 30 degrees", "turn by 90 degrees",
              "turn by -30 degrees", "as it was"),
}


def errors(decisions: list[Decision]) -> Counter:
    """Wrong decisions counted as (expected, said)."""
    return Counter((d.expected, d.said) for d in decisions if d.wrong)


def report(decisions: list[Decision], seconds: float) -> str:
    lines = [f"{len(decisions)} decisions in {seconds:.1f} s: {sum(d.wrong for d in decisions)} wrong"]
    for axis in ("seed", "wall", "style", "light"):
        by: dict[object, list[int]] = {}
        for d in decisions:
            by.setdefault(getattr(d, axis), [0, 0])
            by[getattr(d, axis)][0] += d.wrong
            by[getattr(d, axis)][1] += 1
        lines.append(f"  by {axis}: " + ", ".join(f"{k} {w}/{n}" for k, (w, n) in by.items()))
    lines.append("  expected->said: " + ", ".join(f"{e}->{s} {n}" for (e, s), n in sorted(errors(decisions).items())))
    by_case = Counter(d.case for d in decisions if d.wrong)
    lines.append("  by case: " + ", ".join(f"{c} {n}" for c, n in by_case.most_common()))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sample", action="store_true", help="only the bounded sample the test runs")
    parser.add_argument("--seeds", type=int, nargs="+")
    parser.add_argument("--walls", nargs="+", choices=WALLS)
    parser.add_argument("--wrong", action="store_true", help="list every wrong decision")
    args = parser.parse_args()
    kwargs = dict(SAMPLE) if args.sample else {}
    if args.seeds:
        kwargs["seeds"] = tuple(args.seeds)
    if args.walls:
        kwargs["walls"] = tuple(args.walls)
    started = time.perf_counter()
    decisions = run(**kwargs)
    print(report(decisions, time.perf_counter() - started))
    if args.wrong:
        for d in decisions:
            if d.wrong:
                print(f"    {d.seed} {d.wall} {d.style} {d.light}: {d.case} read {d.said}")


if __name__ == "__main__":
    main()
