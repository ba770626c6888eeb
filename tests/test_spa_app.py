"""The app shell (app.js) in headless Chromium: leaving a page with unsaved ROI edits asks
first, for a link, the back button and logging out, not only for closing the tab; and the
login page's session probe leaves the console clean on a first visit."""

from __future__ import annotations


import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from support.browser import browser, camera_with_a_frame, login, open_page, page  # noqa: F401 (fixtures)
from support.servers import LiveServer


@pytest.fixture(scope="module")
def camera(server: LiveServer, admin: httpx.Client) -> str:
    """A device with one stored frame to draw on."""
    return camera_with_a_frame(server, admin, "Door shelf", (320, 240))


def draw_a_rectangle(page: Page) -> None:
    page.wait_for_function("() => { const i = document.querySelector('.frame-stage img');"
                           " return i && i.complete && i.naturalWidth > 0; }")
    page.get_by_role("button", name="Rectangle").click()
    box = page.locator(".frame-stage svg").bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + 0.2 * box["width"], box["y"] + 0.2 * box["height"])
    page.mouse.down()
    page.mouse.move(box["x"] + 0.6 * box["width"], box["y"] + 0.6 * box["height"], steps=6)
    page.mouse.up()
    expect(page.locator(".roi-item .dirty-dot")).to_be_visible()


def test_leaving_unsaved_roi_edits_asks_first(server: LiveServer, camera: str, page: Page) -> None:
    device_url = f"{server.url}/devices/{camera}"
    login(page, server, f"/devices/{camera}")
    leave = page.locator("dialog[open]")
    nav_devices = page.locator("#nav a[href='/devices']")

    nav_devices.click()  # nothing unsaved: no question
    expect(page.locator("main h1")).to_have_text("Devices")
    page.locator(f"a[href='/devices/{camera}']").first.click()
    draw_a_rectangle(page)

    nav_devices.click()  # a link: asked, and staying keeps the drawing
    expect(leave).to_contain_text("Leave without saving?")
    leave.get_by_role("button", name="Cancel").click()
    assert page.url == device_url
    expect(page.locator(".roi-item")).to_have_count(1)

    page.go_back()  # the back button: asked too; staying keeps the address and the drawing
    expect(leave).to_contain_text("Leave without saving?")
    leave.get_by_role("button", name="Cancel").click()
    expect(page).to_have_url(device_url)
    expect(page.locator(".roi-item .dirty-dot")).to_be_visible()

    page.locator("#logout").click()  # logging out: asked; staying keeps the session
    leave.get_by_role("button", name="Cancel").click()
    expect(page.locator("#topbar")).to_be_visible()
    expect(page.locator(".roi-item")).to_have_count(1)

    nav_devices.click()  # and saying "leave" leaves
    leave.get_by_role("button", name="Leave without saving").click()
    expect(page.locator("main h1")).to_have_text("Devices")
    assert page.url == server.url + "/devices"
    page.locator(f"a[href='/devices/{camera}']").first.click()
    expect(page.locator(".roi-item")).to_have_count(0)  # the drawing was not saved


def test_a_first_visit_to_the_login_page_logs_no_console_error(server: LiveServer, browser: Browser) -> None:
    page, _ = open_page(browser)
    console: list[str] = []  # every error, "Failed to load resource" (a 401) included
    page.on("console", lambda msg: console.append(msg.text) if msg.type == "error" else None)
    page.goto(server.url + "/")
    expect(page.get_by_label("Admin password")).to_be_visible()
    assert page.url == server.url + "/login"
    page.wait_for_timeout(300)  # a late answer's message would arrive here
    page.context.close()
    assert console == []
