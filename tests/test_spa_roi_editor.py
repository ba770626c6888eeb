"""The ROI editor (widgets/roi-*.js) in headless Chromium, on a real device page: every gesture
with the mouse and the keyboard changes the shape as it should, and what is saved is what was
drawn; Undo and Redo (buttons and keys) step through the edits, back to what is saved, where
leaving asks nothing; and its geometry and history modules on their own, imported by the
browser from the appliance.
"""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Page, expect

from support.browser import browser, camera_with_a_frame, login, page  # noqa: F401 (fixtures)
from support.servers import LiveServer

TOLERANCE = 0.004  # of the frame's width or height: under a pixel of the laid-out layer, after rounding

# Each shape as drawn, in the frame's normalized coordinates, read from the layer's SVG.
SHAPES = """() => { const svg = document.querySelector('.frame-stage svg');
  return [...svg.querySelectorAll('polygon.roi-shape')].map((shape) => shape.getAttribute('points').trim()
    .split(/\\s+/).map((pair) => pair.split(',').map(Number)).map(([x, y]) => [x / svg.clientWidth, y / svg.clientHeight]));
}"""


@pytest.fixture(scope="module")
def camera(server: LiveServer, admin: httpx.Client) -> str:
    return camera_with_a_frame(server, admin, "Bakery shelf", size=(320, 240))


def at(page: Page, x: float, y: float) -> tuple[float, float]:
    box = page.locator(".frame-stage svg").bounding_box()
    assert box is not None
    return box["x"] + x * box["width"], box["y"] + y * box["height"]


def drag(page: Page, start: tuple[float, float], end: tuple[float, float]) -> None:
    page.mouse.move(*at(page, *start))
    page.mouse.down()
    page.mouse.move(*at(page, *end), steps=8)
    page.mouse.up()


def shapes(page: Page) -> list[list[list[float]]]:
    return page.evaluate(SHAPES)


def assert_polygon(actual: list[list[float]], expected: list[list[float]]) -> None:
    assert len(actual) == len(expected), (actual, expected)
    for (ax, ay), (ex, ey) in zip(actual, expected):
        assert abs(ax - ex) <= TOLERANCE and abs(ay - ey) <= TOLERANCE, (actual, expected)


def open_editor(page: Page, server: LiveServer, camera: str) -> None:
    login(page, server, f"/devices/{camera}")
    page.wait_for_function("() => { const i = document.querySelector('.frame-stage img');"
                           " return i && i.complete && i.naturalWidth > 0; }")


def test_rectangle_corners_and_moves_with_the_mouse_and_keys(server: LiveServer, admin: httpx.Client, camera: str,
                                                             page: Page) -> None:
    open_editor(page, server, camera)
    hint = page.locator(".editor-hint")
    page.get_by_role("button", name="Rectangle").click()
    expect(hint).to_have_text("Drag on the frame to draw a rectangle.")
    drag(page, (0.3, 0.3), (0.302, 0.5))  # thinner than 1 % of the frame: a slip, no shape
    expect(hint).to_have_text("Drag further to draw a rectangle.")
    assert shapes(page) == []

    drag(page, (0.6, 0.6), (0.2, 0.2))  # drawn from the bottom right: still clockwise from the top left
    expect(page.locator(".roi-item")).to_have_count(1)
    expect(hint).to_have_text("Name the new ROI, then save it.")
    expect(page.locator(".roi-item input[name=name]")).to_have_value("Shelf area 1")
    expect(page.locator(".roi-item input[name=name]")).to_be_focused()
    assert_polygon(shapes(page)[0], [[0.2, 0.2], [0.6, 0.2], [0.6, 0.6], [0.2, 0.6]])
    expect(page.locator(".roi-vertex")).to_have_count(4)  # selected: its corners and edge dots show
    expect(page.locator(".roi-midpoint")).to_have_count(4)

    drag(page, (0.4, 0.2), (0.4, 0.1))  # the top edge's dot, pulled up: a fifth corner
    assert_polygon(shapes(page)[0], [[0.2, 0.2], [0.4, 0.1], [0.6, 0.2], [0.6, 0.6], [0.2, 0.6]])
    page.mouse.dblclick(*at(page, 0.4, 0.1))  # a double click takes it away again
    assert_polygon(shapes(page)[0], [[0.2, 0.2], [0.6, 0.2], [0.6, 0.6], [0.2, 0.6]])

    drag(page, (0.3, 0.4), (0.9, 0.45))  # the whole shape, pushed past the right edge, stops at it
    assert_polygon(shapes(page)[0], [[0.6, 0.25], [1.0, 0.25], [1.0, 0.65], [0.6, 0.65]])

    page.mouse.click(*at(page, 0.6, 0.25))  # the first corner, active; the keys move it
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("Shift+ArrowDown")
    assert_polygon(shapes(page)[0], [[0.595, 0.27], [1.0, 0.25], [1.0, 0.65], [0.6, 0.65]])
    page.keyboard.press("Tab")  # the next corner
    page.keyboard.press("Delete")
    assert_polygon(shapes(page)[0], [[0.595, 0.27], [1.0, 0.65], [0.6, 0.65]])
    page.mouse.click(*at(page, 0.6, 0.65))
    page.keyboard.press("Delete")  # a triangle keeps its three corners
    expect(hint).to_have_text("An ROI keeps at least three corners; delete the ROI instead.")
    assert len(shapes(page)[0]) == 3
    page.keyboard.press("Escape")  # nothing selected any more
    expect(page.locator(".roi-vertex")).to_have_count(0)

    item = page.locator(".roi-item")
    expect(item.locator(".dirty-dot")).to_have_text("new")
    item.get_by_role("button", name="Save new ROI").click()
    expect(item.locator(".dirty-dot")).to_be_hidden()
    [saved] = admin.get(f"/api/v1/admin/devices/{camera}/rois").json()["rois"]
    assert saved["name"] == "Shelf area 1"
    assert_polygon(saved["polygon"], [[0.595, 0.27], [1.0, 0.65], [0.6, 0.65]])
    assert all(round(v, 4) == v for point in saved["polygon"] for v in point)  # stored to four decimals
    admin.delete(f"/api/v1/admin/devices/{camera}/rois/{saved['id']}").raise_for_status()


def test_polygons_close_with_enter_a_double_click_or_the_first_corner(server: LiveServer, admin: httpx.Client,
                                                                      camera: str, page: Page) -> None:
    open_editor(page, server, camera)
    hint = page.locator(".editor-hint")
    polygon_tool = page.get_by_role("button", name="Polygon")
    polygon_tool.click()
    expect(page.get_by_role("button", name="Close polygon")).to_be_visible()
    for x, y in [(0.1, 0.1), (0.3, 0.1)]:
        page.mouse.click(*at(page, x, y))
    page.locator(".frame-stage svg").press("Enter")  # two corners are not a shape yet
    expect(hint).to_have_text("A polygon needs at least three corners.")
    page.mouse.move(*at(page, 0.3, 0.3))
    expect(page.locator(".roi-draft-point")).to_have_count(2)
    page.mouse.click(*at(page, 0.3, 0.3))
    page.locator(".frame-stage svg").press("Enter")
    expect(page.locator(".roi-item")).to_have_count(1)
    assert_polygon(shapes(page)[0], [[0.1, 0.1], [0.3, 0.1], [0.3, 0.3]])

    polygon_tool.click()
    for x, y in [(0.5, 0.5), (0.7, 0.5)]:
        page.mouse.click(*at(page, x, y))
    page.mouse.dblclick(*at(page, 0.6, 0.7))  # its two clicks make one corner, and close it
    expect(page.locator(".roi-item")).to_have_count(2)
    assert_polygon(shapes(page)[1], [[0.5, 0.5], [0.7, 0.5], [0.6, 0.7]])

    polygon_tool.click()
    for x, y in [(0.1, 0.6), (0.3, 0.6), (0.3, 0.8), (0.1, 0.8), (0.101, 0.601)]:  # back on the first: closed
        page.mouse.click(*at(page, x, y))
    expect(page.locator(".roi-item")).to_have_count(3)
    assert_polygon(shapes(page)[2], [[0.1, 0.6], [0.3, 0.6], [0.3, 0.8], [0.1, 0.8]])

    polygon_tool.click()
    page.mouse.click(*at(page, 0.8, 0.1))
    page.locator(".frame-stage svg").press("Escape")  # gives up the drawing
    expect(page.locator(".roi-draft-point")).to_have_count(0)
    assert len(shapes(page)) == 3

    page.get_by_role("button", name="Save all").click()
    expect(page.locator(".roi-item .dirty-dot:visible")).to_have_count(0)
    saved = admin.get(f"/api/v1/admin/devices/{camera}/rois").json()["rois"]
    assert [r["name"] for r in saved] == ["Shelf area 1", "Shelf area 2", "Shelf area 3"]
    for roi, drawn in zip(saved, shapes(page)):
        assert_polygon(roi["polygon"], drawn)
    for roi in saved:
        admin.delete(f"/api/v1/admin/devices/{camera}/rois/{roi['id']}").raise_for_status()


GEOMETRY_CASES = """async () => {
  const g = await import('/static/widgets/roi-geometry.js');
  const view = g.scale(200, 100, 12);
  return {
    rounded: g.roundPolygon([[0.123456, 1.2], [-0.1, 0.99995]]),
    anchor: g.anchor([[0.5, 0.5], [0.1, 0.2], [0.9, 0.1]]),
    px: view.px([0.5, 0.25]),
    distance: view.distancePx([0, 0], [0.03, 0.04]),
    rectangle: g.rectangle([0.6, 0.7], [0.2, 0.1]),
    thin: g.rectangle([0.2, 0.2], [0.205, 0.8]),
    closed: g.closedPolygon([[0.1, 0.1], [0.5, 0.1], [0.5, 0.101], [0.5, 0.5], [0.12, 0.11]], view),
    two: g.closedPolygon([[0.1, 0.1], [0.5, 0.1]], view),
    closes: [g.closesDraft([[0.1, 0.1], [0.5, 0.1], [0.5, 0.5]], [0.13, 0.1], view),
             g.closesDraft([[0.1, 0.1], [0.5, 0.1], [0.5, 0.5]], [0.2, 0.1], view),
             g.closesDraft([[0.1, 0.1], [0.5, 0.1]], [0.1, 0.1], view)],
    shifted: g.shifted([[0.5, 0.5], [0.9, 0.6]], 0.3, -0.7),
    withCorner: g.withCorner([[0, 0], [1, 0], [1, 1]], 1, [0.5, 0]),
    withoutCorner: [g.withoutCorner([[0, 0], [1, 0], [1, 1], [0, 1]], 2), g.withoutCorner([[0, 0], [1, 0], [1, 1]], 0)],
    nudged: [g.nudged([0.5, 0.5], 'ArrowLeft'), g.nudged([0.5, 0.5], 'ArrowDown', true), g.nudged([0.999, 0], 'ArrowRight'),
             g.nudged([0.5, 0.001], 'ArrowUp')],
  };
}"""


def approx(points):
    """Points (or a number) compared to a millionth: the sums are floating point."""
    if isinstance(points, (int, float)):
        return pytest.approx(points, abs=1e-6)
    return [pytest.approx(p, abs=1e-6) for p in points]


def test_the_geometry_module_on_its_own(server: LiveServer, page: Page) -> None:
    page.goto(server.url + "/login")  # any page of the appliance: the module is imported from it
    got = page.evaluate(GEOMETRY_CASES)
    assert got["rounded"] == [[0.1235, 1], [0, 1]]  # clamped to the frame, four decimals
    assert got["anchor"] == [0.1, 0.2]  # the label's corner: top-left-most
    assert got["px"] == [100, 25]
    assert got["distance"] == pytest.approx(7.2111, abs=1e-4)  # 6 px across, 4 down
    assert got["rectangle"] == [[0.2, 0.1], [0.6, 0.1], [0.6, 0.7], [0.2, 0.7]]
    assert got["thin"] is None
    assert got["closed"] == [[0.1, 0.1], [0.5, 0.1], [0.5, 0.5]]  # the doubled corner and the closing click go
    assert got["two"] is None
    assert got["closes"] == [True, False, False]  # within 12 px of the first corner, once there are three
    assert got["shifted"] == {"polygon": approx([[0.6, 0.0], [1.0, 0.1]]), "dx": approx(0.1), "dy": -0.5}
    assert got["withCorner"] == [[0, 0], [0.5, 0], [1, 0], [1, 1]]
    assert got["withoutCorner"] == [[[0, 0], [1, 0], [0, 1]], None]
    assert got["nudged"] == approx([[0.495, 0.5], [0.5, 0.52], [1, 0], [0.5, 0]])


def test_undo_and_redo_step_through_the_shape_edits(server: LiveServer, admin: httpx.Client, camera: str,
                                                    page: Page) -> None:
    open_editor(page, server, camera)
    hint = page.locator(".editor-hint")
    undo = page.get_by_role("button", name="Undo", exact=True)
    redo = page.get_by_role("button", name="Redo", exact=True)
    expect(undo).to_be_disabled()
    expect(redo).to_be_disabled()
    rect = [[0.2, 0.2], [0.6, 0.2], [0.6, 0.6], [0.2, 0.6]]
    page.get_by_role("button", name="Rectangle").click()
    drag(page, (0.2, 0.2), (0.6, 0.6))
    expect(undo).to_have_attribute("title", "Undo: “Shelf area 1” drawn (Ctrl+Z)")
    drag(page, (0.2, 0.2), (0.1, 0.1))  # a corner moved
    drag(page, (0.6, 0.4), (0.7, 0.4))  # the right edge's dot: a corner added
    page.mouse.dblclick(*at(page, 0.6, 0.2))  # a corner deleted
    edited = [[0.1, 0.1], [0.7, 0.4], [0.6, 0.6], [0.2, 0.6]]
    assert_polygon(shapes(page)[0], edited)

    page.keyboard.press("Control+z")
    expect(hint).to_have_text("Undone: corner deleted on “Shelf area 1”.")
    assert_polygon(shapes(page)[0], [[0.1, 0.1], [0.6, 0.2], [0.7, 0.4], [0.6, 0.6], [0.2, 0.6]])
    page.keyboard.press("Control+z")
    expect(hint).to_have_text("Undone: corner added on “Shelf area 1”.")
    page.keyboard.press("Control+z")
    expect(hint).to_have_text("Undone: corner moved on “Shelf area 1”.")
    assert_polygon(shapes(page)[0], rect)
    page.keyboard.press("Control+Shift+z")
    expect(hint).to_have_text("Redone: corner moved on “Shelf area 1”.")
    page.keyboard.press("Control+y")
    page.keyboard.press("Control+y")
    assert_polygon(shapes(page)[0], edited)
    expect(redo).to_be_disabled()
    page.keyboard.press("Control+y")
    expect(hint).to_have_text("Nothing to redo.")

    for _ in range(4):  # with the button: back past the drawing, and the ROI is gone
        undo.click()
    expect(hint).to_have_text("Undone: “Shelf area 1” drawn.")
    assert shapes(page) == []
    expect(page.locator(".roi-list .empty")).to_have_text("No ROIs yet. Draw a rectangle or polygon on the frame.")
    expect(page.get_by_role("button", name="Save all")).to_be_hidden()
    expect(undo).to_be_disabled()
    redo.click()  # back, as it was drawn, with its row and its name
    expect(page.locator(".roi-item input[name=name]")).to_have_value("Shelf area 1")
    expect(page.locator(".roi-item .dirty-dot")).to_have_text("new")
    assert_polygon(shapes(page)[0], rect)


def test_undo_back_to_what_is_saved_leaves_without_asking(server: LiveServer, admin: httpx.Client, camera: str,
                                                          page: Page) -> None:
    saved = admin.post(f"/api/v1/admin/devices/{camera}/rois",
                       json={"name": "Bread", "polygon": [[0.2, 0.2], [0.6, 0.2], [0.6, 0.6], [0.2, 0.6]]}).json()
    open_editor(page, server, camera)
    undo = page.get_by_role("button", name="Undo", exact=True)
    item = page.locator(".roi-item")
    drag(page, (0.4, 0.4), (0.5, 0.4))  # the whole shape moved
    page.mouse.click(*at(page, 0.3, 0.2))  # its first corner, nudged three times: one step
    for _ in range(3):
        page.keyboard.press("ArrowUp")
    assert_polygon(shapes(page)[0], [[0.3, 0.185], [0.7, 0.2], [0.7, 0.6], [0.3, 0.6]])
    expect(item.locator(".dirty-dot")).to_have_text("unsaved")
    page.keyboard.press("Control+z")
    expect(page.locator(".editor-hint")).to_have_text("Undone: corner moved on “Bread”.")
    assert_polygon(shapes(page)[0], [[0.3, 0.2], [0.7, 0.2], [0.7, 0.6], [0.3, 0.6]])
    page.keyboard.press("Control+z")
    expect(page.locator(".editor-hint")).to_have_text("Undone: “Bread” moved.")
    assert_polygon(shapes(page)[0], saved["polygon"])
    expect(item.locator(".dirty-dot")).to_be_hidden()  # as saved: clean again
    expect(item.get_by_role("button", name="Save", exact=True)).to_be_disabled()
    expect(undo).to_be_disabled()

    leave = page.locator("dialog[open]")
    page.keyboard.press("Control+y")  # unsaved again: leaving asks
    expect(item.locator(".dirty-dot")).to_be_visible()
    page.locator("#nav a[href='/devices']").click()
    expect(leave).to_contain_text("Leave without saving?")
    leave.get_by_role("button", name="Cancel").click()
    undo.click()
    page.locator("#nav a[href='/devices']").click()  # back at what is saved: no question
    expect(page.locator("main h1")).to_have_text("Devices")
    expect(leave).to_have_count(0)
    admin.delete(f"/api/v1/admin/devices/{camera}/rois/{saved['id']}").raise_for_status()


def names(page: Page) -> list[str]:
    return page.locator(".roi-item input[name=name]").evaluate_all("(inputs) => inputs.map((i) => i.value)")


def test_undo_brings_back_a_deleted_new_roi_and_stops_at_a_save(server: LiveServer, admin: httpx.Client,
                                                                camera: str, page: Page) -> None:
    open_editor(page, server, camera)
    hint = page.locator(".editor-hint")
    undo = page.get_by_role("button", name="Undo", exact=True)
    page.get_by_role("button", name="Rectangle").click()
    drag(page, (0.1, 0.1), (0.3, 0.3))
    first = page.locator(".roi-item").first
    first.get_by_text("Thresholds", exact=True).click()
    first.get_by_label("Start threshold").fill("0.2")  # typed, not saved: kept through the steps below
    page.get_by_role("button", name="Rectangle").click()
    drag(page, (0.5, 0.5), (0.8, 0.8))
    second = page.locator(".roi-item").nth(1)
    second.locator("input[name=name]").fill("Milk")
    second.get_by_role("button", name="Delete").click()  # never saved: gone without a question
    expect(page.locator(".roi-item")).to_have_count(1)
    expect(hint).to_have_text("“Milk” deleted; Undo brings it back.")
    page.keyboard.press("Control+z")
    expect(hint).to_have_text("Undone: “Milk” deleted.")
    expect(page.locator(".roi-item")).to_have_count(2)
    assert names(page) == ["Shelf area 1", "Milk"]
    assert len(shapes(page)) == 2
    page.keyboard.press("Control+Shift+z")
    expect(page.locator(".roi-item")).to_have_count(1)
    page.keyboard.press("Control+z")
    expect(page.locator(".roi-item")).to_have_count(2)
    expect(first.get_by_label("Start threshold")).to_have_value("0.2")

    first.get_by_role("button", name="Save new ROI").click()  # saved: Undo stops there
    expect(first.locator(".dirty-dot")).to_be_hidden()
    for _ in range(3):
        page.keyboard.press("Control+z")
    expect(hint).to_have_text("Nothing to undo.")  # Milk's steps went; "Shelf area 1" stays as saved
    assert names(page) == ["Shelf area 1"]
    [stored] = admin.get(f"/api/v1/admin/devices/{camera}/rois").json()["rois"]
    assert stored["thresholds"] == {"start_threshold": 0.2}
    assert_polygon(shapes(page)[0], stored["polygon"])
    admin.delete(f"/api/v1/admin/devices/{camera}/rois/{stored['id']}").raise_for_status()


def test_undo_while_drawing_a_polygon_takes_back_its_corners(server: LiveServer, camera: str, page: Page) -> None:
    open_editor(page, server, camera)
    page.get_by_role("button", name="Polygon").click()
    for x, y in [(0.1, 0.1), (0.4, 0.1), (0.4, 0.4)]:
        page.mouse.click(*at(page, x, y))
    page.keyboard.press("Control+z")
    expect(page.locator(".roi-draft-point")).to_have_count(2)
    expect(page.locator(".editor-hint")).to_have_text("Undone: the last corner of the polygon being drawn.")
    page.get_by_role("button", name="Undo", exact=True).click()
    expect(page.locator(".roi-draft-point")).to_have_count(1)
    page.keyboard.press("Control+y")
    page.keyboard.press("Control+y")
    expect(page.locator(".roi-draft-point")).to_have_count(3)
    expect(page.get_by_role("button", name="Redo", exact=True)).to_be_disabled()
    page.locator(".frame-stage svg").press("Enter")
    assert_polygon(shapes(page)[0], [[0.1, 0.1], [0.4, 0.1], [0.4, 0.4]])

    name = page.locator(".roi-item input[name=name]")
    expect(name).to_be_focused()  # not typed in yet: Ctrl+Z is the editor's
    page.keyboard.press("Control+z")
    expect(page.locator(".editor-hint")).to_have_text("Undone: “Shelf area 1” drawn.")
    page.keyboard.press("Control+y")
    name.click()  # typed in: Ctrl+Z is the text box's own
    name.press("End")
    page.keyboard.type(" top")
    page.keyboard.press("Control+z")
    expect(name).not_to_have_value("Shelf area 1 top")
    assert len(shapes(page)) == 1
    expect(page.locator(".editor-hint")).to_have_text("Redone: “Shelf area 1” drawn.")


HISTORY_CASES = """async () => {
  const {RoiHistory} = await import('/static/widgets/roi-history.js');
  const step = (key, n, extra = {}) => ({kind: 'shape', key, before: [[n]], after: [[n + 1]], ...extra});
  const bounded = new RoiHistory(100);
  for (let n = 0; n < 105; n += 1) bounded.record(step('a', n), n * 5000);
  const merged = new RoiHistory();
  merged.record(step('a', 0, {merge: 'nudge-0'}), 0);
  merged.record(step('a', 1, {merge: 'nudge-0'}), 900);   // within a second: one step
  merged.record(step('a', 2, {merge: 'nudge-0'}), 2500);  // later: a step of its own
  merged.record(step('a', 3, {merge: 'nudge-1'}), 2600);  // another corner: its own
  const forgetting = new RoiHistory();
  ['a', 'b', 'a', 'b'].forEach((key, n) => forgetting.record(step(key, n), n * 5000));
  forgetting.undo();
  forgetting.forget('b');
  const redoing = new RoiHistory();
  redoing.record(step('a', 0), 0);
  redoing.undo();
  const before = redoing.canRedo;
  redoing.record(step('a', 5), 5000);  // a new edit ends what could be redone
  return {
    bounded: [bounded.done.length, bounded.done[0].before[0][0]],
    merged: merged.done.map((s) => [s.before[0][0], s.after[0][0]]),
    forgotten: [forgetting.done.map((s) => s.before[0][0]), forgetting.canRedo],
    redo: [before, redoing.canRedo, redoing.undo().before[0][0], redoing.undo()],
  };
}"""


def test_the_history_module_on_its_own(server: LiveServer, page: Page) -> None:
    page.goto(server.url + "/login")
    got = page.evaluate(HISTORY_CASES)
    assert got["bounded"] == [100, 5]  # the oldest five went
    assert got["merged"] == [[0, 2], [2, 3], [3, 4]]
    assert got["forgotten"] == [[0, 2], False]  # b's steps, done and undone, went
    assert got["redo"] == [True, False, 5, None]
