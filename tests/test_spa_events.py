"""The events page in headless Chromium against a real `storewatch run`: a visit is one card
with a badge per touched shelf area, its pictures cropped to those areas with each changed
box drawn where it is, the whole frames one tap away; a lighting change shows Before and
After; the "What happened" filter matches a visit by any of its areas; an event written
before visits (one area, no view box) still renders. Events are written with the worker's
own EventStore into the server's database; screenshots go to test-artifacts/."""

from __future__ import annotations

import json
import re
import time

import httpx
import pytest
from playwright.sync_api import Page, expect

from support import shelf_scenes
from support.browser import PHONE, Shots, browser, login, open_page, page, shots  # noqa: F401 (fixtures)
from support.frames import make_jpeg
from support.servers import LiveServer
from storewatch import contract
from storewatch.store import Database
from storewatch.store.events import INTERACTION, EventImage, EventStore, TouchedRoi, Visit, epoch_to_ts
from storewatch.store.images import ImageStore
from storewatch.upkeep.thumbnails import thumbnails

AREAS = {"Cereal": 2, "Coffee": 3, "Tea": 4}  # shelf area name -> the item it is drawn around
TOLERANCE = 0.012  # of the frame's width or height

# Each picture's geometry as the browser laid it out, in the frame's normalized coordinates:
# the part of the frame the crop box shows, and where each outline sits.
GEOMETRY = """(root) => [...root.querySelectorAll('.crop')].map((crop) => {
  const img = crop.querySelector('img').getBoundingClientRect();
  const at = (r) => [(r.left - img.left) / img.width, (r.top - img.top) / img.height,
                     (r.right - img.left) / img.width, (r.bottom - img.top) / img.height];
  return {kind: crop.dataset.kind, shown: at(crop.getBoundingClientRect()),
          zoom: img.width / crop.getBoundingClientRect().width,
          boxes: Object.fromEntries([...crop.querySelectorAll('rect.changed-box')].map(
            (r) => [r.dataset.name, {at: at(r.getBoundingClientRect()), cls: r.getAttribute('class')}]))};
})"""
SHOWN_EVENTS = """(ids) => JSON.stringify([...document.querySelectorAll('.event-card')].map((c) => c.dataset.event))
  === JSON.stringify(ids)"""
LOADED = "(root) => [...root.querySelectorAll('img')].every((i) => i.complete && i.naturalWidth > 0)"


def _near(actual: list[float], expected: list[float]) -> bool:
    return all(abs(a - e) <= TOLERANCE for a, e in zip(actual, expected))


def _inside(inner: list[float], outer: list[float]) -> bool:
    return (inner[0] >= outer[0] - TOLERANCE and inner[1] >= outer[1] - TOLERANCE
            and inner[2] <= outer[2] + TOLERANCE and inner[3] <= outer[3] + TOLERANCE)


def _item_box(item: int) -> list[float]:
    return list(shelf_scenes.ITEMS[item].box)


def _record_old_interaction(store: EventStore, device_id: str, roi: dict, start: float,
                            pictures: list[EventImage]) -> int:
    """An event as the store wrote it before visits: one ROI in the event row, no ROI rows, no view box."""
    with store.db.write() as conn:
        event_id = conn.execute(
            "INSERT INTO events (device_id, roi_id, roi_name, type, start_ts, end_ts, duration_s, peak_score,"
            " decision, decision_score, box, start_capture_id, created_at, verdict)"
            " VALUES (?, ?, ?, ?, ?, ?, 7.0, 0.4, 'changed', 0.31, ?, 900, ?, 'taken') RETURNING id",
            (device_id, roi["id"], roi["name"], INTERACTION, epoch_to_ts(start), epoch_to_ts(start + 7),
             "[0.81, 0.3, 0.93, 0.47]", contract.format_timestamp(contract.utc_now()))).fetchone()["id"]
        for picture in pictures:
            path = store.images.event_path(device_id, event_id, picture.kind)
            store.images.write(path, picture.data)
            conn.execute("INSERT INTO event_images (event_id, kind, capture_id, path, size_bytes)"
                         " VALUES (?, ?, ?, ?, ?)", (event_id, picture.kind, 900, path, len(picture.data)))
    return event_id


@pytest.fixture(scope="module")
def shop(server: LiveServer, admin: httpx.Client) -> dict:
    """Aisle 5 with three shelf areas and four events: an old one-area event, a visit that took
    from Cereal, left Coffee and moved Tea, a lighting change, and a visit that put into Coffee."""
    device = admin.post("/api/v1/admin/devices", json={"name": "Aisle 5"}).json()["device_id"]
    rois = {}
    for name, item in AREAS.items():
        answer = admin.post(f"/api/v1/admin/devices/{device}/rois",
                            json={"name": name, "polygon": [list(p) for p in shelf_scenes.roi_around(item)]})
        answer.raise_for_status()
        rois[name] = answer.json()
    rois["Spices"] = admin.post(f"/api/v1/admin/devices/{device}/rois", json={
        "name": "Spices", "polygon": [list(p) for p in shelf_scenes.roi_around(5)]}).json()
    frame = shelf_scenes.Frame
    shelf, taken = shelf_scenes.render(frame()), shelf_scenes.render(frame(removed=frozenset({2})))
    hand = shelf_scenes.render(frame(arm=shelf_scenes.Arm("top", (0.4, 0.3))))
    dim = shelf_scenes.render(frame(gain=0.45))
    store = EventStore(Database(server.data_dir / "storewatch.db", migrate_schema=False), ImageStore(server.data_dir))
    start = time.time() - 900

    def touched(name: str, verdict: str, box: list[float] | None) -> TouchedRoi:
        return TouchedRoi(roi_id=rois[name]["id"], start_epoch=start + 60, end_epoch=start + 72, peak_score=0.5,
                          decision="changed" if verdict in ("taken", "placed") else "unchanged",
                          decision_score=0.3, box=box, verdict=verdict)

    pictures = [EventImage("pre", 11, shelf), EventImage("peak", 12, hand), EventImage("post", 13, taken),
                EventImage("diff", 13, make_jpeg(640, 480, seed=3))]
    ids = {"old": _record_old_interaction(store, device, rois["Spices"], start, pictures)}
    ids["visit"] = store.record_visit(Visit(device, start + 60, start + 72, 11, (
        touched("Cereal", "taken", _item_box(2)), touched("Coffee", "unchanged", None),
        touched("Tea", "moved", _item_box(4)))), pictures)
    ids["lights"] = store.settle_lighting(device, start + 120, start + 123, 21,
                                          [EventImage("pre", 21, shelf), EventImage("post", 22, dim)])
    ids["placed"] = store.record_visit(Visit(device, start + 200, start + 205, 31, (
        TouchedRoi(roi_id=rois["Coffee"]["id"], start_epoch=start + 200, end_epoch=start + 205, peak_score=0.4,
                   decision="changed", decision_score=0.4, box=_item_box(3), verdict="placed"),)), pictures)
    store.db.close()
    events = {name: admin.get(f"/api/v1/admin/events/{event_id}").json() for name, event_id in ids.items()}
    return {"device": device, "ids": ids, "events": events}


def _card(page: Page, shop: dict, name: str):
    return page.locator(f"[data-event='{shop['ids'][name]}']")


def _wait_loaded(page: Page, card) -> None:
    card.scroll_into_view_if_needed()
    page.wait_for_function(LOADED, arg=card.element_handle())


def test_a_visit_card_shows_each_area_and_pictures_cropped_to_them(server: LiveServer, shop: dict, page: Page,
                                                                    shots: Shots) -> None:
    view_box = shop["events"]["visit"]["view_box"]
    assert view_box and view_box[2] - view_box[0] < 0.7  # the three areas, not the whole frame
    assert len(shop["events"]["visit"]["rois"]) == 3 and shop["events"]["old"]["view_box"] is None
    login(page, server, f"/events?device={shop['device']}&type=all")
    card = _card(page, shop, "visit")
    expect(card.get_by_role("heading", name="Aisle 5")).to_be_visible()
    expect(card.locator(".event-duration")).to_have_text("12 s")
    areas = card.get_by_role("list", name="Shelf areas touched").get_by_role("listitem")
    expect(areas).to_have_count(3)
    for name, word, verdict in [("Cereal", "Taken", "taken"), ("Coffee", "Unchanged", "unchanged"),
                                ("Tea", "Moved", "moved")]:
        area = areas.filter(has_text=name)
        expect(area).to_have_text(f"{name}: {word}")  # read aloud as it reads, not by colour
        expect(area.locator(f".badge[data-verdict={verdict}]")).to_have_text(word)
    colours = {areas.nth(i).locator(".badge").evaluate("(b) => getComputedStyle(b).color") for i in range(3)}
    assert len(colours) == 3

    _wait_loaded(page, card)
    pictures = card.evaluate(GEOMETRY)
    assert [p["kind"] for p in pictures] == ["pre", "post", "diff"]
    for picture in pictures:
        assert picture["zoom"] > 1.4, picture  # cropped: the frame is larger than its box
        assert _inside(view_box, picture["shown"]), picture  # and the three areas are in view
        assert set(picture["boxes"]) == {"Cereal", "Tea"}  # Coffee had no changed box
        for name, item in [("Cereal", 2), ("Tea", 4)]:
            outline = picture["boxes"][name]
            assert _near(outline["at"], _item_box(item)), (name, outline, _item_box(item))
            assert _inside(outline["at"], picture["shown"])
        assert "verdict-taken" in picture["boxes"]["Cereal"]["cls"]
    for image in card.locator("img").all():
        assert re.fullmatch(r"(Before|After|Difference) picture of the visit to Aisle 5 at .+",
                            image.get_attribute("alt"))
    text = page.locator("main").inner_text().lower()
    assert not re.search(r"\broi\b|verdict|decision_score|interaction", text), text
    shots(page, "events")

    card.get_by_role("button", name=re.compile("Open the after picture")).click()
    viewer = page.locator("dialog[open]")
    _wait_loaded(page, viewer)
    assert viewer.locator(".viewer-picture img").evaluate("(img) => img.naturalWidth") == 640
    [whole] = viewer.evaluate(GEOMETRY)
    assert whole["kind"] == "post" and _near(whole["shown"], [0, 0, 1, 1]), whole  # the full frame
    assert _near(whole["boxes"]["Cereal"]["at"], _item_box(2)) and _near(whole["boxes"]["Tea"]["at"], _item_box(4))
    expect(viewer.get_by_role("listitem").filter(has_text="Cereal")).to_have_text("Cereal: Taken")
    shots(page, "visit-full-frame", full_page=False)
    page.keyboard.press("Escape")
    expect(viewer).to_be_hidden()

    lights = _card(page, shop, "lights")
    expect(lights.get_by_text("Lights changed")).to_be_visible()
    expect(lights.locator(".visit-areas")).to_have_count(0)
    expect(lights.locator("figcaption")).to_have_text(["Before", "After"])
    _wait_loaded(page, lights)
    for picture in lights.evaluate(GEOMETRY):
        assert _near(picture["shown"], [0, 0, 1, 1]) and not picture["boxes"], picture  # the whole frame

    old = _card(page, shop, "old")
    expect(old.get_by_role("listitem")).to_have_text(["Spices: Taken"])
    _wait_loaded(page, old)
    for picture in old.evaluate(GEOMETRY):  # no view box of its own: cropped around its changed box
        assert picture["zoom"] > 1.4 and _near(picture["boxes"]["Spices"]["at"], [0.81, 0.3, 0.93, 0.47]), picture
        assert _inside(picture["boxes"]["Spices"]["at"], picture["shown"])
    old.scroll_into_view_if_needed()
    shots(page, "lights-and-old", full_page=False)


def test_what_happened_filters_visits_by_any_of_their_areas(server: LiveServer, shop: dict, page: Page) -> None:
    login(page, server, f"/events?device={shop['device']}")
    choice = page.get_by_label("What happened")
    expect(choice.locator("option")).to_have_text(["Anything", "Taken", "Put back / placed", "Moved", "No change"])
    cards = page.locator(".event-card")
    expect(cards).to_have_count(3)  # visits only, by default
    for label, verdict, shown in [("Taken", "taken", ["visit", "old"]), ("Put back / placed", "placed", ["placed"]),
                                  ("No change", "unchanged", ["visit"]), ("Moved", "moved", ["visit"])]:
        choice.select_option(label=label)
        expected = sorted((str(shop["ids"][name]) for name in shown), key=int, reverse=True)
        page.wait_for_function(SHOWN_EVENTS, arg=expected)
        assert f"verdict={verdict}" in page.url


def test_the_device_and_shelf_area_filters_live_in_the_url_and_clear_empties_them(server: LiveServer, shop: dict,
                                                                                   page: Page) -> None:
    def shown(*names: str) -> list[str]:
        return sorted((str(shop["ids"][name]) for name in names), key=int, reverse=True)

    login(page, server, "/events")
    device, area = page.get_by_label("Device", exact=True), page.get_by_label("Shelf area", exact=True)
    expect(area).to_be_disabled()  # no device chosen, so no shelf areas to choose from
    device.select_option(shop["device"])
    expect(area).to_be_enabled()
    expect(area.locator("option")).to_have_text(["All shelf areas", *AREAS, "Spices"])
    page.wait_for_function(SHOWN_EVENTS, arg=shown("placed", "visit", "old"))
    area.select_option(label="Coffee")
    page.wait_for_function(SHOWN_EVENTS, arg=shown("placed", "visit"))  # the visit touched Coffee too
    coffee = area.locator("option", has_text="Coffee").get_attribute("value")
    assert f"device={shop['device']}" in page.url and f"roi={coffee}" in page.url
    page.reload()  # a bookmark of it opens the same list
    expect(area).to_have_value(coffee)
    page.wait_for_function(SHOWN_EVENTS, arg=shown("placed", "visit"))
    page.get_by_role("button", name="Clear").click()
    expect(device).to_have_value("")
    expect(area).to_be_disabled()
    page.wait_for_function("() => location.pathname === '/events' && location.search === ''")
    expect(page.locator(f"[data-event='{shop['ids']['placed']}']")).to_be_visible()


def test_an_event_without_a_list_of_areas_or_a_view_box_reads_as_its_one_area(server: LiveServer, page: Page) -> None:
    login(page, server, "/events")
    read = page.evaluate("""async () => {
      const verdicts = await import('/static/widgets/verdicts.js');
      const old = {id: 1, type: 'interaction_detected', roi_id: 7, roi_name: 'Top shelf', verdict: 'taken',
                   box: [0.2, 0.3, 0.4, 0.5]};
      const lights = {id: 2, type: 'lighting_change', roi_id: null, rois: [], view_box: null};
      return {areas: verdicts.touchedAreas(old).map((a) => [a.roi_name, a.verdict]), view: verdicts.viewBoxOf(old),
              outlines: verdicts.outlines(old).map((o) => o.box), lights: verdicts.touchedAreas(lights).length,
              lightsView: verdicts.viewBoxOf(lights), badBox: verdicts.normalizedBox([0.5, 0.5, 0.2, 'x'])};
    }""")
    assert read["areas"] == [["Top shelf", "taken"]] and read["outlines"] == [[0.2, 0.3, 0.4, 0.5]]
    assert _near(read["view"], [0.12, 0.22, 0.48, 0.58])  # the changed box with a margin
    assert (read["lights"], read["lightsView"], read["badBox"]) == (0, None, None)


def test_the_overview_names_every_area_of_the_last_visit(server: LiveServer, shop: dict, page: Page) -> None:
    login(page, server, "/")
    last = page.locator(".stat-card").filter(has_text="Last event")
    expect(last).to_contain_text("Coffee: Placed")  # the newest visit, in words, not "changed"
    expect(last).not_to_contain_text("changed")


# --- live feed, review, previous / next, thumbnails, the phone's filters -----------------

FRAME_GEOMETRY = """(root) => [...root.querySelectorAll('.crop')].map((crop) => {
  const frame = crop.querySelector('.crop-frame').getBoundingClientRect();
  const at = (r) => [(r.left - frame.left) / frame.width, (r.top - frame.top) / frame.height,
                     (r.right - frame.left) / frame.width, (r.bottom - frame.top) / frame.height];
  const img = crop.querySelector('img');
  return {kind: crop.dataset.kind, thumbnail: img.dataset.thumbnail === 'true', src: img.getAttribute('src'),
          shown: at(crop.getBoundingClientRect()), img: at(img.getBoundingClientRect()),
          boxes: Object.fromEntries([...crop.querySelectorAll('rect.changed-box')].map(
            (r) => [r.dataset.name, at(r.getBoundingClientRect())]))};
})"""


@pytest.fixture(scope="module")
def aisle7(server: LiveServer, admin: httpx.Client) -> dict:
    """A second camera with one shelf area and two visits, for the live tests."""
    device = admin.post("/api/v1/admin/devices", json={"name": "Aisle 7"}).json()["device_id"]
    roi = admin.post(f"/api/v1/admin/devices/{device}/rois",
                     json={"name": "Cereal", "polygon": [list(p) for p in shelf_scenes.roi_around(2)]}).json()
    store = EventStore(Database(server.data_dir / "storewatch.db", migrate_schema=False), ImageStore(server.data_dir))
    ids = [_aisle7_visit(store, device, roi["id"], n) for n in range(2)]
    store.db.close()
    return {"device": device, "roi": roi, "ids": ids, "server": server}


def _aisle7_visit(store: EventStore, device: str, roi_id: int, n: int, thumbs: bool = False) -> int:
    frame = shelf_scenes.Frame
    pictures = [EventImage("pre", 11, shelf_scenes.render(frame())),
                EventImage("post", 13, shelf_scenes.render(frame(removed=frozenset({2})))),
                EventImage("diff", 13, make_jpeg(640, 480, seed=n))]
    polygon = [list(p) for p in shelf_scenes.roi_around(2)]
    if thumbs:
        from storewatch.store.events import view_box
        pictures += thumbnails(pictures, view_box([polygon]))
    start = time.time() - 600 + n * 30
    return store.record_visit(Visit(device, start, start + 6, 1000 + n, (
        TouchedRoi(roi_id=roi_id, start_epoch=start, end_epoch=start + 6, peak_score=0.5, decision="changed",
                   decision_score=0.3, box=_item_box(2), verdict="taken"),)), pictures)


def test_a_new_visit_appears_on_top_without_a_reload_and_the_viewer_steps_through_the_list(
        aisle7: dict, admin: httpx.Client, page: Page, shots: Shots) -> None:
    server = aisle7["server"]
    login(page, server, f"/events?device={aisle7['device']}")
    cards = page.locator(".event-card")
    expect(cards).to_have_count(2)
    expect(page.locator(".live-status")).to_have_text(re.compile(r"Updated \d\d:\d\d:\d\d"))
    page.evaluate("() => { window.notReloaded = true; window.scrollTo(0, 120); }")
    cards.nth(1).get_by_role("button", name="Full pictures").click()  # the older one
    viewer = page.locator("dialog[open]")
    expect(viewer.get_by_role("heading")).to_have_text(f"Event {aisle7['ids'][0]} · Aisle 7")
    expect(viewer.locator(".viewer-position")).to_have_text("2 of 2")

    store = EventStore(Database(server.data_dir / "storewatch.db", migrate_schema=False), ImageStore(server.data_dir))
    fresh = _aisle7_visit(store, aisle7["device"], aisle7["roi"]["id"], 2, thumbs=True)
    store.db.close()
    expect(cards).to_have_count(3, timeout=12_000)  # one poll (5 s) later
    assert cards.first.get_attribute("data-event") == str(fresh)
    assert page.evaluate("() => window.notReloaded === true")
    expect(viewer).to_be_visible()  # the open viewer stayed, and the list it steps through grew
    expect(viewer.locator(".viewer-position")).to_have_text("3 of 3")

    page.keyboard.press("ArrowLeft")
    expect(viewer.get_by_role("heading")).to_have_text(f"Event {aisle7['ids'][1]} · Aisle 7")
    viewer.get_by_role("button", name="← Previous").click()
    expect(viewer.get_by_role("heading")).to_have_text(f"Event {fresh} · Aisle 7")
    expect(viewer.get_by_role("button", name="← Previous")).to_be_disabled()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    expect(viewer.get_by_role("heading")).to_have_text(f"Event {aisle7['ids'][0]} · Aisle 7")
    expect(viewer.get_by_role("button", name="Next →")).to_be_disabled()
    page.wait_for_function("() => { const i = document.querySelector('dialog[open] .viewer-picture img');"
                           " return i && i.complete && i.naturalWidth === 640; }")  # the original, full size
    page.keyboard.press("Escape")

    new_card = cards.first
    _wait_loaded(page, new_card)
    pictures = new_card.evaluate(FRAME_GEOMETRY)
    assert [p["kind"] for p in pictures] == ["pre", "post", "diff"]
    for picture in pictures:  # the server's small picture, placed where its part of the frame lies
        assert picture["thumbnail"] and picture["src"].endswith(f"/images/thumb_{picture['kind']}"), picture
        assert _near(picture["img"], picture["shown"]), picture  # it fills the card's crop exactly
        assert _near(picture["boxes"]["Cereal"], _item_box(2)), picture
    assert new_card.locator("img").first.evaluate("(img) => img.naturalWidth") == 320
    old_picture = cards.nth(2).evaluate(FRAME_GEOMETRY)[0]
    assert not old_picture["thumbnail"] and old_picture["src"].endswith("/images/pre")  # made before: the original
    shots(page, "live-card-on-top", full_page=False)


def test_review_on_the_card_and_mark_all_reviewed(aisle7: dict, admin: httpx.Client, page: Page, shots: Shots) -> None:
    server = aisle7["server"]
    login(page, server, f"/events?device={aisle7['device']}")
    cards = page.locator(".event-card")
    expect(cards.first).to_be_visible()
    count = cards.count()
    first, second = cards.nth(0), cards.nth(1)
    first_id, second_id = int(first.get_attribute("data-event")), int(second.get_attribute("data-event"))
    expect(first.get_by_text("new", exact=True)).to_be_visible()
    first.get_by_role("button", name="Mark reviewed").click()
    expect(first.get_by_role("button", name="Reviewed ✓")).to_have_attribute("aria-pressed", "true")
    expect(first.get_by_text("new", exact=True)).to_have_count(0)
    assert admin.get(f"/api/v1/admin/events/{first_id}").json()["review"] == "confirmed"

    second.get_by_role("button", name="Mark as false alarm").click()
    reason = second.get_by_label("Why was it a false alarm? (optional)")
    reason.fill("<img src=x onerror=alert(1)> the cat")
    second.get_by_role("button", name="Save reason").click()
    expect(second.locator(".false-alarm-reason")).to_have_text("<img src=x onerror=alert(1)> the cat")  # as text
    assert second.locator(".false-alarm-reason img").count() == 0
    answer = admin.get(f"/api/v1/admin/events/{second_id}").json()
    assert (answer["false_alarm"], answer["false_alarm_reason"]) == (True, "<img src=x onerror=alert(1)> the cat")

    page.get_by_role("button", name="Mark all reviewed").click()
    expect(page.locator(".event-card.unreviewed")).to_have_count(0)
    events = admin.get("/api/v1/admin/events", params={"device": aisle7["device"]}).json()["events"]
    assert len(events) == count and all(event["reviewed"] for event in events)
    assert [e["review"] for e in events if e["id"] == second_id] == ["false_alarm"]  # not overwritten
    page.get_by_label("Review").select_option(label="Not reviewed yet")
    expect(page.get_by_text("No events match these filters.")).to_be_visible()
    assert "reviewed=false" in page.url
    shots(page, "reviewed")


def test_on_a_phone_the_filters_fold_behind_a_button(aisle7: dict, browser, shots: Shots) -> None:
    phone, errors = open_page(browser, PHONE)
    try:
        login(phone, aisle7["server"], f"/events?device={aisle7['device']}")
        button = phone.get_by_role("button", name="Filters")
        expect(button).to_be_visible()
        expect(button).to_have_attribute("aria-expanded", "false")
        expect(phone.get_by_label("What happened")).to_be_hidden()
        expect(phone.locator(".event-card").first).to_be_visible()
        card_top = phone.locator(".event-card").first.bounding_box()["y"]
        assert card_top < PHONE["height"]  # the first card is on the first screen
        button.click()
        expect(phone.get_by_label("What happened")).to_be_visible()
        expect(button).to_have_attribute("aria-expanded", "true")
        shots(phone, "phone-filters-open", full_page=False)
        button.click()
        expect(phone.get_by_label("What happened")).to_be_hidden()
        assert phone.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")
    finally:
        phone.context.close()
    assert not errors, errors


def test_times_are_shown_in_the_appliance_time_zone(aisle7: dict, admin: httpx.Client, page: Page) -> None:
    assert admin.patch("/api/v1/admin/settings", json={"time_zone": "Asia/Kolkata"}).status_code == 200
    try:
        login(page, aisle7["server"], f"/events?device={aisle7['device']}")
        when = page.locator(".event-card time").first
        expect(when).to_be_visible()
        shown = when.inner_text()
        stamp = when.get_attribute("datetime")
        expected = page.evaluate("""(ts) => [new Date(ts).toLocaleString(undefined, {year: 'numeric', month: 'short',
          day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit', timeZone: 'Asia/Kolkata'}),
          new Date(ts).toLocaleString(undefined, {year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit',
          minute: '2-digit', second: '2-digit', timeZone: 'UTC'})]""", stamp)
        assert shown == expected[0] and shown != expected[1], (shown, expected)  # the shop's clock, not UTC
        page.get_by_role("link", name="Settings").first.click()
        expect(page.get_by_label("Time zone")).to_have_value("Asia/Kolkata")
        page.get_by_label("Time zone").fill("Mars/Olympus")
        page.get_by_role("button", name="Save settings").click()
        expect(page.get_by_text(re.compile("not a time zone"))).to_be_visible()
        assert admin.get("/api/v1/admin/settings").json()["settings"]["time_zone"] == "Asia/Kolkata"
    finally:
        admin.patch("/api/v1/admin/settings", json={"time_zone": "UTC"})


def test_the_overview_shows_each_cameras_newest_frame_and_the_last_events_thumbnails(
        aisle7: dict, admin: httpx.Client, page: Page, shots: Shots) -> None:
    server = aisle7["server"]
    till = admin.post("/api/v1/admin/devices", json={"name": "Till"}).json()
    meta = {"device_id": till["device_id"], "seq": 1, "width": 640, "height": 480, "jpeg_quality": 85,
            "capture_ts": contract.format_timestamp(contract.utc_now())}
    posted = httpx.post(f"{server.url}{contract.INGEST_FRAME_PATH}", timeout=10,
                        headers={"Authorization": f"Bearer {till['token']}"},
                        files={"meta": (None, json.dumps(meta), "application/json"),
                               "image": ("f.jpg", shelf_scenes.render(shelf_scenes.Frame()), "image/jpeg")})
    assert posted.status_code == 201, posted.text
    store = EventStore(Database(server.data_dir / "storewatch.db", migrate_schema=False), ImageStore(server.data_dir))
    newest = _aisle7_visit(store, aisle7["device"], aisle7["roi"]["id"], 7, thumbs=True)
    store.db.close()

    login(page, server, "/")
    frame = page.locator(f".overview-frames figure[data-device='{till['device_id']}'] img")
    expect(frame).to_be_visible()
    page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=frame.element_handle())
    assert frame.evaluate("(img) => img.naturalWidth") == 480  # scaled by the server, not the 640 px original
    assert "width=480" in frame.get_attribute("src")
    expect(page.locator(f".overview-frames figure[data-device='{aisle7['device']}']")).to_contain_text("No frame yet")
    tiles = page.locator(".overview-thumbs figure")
    expect(tiles.first).to_have_attribute("data-event", str(newest))
    thumb = tiles.first.locator("img")
    assert thumb.get_attribute("data-thumbnail") == "true" and thumb.get_attribute("src").endswith("/thumb_post")
    expect(tiles.first).to_contain_text("Aisle 7: Cereal: Taken")
    assert tiles.count() <= 6
    shots(page, "overview-frames-and-thumbnails")
    tiles.first.get_by_role("link").click()
    expect(page.locator("dialog[open]").get_by_role("heading")).to_have_text(f"Event {newest} · Aisle 7")
