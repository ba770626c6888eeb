"""Playwright helpers for the admin app's tests: Debian's Chromium, pages that fail the test
on a JavaScript error, logging in, and screenshots in test-artifacts/."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from support import ADMIN_PASSWORD, ARTIFACTS
from storewatch import contract
from support.frames import capture_ts, make_jpeg
from support.servers import LiveServer

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}


def chromium_path() -> str:
    """Debian's Chromium; the test is skipped, saying so, when it is not installed."""
    for candidate in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and Path(candidate).exists():
            return candidate
    pytest.skip("Chromium is not installed (apt-get install chromium; scripts/test does it as root)")


# Module scope: sync_playwright keeps an asyncio loop running in the main thread while it is
# open, which would break every later test that calls asyncio.run (the fixture is imported
# into each browser test module, so a session scope would also keep one per module open).
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = chromium_path()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        yield launched
        launched.close()


class Shots:
    """Numbered screenshots of what a test saw: test-artifacts/<test>-<n>-<name>.png."""

    def __init__(self, test_name: str):
        self.prefix = re.sub(r"[^A-Za-z0-9_.-]+", "_", test_name)[:90]
        self.count = 0
        ARTIFACTS.mkdir(exist_ok=True)

    def __call__(self, page: Page, name: str, full_page: bool = True) -> Path:
        self.count += 1
        path = ARTIFACTS / f"{self.prefix}-{self.count:02d}-{name}.png"
        if full_page:  # from the top, so the sticky bar sits where it belongs
            page.evaluate("() => window.scrollTo(0, 0)")
        page.screenshot(path=str(path), full_page=full_page)
        return path


@pytest.fixture
def shots(request: pytest.FixtureRequest) -> Shots:
    return Shots(request.node.name)


def open_page(browser: Browser, viewport: dict | None = None) -> tuple[Page, list[str]]:
    """A fresh context and page; the returned list collects uncaught JavaScript errors."""
    context = browser.new_context(viewport=viewport or DESKTOP, has_touch=viewport is PHONE)
    context.set_default_timeout(10_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error"
            and "Failed to load resource" not in msg.text else None)
    return page, errors


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    opened, errors = open_page(browser)
    yield opened
    opened.context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def login(page: Page, server: LiveServer, path: str = "/") -> None:
    """Log in through the login form, then be at `path`."""
    page.goto(server.url + "/login")
    page.get_by_label("Admin password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#topbar")).to_be_visible()  # the shell shows once logged in
    if path != "/":
        page.goto(server.url + path)
    expect(page.locator("main h1")).to_be_visible()


def camera_with_a_frame(server: LiveServer, admin: httpx.Client, name: str, size: tuple[int, int] = (64, 48)) -> str:
    """A device added through the admin API with one frame stored through ingest, so its page
    shows a latest frame: its device_id."""
    body = admin.post("/api/v1/admin/devices", json={"name": name}).json()
    width, height = size
    meta = {"device_id": body["device_id"], "seq": 0, "width": width, "height": height, "jpeg_quality": 85,
            "capture_ts": capture_ts()}
    answer = server.post(contract.INGEST_FRAME_PATH, headers={"Authorization": f"Bearer {body['token']}"},
                         files={"meta": (None, json.dumps(meta), "application/json"),
                               "image": ("f.jpg", make_jpeg(width, height), "image/jpeg")}, timeout=10)
    assert answer.status_code == 201, answer.text
    return body["device_id"]
