"""The scene model and its truth: hand masks, item boxes, verdicts, frame schedules, replay."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

import numpy as np
import pytest
from PIL import Image

from storewatch.camera import scenarios, scene
from storewatch.camera.scene import ITEM_WIDTH, Lighting, Placed, ScriptRenderer, net_verdict
from storewatch.camera.sources.simulated import SimulatedShelf

SIZE = (320, 240)


def _clean(script: scene.Script) -> scene.Script:
    """The same script without noise or light changes: pixels differ only where things are."""
    return replace(script, noise=0.0, lighting=Lighting())


def _pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image, dtype=np.int16)


@pytest.mark.parametrize("name", ["across-shelves", "two-hands", "passer", "return-shifted"])
def test_the_hand_mask_covers_every_pixel_the_arm_drew(name):
    script = _clean(scenarios.scenario(name))
    renderer = ScriptRenderer(script, SIZE)
    _, frames = script.truth(script.times(5), SIZE)
    busy = [f for f in frames if any(f.hand_in_roi)]
    assert busy, "the scenario never shows a hand in an ROI"
    for frame in busy[:: max(1, len(busy) // 6)]:
        mask = Image.new("L", SIZE, 0)
        drawn = _pixels(renderer.image(frame.t, 0, mask))
        shelf = _pixels(renderer._stocked_image(script.stock_at(frame.t)))
        changed = np.abs(drawn - shelf).max(axis=2) > 0
        assert np.array_equal(np.asarray(mask) > 0, frame.hand)  # the truth is the mask drawn with the frame
        assert not (changed & ~frame.hand).any()  # nothing drawn outside the mask
        assert changed[frame.hand].mean() > 0.9  # and the mask is what was drawn, not a loose box
        x0, y0, x1, y1 = (round(v * side) for v, side in zip(frame.hand_box, SIZE * 2))
        ys, xs = np.nonzero(changed)
        assert x0 <= xs.min() and y0 <= ys.min() and x1 > xs.max() and y1 > ys.max()


def test_an_item_put_back_shifted_ends_where_the_truth_says():
    script = _clean(scenarios.scenario("return-shifted"))
    (visit,), frames = script.truth(script.times(5), SIZE)
    assert [(r.roi, r.verdict) for r in visit.rois] == [(1, "moved")]
    before = {label: box for label, _, box, _ in frames[0].items}
    after = {label: (shelf, box) for label, shelf, box, _ in frames[-1].items}
    moved = [label for label in before if after[label][1] != before[label]]
    assert len(moved) == 1
    (label,) = moved
    old, (shelf, new) = before[label], after[label]
    assert shelf == 1 and new[0] - old[0] == pytest.approx(0.8 * ITEM_WIDTH) and new[1:4:2] == old[1:4:2]
    renderer = ScriptRenderer(script, SIZE)
    first, last = _pixels(renderer.image(frames[0].t)), _pixels(renderer.image(frames[-1].t))
    changed = np.abs(last - first).max(axis=2) > 30
    ys, xs = np.nonzero(changed)
    # what changed on the frame spans the old place and the new one, and nothing else
    assert xs.min() == pytest.approx(old[0] * SIZE[0], abs=3) and xs.max() == pytest.approx(new[2] * SIZE[0], abs=3)
    assert ys.max() <= new[3] * SIZE[1] + 1 and ys.min() >= min(old[1], new[1]) * SIZE[1] - 1


def test_a_turned_item_shows_its_side_in_the_truth_and_on_the_frame():
    script = _clean(scenarios.scenario("return-turned"))
    (visit,), frames = script.truth(script.times(2), SIZE)
    assert dict((r.roi, r.verdict) for r in visit.rois)[0] == "moved"
    turned = [(label, turn) for label, _, _, turn in frames[-1].items if turn]
    assert turned and turned[0][1] == 60.0
    renderer = ScriptRenderer(script, SIZE)
    assert np.abs(_pixels(renderer.image(frames[-1].t)) - _pixels(renderer.image(frames[0].t))).max() > 40


def test_the_same_seed_gives_the_same_bytes_and_another_seed_other_bytes():
    def frames(script: scene.Script) -> list[bytes]:
        renderer = ScriptRenderer(script, SIZE)
        return [renderer.jpeg(t, n) for n, t in enumerate(script.times(2)[16:24])]

    assert frames(scenarios.take()) == frames(scenarios.take())
    assert frames(scenarios.take()) != frames(scenarios.take(seed=99))


def test_net_verdicts_know_taken_placed_moved_and_unchanged():
    stock, spare = scenarios.stock(3)
    item = stock[2].item
    without = stock[:2] + (None,) + stock[3:]
    shifted = stock[:2] + (Placed(item, dx=0.5),) + stock[3:]
    added = stock[:5] + (Placed(spare[0]),) + stock[6:]
    assert net_verdict(stock, without, 0) == "taken"
    assert net_verdict(without, stock, 0) == "placed"
    assert net_verdict(stock, added, 0) == "placed"
    assert net_verdict(stock, shifted, 0) == "moved"
    assert net_verdict(stock, stock, 0) == "unchanged"
    assert net_verdict(stock, without, 1) == "unchanged"  # another shelf


@pytest.mark.parametrize("name, expected", [
    ("take", [{0: "taken"}]),
    ("return-exact", [{0: "unchanged"}]),
    ("take-then-return", [{1: "taken"}, {1: "placed"}]),
    ("two-items", [{0: "taken", 1: "taken"}]),
    ("across-shelves", [{0: "unchanged", 1: "unchanged", 2: "taken"}]),
    ("two-hands", [{0: "taken", 1: "placed"}]),
    ("two-visits", [{0: "taken", 1: "unchanged"}, {0: "placed"}]),
    ("hand-rests", [{1: "taken"}]),
    ("lights-switch", []),
])
def test_each_scenario_knows_its_visits_and_verdicts(name, expected):
    script = scenarios.scenario(name)
    visits, _ = script.truth(script.times(5), SIZE)
    assert [{r.roi: r.verdict for r in v.rois} for v in visits] == expected
    for first, second in zip(visits, visits[1:]):
        assert second.start - first.end >= 4.0  # a settled, empty shelf between visits


def test_a_passer_is_a_visit_that_changes_nothing():
    script = scenarios.passer()
    (visit,), _ = script.truth(script.times(5), SIZE)
    assert visit.passer_only and {r.verdict for r in visit.rois} == {"unchanged"} and len(visit.rois) >= 2


def test_a_resting_hand_stays_still_in_its_roi():
    script = scenarios.hand_rests()
    (visit,), frames = script.truth(script.times(5), SIZE)
    (reach,) = script.reaches
    for lo, hi in ((reach.start + 1.3, reach.change_at - 0.1), (reach.change_at + 0.1, reach.end - 1.3)):
        still = [f.hand for f in frames if lo <= f.t <= hi]  # still before it takes, and after
        assert len(still) >= 15 and all(np.array_equal(still[0], m) for m in still) and still[0].any()
    assert visit.end - visit.start >= 9.0


def test_baseline_frames_come_every_30_s_until_a_hand_shows_then_the_burst():
    script = scenarios.baseline_take()
    times = script.times(5)
    visits, frames = script.truth(times, SIZE)
    assert times[:3] == [0.0, 30.0, 60.0]
    assert frames[1].hand_in_roi == (False,) * 3 and any(frames[2].hand_in_roi)  # the first hand: alone at 60 s
    assert frames[1].hand_box is None and frames[2].hand_box is not None
    burst = np.diff(times[2:])
    assert burst[:40] == pytest.approx(0.2)
    assert visits[0].start == 60.0
    last_hand = max(f.t for f in frames if any(f.hand_in_roi))
    assert times[-1] >= last_hand + scene.BURST_HOLD_S - 0.2  # the camera stays in burst while it settles


def test_plain_backgrounds_are_plain_behind_the_items():
    for name, level in (("grey-take", 128), ("white-place", 236)):
        script = _clean(scenarios.scenario(name))
        image = _pixels(ScriptRenderer(script, SIZE).image(0.0))
        gap = scene.slot_box(SIZE, scenarios.GAPS[2], 1.0)
        patch = image[gap[1]:gap[3] - 2, gap[0]:gap[2]]
        assert np.abs(patch - level).max() <= 4 and patch.reshape(-1, 3).std(axis=0).max() < 1.0


def test_lighting_follows_its_keyframes_with_a_colour_cast():
    light = scenarios.lights_switch().lighting
    assert light.at(0.0) == (1.0, (1.0, 1.0, 1.0))
    gain, cast = light.at(20.0)
    assert gain == 0.6 and cast == scenarios.AMBER
    script = _clean(scenarios.take())
    dim = replace(script, lighting=light)
    plain, amber = (_pixels(ScriptRenderer(s, SIZE).image(20.0)).reshape(-1, 3).mean(axis=0) for s in (script, dim))
    ratio = amber / plain
    assert ratio[0] > ratio[2] + 0.15 and 0.4 < ratio.mean() < 0.8


def test_the_simulated_camera_timeline_is_a_scene_script_with_truth():
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    shelf = SimulatedShelf(seed=4, clock=lambda: start, noise=False)
    shelf.open(*SIZE, 90)
    script = shelf.script(200.0)
    events = shelf.events(200.0)
    visits, _ = script.truth([n * 0.5 for n in range(401)], SIZE)
    assert len(visits) == len(events)
    for visit, event in zip(visits, events):
        assert event.start <= visit.start and visit.end <= event.start + event.duration
        said = {r.roi: r.verdict for r in visit.rois}
        shelf_index = scene.shelf_of(event.slot)
        assert said[shelf_index] == {"take": "taken", "place": "placed", "touch": "unchanged"}[event.kind]
    for t in (1.0, events[0].start + events[0].duration * 0.6, 199.0):
        stock, _ = shelf._state_at(t)
        assert tuple(p.item if p else None for p in script.stock_at(t)) == stock
