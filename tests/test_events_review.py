"""The owner's review of events: reviewed / unreviewed, false alarm with a reason, "mark all
reviewed" up to the newest event shown, the reviewed filter and the live feed's after_id,
through a real uvicorn on a real SQLite file; and the card thumbnails the worker's outputs
make from a VisitEnded with real JPEGs (small, cropped to the touched ROIs)."""

from __future__ import annotations

import io
import json
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from storewatch.analysis.device_analyzer import FrameResult
from storewatch.analysis.inventory import InventoryDecision
from storewatch.analysis.transitions import RoiOutcome, VisitEnded
from storewatch.appliance import Appliance
from storewatch.cli import main
from storewatch.store.events import TouchedRoi, Visit
from storewatch.jobs import outputs
from storewatch.upkeep.thumbnails import THUMB_WIDTH, card_region
from storewatch.timezone import system_zone_name

T0 = 1_790_000_000.0
SHELF = [[0.6, 0.1], [0.9, 0.1], [0.9, 0.4], [0.6, 0.4]]  # top right
EVENTS = "/api/v1/admin/events"


@pytest.fixture
def roi(appliance: Appliance) -> int:
    appliance.devices.add("Till camera", "cam")
    appliance.devices.add("Door camera", "door")
    return appliance.rois.add("cam", "Sweets", SHELF)["id"]


def _visit(device: str, roi_id: int, n: int, verdict: str = "taken") -> Visit:
    return Visit(device, T0 + n * 10, T0 + n * 10 + 2, n + 1,
                 (TouchedRoi(roi_id, T0 + n, T0 + n + 2, 0.5, "changed", 0.3, None, verdict),))


@pytest.fixture
def visits(appliance: Appliance, roi: int) -> list[int]:
    store = appliance.events
    return [store.record_visit(_visit("cam", roi, n), []) for n in range(4)]


def _ids(app_admin: httpx.Client, **params: object) -> list[int]:
    answer = app_admin.get(EVENTS, params=params)
    assert answer.status_code == 200, answer.text
    return [event["id"] for event in answer.json()["events"]]


def _review_columns(appliance: Appliance) -> list[tuple]:
    return [tuple(row.values()) for row in appliance.db.query(
        "SELECT id, reviewed_at, review, false_alarm, false_alarm_reason FROM events ORDER BY id")]


def test_a_new_event_is_unreviewed_and_reviewing_it_is_kept(visits, app_admin, appliance):
    first = app_admin.get(f"{EVENTS}/{visits[0]}").json()
    assert (first["reviewed"], first["review"], first["false_alarm"], first["false_alarm_reason"]) == (
        False, None, False, None)
    done = app_admin.patch(f"{EVENTS}/{visits[0]}", json={"reviewed": True})
    assert done.status_code == 200, done.text
    assert (done.json()["reviewed"], done.json()["review"]) == (True, "confirmed") and done.json()["reviewed_at"]
    assert app_admin.get(f"{EVENTS}/{visits[0]}").json()["reviewed"] is True
    undone = app_admin.patch(f"{EVENTS}/{visits[0]}", json={"reviewed": False}).json()
    assert (undone["reviewed"], undone["review"], undone["reviewed_at"]) == (False, None, None)


def test_a_false_alarm_with_a_reason_is_reviewed_and_counted_once(visits, app_admin, appliance):
    marked = app_admin.patch(f"{EVENTS}/{visits[1]}", json={"false_alarm": True, "reason": "  the cat <b>again</b> "})
    assert marked.status_code == 200, marked.text
    body = marked.json()
    assert (body["false_alarm"], body["reviewed"], body["review"], body["false_alarm_reason"]) == (
        True, True, "false_alarm", "the cat <b>again</b>")  # kept as text; the SPA writes it as text
    app_admin.patch(f"{EVENTS}/{visits[1]}", json={"false_alarm": True})  # again, no reason: the reason stays
    assert app_admin.get(f"{EVENTS}/{visits[1]}").json()["false_alarm_reason"] == "the cat <b>again</b>"
    assert appliance.counters.snapshot()["false_alarms"] == {"changed": 1}
    cleared = app_admin.patch(f"{EVENTS}/{visits[1]}", json={"false_alarm": False}).json()  # the old body still works
    assert (cleared["false_alarm"], cleared["review"], cleared["false_alarm_reason"]) == (False, "confirmed", None)
    assert appliance.counters.snapshot()["false_alarms"] == {"changed": 0}
    app_admin.patch(f"{EVENTS}/{visits[1]}", json={"false_alarm": True, "reason": "cat"})
    unreviewed = app_admin.patch(f"{EVENTS}/{visits[1]}", json={"reviewed": False}).json()
    assert (unreviewed["false_alarm"], unreviewed["false_alarm_reason"], unreviewed["reviewed"]) == (False, None, False)
    assert appliance.counters.snapshot()["false_alarms"] == {"changed": 0}


@pytest.mark.parametrize("body, field", [
    ({}, "reviewed"), ({"reviewed": "yes"}, "reviewed"), ({"false_alarm": 1}, "false_alarm"),
    ({"reviewed": True, "note": "x"}, "note"), ({"false_alarm": True, "reason": "x" * 201}, "reason"),
    ({"false_alarm": True, "reason": 5}, "reason"), ({"false_alarm": True, "reason": "a\x00b"}, "reason"),
    ({"reviewed": True, "reason": "why"}, "reason"), ({"reviewed": False, "false_alarm": True}, "reviewed"),
])
def test_a_bad_review_is_a_422_naming_the_field_and_changes_nothing(visits, app_admin, appliance, body, field):
    before = _review_columns(appliance)
    answer = app_admin.patch(f"{EVENTS}/{visits[2]}", json=body)
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["code"] == "validation_failed" and field in [d["field"] for d in error["details"]], error
    assert _review_columns(appliance) == before


def test_reviewing_an_unknown_event_is_a_404(visits, app_admin):
    answer = app_admin.patch(f"{EVENTS}/999999", json={"reviewed": True})
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "event_not_found"


def test_the_reviewed_filter_and_after_id(visits, app_admin):
    app_admin.patch(f"{EVENTS}/{visits[0]}", json={"reviewed": True})
    app_admin.patch(f"{EVENTS}/{visits[2]}", json={"false_alarm": True})
    assert _ids(app_admin, reviewed="true") == [visits[2], visits[0]]
    assert _ids(app_admin, reviewed="false") == [visits[3], visits[1]]
    assert _ids(app_admin, after_id=visits[1]) == [visits[3], visits[2]]  # what the live page asks for
    assert _ids(app_admin, after_id=visits[3]) == []
    for params in ({"reviewed": "maybe"}, {"after_id": "-1"}, {"after_id": "1e9"}):
        answer = app_admin.get(EVENTS, params=params)
        assert answer.status_code == 422 and answer.json()["error"]["code"] == "validation_failed", params


def test_mark_all_reviewed_stops_at_the_newest_shown_and_keeps_to_the_filters(appliance, roi, visits, app_admin):
    store = appliance.events
    door = appliance.rois.add("door", "Door", SHELF)["id"]
    other_device = store.record_visit(_visit("door", door, 9), [])
    app_admin.patch(f"{EVENTS}/{visits[1]}", json={"false_alarm": True, "reason": "shadow"})
    answer = app_admin.post(f"{EVENTS}/review-all", json={"until_id": visits[2], "device": "cam"})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"reviewed": 2}  # visits 0 and 2; 1 was reviewed already, 3 came after the page
    assert _ids(app_admin, reviewed="false", type="all") == [other_device, visits[3]]
    assert app_admin.get(f"{EVENTS}/{visits[1]}").json()["review"] == "false_alarm"  # not turned into confirmed
    assert app_admin.post(f"{EVENTS}/review-all", json={"until_id": visits[2], "device": "cam"}).json() == {"reviewed": 0}
    by_verdict = app_admin.post(f"{EVENTS}/review-all", json={"until_id": other_device, "verdict": "placed"})
    assert by_verdict.json() == {"reviewed": 0}


@pytest.mark.parametrize("body, field", [
    ({}, "until_id"), ({"until_id": "5"}, "until_id"), ({"until_id": True}, "until_id"), ({"until_id": -1}, "until_id"),
    ({"until_id": 5, "colour": "red"}, "colour"), ({"until_id": 5, "verdict": "stolen"}, "verdict"),
    ({"until_id": 5, "since": "yesterday"}, "since"), ({"until_id": 5, "reviewed": "maybe"}, "reviewed"),
    ({"until_id": 5, "device": ["cam"]}, "device"),
])
def test_a_bad_mark_all_is_a_422_and_reviews_nothing(visits, app_admin, appliance, body, field):
    before = _review_columns(appliance)
    answer = app_admin.post(f"{EVENTS}/review-all", json=body)
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["code"] == "validation_failed", error
    assert field in [d["field"] for d in error["details"]] or field in error["message"], error
    assert _review_columns(appliance) == before


# --- thumbnails ----------------------------------------------------------------------------


def _shelf_jpeg(level: int, size: tuple[int, int] = (1640, 1232)) -> bytes:
    """A textured frame with a bright square inside SHELF, so a crop can be told from the whole."""
    rng = np.random.default_rng(level)
    pixels = (rng.integers(0, 60, size=(size[1] // 8, size[0] // 8, 3)) + level).astype(np.uint8)
    image = Image.fromarray(pixels).resize(size, Image.NEAREST)
    image.paste((250, 250, 250), (int(0.7 * size[0]), int(0.2 * size[1]), int(0.8 * size[0]), int(0.3 * size[1])))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=90)
    return out.getvalue()


def test_outputs_make_small_thumbnails_cropped_to_the_touched_rois(appliance, roi, app_admin):
    ids = []
    for seq, level in enumerate([60, 90, 62]):
        meta = {"device_id": "cam", "capture_ts": f"2026-09-21T14:13:{20 + seq:02d}Z", "seq": seq, "width": 1640,
                "height": 1232, "jpeg_quality": 90}
        ids.append(appliance.captures.store(meta, _shelf_jpeg(level)).capture_id)
    pre, peak, post = ids
    specs, _ = appliance.rois.specs("cam")
    ended = VisitEnded(T0, peak, T0 + 2, T0 + 3, post, pre, post, (
        RoiOutcome(roi, T0, T0 + 2, 0.6, peak, InventoryDecision(True, 0.3, (0.7, 0.2, 0.8, 0.3), "taken")),))
    capture = appliance.db.query_one("SELECT * FROM captures WHERE id = ?", (post,))
    store = appliance.events
    outputs.commit(appliance, store, outputs.prepare(appliance, capture, FrameResult({}, False, [ended]), specs))

    [event] = app_admin.get(EVENTS).json()["events"]
    assert set(event["thumbnails"]) == {"pre", "post", "diff"}
    region = event["thumbnail_region"]
    assert region == card_region(event["view_box"], 1640 / 1232)
    assert region[0] <= 0.6 and region[2] >= 0.9 and region[2] - region[0] < 0.5  # the shelf, not the frame
    original = app_admin.get(event["images"]["post"]).content
    for kind, url in event["thumbnails"].items():
        answer = app_admin.get(url)
        assert answer.status_code == 200 and answer.headers["content-type"] == "image/jpeg", kind
        assert len(answer.content) < 30_000 and len(answer.content) * 5 < len(original), (kind, len(answer.content))
        picture = Image.open(io.BytesIO(answer.content))
        assert picture.size == (THUMB_WIDTH, 240), picture.size  # 4:3, as the card shows it
    thumb = np.asarray(Image.open(io.BytesIO(app_admin.get(event["thumbnails"]["post"]).content)).convert("L"))
    # The bright square (0.7..0.8, 0.2..0.3 of the frame) lies where the region puts it.
    x = int(((0.75 - region[0]) / (region[2] - region[0])) * THUMB_WIDTH)
    y = int(((0.25 - region[1]) / (region[3] - region[1])) * 240)
    assert thumb[y, x] > 220 and thumb[5, 5] < 200
    sizes = [row["size_bytes"] for row in appliance.db.query(
        "SELECT size_bytes FROM event_images WHERE kind LIKE 'thumb_%'")]
    assert len(sizes) == 3 and sum(sizes) < 60_000
    assert app_admin.get(f"{EVENTS}/{event['id']}/images/thumb_peak").status_code == 404


def test_an_event_without_thumbnails_says_so_and_keeps_its_pictures(visits, app_admin):
    event = app_admin.get(f"{EVENTS}/{visits[0]}").json()
    assert event["thumbnails"] == {} and event["thumbnail_region"] is None


# --- the appliance's time zone ----------------------------------------------------------


def test_the_time_zone_defaults_to_the_systems_and_takes_only_known_names(tmp_path, monkeypatch):
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    assert system_zone_name() == "Asia/Kolkata"
    monkeypatch.setenv("TZ", "Mars/Olympus")
    link = tmp_path / "localtime"
    link.symlink_to("/usr/share/zoneinfo/America/Chicago")
    assert system_zone_name(link, tmp_path / "none") == "America/Chicago"
    monkeypatch.delenv("TZ")
    assert system_zone_name(tmp_path / "missing", tmp_path / "none") == "UTC"


@pytest.mark.parametrize("bad", ["Mars/Olympus", "../../etc/passwd", "", 5, "Europe/Berlin\n", "x" * 80])
def test_a_bad_time_zone_setting_is_a_422_and_keeps_the_old_one(app_admin, appliance, bad):
    good = app_admin.patch("/api/v1/admin/settings", json={"time_zone": "Europe/Berlin"})
    assert good.status_code == 200 and good.json()["settings"]["time_zone"] == "Europe/Berlin"
    answer = app_admin.patch("/api/v1/admin/settings", json={"time_zone": bad})
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["code"] == "validation_failed" and "time_zone" in answer.json()["error"]["message"]
    assert app_admin.get("/api/v1/admin/settings").json()["settings"]["time_zone"] == "Europe/Berlin"


def _cli(appliance: Appliance, *args: str):
    return CliRunner().invoke(main, ["--data-dir", str(appliance.data_dir), "events", "list", *args])


def test_the_cli_shows_times_in_the_appliance_zone_and_takes_since_1h(appliance, roi):
    store = appliance.events
    now = time.time()
    older = store.record_visit(Visit("cam", now - 7200, now - 7190, 60, (
        TouchedRoi(roi, now - 7200, now - 7190, 0.5, "changed", 0.3, None, "placed"),)), [])  # 2 h ago
    recent = store.record_visit(Visit("cam", now - 1200, now - 1190, 50, (
        TouchedRoi(roi, now - 1200, now - 1190, 0.5, "changed", 0.3, None, "taken"),)), [])  # 20 min ago
    appliance.settings.update({"time_zone": "Asia/Kolkata"})  # +05:30, no summer time
    table = _cli(appliance, "--since", "1h")
    assert table.exit_code == 0, table.output
    [line] = table.output.splitlines()[1:]
    assert line.split()[0] == str(recent)
    local = datetime.fromtimestamp(now - 1200, ZoneInfo("Asia/Kolkata")).strftime("%Y-%m-%d %H:%M:%S IST")
    assert local in line, (local, line)
    for since, ids in (("30m", [recent]), ("3h", [recent, older]), ("2d", [recent, older]), ("90 m", [recent])):
        listed = _cli(appliance, "--since", since, "--json")
        assert listed.exit_code == 0 and [e["id"] for e in json.loads(listed.output)] == ids, since
    assert [e["start_ts"][-1] for e in json.loads(_cli(appliance, "--json").output)] == ["Z", "Z"]
    until = _cli(appliance, "--until", "1h", "--json")
    assert [e["id"] for e in json.loads(until.output)] == [older]
    for bad in ("1y", "-1h", "soon", "1.5h"):
        wrong = _cli(appliance, "--since", bad)
        assert wrong.exit_code == 2 and "a time ago" in wrong.output, (bad, wrong.output)


def test_the_newest_frame_is_scaled_down_on_the_server_when_asked(appliance, roi, app_admin):
    meta = {"device_id": "cam", "capture_ts": "2026-09-21T14:13:20Z", "seq": 1, "width": 1640, "height": 1232,
            "jpeg_quality": 90}
    appliance.captures.store(meta, _shelf_jpeg(70))
    whole = app_admin.get("/api/v1/admin/devices/cam/latest-frame")
    small = app_admin.get("/api/v1/admin/devices/cam/latest-frame", params={"width": 480})
    assert whole.status_code == small.status_code == 200 and small.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(whole.content)).size == (1640, 1232)
    assert Image.open(io.BytesIO(small.content)).size == (480, 361)  # the whole frame, its own shape
    assert len(small.content) * 4 < len(whole.content)
    for bad in ("10", "5000", "wide"):
        answer = app_admin.get("/api/v1/admin/devices/cam/latest-frame", params={"width": bad})
        assert answer.status_code == 422 and answer.json()["error"]["code"] == "validation_failed", bad
