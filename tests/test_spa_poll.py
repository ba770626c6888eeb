"""poll.js in headless Chromium: a page whose refresh fails says since when its figures are
old, and says nothing once a refresh works again (queue, devices, a device's latest frame).

The browser's clock is Playwright's, so a page's 5-10 s refresh is fast-forwarded, not waited.
"""

from __future__ import annotations


import httpx
import pytest
from playwright.sync_api import Page, expect

from support.browser import browser, camera_with_a_frame, login, page  # noqa: F401 (fixtures)
from support.servers import LiveServer


@pytest.fixture(scope="module")
def camera(server: LiveServer, admin: httpx.Client) -> str:
    """A device with one stored frame, so its page shows a latest frame."""
    return camera_with_a_frame(server, admin, "Till shelf")


def go(page: Page, path: str) -> None:
    """In-app navigation (no page load), as a click on a link does."""
    page.evaluate("(to) => { history.pushState(null, '', to); dispatchEvent(new PopStateEvent('popstate')); }", path)
    expect(page.locator("main h1")).to_be_visible()


def refresh_fails_then_recovers(page: Page, api_glob: str, every_ms: int, note_in: str = "main") -> None:
    note = page.locator(f"{note_in} .stale-note")
    page.wait_for_timeout(200)
    expect(note).to_be_hidden()
    page.route(api_glob, lambda route: route.abort())
    page.clock.run_for(every_ms + 100)
    expect(note).to_be_visible()
    expect(note).to_contain_text("Not updated since ")
    expect(note).to_contain_text("did not answer")
    page.unroute(api_glob)
    page.clock.run_for(every_ms + 100)
    expect(note).to_be_hidden()


def test_a_failed_refresh_says_since_when_the_figures_are_old(server: LiveServer, camera: str, page: Page) -> None:
    page.clock.install()
    login(page, server, "/queue")
    refresh_fails_then_recovers(page, "**/api/v1/admin/queue", 5_000)
    go(page, "/devices")
    refresh_fails_then_recovers(page, "**/api/v1/admin/devices", 10_000)
    go(page, f"/devices/{camera}")
    page.wait_for_function("() => { const i = document.querySelector('.frame-stage img');"
                           " return i && i.complete && i.naturalWidth > 0; }")
    refresh_fails_then_recovers(page, "**/latest-frame", 4_000, note_in="section[aria-label='Frame and ROI editor']")
