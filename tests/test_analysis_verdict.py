"""Verdicts on real JPEG shelf scenes: taken, placed, moved, unchanged, and the box over it."""

from __future__ import annotations

import io
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image, ImageDraw

from support.shelf_scenes import ITEMS, Frame, Item, render, roi_around
from storewatch.analysis.decode import decode_gray
from storewatch.analysis.inventory import InventoryDecision, decide
from storewatch.analysis.roi_mask import polygon_mask
from storewatch.analysis.thresholds import Thresholds
from storewatch.camera import scenarios, scene

SIZE = (640, 480)
CELL_X, CELL_Y = 8 / 320, 8 / 240  # one analysis cell, normalized
LIGHTS = {"same light": {}, "dimmed, warm cast": {"gain": 0.6, "cast": (1.0, 0.85, 0.7)}}


def shifted(i: int, dx: float) -> Item:
    item = ITEMS[i]
    x0, y0, x1, y1 = item.box
    return Item((x0 + dx, y0, x1 + dx, y1), item.colour, item.pattern)


def width(i: int) -> float:
    return ITEMS[i].box[2] - ITEMS[i].box[0]


def _pixels(box: tuple[float, float, float, float]) -> tuple[int, int, int, int]:
    return round(box[0] * SIZE[0]), round(box[1] * SIZE[1]), round(box[2] * SIZE[0]), round(box[3] * SIZE[1])


def _jpeg(rgb: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8)).save(out, "JPEG", quality=85)
    return out.getvalue()


def _rgb(jpeg: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB"))


def turned(frame: Frame, i: int, degrees: float, index: int) -> bytes:
    """`frame` with item `i` turned by `degrees` where it stands (a real JPEG)."""
    item_there = _rgb(render(frame, index=index))
    empty = Image.fromarray(_rgb(render(replace(frame, removed=frame.removed | {i}), index=index)))
    x0, y0, x1, y1 = _pixels(ITEMS[i].box)
    patch = Image.fromarray(item_there[y0:y1, x0:x1]).convert("RGBA").rotate(degrees, expand=True,
                                                                           resample=Image.BICUBIC)
    empty.paste(patch, ((x0 + x1 - patch.width) // 2, y1 - patch.height), patch)
    return _jpeg(np.asarray(empty))


def plain(level: int, items: list[tuple[int, float]], index: int, gain: float = 1.0,
          cast: tuple[float, float, float] = (1.0, 1.0, 1.0)) -> bytes:
    """A plain wall of grey `level` with the shelf scene's items (index, x shift) standing on it."""
    shelf = _rgb(render(Frame())).astype(np.float32)
    rng = np.random.default_rng(index)
    img = np.full_like(shelf, level) + rng.normal(0, 2, shelf.shape)
    for i, dx in items:
        x0, y0, x1, y1 = _pixels(ITEMS[i].box)
        d = round(dx * SIZE[0])
        img[y0:y1, x0 + d:x1 + d] = shelf[y0:y1, x0:x1]
    return _jpeg(img * gain * np.asarray(cast, np.float32))


def verdict_of(pre: bytes, post: bytes, roi) -> InventoryDecision:
    pre_g, post_g = decode_gray(pre), decode_gray(post)
    return decide(pre_g, post_g, polygon_mask(roi, pre_g.shape), Thresholds())


def assert_box_covers(decision: InventoryDecision, *truth: tuple[float, float, float, float]) -> None:
    assert decision.box is not None
    bx0, by0, bx1, by1 = decision.box
    x0, y0 = min(b[0] for b in truth), min(b[1] for b in truth)
    x1, y1 = max(b[2] for b in truth), max(b[3] for b in truth)
    assert bx0 <= x0 + CELL_X and by0 <= y0 + CELL_Y and bx1 >= x1 - CELL_X and by1 >= y1 - CELL_Y, \
        (decision.box, (x0, y0, x1, y1))


SHELF_ROI = roi_around(2, 3, 4)


@pytest.mark.parametrize("light", LIGHTS)
def test_a_take_from_the_shelf_is_taken(light: str) -> None:
    decision = verdict_of(render(Frame()), render(Frame(removed=frozenset([3]), **LIGHTS[light]), index=1),
                          SHELF_ROI)
    assert decision.verdict == "taken" and decision.changed and 0 < decision.score < 1
    assert_box_covers(decision, ITEMS[3].box)


@pytest.mark.parametrize("light", LIGHTS)
def test_an_item_put_on_the_shelf_is_placed(light: str) -> None:
    decision = verdict_of(render(Frame(removed=frozenset([3]))), render(Frame(**LIGHTS[light]), index=1),
                          SHELF_ROI)
    assert decision.verdict == "placed" and decision.changed
    assert_box_covers(decision, ITEMS[3].box)


@pytest.mark.parametrize("light", LIGHTS)
@pytest.mark.parametrize("share", [0.5, -0.5])
def test_an_item_put_back_half_its_width_off_is_moved(light: str, share: float) -> None:
    new = shifted(3, share * width(3))
    after = Frame(removed=frozenset([3]), extra=(new,), **LIGHTS[light])
    decision = verdict_of(render(Frame()), render(after, index=1), SHELF_ROI)
    assert decision.verdict == "moved" and not decision.changed
    assert_box_covers(decision, ITEMS[3].box, new.box)


@pytest.mark.parametrize("light", LIGHTS)
def test_an_item_put_back_a_whole_width_off_is_moved(light: str) -> None:
    new = shifted(3, width(3))  # into the empty slot of item 4
    before = Frame(removed=frozenset([4]))
    after = Frame(removed=frozenset([3, 4]), extra=(new,), **LIGHTS[light])
    decision = verdict_of(render(before), render(after, index=1), SHELF_ROI)
    assert decision.verdict == "moved" and not decision.changed
    assert_box_covers(decision, ITEMS[3].box, new.box)


@pytest.mark.parametrize("light", LIGHTS)
@pytest.mark.parametrize("item, degrees", [(3, 8.0), (4, -10.0)])
def test_an_item_turned_a_little_is_moved(light: str, item: int, degrees: float) -> None:
    decision = verdict_of(render(Frame()), turned(Frame(**LIGHTS[light]), item, degrees, 1), SHELF_ROI)
    assert decision.verdict == "moved" and not decision.changed
    assert_box_covers(decision, ITEMS[item].box)


@pytest.mark.parametrize("light", LIGHTS)
def test_an_item_taken_and_put_back_exactly_is_unchanged(light: str) -> None:
    decision = verdict_of(render(Frame()), render(Frame(**LIGHTS[light]), index=1), SHELF_ROI)
    assert decision.verdict == "unchanged" and not decision.changed and decision.box is None


PLAIN_LIGHTS = {"same light": {}, "dimmed, warm cast": {"gain": 0.7, "cast": (1.0, 0.9, 0.8)}}


@pytest.mark.parametrize("light", PLAIN_LIGHTS)
@pytest.mark.parametrize("level", [128, 225], ids=["grey wall", "white shelf"])
@pytest.mark.parametrize("item", [1, 8])
def test_on_a_plain_background(light: str, level: int, item: int) -> None:
    roi = roi_around(item, margin=width(item) * 1.3)
    kw = PLAIN_LIGHTS[light]
    taken = verdict_of(plain(level, [(item, 0.0)], 0), plain(level, [], 1, **kw), roi)
    placed = verdict_of(plain(level, [], 0), plain(level, [(item, 0.0)], 1, **kw), roi)
    half = verdict_of(plain(level, [(item, 0.0)], 0), plain(level, [(item, width(item) / 2)], 1, **kw), roi)
    full = verdict_of(plain(level, [(item, 0.0)], 0), plain(level, [(item, -width(item))], 1, **kw), roi)
    same = verdict_of(plain(level, [(item, 0.0)], 0), plain(level, [(item, 0.0)], 1, **kw), roi)
    assert (taken.verdict, placed.verdict, half.verdict, full.verdict, same.verdict) == \
        ("taken", "placed", "moved", "moved", "unchanged")
    assert_box_covers(taken, ITEMS[item].box)
    assert_box_covers(placed, ITEMS[item].box)
    assert_box_covers(half, ITEMS[item].box, shifted(item, width(item) / 2).box)
    assert_box_covers(full, ITEMS[item].box, shifted(item, -width(item)).box)


@pytest.mark.parametrize("item", [0, 1, 5, 7, 9, 10])
def test_takes_and_placements_across_the_shelf(item: int) -> None:
    roi = roi_around(max(0, item - 1), item)
    taken = verdict_of(render(Frame()), render(Frame(removed=frozenset([item]), gain=0.8), index=1), roi)
    placed = verdict_of(render(Frame(removed=frozenset([item]))), render(Frame(gain=1.1), index=1), roi)
    assert (taken.verdict, placed.verdict) == ("taken", "placed")
    assert_box_covers(taken, ITEMS[item].box)


def test_a_decision_without_a_verdict_takes_it_from_changed() -> None:
    assert InventoryDecision(True, 0.2, None).verdict == "taken"
    assert InventoryDecision(False, 0.0, None).verdict == "unchanged"
    with pytest.raises(ValueError):
        InventoryDecision(True, 0.2, None, "stolen")


# ---- the scripted shop shelf (storewatch.camera.scene): backgrounds, light, turns ------------

SHELF_SIZE = (640, 480)
TOP_SHELF = scene.starter_rois()[0][1]  # one ROI over the whole top board, as a newcomer draws it
SHELF_ITEMS = scenarios.items(11)
FULL_SHELF = {slot: scene.Placed(SHELF_ITEMS[slot]) for slot in range(8) if slot != 5}  # slot 5 empty
BACKGROUND_KINDS = ("grey", "white", "wall", "textured")
# (Before's light, After's light): gain and per-channel cast applied before the JPEG (so before grey).
SHELF_LIGHTS = {
    "same light": ({}, {}),
    "dim": ({"gain": 0.5}, {"gain": 0.5}),
    "lights dimmed between": ({}, {"gain": 0.6}),
    "white balance shift": ({}, {"cast": (1.1, 0.95, 0.7)}),
    "heavy sensor noise": ({"noise": 8.0}, {"noise": 8.0}),
}


def _shelf_background(kind: str) -> Image.Image:
    """The scene's plain grey, plain white or shaded wall, or a wallpaper of small coloured tiles."""
    if kind != "textured":
        return scene.render_background(*SHELF_SIZE, kind=kind)
    image = scene.render_background(*SHELF_SIZE, kind="wall")
    draw = ImageDraw.Draw(image)
    rng = np.random.default_rng(5)
    width, height = SHELF_SIZE
    for _ in range(900):
        x, y, side = int(rng.integers(0, width)), int(rng.integers(0, height)), int(rng.integers(3, 14))
        draw.rectangle((x, y, x + side, y + side // 2 + 2), fill=tuple(int(v) for v in rng.integers(60, 230, 3)))
    for top in scene.SHELF_TOPS:  # the boards again, in front of the wallpaper
        y, board = int(top * height), max(3, int(0.035 * height))
        draw.rectangle((0, y, width, y + board), fill=(120, 85, 55))
    return image


def shelf_gray(kind: str, stock: dict[int, scene.Placed], index: int, gain: float = 1.0,
               cast: tuple[float, float, float] = (1.0, 1.0, 1.0), noise: float = 3.0) -> np.ndarray:
    """The top shelf holding `stock` (slot -> item), lit, noisy, through a real JPEG, decoded as the worker does."""
    image = _shelf_background(kind)
    draw = ImageDraw.Draw(image)
    for slot, placed in stock.items():
        scene.draw_item(draw, SHELF_SIZE, slot, placed.item, placed.dx, placed.turn)
    pixels = np.asarray(scene.apply_light(image, gain, cast), np.float32)
    pixels = pixels + np.random.default_rng(index).normal(0.0, noise, pixels.shape)
    return decode_gray(_jpeg(pixels))


def _with(stock: dict[int, scene.Placed], **changes: scene.Placed | None) -> dict[int, scene.Placed]:
    out = dict(stock)
    for slot, placed in changes.items():
        out.pop(int(slot[1:]))
        if placed is not None:
            out[int(slot[1:])] = placed
    return out


def _put(slot: int, dx: float = 0.0, turn: float = 0.0, item: int | None = None) -> scene.Placed:
    return scene.Placed(SHELF_ITEMS[slot if item is None else item], dx, turn)


WITHOUT_6 = {slot: placed for slot, placed in FULL_SHELF.items() if slot != 6}
TIGHT_ROW = {**FULL_SHELF, 2: _put(2, dx=0.31), 4: _put(4, dx=-0.31)}  # items 2-4 touch
SHELF_CASES = {  # name: (Before's stock, After's stock, verdict)
    "take between two neighbours": (FULL_SHELF, _with(FULL_SHELF, s3=None), "taken"),
    "take at the end of the row": (FULL_SHELF, _with(FULL_SHELF, s0=None), "taken"),
    "take from between touching neighbours": (TIGHT_ROW, _with(TIGHT_ROW, s3=None), "taken"),
    "shift left against a neighbour": (FULL_SHELF, _with(FULL_SHELF, s4=_put(4, dx=-0.3)), "moved"),
    "place into the gap": (FULL_SHELF, {**FULL_SHELF, 5: _put(5, item=20)}, "placed"),
    **{f"shift right by {share} width": (FULL_SHELF, _with(FULL_SHELF, s4=_put(4, dx=share)), "moved")
       for share in (0.3, 0.6, 1.0)},
    **{f"shift left by {share} width": (WITHOUT_6, _with(WITHOUT_6, s7=_put(7, dx=-share)), "moved")
       for share in (0.3, 0.6, 1.0)},
    **{f"turn by {angle:g} degrees": (FULL_SHELF, _with(FULL_SHELF, s3=_put(3, turn=angle)), "moved")
       for angle in (30.0, 60.0, 90.0)},
    "as it was": (FULL_SHELF, FULL_SHELF, "unchanged"),
}


@pytest.mark.parametrize("light", SHELF_LIGHTS)
@pytest.mark.parametrize("kind", BACKGROUND_KINDS)
def test_verdicts_on_the_scripted_shelf(kind: str, light: str) -> None:
    """Every case on every background and light: a turned item or one put back up to its width off
    its place is moved, never taken or placed; a take next to a neighbour is taken."""
    before_light, after_light = SHELF_LIGHTS[light]
    mask = polygon_mask(TOP_SHELF, (240, 320))
    said = {}
    for name, (before, after, _) in SHELF_CASES.items():
        decision = decide(shelf_gray(kind, before, 0, **before_light), shelf_gray(kind, after, 1, **after_light),
                          mask, Thresholds())
        said[name] = decision.verdict
        assert decision.changed == (decision.verdict in ("taken", "placed"))
    expected = {name: verdict for name, (_, _, verdict) in SHELF_CASES.items()}
    assert said == expected


@pytest.mark.parametrize("kind", BACKGROUND_KINDS)
def test_the_box_of_a_take_covers_the_item(kind: str) -> None:
    mask = polygon_mask(TOP_SHELF, (240, 320))
    decision = decide(shelf_gray(kind, FULL_SHELF, 0), shelf_gray(kind, _with(FULL_SHELF, s3=None), 1), mask,
                      Thresholds())
    assert decision.verdict == "taken"
    assert_box_covers(decision, scene.item_box(3, SHELF_ITEMS[3].height))
