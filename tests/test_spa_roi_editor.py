"""The ROI editor (widgets/roi-*.js) in headless Chromium, on a real device page: every gesture
with the mouse and the keyboard changes the shape as it should, and what is saved is what was
drawn; and its geometry module on its own, imported by the browser from the appliance.
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
