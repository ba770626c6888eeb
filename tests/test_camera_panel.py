"""The admin panel says, in plain words, that the built-in camera is not working and why:
on the overview, the devices page and the camera's own page (headless Chromium against a
real `storewatch run --camera picamera2` where picamera2 cannot be imported)."""

from __future__ import annotations

import time

from playwright.sync_api import expect

from support.browser import Shots, browser, login, open_page, shots  # noqa: F401 (fixtures)
from support.servers import start_live_server
from support.fake_picamera2 import hide_picamera2
from storewatch.ops import camera_state


def test_the_panel_shows_the_built_in_camera_failing_and_what_to_do(tmp_path, browser, shots: Shots,  # noqa: F811
                                                                    monkeypatch):
    hide_picamera2(monkeypatch, tmp_path / "shadow")
    server = start_live_server(tmp_path / "data", ["--camera", "picamera2"])
    page, errors = open_page(browser)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and (camera_state.report(server.data_dir) or {}).get("state") != "failed":
            time.sleep(0.1)
        login(page, server, "/")
        problem = page.locator(".alert.bad").filter(has_text="Built-in camera is not working")
        expect(problem).to_contain_text("picamera2 (the Pi camera library) is not installed")
        expect(problem).to_contain_text("sudo apt install python3-picamera2")
        expect(problem).to_contain_text("Trying again")
        shots(page, "overview")
        page.goto(server.url + "/devices")
        banner = page.locator("[data-device=local-camera] .camera-state")
        expect(banner).to_contain_text("The built-in camera is not working")
        expect(page.locator("[data-device=local-camera] .badge")).to_have_text("Camera failing")
        expect(banner).to_contain_text("picamera2 (the Pi camera library) is not installed")
        page.goto(server.url + "/devices/local-camera")
        expect(page.locator("main .camera-state[data-camera=failed]")).to_contain_text("Trying again")
        expect(page.locator("main h1 .badge")).to_have_text("Camera failing")
        shots(page, "device")
    finally:
        page.context.close()
        server.stop()
    assert not errors
