"""Refreshing pages (poll.js), in headless Chromium. The module on its own: the note it keeps,
rounds left out, a failed first load, another loader, stop. The device page when its stored
frame no longer decodes. Then the events page and the overview when the appliance stops
answering: a real `storewatch run` is stopped under the
open page, the page keeps what it showed and says since when it is old, and once the same
appliance is started again (same port, same data) the next round brings what happened
meanwhile and the note goes. (test_spa_poll covers the queue, devices and device pages.)

The browser's clock is Playwright's, so the rounds are fast-forwarded, not waited for.
"""

from __future__ import annotations

import re
import time
from datetime import datetime, timezone

import httpx
from playwright.sync_api import Page, expect

from storewatch.store import Database
from storewatch.store.events import EventImage, EventStore, TouchedRoi, Visit
from storewatch.store.images import ImageStore
from support import shelf_scenes
from support.browser import browser, camera_with_a_frame, login, page  # noqa: F401 (fixtures)
from support.frames import make_jpeg
from support.servers import LiveServer

NOTE = re.compile(r"Not updated since (.+?): The appliance did not answer")
OUTAGE_MS = 3 * 60_000  # long enough for "since" to differ from the time of the last try


# poll() on a page of its own: window.rig holds the refresher, what its loads did, and switches.
RIG = """async () => {
  const {poll} = await import('/static/poll.js');
  const rig = {calls: 0, others: 0, fail: null, skipping: false, controller: new AbortController()};
  rig.load = async () => {
    rig.calls += 1;
    if (rig.fail !== null) throw rig.fail === '' ? new Error() : new Error(rig.fail);
  };
  rig.refresher = poll(rig.load, {everyMs: 1000, skip: () => rig.skipping, signal: rig.controller.signal});
  rig.note = () => (rig.refresher.note.hidden ? null : rig.refresher.note.textContent);
  document.body.append(rig.refresher.note);
  window.rig = rig;
}"""


def _rig(page: Page, script: str):
    return page.evaluate(f"async () => {{ const rig = window.rig; {script} }}")


def test_poll_notes_since_when_and_clears_on_the_next_good_round(server: LiveServer, page: Page) -> None:
    page.clock.install(time=datetime(2026, 12, 2, 10, 0, 5, tzinfo=timezone.utc))  # the minute lasts the test
    page.goto(server.url + "/login")  # a page of the appliance, to import the module from
    page.evaluate(RIG)
    # a first load that fails: thrown (the page shows it as its error), no timer started
    assert _rig(page, "rig.fail = 'boom'; try { await rig.refresher.start(); return 'started'; }"
                      " catch (exc) { return exc.message; }") == "boom"
    page.clock.run_for(3_100)
    assert _rig(page, "return rig.calls;") == 1
    # with mayFail it is noted like a later round, and the rounds go on
    assert _rig(page, "await rig.refresher.start({mayFail: true}); return rig.note();") == "Not loaded yet: boom"
    _rig(page, "rig.fail = null;")
    page.clock.run_for(1_100)
    assert _rig(page, "return [rig.calls, rig.note()];") == [3, None]
    since = page.evaluate("async () => (await import('/static/format.js')).time(new Date())")
    _rig(page, "rig.fail = 'the disk is full';")
    page.clock.run_for(1_100)
    assert _rig(page, "return rig.note();") == f"Not updated since {since}: the disk is full"
    _rig(page, "rig.fail = '';")  # an error with no words of its own
    page.clock.run_for(1_100)
    assert _rig(page, "return rig.note();") == f"Not updated since {since}: the appliance did not answer."
    # skip(): those rounds are left out, and the note stays as it was
    _rig(page, "rig.skipping = true; rig.fail = null; rig.calls = 0;")
    page.clock.run_for(5_100)
    assert _rig(page, "return [rig.calls, rig.note() !== null];") == [0, True]
    _rig(page, "rig.skipping = false;")
    page.clock.run_for(1_100)
    assert _rig(page, "return [rig.calls, rig.note()];") == [1, None]
    # now(other): another loader at once (a full reload after new filters); its failure is thrown, not noted
    assert _rig(page, "await rig.refresher.now(async () => { rig.others += 1; }); return [rig.others, rig.calls];") \
        == [1, 1]
    assert _rig(page, "try { await rig.refresher.now(async () => { throw new Error('no'); }); }"
                      " catch (exc) { return [exc.message, rig.note()]; }") == ["no", None]
    # the page going away (its signal aborted): a failing round is not a note; stop() ends the rounds
    _rig(page, "rig.controller.abort(); rig.fail = 'gone'; rig.calls = 0;")
    page.clock.run_for(2_100)
    assert _rig(page, "return [rig.calls, rig.note()];") == [0, None]
    _rig(page, "rig.refresher.stop();")


def test_a_stored_frame_that_no_longer_decodes_is_noted_on_the_device_page(server: LiveServer, admin: httpx.Client,
                                                                             page: Page) -> None:
    camera = camera_with_a_frame(server, admin, "Deli shelf", size=(320, 240))
    database = Database(server.data_dir / "storewatch.db", migrate_schema=False)
    try:
        [row] = database.query("SELECT path FROM captures WHERE device_id = ?", (camera,))
    finally:
        database.close()
    stored = ImageStore(server.data_dir).absolute(row["path"])
    good = stored.read_bytes()
    page.clock.install()
    login(page, server, f"/devices/{camera}")
    picture = "() => { const i = document.querySelector('.frame-stage img'); return i && i.naturalWidth; }"
    page.wait_for_function(picture)
    note = page.locator("section[aria-label='Frame and ROI editor'] .stale-note")
    expect(note).to_be_hidden()
    try:
        stored.write_bytes(b"\xff\xd8\xff\xe0" + bytes(range(256)) * 8)  # the card's sectors went bad under it
        page.clock.run_for(4_100)
        expect(note).to_have_text(re.compile(
            r"Not updated since .+: The newest frame could not be shown: the picture did not decode\."))
        assert page.evaluate(picture) == 320  # the last good frame stays under the editor
    finally:
        stored.write_bytes(good)
    page.clock.run_for(4_100)
    expect(note).to_be_hidden()


def _shelf(server: LiveServer) -> dict:
    """A device with one shelf area, made through the admin API."""
    with server.admin_client() as admin:
        device = admin.post("/api/v1/admin/devices", json={"name": "Aisle 9"}).json()["device_id"]
        roi = admin.post(f"/api/v1/admin/devices/{device}/rois", json={
            "name": "Biscuits", "polygon": [list(p) for p in shelf_scenes.roi_around(2)]})
        roi.raise_for_status()
    return {"device": device, "roi": roi.json()["id"]}


def _record_visit(server: LiveServer, shelf: dict, n: int) -> int:
    """A visit that took from the shelf area, written to the appliance's database as the worker does."""
    store = EventStore(Database(server.data_dir / "storewatch.db", migrate_schema=False), ImageStore(server.data_dir))
    try:
        frame = shelf_scenes.Frame
        pictures = [EventImage("pre", 11, shelf_scenes.render(frame())),
                    EventImage("post", 13, shelf_scenes.render(frame(removed=frozenset({2})))),
                    EventImage("diff", 13, make_jpeg(640, 480, seed=n))]
        start = time.time() - 600 + n * 30
        return store.record_visit(Visit(shelf["device"], start, start + 6, 1000 + n, (
            TouchedRoi(roi_id=shelf["roi"], start_epoch=start, end_epoch=start + 6, peak_score=0.5,
                       decision="changed", decision_score=0.3, box=[0.3, 0.3, 0.4, 0.45], verdict="taken"),)),
            pictures)
    finally:
        store.db.close()


def _goes_stale_then_recovers(page: Page, server: LiveServer, every_ms: int, meanwhile) -> None:
    """Stop the appliance: the note says since when; `meanwhile()` while it is down; start it: the note goes."""
    note = page.locator("main .stale-note")
    expect(note).to_be_hidden()
    server.stop()
    page.clock.run_for(every_ms + 100)
    expect(note).to_be_visible()
    expect(note).to_have_text(NOTE)
    since = NOTE.match(note.inner_text()).group(1)
    page.clock.run_for(OUTAGE_MS)  # many failed rounds later it still names the last good one
    page.clock.run_for(every_ms + 100)
    expect(note).to_have_text(NOTE)
    assert NOTE.match(note.inner_text()).group(1) == since
    now = page.evaluate("async () => (await import('/static/format.js')).time(new Date())")
    assert now != since, (now, since)
    meanwhile()
    server.start()
    page.clock.run_for(every_ms + 100)
    expect(note).to_be_hidden()


def test_the_events_page_says_since_when_it_is_old_and_catches_up(live_server: LiveServer, page: Page) -> None:
    shelf = _shelf(live_server)
    first = _record_visit(live_server, shelf, 1)
    page.clock.install()
    login(page, live_server, f"/events?device={shelf['device']}")
    cards = page.locator(".event-card")
    expect(cards).to_have_count(1)
    expect(page.locator(".live-status")).to_have_text(re.compile(r"Updated \d\d:\d\d:\d\d"))
    later: list[int] = []

    def while_down() -> None:
        expect(cards).to_have_count(1)  # the list it had stays on screen, marked as old
        assert cards.first.get_attribute("data-event") == str(first)
        later.append(_record_visit(live_server, shelf, 2))

    _goes_stale_then_recovers(page, live_server, 5_000, while_down)
    expect(cards).to_have_count(2)  # the visit made while it was down came in with the next round
    assert [cards.nth(i).get_attribute("data-event") for i in range(2)] == [str(later[0]), str(first)]


def test_the_overview_says_since_when_its_figures_are_old_and_catches_up(live_server: LiveServer,
                                                                         page: Page) -> None:
    shelf = _shelf(live_server)
    first = _record_visit(live_server, shelf, 1)
    page.clock.install()
    login(page, live_server, "/")
    last_events = page.locator(".overview-thumbs figure")
    expect(last_events).to_have_count(1)
    later: list[int] = []

    def while_down() -> None:
        expect(page.locator(".stat-card").first).to_contain_text("Devices")  # the old figures stay
        expect(last_events).to_have_count(1)
        later.append(_record_visit(live_server, shelf, 2))

    _goes_stale_then_recovers(page, live_server, 15_000, while_down)
    expect(last_events).to_have_count(2)
    assert last_events.first.get_attribute("data-event") == str(later[0])
    assert last_events.nth(1).get_attribute("data-event") == str(first)
