"""Events as visits: one event with a row per touched ROI, written idempotently, shown by the
admin API, the CLI and the export, kept readable from older files, and made by the worker's
outputs from a VisitEnded (real SQLite file, real JPEG captures)."""

from __future__ import annotations

import csv
import io
import json
import time
import zipfile
from pathlib import Path

import apsw
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from storewatch.analysis.device_analyzer import FrameResult
from storewatch.analysis.inventory import InventoryDecision
from storewatch.analysis.transitions import (
    LightingChange, LightingSettled, RoiOutcome, VisitEnded,
)
from storewatch.appliance import DATABASE_FILE, Appliance
from storewatch.cli import main
from storewatch.store.events import EventImage, TouchedRoi, Visit, epoch_to_ts
from storewatch.jobs import outputs
from storewatch.upkeep.retention import run_retention
from support.schema import database_at

T0 = 1_790_000_000.0
# Three shelves, top to bottom; an arm reaching shelf 3 crosses shelves 1 and 2.
SHELVES = {"Shelf 1": [[0.1, 0.1], [0.9, 0.1], [0.9, 0.3], [0.1, 0.3]],
           "Shelf 2": [[0.1, 0.4], [0.9, 0.4], [0.9, 0.6], [0.1, 0.6]],
           "Shelf 3": [[0.1, 0.7], [0.9, 0.7], [0.9, 0.9], [0.1, 0.9]]}
TAKEN_BOX = [0.3, 0.72, 0.5, 0.88]


def touched(roi_id: int, verdict: str | None, score: float | None, box: list[float] | None = None,
            offset: float = 0.0) -> TouchedRoi:
    decision = "unknown" if verdict is None else "changed" if verdict in ("taken", "placed") else "unchanged"
    return TouchedRoi(roi_id, T0 + offset, T0 + offset + 3, 0.2 + (score or 0), decision, score, box, verdict)


@pytest.fixture
def shelves(appliance: Appliance) -> dict[str, int]:
    appliance.devices.add("Aisle 3 camera", "cam")
    rois = appliance.rois
    return {name: rois.add("cam", name, polygon)["id"] for name, polygon in SHELVES.items()}


def arm_visit(shelves: dict[str, int], start_capture_id: int = 1) -> Visit:
    """Shelves 1 and 2 crossed (unchanged), shelf 3 taken from."""
    return Visit("cam", T0, T0 + 4, start_capture_id, (
        touched(shelves["Shelf 1"], "unchanged", 0.01, offset=0.0),
        touched(shelves["Shelf 3"], "taken", 0.3, TAKEN_BOX, offset=0.5),
        touched(shelves["Shelf 2"], "unchanged", 0.02, offset=0.2)))


def pictures(tag: bytes) -> list[EventImage]:
    return [EventImage(kind, None, tag + kind.encode()) for kind in ("pre", "peak", "post", "diff")]


# --- the store ------------------------------------------------------------------------


def test_a_visit_is_one_event_with_its_rois_and_the_headline_in_the_old_columns(appliance, shelves):
    store = appliance.events
    event_id = store.record_visit(arm_visit(shelves), pictures(b"a"))

    [event] = store.public_many(store.list())
    assert event["id"] == event_id and event["device_name"] == "Aisle 3 camera"
    assert [(r["roi_name"], r["verdict"]) for r in event["rois"]] == [
        ("Shelf 3", "taken"), ("Shelf 2", "unchanged"), ("Shelf 1", "unchanged")]
    assert (event["roi_name"], event["verdict"], event["decision"], event["box"]) == (
        "Shelf 3", "taken", "changed", TAKEN_BOX)
    assert event["rois"][0] == {"roi_id": shelves["Shelf 3"], "roi_name": "Shelf 3", "verdict": "taken",
                                "decision": "changed", "box": TAKEN_BOX, "score": 0.3,
                                "start_ts": "2026-09-21T14:13:20.500Z", "end_ts": "2026-09-21T14:13:23.500Z"}
    assert event["duration_s"] == 4.0 and event["start_ts"] == "2026-09-21T14:13:20.000Z"
    x0, y0, x1, y1 = event["view_box"]  # the three shelves' union (0.1..0.9, 0.1..0.9) and a margin
    assert 0.02 < x0 < 0.1 and 0.02 < y0 < 0.1 and 0.9 < x1 < 0.98 and 0.9 < y1 < 0.98
    assert set(event["images"]) == {"pre", "peak", "post", "diff"} and all(event["images"].values())


@pytest.mark.parametrize("verdicts, headline, decision", [
    ((("placed", 0.5), ("taken", 0.1)), ("taken", 0.1), "changed"),
    ((("moved", 0.9), ("placed", 0.2), ("placed", 0.4)), ("placed", 0.4), "changed"),
    ((("unchanged", 0.9), ("moved", 0.1)), ("moved", 0.1), "unchanged"),
    ((("unchanged", 0.1), (None, None)), ("unchanged", 0.1), "unchanged"),
    (((None, None),), (None, None), "unknown"),
])
def test_the_headline_is_the_most_significant_verdict_then_the_higher_score(appliance, shelves, verdicts,
                                                                             headline, decision):
    store = appliance.events
    ids = list(shelves.values())
    rois = tuple(touched(ids[n], verdict, score) for n, (verdict, score) in enumerate(verdicts))
    store.record_visit(Visit("cam", T0, T0 + 3, 7, rois), [])
    [event] = store.public_many(store.list())
    assert (event["verdict"], event["decision_score"], event["decision"]) == (*headline, decision)
    assert len(event["rois"]) == len(verdicts)


def test_recording_a_visit_again_keeps_one_event_and_rewrites_the_same_files(appliance, shelves):
    store = appliance.events
    first = store.record_visit(arm_visit(shelves), pictures(b"first-"))
    paths = appliance.db.query("SELECT kind, path FROM event_images ORDER BY kind")

    again = store.record_visit(arm_visit(shelves), pictures(b"again-"))

    assert again == first and appliance.db.scalar("SELECT COUNT(*) FROM events") == 1
    assert appliance.db.scalar("SELECT COUNT(*) FROM event_rois") == 3
    assert appliance.db.query("SELECT kind, path FROM event_images ORDER BY kind") == paths
    assert {row["kind"]: appliance.images.read(row["path"]) for row in paths} == {
        kind: b"again-" + kind.encode() for kind in ("diff", "peak", "post", "pre")}
    assert sorted(p.name for p in (appliance.data_dir / "events" / "cam" / str(first)).iterdir()) == [
        "diff.jpg", "peak.jpg", "post.jpg", "pre.jpg"]
    # the same visit analysed again with one ROI less: its rows are the new ones
    shorter = Visit("cam", T0, T0 + 4, 1, arm_visit(shelves).rois[:2])
    assert store.record_visit(shorter, []) == first
    assert [r["roi_name"] for r in store.public_many([store.get(first)])[0]["rois"]] == ["Shelf 3", "Shelf 1"]
    # another start capture is another visit
    assert store.record_visit(arm_visit(shelves, start_capture_id=2), []) != first


def test_the_database_refuses_a_touched_roi_verdict_outside_the_four(appliance, shelves):
    store = appliance.events
    with pytest.raises(apsw.ConstraintError):
        store.record_visit(Visit("cam", T0, T0 + 1, 1, (touched(shelves["Shelf 1"], "stolen", 0.1),)), [])
    assert store.list() == [] and appliance.db.scalar("SELECT COUNT(*) FROM event_rois") == 0


# --- older files ------------------------------------------------------------------------


def schema_7_database(data_dir: Path) -> None:
    """A file as storewatch left it before visits: per-ROI events, two of them begun on one capture."""
    conn = database_at(data_dir / DATABASE_FILE, 7)
    with conn:
        conn.execute("INSERT INTO devices (id, name, token_hash, token_salt, created_at)"
                     " VALUES ('cam', 'Aisle 3 camera', 'h', 's', '2026-01-01T00:00:00.000Z')")
        for roi_id, name in ((1, "top"), (2, "bottom")):
            conn.execute("INSERT INTO rois (id, device_id, name, polygon, created_at, updated_at)"
                         " VALUES (?, 'cam', ?, '[[0,0],[1,0],[1,1]]', 'x', 'x')", (roi_id, name))
        for roi_id, name, decision, verdict in ((1, "top", "changed", "taken"), (2, "bottom", "unchanged", "unchanged"),
                                                (None, "gone", "unknown", None)):
            conn.execute("INSERT INTO events (device_id, roi_id, roi_name, type, start_ts, end_ts, duration_s,"
                         " peak_score, decision, decision_score, box, start_capture_id, created_at, verdict)"
                         " VALUES ('cam', ?, ?, 'interaction_detected', '2026-01-01T00:00:00.000Z',"
                         " '2026-01-01T00:00:05.000Z', 5.0, 0.4, ?, 0.25, '[0.1,0.2,0.3,0.4]', 11, 'x', ?)",
                         (roi_id, name, decision, verdict))
        conn.execute("INSERT INTO events (device_id, type, start_ts, start_capture_id, created_at)"
                     " VALUES ('cam', 'lighting_change', '2026-01-01T00:01:00.000Z', 12, 'x')")
    conn.close()


def test_an_older_file_reads_each_interaction_as_a_visit_of_its_one_roi(data_dir: Path):
    schema_7_database(data_dir)
    opened = Appliance(data_dir)
    try:
        store = opened.events
        shown = store.public_many(store.list(event_type=None))
        by_name = {e["roi_name"]: e for e in shown}
        assert set(by_name) == {"top", "bottom", "gone", None}
        top = by_name["top"]
        assert (top["verdict"], top["decision"], top["box"], top["duration_s"]) == (
            "taken", "changed", [0.1, 0.2, 0.3, 0.4], 5.0)
        assert top["rois"] == [{"roi_id": 1, "roi_name": "top", "verdict": "taken", "decision": "changed",
                                "box": [0.1, 0.2, 0.3, 0.4], "score": 0.25, "start_ts": "2026-01-01T00:00:00.000Z",
                                "end_ts": "2026-01-01T00:00:05.000Z"}]
        assert top["view_box"] is None and top["device_name"] == "Aisle 3 camera"
        assert [r["roi_id"] for r in by_name["gone"]["rois"]] == [None]
        assert by_name[None]["type"] == "lighting_change" and by_name[None]["rois"] == []
        assert [e["roi_name"] for e in store.public_many(store.list(roi_id=2))] == ["bottom"]
        # the visit analysed again on the capture its old per-ROI events began on: they become one visit
        again = store.record_visit(Visit("cam", T0, T0 + 1, 11, (touched(1, "placed", 0.2),)), [])
        assert again == top["id"] and opened.db.scalar("SELECT COUNT(*) FROM events WHERE start_capture_id = 11") == 1
        assert [(r["roi_name"], r["verdict"]) for r in store.public_many([store.get(again)])[0]["rois"]] == [
            ("top", "placed")]  # the visit, analysed again, knows all its ROIs
    finally:
        opened.close()


# --- deleting -------------------------------------------------------------------------


def test_deleting_events_takes_their_roi_rows_and_expiring_pictures_keeps_them(appliance, shelves):
    store = appliance.events
    kept = store.record_visit(arm_visit(shelves, 1), pictures(b"x"))
    gone = store.record_visit(arm_visit(shelves, 2), pictures(b"y"))
    with appliance.db.write() as conn:
        conn.execute("UPDATE events SET start_ts = '2020-01-01T00:00:00.000Z' WHERE id = ?", (kept,))
        conn.execute("UPDATE events SET start_ts = ? WHERE id = ?", (epoch_to_ts(time.time()), gone))

    report = run_retention(appliance)  # its pictures are older than event_image_retention_days

    assert report.deleted["events_expired"] == 1
    old = store.public_many([store.get(kept)])[0]
    assert old["images_expired"] and not any(old["images"].values()) and len(old["rois"]) == 3
    with appliance.db.write() as conn:
        conn.execute("DELETE FROM events WHERE id = ?", (gone,))
    assert appliance.db.scalar("SELECT COUNT(*) FROM event_rois WHERE event_id = ?", (gone,)) == 0
    appliance.rois.remove("cam", shelves["Shelf 2"])
    assert [r["roi_id"] for r in store.public_many([store.get(kept)])[0]["rois"]] == [
        shelves["Shelf 3"], None, shelves["Shelf 1"]]  # the removed ROI's row stays, by name
    with appliance.db.write() as conn:
        conn.execute("DELETE FROM devices WHERE id = 'cam'")
    assert appliance.db.scalar("SELECT COUNT(*) FROM event_rois") == 0


# --- the app_admin API, the CLI and the export ----------------------------------------------


@pytest.fixture
def two_visits(appliance: Appliance, shelves: dict[str, int]) -> dict[str, int]:
    store = appliance.events
    arm = store.record_visit(arm_visit(shelves, 1), pictures(b"x"))
    moved = store.record_visit(Visit("cam", T0 + 60, T0 + 62, 5, (touched(shelves["Shelf 1"], "moved", 0.2),)), [])
    store.record_lighting("cam", T0 + 120, 9)
    return {"arm": arm, "moved": moved, **shelves}


def test_the_api_shows_visits_and_filters_on_any_of_their_rois(two_visits, app_admin):
    def found(**params: object) -> list[int]:
        return [e["id"] for e in app_admin.get("/api/v1/admin/events", params=params).json()["events"]]

    [moved, arm] = app_admin.get("/api/v1/admin/events").json()["events"]
    assert arm["id"] == two_visits["arm"] and arm["device_name"] == "Aisle 3 camera"
    assert [(r["roi_name"], r["verdict"], r["score"]) for r in arm["rois"]] == [
        ("Shelf 3", "taken", 0.3), ("Shelf 2", "unchanged", 0.02), ("Shelf 1", "unchanged", 0.01)]
    assert len(arm["view_box"]) == 4 and arm["images"]["diff"].endswith(f"/{arm['id']}/images/diff")
    assert app_admin.get(f"/api/v1/admin/events/{arm['id']}").json() == arm
    assert found(verdict="unchanged") == [two_visits["arm"]]  # not its headline, one of its ROIs
    assert found(verdict="taken") == [two_visits["arm"]] and found(verdict="moved") == [two_visits["moved"]]
    assert found(roi=two_visits["Shelf 2"]) == [two_visits["arm"]]
    assert found(roi=two_visits["Shelf 1"]) == [two_visits["moved"], two_visits["arm"]]
    assert found(decision="changed") == [two_visits["arm"]] and found(decision="unchanged") == [two_visits["moved"]]
    [lighting] = app_admin.get("/api/v1/admin/events", params={"type": "lighting_change"}).json()["events"]
    assert lighting["rois"] == [] and lighting["view_box"] is None
    bad = app_admin.get("/api/v1/admin/events", params={"verdict": "stolen"})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "validation_failed"


def invoke(data_dir: Path, *args: str):
    return CliRunner().invoke(main, ["--data-dir", str(data_dir), *args], catch_exceptions=False)


def test_cli_lists_one_line_per_visit_with_its_rois_and_verdicts(two_visits, appliance):
    table = invoke(appliance.data_dir, "events", "list")
    assert table.exit_code == 0, table.output
    lines = table.output.splitlines()
    assert len(lines) == 3 and "VERDICT" in lines[0]
    assert lines[1].endswith("Shelf 1: moved")
    assert lines[2].endswith("Shelf 3: taken, Shelf 2: unchanged, Shelf 1: unchanged")
    listed = json.loads(invoke(appliance.data_dir, "events", "list", "--verdict", "unchanged", "--json").output)
    assert [e["id"] for e in listed] == [two_visits["arm"]] and len(listed[0]["rois"]) == 3
    assert listed[0]["view_box"] and listed[0]["device_name"] == "Aisle 3 camera"
    by_roi = json.loads(invoke(appliance.data_dir, "events", "list", "--roi", str(two_visits["Shelf 1"]),
                               "--json").output)
    assert [e["id"] for e in by_roi] == [two_visits["moved"], two_visits["arm"]]
    lighting = invoke(appliance.data_dir, "events", "list", "--lighting")
    assert lighting.output.splitlines()[1].endswith("lighting change")


def test_export_csv_has_one_row_per_touched_roi(two_visits, appliance, tmp_path):
    out = tmp_path / "visits.zip"
    done = invoke(appliance.data_dir, "events", "export", "--since", "2026-01-01T00:00:00Z", "--out", str(out))
    assert done.exit_code == 0 and "Exported 3 events and 4 pictures" in done.output
    with zipfile.ZipFile(out) as archive:
        rows = list(csv.DictReader(io.StringIO(archive.read("events.csv").decode())))
        events = json.loads(archive.read("events.json"))
    assert [(int(r["event_id"]), r["roi_name"], r["verdict"], r["decision"]) for r in rows] == [
        (two_visits["arm"], "Shelf 3", "taken", "changed"), (two_visits["arm"], "Shelf 2", "unchanged", "unchanged"),
        (two_visits["arm"], "Shelf 1", "unchanged", "unchanged"),
        (two_visits["moved"], "Shelf 1", "moved", "unchanged"),
        (events[2]["id"], "", "", "")]
    assert json.loads(rows[0]["box"]) == TAKEN_BOX and rows[0]["score"] == "0.3" and rows[1]["box"] == ""
    assert rows[0]["device_name"] == "Aisle 3 camera" and rows[0]["roi_start_ts"] == "2026-09-21T14:13:20.500Z"
    assert rows[4]["type"] == "lighting_change" and rows[0]["images"].count("images/") == 4
    assert [len(e["rois"]) for e in events] == [3, 1, 0]


# --- the worker's outputs ---------------------------------------------------------------


def gray_jpeg(level: int, size: tuple[int, int] = (640, 480)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (level, level, level)).save(out, format="JPEG", quality=90)
    return out.getvalue()


def store_captures(appliance: Appliance, levels: list[int]) -> list[int]:
    ids = []
    for seq, level in enumerate(levels):
        meta = {"device_id": "cam", "capture_ts": f"2026-09-21T14:13:{20 + seq:02d}Z", "seq": seq, "width": 640,
                "height": 480, "jpeg_quality": 90}  # one a second from T0
        ids.append(appliance.captures.store(meta, gray_jpeg(level)).capture_id)
    return ids


def red_near(picture: np.ndarray, x: float, y: float) -> bool:
    height, width = picture.shape[:2]
    cx, cy = int(x * width), int(y * height)
    window = picture[max(cy - 3, 0):cy + 4, max(cx - 3, 0):cx + 4].astype(int)
    return bool(((window[..., 0] - window[..., 1]) > 90).any())


def yellow_near(picture: np.ndarray, x: float, y: float) -> bool:
    height, width = picture.shape[:2]
    cx, cy = int(x * width), int(y * height)
    window = picture[max(cy - 3, 0):cy + 4, max(cx - 3, 0):cx + 4].astype(int)
    return bool(((window[..., 0] > 150) & (window[..., 1] > 150) & (window[..., 2] < window[..., 0] - 60)).any())


def test_outputs_write_a_visit_with_three_rois_and_its_four_pictures(appliance, shelves):
    pre, arm1, arm3, post = store_captures(appliance, [100, 140, 160, 102])
    specs, _ = appliance.rois.specs("cam")
    ended = VisitEnded(T0, arm1, T0 + 4, T0 + 5, post, pre, post, (
        RoiOutcome(shelves["Shelf 1"], T0, T0 + 1, 0.2, arm1, InventoryDecision(False, 0.01, None, "unchanged")),
        RoiOutcome(shelves["Shelf 2"], T0, T0 + 2, 0.3, arm1, InventoryDecision(False, 0.02, None, "unchanged")),
        RoiOutcome(shelves["Shelf 3"], T0 + 1, T0 + 4, 0.6, arm3,
                   InventoryDecision(True, 0.3, tuple(TAKEN_BOX), "taken"))))
    capture = appliance.db.query_one("SELECT * FROM captures WHERE id = ?", (post,))
    store = appliance.events

    for _ in range(2):  # the job run again writes the same event
        prepared = outputs.prepare(appliance, capture, FrameResult({}, False, [ended]), specs)
        outputs.commit(appliance, store, prepared)
    outputs.count(appliance, prepared)

    [event] = store.public_many(store.list())
    assert event["start_capture_id"] == arm1 and event["verdict"] == "taken" and event["roi_name"] == "Shelf 3"
    assert [(r["roi_name"], r["verdict"]) for r in event["rois"]] == [
        ("Shelf 3", "taken"), ("Shelf 2", "unchanged"), ("Shelf 1", "unchanged")]
    images = {row["kind"]: row for row in appliance.db.query("SELECT * FROM event_images")}
    assert {kind: row["capture_id"] for kind, row in images.items() if not kind.startswith("thumb_")} == {
        "pre": pre, "peak": arm3, "post": post, "diff": None}  # peak: shelf 3's, the highest
    assert {kind for kind in images if kind.startswith("thumb_")} == {"thumb_pre", "thumb_post", "thumb_diff"}
    captured = {row["id"]: row["path"] for row in appliance.db.query("SELECT id, path FROM captures")}
    for kind in ("pre", "peak", "post"):
        original = captured[images[kind]["capture_id"]]
        assert appliance.images.read(images[kind]["path"]) == appliance.images.read(original)
    diff = np.asarray(Image.open(io.BytesIO(appliance.images.read(images["diff"]["path"]))).convert("RGB"))
    assert diff.shape == (480, 640, 3)
    assert red_near(diff, TAKEN_BOX[0], 0.80) and red_near(diff, 0.40, TAKEN_BOX[1])  # shelf 3's changed box
    assert all(yellow_near(diff, 0.1, (polygon[0][1] + polygon[2][1]) / 2) for polygon in SHELVES.values())
    assert not red_near(diff, 0.5, 0.5)
    counters = appliance.counters.snapshot()
    assert counters["event_verdicts"] == {"taken": 1} and counters["events"] == {"changed": 1}


def test_outputs_give_a_settled_lighting_change_its_end_and_before_after_pictures(appliance, shelves):
    before, first, after = store_captures(appliance, [100, 60, 60])
    epochs = {row["id"]: row["capture_epoch"] for row in appliance.db.query("SELECT id, capture_epoch FROM captures")}
    rows = {row["id"]: row for row in appliance.db.query("SELECT * FROM captures")}
    store = appliance.events
    specs, _ = appliance.rois.specs("cam")
    change = LightingChange(epochs[first], first)
    outputs.commit(appliance, store, outputs.prepare(appliance, rows[first], FrameResult({}, True, [change]), specs))
    settled = LightingSettled(epochs[first], epochs[after], before, after)
    for _ in range(2):
        outputs.commit(appliance, store, outputs.prepare(appliance, rows[after], FrameResult({}, False, [settled]),
                                                         specs))
    [event] = store.public_many(store.list(event_type="lighting_change"))
    assert event["end_ts"] == "2026-09-21T14:13:22.000Z" and event["duration_s"] == 1.0 and event["rois"] == []
    assert [kind for kind, url in event["images"].items() if url] == ["pre", "post"]
    assert {r["kind"]: r["capture_id"] for r in appliance.db.query("SELECT * FROM event_images")} == {
        "pre": before, "post": after, "thumb_pre": before, "thumb_post": after}  # whole-frame thumbnails
