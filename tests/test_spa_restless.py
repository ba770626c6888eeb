"""The device page tells the owner, in a line per area, which shelf areas are restless (busy
without a break, so they start no events for now), and keeps it true as the marks change:
headless Chromium on `storewatch run`, the marks set through the store as the worker sets them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from storewatch.analysis.tracker import RESTLESS_CALM_SECONDS
from storewatch.appliance import DATABASE_FILE
from storewatch.store import Database, rois
from support.browser import PHONE, Shots, browser, login, open_page, page, shots  # noqa: F401 (fixtures)
from support.restless import SCREEN_ROI, SHELF_ROI
from support.servers import LiveServer

ZONE = "Asia/Kolkata"  # not UTC: the line must read the shop's clock
WHY = "(a screen, a plant in a draught, people passing behind?)"
REFRESH_S = 10  # the page asks for the device this often (pages/device.js DEVICE_REFRESH_MS)

# The browser's own way of writing a time and a date and time (format.js time / dateTime), in ZONE.
SHOWN = """([ts, zone]) => [new Date(ts).toLocaleTimeString(undefined, {hour: '2-digit', minute: '2-digit', timeZone: zone}),
  new Date(ts).toLocaleString(undefined, {year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit',
                                          minute: '2-digit', second: '2-digit', timeZone: zone})]"""


@pytest.fixture(scope="module")
def shop(server: LiveServer, admin: httpx.Client) -> Iterator[dict]:
    """A camera with two areas (no frames, so the worker never touches its marks), in ZONE."""
    assert admin.patch("/api/v1/admin/settings", json={"time_zone": ZONE}).status_code == 200
    device = admin.post("/api/v1/admin/devices", json={"name": "Shelf cam"}).json()["device_id"]
    ids = {name: admin.post(f"/api/v1/admin/devices/{device}/rois", json={"name": name, "polygon": polygon}).json()["id"]
           for name, polygon in (("Top shelf", SHELF_ROI), ("By the till", SCREEN_ROI))}
    db = Database(server.data_dir / DATABASE_FILE)
    try:
        yield {"server": server, "device": device, "ids": ids, "db": db}
    finally:
        db.close()
        admin.patch("/api/v1/admin/settings", json={"time_zone": "UTC"})


def mark(shop: dict, name: str, since: datetime | None) -> None:
    with shop["db"].write() as conn:
        rois.set_restless(conn, shop["ids"][name], None if since is None else since.timestamp())


def expected_line(page: Page, name: str, since: datetime) -> str:
    """What the page must say of `name`, restless since `since`: the time alone on the shop's
    day, the date and time before it."""
    as_time, as_date_time = page.evaluate(SHOWN, [since.isoformat(), ZONE])
    today = since.astimezone(ZoneInfo(ZONE)).date() == datetime.now(ZoneInfo(ZONE)).date()
    calm = f"{RESTLESS_CALM_SECONDS:.0f} s"
    return (f"{name} has been busy without a break since {as_time if today else as_date_time} {WHY}. "
            f"It starts no events until it has been calm for {calm}.")


def notes(page: Page):
    return page.locator(".restless-note")


def test_each_restless_area_gets_a_line_in_the_owners_words_and_a_calm_one_none(shop: dict, page: Page,
                                                                                 shots: Shots) -> None:
    now = datetime.now(timezone.utc).replace(microsecond=0)
    mark(shop, "Top shelf", now - timedelta(minutes=3))
    mark(shop, "By the till", now - timedelta(days=2))
    try:
        login(page, shop["server"], f"/devices/{shop['device']}")
        expect(notes(page)).to_have_count(2)
        expect(notes(page)).to_have_text([expected_line(page, "Top shelf", now - timedelta(minutes=3)),
                                          expected_line(page, "By the till", now - timedelta(days=2))])
        shots(page, "two-restless")
        mark(shop, "By the till", None)  # it calmed: its line goes at the next refresh, with no reload
        expect(notes(page)).to_have_count(1, timeout=(REFRESH_S + 8) * 1000)
        expect(notes(page)).to_have_text([expected_line(page, "Top shelf", now - timedelta(minutes=3))])
        mark(shop, "Top shelf", None)
        expect(notes(page)).to_have_count(0, timeout=(REFRESH_S + 8) * 1000)
        again = datetime.now(timezone.utc).replace(microsecond=0)
        mark(shop, "By the till", again)  # restless again: the line comes back
        expect(notes(page)).to_have_text([expected_line(page, "By the till", again)],
                                         timeout=(REFRESH_S + 8) * 1000)
    finally:
        mark(shop, "Top shelf", None)
        mark(shop, "By the till", None)


def test_a_watching_device_shows_no_restless_line(shop: dict, page: Page) -> None:
    login(page, shop["server"], f"/devices/{shop['device']}")
    expect(page.locator("#roi-heading")).to_be_visible()  # the notes are drawn before the page shows
    expect(notes(page)).to_have_count(0)


def test_the_line_wraps_on_a_phone(shop: dict, browser: Browser, shots: Shots) -> None:  # noqa: F811
    mark(shop, "Top shelf", datetime.now(timezone.utc))
    phone, errors = open_page(browser, PHONE)
    try:
        login(phone, shop["server"], f"/devices/{shop['device']}")
        expect(notes(phone)).to_have_count(1)
        assert phone.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")
        shots(phone, "phone")
    finally:
        phone.context.close()
        mark(shop, "Top shelf", None)
    assert not errors, errors
