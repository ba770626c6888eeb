"""The admin app in headless Chromium against a real `storewatch run`: logging in, devices,
drawing ROIs with the mouse, events with their pictures, thresholds that change what the
worker does, deep links, the queue and the settings. Screenshots go to test-artifacts/."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from datetime import datetime, timezone
from urllib.parse import quote

import apsw
import httpx
import pytest
from playwright.sync_api import Page, expect

from support import shelf_scenes
from support.browser import PHONE, Shots, browser, login, open_page, page, shots  # noqa: F401 (fixtures)
from support import ADMIN_PASSWORD
from support.frames import make_jpeg
from support.servers import LiveServer, start_live_server
from storewatch import contract

ITEM = 2
ROI = [list(p) for p in shelf_scenes.roi_around(ITEM)]


@pytest.fixture(scope="module")
def scenes() -> dict[str, shelf_scenes.Sequence]:
    """An arm takes item 2 from the shelf, then puts it back: 35 frames each, 0.5 s apart."""
    return {"take": shelf_scenes.reach_sequence(ITEM, "take"), "place": shelf_scenes.reach_sequence(ITEM, "place")}


class Camera:
    """A device fed frames through the device contract, one at a time, each analysed before the next."""

    def __init__(self, server: LiveServer, admin: httpx.Client, name: str):
        body = admin.post("/api/v1/admin/devices", json={"name": name}).json()
        self.server, self.admin = server, admin
        self.id, self.token = body["device_id"], body["token"]
        self.seq = 0
        self.clock = time.time() - 600

    def post(self, jpeg: bytes, epoch: float) -> None:
        meta = {"device_id": self.id, "seq": self.seq, "width": 640, "height": 480, "jpeg_quality": 85,
                "capture_ts": contract.format_timestamp(datetime.fromtimestamp(epoch, timezone.utc))}
        answer = httpx.post(self.server.url + contract.INGEST_FRAME_PATH, timeout=10,
                            headers={"Authorization": f"Bearer {self.token}"},
                            files={"meta": (None, json.dumps(meta), "application/json"),
                                   "image": ("f.jpg", jpeg, "image/jpeg")})
        assert answer.status_code == 201, answer.text
        self.seq += 1

    def play(self, sequence: shelf_scenes.Sequence, frames: slice = slice(None)) -> None:
        for jpeg, at in list(zip(sequence.jpegs, sequence.times))[frames]:
            self.post(jpeg, self.clock + at - sequence.times[0])
            self.wait_analysed()
        self.clock += sequence.times[-1] - sequence.times[0] + 0.5

    def wait_analysed(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rows = self.admin.get("/api/v1/admin/queue").json()["counts"]
            if rows["queued"] == 0 and rows["running"] == 0:
                return
            time.sleep(0.02)
        raise AssertionError(f"the queue did not drain within {timeout} s")

    def events(self) -> list[dict]:
        return self.admin.get("/api/v1/admin/events", params={"device": self.id}).json()["events"]

    def rois(self) -> list[dict]:
        return self.admin.get(f"/api/v1/admin/devices/{self.id}/rois").json()["rois"]


@pytest.fixture(scope="module")
def scene_camera(server: LiveServer, admin: httpx.Client, scenes) -> Camera:
    """A device with an ROI around item 2 (made through the API) that saw the item taken."""
    camera = Camera(server, admin, "Aisle 3")
    admin.post(f"/api/v1/admin/devices/{camera.id}/rois", json={"name": "top shelf", "polygon": ROI}).raise_for_status()
    camera.play(scenes["take"])
    assert [e["decision"] for e in camera.events()] == ["changed"]
    return camera


def stage_point(page: Page, x: float, y: float) -> tuple[float, float]:
    box = page.locator(".frame-stage svg").bounding_box()
    assert box is not None
    return box["x"] + x * box["width"], box["y"] + y * box["height"]


def drag(page: Page, start: tuple[float, float], end: tuple[float, float]) -> None:
    page.mouse.move(*stage_point(page, *start))
    page.mouse.down()
    page.mouse.move(*stage_point(page, *end), steps=8)
    page.mouse.up()


def click_at(page: Page, x: float, y: float) -> None:
    page.mouse.click(*stage_point(page, x, y))


def assert_polygon(actual: list[list[float]], expected: list[list[float]], tolerance: float = 0.004) -> None:
    assert len(actual) == len(expected), actual
    for (ax, ay), (ex, ey) in zip(actual, expected):
        assert abs(ax - ex) <= tolerance and abs(ay - ey) <= tolerance, (actual, expected)


def wait_for_frame(page: Page) -> None:
    page.wait_for_function("() => { const i = document.querySelector('.frame-stage img');"
                           " return i && i.complete && i.naturalWidth > 0; }")


# --- the tests ----------------------------------------------------------------------------


def test_logged_out_every_page_sends_you_to_the_login(server: LiveServer, page: Page, shots: Shots) -> None:
    for path in ["/", "/devices", "/devices/anything", "/events?decision=changed", "/queue", "/settings"]:
        page.goto(server.url + path)
        expect(page.get_by_label("Admin password")).to_be_visible()
        expected = "/login" if path == "/" else "/login?next=" + quote(path, safe="")
        assert page.url == server.url + expected
        expect(page.get_by_role("navigation")).to_be_hidden()
    shots(page, "login")
    page.get_by_label("Admin password").fill("wrong password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert").filter(has_text="The password is wrong")).to_be_visible()
    shots(page, "wrong-password")
    page.get_by_label("Admin password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Settings")).to_be_visible()  # back where it was heading
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_label("Admin password")).to_be_visible()
    page.goto(server.url + "/queue")
    expect(page.get_by_label("Admin password")).to_be_visible()
    assert httpx.get(server.url + "/api/v1/admin/devices").status_code == 401


def test_add_a_device_and_use_its_token_rotate_disable_and_edit_it(server: LiveServer, admin: httpx.Client,
                                                                     page: Page, shots: Shots, tmp_path) -> None:
    login(page, server, "/devices")
    page.get_by_role("button", name="Add a device").first.click()
    page.get_by_label("Name").fill("Aisle 7 left")
    shots(page, "add-dialog")
    page.get_by_role("button", name="Add device").click()
    dialog = page.locator("dialog[open]")
    expect(dialog.get_by_role("heading", name="Aisle 7 left is added")).to_be_visible()
    shots(page, "token-shown-once")
    token = dialog.locator("[data-testid=token]").inner_text().strip()
    config_line = dialog.locator("[data-testid=curl-config]").inner_text()
    assert token in config_line and "device_id=aisle-7-left" in config_line
    assert "Authorization: Bearer" in dialog.inner_text() and "/api/v1/ingest/frame" in dialog.inner_text()
    if shutil.which("curl"):  # the lines shown run as they are
        ran = subprocess.run(["bash", "-c", config_line], capture_output=True, text=True, timeout=20, check=True)
        assert json.loads(ran.stdout)["device_id"] == "aisle-7-left"
        (tmp_path / "frame.jpg").write_bytes(make_jpeg(640, 480))
        upload = dialog.locator("[data-testid=curl-frame]").inner_text()
        ran = subprocess.run(["bash", "-c", upload], capture_output=True, text=True, timeout=20, check=True, cwd=tmp_path)
        assert json.loads(ran.stdout)["seq"] == 1
    config = httpx.get(server.url + "/api/v1/device/config", params={"device_id": "aisle-7-left"},
                       headers={"Authorization": f"Bearer {token}"})
    assert config.status_code == 200
    dialog.get_by_role("button", name="Done").click()

    card = page.locator("[data-device='aisle-7-left']")
    expect(card.locator("[data-status=never]")).to_be_visible()
    card.get_by_role("button", name="Rotate token").click()
    page.locator("dialog[open]").get_by_role("button", name="Rotate token").click()
    new_token = page.locator("dialog[open] [data-testid=token]").inner_text().strip()
    assert new_token != token
    page.locator("dialog[open]").get_by_role("button", name="Done").click()
    old = httpx.get(server.url + "/api/v1/device/config", params={"device_id": "aisle-7-left"},
                    headers={"Authorization": f"Bearer {token}"})
    assert old.status_code == 401

    card.get_by_role("button", name="Settings").click()
    settings = page.locator("dialog[open]")
    settings.get_by_label("Baseline interval (s)").fill("12.5")
    settings.get_by_label("Resolution").select_option("1280x720")
    settings.get_by_label("JPEG quality").fill("70")
    shots(page, "capture-settings")
    settings.get_by_role("button", name="Save settings").click()
    expect(settings).to_be_hidden()
    saved = admin.get("/api/v1/admin/devices/aisle-7-left").json()
    assert (saved["settings"]["baseline_interval_s"], saved["settings"]["width"], saved["settings"]["height"],
            saved["settings"]["jpeg_quality"]) == (12.5, 1280, 720, 70)

    card.get_by_role("button", name="Burst now").click()
    expect(page.locator(".toast").filter(has_text="Burst until")).to_be_visible()
    assert admin.get("/api/v1/admin/devices/aisle-7-left").json()["mode"] == "burst"

    card.get_by_role("button", name="Disable").click()
    page.locator("dialog[open]").get_by_role("button", name="Disable").click()
    expect(card.locator("[data-status=disabled]")).to_be_visible()
    assert admin.get("/api/v1/admin/devices/aisle-7-left").json()["enabled"] is False
    shots(page, "devices")


def test_rois_drawn_with_the_mouse_are_saved_normalized_and_used_by_the_worker(
        server: LiveServer, admin: httpx.Client, scenes, page: Page, shots: Shots) -> None:
    camera = Camera(server, admin, "Drawn shelf")
    camera.play(scenes["take"], slice(0, 8))  # the settled shelf, before the arm comes
    login(page, server, f"/devices/{camera.id}")
    wait_for_frame(page)
    shots(page, "device-no-rois")

    page.get_by_role("button", name="Rectangle").click()
    (x0, y0), _, (x1, y1), _ = ROI
    drag(page, (x0, y0), (x1, y1))
    item = page.locator(".roi-item").first
    item.get_by_label("ROI name").fill("top shelf, drawn")
    item.get_by_role("button", name="Save new ROI").click()
    expect(page.locator(".toast").filter(has_text="Saved")).to_be_visible()
    [rect] = camera.rois()
    assert rect["name"] == "top shelf, drawn"
    assert_polygon(rect["polygon"], ROI)

    page.get_by_role("button", name="Polygon").click()
    for x, y in [(0.6, 0.6), (0.85, 0.62), (0.7, 0.85)]:
        click_at(page, x, y)
    shots(page, "drawing-polygon")
    click_at(page, 0.6, 0.6)  # clicking the first corner closes it
    page.locator(".roi-item").nth(1).get_by_role("button", name="Save new ROI").click()
    expect(page.locator(".roi-item").nth(1).get_by_role("button", name="Save", exact=True)).to_be_visible()
    triangle = camera.rois()[1]
    assert_polygon(triangle["polygon"], [[0.6, 0.6], [0.85, 0.62], [0.7, 0.85]])

    drag(page, (0.85, 0.62), (0.9, 0.5))  # the triangle is selected: move one of its corners
    page.locator(".roi-item").nth(1).get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".roi-item").nth(1).locator(".dirty-dot")).to_be_hidden()
    assert_polygon(camera.rois()[1]["polygon"], [[0.6, 0.6], [0.9, 0.5], [0.7, 0.85]])
    shots(page, "two-rois")
    page.locator(".roi-item").nth(1).get_by_role("button", name="Delete").click()
    page.locator("dialog[open]").get_by_role("button", name="Delete").click()
    expect(page.locator(".roi-item")).to_have_count(1)
    assert [r["name"] for r in camera.rois()] == ["top shelf, drawn"]

    camera.play(scenes["take"], slice(0, 8))  # the new ROI settles on a quiet shelf first
    camera.play(scenes["take"], slice(8, None))  # then the arm takes the item inside the drawn ROI
    [event] = camera.events()
    assert (event["roi_id"], event["decision"]) == (rect["id"], "changed")


def test_an_interaction_shows_on_the_events_page_with_its_pictures(
        server: LiveServer, admin: httpx.Client, scene_camera: Camera, page: Page, shots: Shots) -> None:
    [event] = scene_camera.events()
    login(page, server, f"/events?device={scene_camera.id}")
    card = page.locator(f"[data-event='{event['id']}']")
    expect(card).to_be_visible()
    expect(card.locator(".badge[data-verdict=taken]")).to_have_text("Taken")  # what happened on the shelf
    for kind in ("pre", "post", "diff"):
        image = card.locator(f"img[data-kind={kind}]")
        expect(image).to_be_visible()
        image.scroll_into_view_if_needed()
        page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=image.element_handle())
        assert image.evaluate("(img) => img.naturalWidth") > 0
    shots(page, "events")
    card.get_by_role("button", name=re.compile("Open the after picture")).click()
    viewer = page.locator("dialog[open]")
    big = viewer.locator(".viewer-picture img")
    page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=big.element_handle())
    assert big.evaluate("(img) => img.naturalWidth") == 640
    viewer.get_by_role("button", name="Difference").click()
    page.wait_for_function("() => { const i = document.querySelector('dialog[open] .viewer-picture img');"
                           " return i && i.src.endsWith('/diff') && i.complete && i.naturalWidth > 0; }")
    shots(page, "event-full-size")
    page.keyboard.press("Escape")
    card.get_by_role("button", name="Mark as false alarm").click()
    expect(card.get_by_role("button", name="Not a false alarm")).to_be_visible()
    assert admin.get(f"/api/v1/admin/events/{event['id']}").json()["false_alarm"] is True

    page.get_by_label("Decision").select_option("unchanged")
    expect(page.get_by_text("No events match these filters.")).to_be_visible()
    assert "decision=unchanged" in page.url
    page.get_by_label("Decision").select_option("changed")
    expect(card).to_be_visible()


def test_a_threshold_changed_in_the_page_changes_what_the_worker_does(
        server: LiveServer, scene_camera: Camera, scenes, page: Page, shots: Shots) -> None:
    login(page, server, f"/devices/{scene_camera.id}")
    item = page.locator(".roi-item").first
    item.get_by_text("Thresholds").click()
    item.get_by_label("Start threshold").fill("1")
    item.get_by_role("button", name="Save", exact=True).click()
    expect(item.get_by_text("1 overridden")).to_be_visible()
    [roi] = scene_camera.rois()
    assert roi["thresholds"] == {"start_threshold": 1.0}

    scene_camera.play(scenes["place"])  # the item goes back: nothing can reach a start threshold of 1
    assert len(scene_camera.events()) == 1

    item = page.locator(".roi-item").first
    item.get_by_text("Thresholds").click()
    item.get_by_label("Start threshold").fill("")
    item.get_by_role("button", name="Save", exact=True).click()
    expect(item.get_by_text("overridden")).to_have_count(0)
    assert scene_camera.rois()[0]["thresholds"] == {}
    scene_camera.play(scenes["take"])  # with the default back, the same kind of reach is an event again
    assert [e["decision"] for e in scene_camera.events()] == ["changed", "changed"]

    page.get_by_role("button", name="15 min").click()
    expect(page.locator(".tuning-roi rect.band")).to_have_count(2)
    page.locator(".tuning-roi svg").first.scroll_into_view_if_needed()
    shots(page, "tuning-chart")


def test_deep_links_survive_a_reload_and_the_phone_layout_works(
        server: LiveServer, scene_camera: Camera, browser, shots: Shots) -> None:  # noqa: F811
    phone, errors = open_page(browser, PHONE)
    try:
        login(phone, server, f"/devices/{scene_camera.id}")
        expect(phone.get_by_role("heading", name="Aisle 3")).to_be_visible()
        phone.reload()
        expect(phone.get_by_role("heading", name="Aisle 3")).to_be_visible()
        wait_for_frame(phone)
        shots(phone, "phone-device")
        phone.goto(f"{server.url}/events?device={scene_camera.id}&decision=changed")
        phone.reload()
        expect(phone.get_by_label("Decision")).to_have_value("changed")
        expect(phone.get_by_label("Device")).to_have_value(scene_camera.id)
        shots(phone, "phone-events")
        expect(phone.get_by_role("link", name="Queue")).to_be_hidden()
        phone.get_by_role("button", name="Menu").click()
        shots(phone, "phone-menu", full_page=False)
        phone.get_by_role("link", name="Queue").click()
        expect(phone.get_by_role("heading", name="Queue", exact=True)).to_be_visible()
        assert phone.url == server.url + "/queue"
        phone.go_back()
        expect(phone.get_by_role("heading", name="Events")).to_be_visible()
        phone.goto(server.url + "/")
        expect(phone.get_by_role("heading", name="Overview")).to_be_visible()
        shots(phone, "phone-overview")
        phone.goto(server.url + "/no/such/page")
        expect(phone.get_by_role("heading", name="Page not found")).to_be_visible()
    finally:
        phone.context.close()
    assert not errors


def test_the_overview_shows_health_and_the_queue_page_retries_dead_jobs(
        tmp_path, browser, shots: Shots) -> None:  # noqa: F811
    server = start_live_server(tmp_path / "data")
    try:
        with server.admin_client() as admin:
            camera = Camera(server, admin, "Dead end")
            camera.post(shelf_scenes.render(shelf_scenes.Frame()), time.time())
            camera.wait_analysed()
    finally:
        server.stop()
    conn = apsw.Connection(str(server.data_dir / "storewatch.db"))
    conn.execute("UPDATE jobs SET state = 'dead', attempts = 5, last_error = 'decode failed: test'")
    conn.execute("UPDATE devices SET last_seen = '2026-01-01T08:00:00.000Z'")  # silent for a long while
    conn.close()
    server.start()
    page, errors = open_page(browser)
    try:
        login(page, server, "/")
        expect(page.locator(".alert.bad").filter(has_text="1 dead job(s)")).to_be_visible()
        expect(page.locator(".alert").filter(has_text="Dead end is stale")).to_be_visible()
        shots(page, "overview")
        page.locator(".alert").get_by_role("link", name="1 dead job(s)").click()
        row = page.locator("tr[data-job]")
        expect(row).to_contain_text("decode failed: test")
        shots(page, "queue-dead")
        row.get_by_role("checkbox").check()
        page.get_by_role("button", name="Retry selected").click()
        expect(page.locator(".toast").filter(has_text="1 job queued again")).to_be_visible()
    finally:
        page.context.close()
        server.stop()
    assert not errors


def test_settings_and_the_admin_password_are_changed_in_the_page(live_server: LiveServer, page: Page,
                                                                  shots: Shots) -> None:
    login(page, live_server, "/settings")
    page.get_by_label("Event image retention days").fill("3")
    page.get_by_label("Disk reserve (GiB)").fill("2")
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator(".toast").filter(has_text="Settings saved")).to_be_visible()
    with live_server.admin_client() as admin:
        values = admin.get("/api/v1/admin/settings").json()["settings"]
    assert (values["event_image_retention_days"], values["disk_reserve_bytes"]) == (3, 2 * 1024**3)
    page.get_by_label("Event image retention days").fill("0")
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator(".form-error").first).to_contain_text("at least")
    expect(page.get_by_label("Event image retention days")).to_have_attribute("aria-invalid", "true")
    shots(page, "settings-error")

    page.get_by_label("Current password").fill(ADMIN_PASSWORD)
    page.get_by_label("New password", exact=True).fill("a much newer password")
    page.get_by_label("New password again").fill("a much newer password")
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_text("The password was changed")).to_be_visible()
    shots(page, "password-changed")
    page.get_by_label("Admin password").fill("a much newer password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
