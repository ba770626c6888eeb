"""The overview's "Cameras now" tiles, in headless Chromium against a real `storewatch run`: a
camera that never sent a frame is not asked for one, and a tile whose frame cannot be shown
says why in plain words (never sent one, cleared, damaged, or the appliance's own error).

The browser's clock is Playwright's, so the 15 s refreshes are fast-forwarded, not waited for.
"""

from __future__ import annotations

import contextlib
import time
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
from playwright.sync_api import Locator, Page, expect

from storewatch.store import Database
from storewatch.store.captures import CaptureStore
from storewatch.store.images import ImageStore
from support.browser import Shots, browser, camera_with_a_frame, login, page, shots  # noqa: F401 (fixtures)
from support.api import assert_error
from support.servers import LiveServer, add_device

REFRESH_MS = 15_000
SHOWN = "(img) => img.complete && img.naturalWidth > 0"


def _tile(page: Page, device_id: str) -> Locator:
    return page.locator(f".overview-frames figure[data-device='{device_id}']")


def _stored_frame(server: LiveServer, device_id: str) -> Path:
    database = Database(server.data_dir / "storewatch.db", migrate_schema=False)
    try:
        images = ImageStore(server.data_dir)
        [row] = CaptureStore(database, images).latest(device_id, 1)
        return images.absolute(row["path"])
    finally:
        database.close()


@contextlib.contextmanager
def _spoiled(stored: Path, how: str) -> Iterator[None]:
    """The stored frame gone, damaged (the card's sectors went bad), or unreadable (a folder in
    its place); as it was afterwards, for the module's other tests."""
    good = stored.read_bytes()
    stored.unlink()
    if how == "damaged":
        stored.write_bytes(b"\xff\xd8\xff\xe0" + bytes(range(256)) * 8)
    elif how == "unreadable":
        stored.mkdir()
    try:
        yield
    finally:
        if stored.is_dir():
            shutil.rmtree(stored)
        stored.unlink(missing_ok=True)
        stored.write_bytes(good)


def test_a_camera_that_never_sent_a_frame_is_not_asked_for_one(server: LiveServer, admin: httpx.Client,
                                                               page: Page) -> None:
    # Each refresh asked /latest-frame of a camera never seen: a 404 and a console error every 15 s.
    never, _ = add_device(admin, "Shelf cam never seen")
    fine = camera_with_a_frame(server, admin, "Shelf cam with a frame")
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url) if "/latest-frame" in request.url else None)
    page.clock.install()
    login(page, server, "/")
    _tile(page, fine).scroll_into_view_if_needed()  # the tiles load lazily
    page.wait_for_function(SHOWN, arg=_tile(page, fine).locator("img").element_handle())
    expect(_tile(page, never)).to_contain_text("No frame yet")
    expect(_tile(page, never).locator("img")).to_have_count(0)
    with page.expect_request(lambda request: f"/devices/{fine}/latest-frame" in request.url):
        page.clock.run_for(REFRESH_MS + 100)  # the next refresh asks the camera that sends again
    expect(_tile(page, never)).to_contain_text("No frame yet")
    assert not [url for url in asked if f"/devices/{never}/" in url], asked


def test_a_frame_that_cannot_be_shown_says_why(server: LiveServer, admin: httpx.Client, page: Page,
                                               shots: Shots) -> None:
    # The picture's onerror said "No frame yet" whatever went wrong, also for a camera that sends.
    cameras = {how: camera_with_a_frame(server, admin, f"Shelf cam {how}") for how in ("cleared", "damaged",
                                                                                      "unreadable")}
    with contextlib.ExitStack() as spoiled:
        for how, device_id in cameras.items():
            spoiled.enter_context(_spoiled(_stored_frame(server, device_id), how))
        login(page, server, "/")
        _tile(page, cameras["cleared"]).scroll_into_view_if_needed()
        expect(_tile(page, cameras["cleared"])).to_contain_text("No frame stored now: its last ones were cleared")
        expect(_tile(page, cameras["damaged"])).to_contain_text("The newest frame is damaged and cannot be shown")
        unreadable = _tile(page, cameras["unreadable"])
        expect(unreadable).to_contain_text("Frame not loaded: ")
        said = unreadable.locator(".expired").inner_text()
        answer = admin.get(f"/api/v1/admin/devices/{cameras['unreadable']}/latest-frame")
        error = assert_error(answer, 503, "frame_unreadable")  # not a 500: the disk is named, and what to do
        assert "could not be read from the data disk" in error["message"] and "storewatch doctor" in error["message"]
        assert said == f"Frame not loaded: {error['message']}", said
        for device_id in cameras.values():
            expect(_tile(page, device_id)).not_to_contain_text("No frame yet")
        shots(page, "cameras-now")


def test_a_restless_shelf_area_is_among_the_problems(server: LiveServer, admin: httpx.Client, page: Page) -> None:
    """The device page says it in full; the overview names the camera and the area among its problems."""
    from storewatch.store import rois

    device_id, _ = add_device(admin, "Shelf cam restless")
    polygon = [[0.1, 0.1], [0.5, 0.1], [0.5, 0.5], [0.1, 0.5]]
    roi_id = admin.post(f"/api/v1/admin/devices/{device_id}/rois",
                        json={"name": "Top shelf", "polygon": polygon}).json()["id"]
    database = Database(server.data_dir / "storewatch.db", migrate_schema=False)
    try:
        with database.write() as conn:
            rois.set_restless(conn, roi_id, time.time() - 180)
        login(page, server, "/")
        problem = page.locator(".alerts .alert", has_text="has a restless shelf area")
        expect(problem).to_have_count(1)
        expect(problem).to_contain_text("Shelf cam restless has a restless shelf area")
        expect(problem).to_contain_text("Top shelf: busy without a break since ")
        expect(problem).to_contain_text("no events until calm for")
        with database.write() as conn:
            rois.set_restless(conn, roi_id, None)
        page.reload()
        expect(page.locator(".alerts")).not_to_contain_text("has a restless shelf area")
    finally:
        database.close()
