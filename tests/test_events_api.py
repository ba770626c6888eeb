"""Events, scores, the latest frame and burst through a real `storewatch run` (worker inside):
frames go in through the device contract, events come out of the admin API and the CLI."""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone

import httpx
import pytest
from click.testing import CliRunner

from support import shelf_scenes
from support.servers import LiveServer
from support.api import assert_error
from storewatch import contract
from storewatch.cli import main

EVENTS = "/api/v1/admin/events"
SEQUENCE = shelf_scenes.reach_sequence(2, "take")


def post_frame(server: LiveServer, device_id: str, token: str, seq: int, epoch: float, jpeg: bytes) -> dict:
    meta = {"device_id": device_id, "seq": seq, "width": 640, "height": 480, "jpeg_quality": 85,
            "capture_ts": contract.format_timestamp(datetime.fromtimestamp(epoch, timezone.utc))}
    answer = server.post(contract.INGEST_FRAME_PATH, headers={"Authorization": f"Bearer {token}"},
                         files={"meta": (None, json.dumps(meta), "application/json"),
                               "image": ("f.jpg", jpeg, "image/jpeg")}, timeout=10)
    assert answer.status_code == 201, answer.text
    return answer.json()


def wait_done(admin: httpx.Client, count: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if admin.get("/api/v1/admin/queue").json()["counts"]["done"] >= count:
            return
        time.sleep(0.05)
    raise AssertionError(f"fewer than {count} jobs done after {timeout} s")


@pytest.fixture(scope="module")
def scene_device(server: LiveServer, admin: httpx.Client) -> dict:
    """A device whose shelf scene went through ingest one frame at a time, with each ingest answer."""
    body = admin.post("/api/v1/admin/devices", json={"name": "aisle 3"}).json()
    device_id, token = body["device_id"], body["token"]
    roi = admin.post(f"/api/v1/admin/devices/{device_id}/rois",
                     json={"name": "top shelf", "polygon": [list(p) for p in shelf_scenes.roi_around(2)]}).json()
    assert admin.get(f"/api/v1/admin/devices/{device_id}/latest-frame").status_code == 404
    # The scene starts now and runs ahead of the wall clock (the capture window allows that), so a
    # burst held burst_hold_s past the last activity's capture time outlasts the posting on a slow machine.
    start = time.time()
    answers = []
    done_before = admin.get("/api/v1/admin/queue").json()["counts"]["done"]
    for seq, (jpeg, at) in enumerate(zip(SEQUENCE.jpegs, SEQUENCE.times)):
        answers.append(post_frame(server, device_id, token, seq, start + at - SEQUENCE.times[0], jpeg))
        wait_done(admin, done_before + seq + 1)  # the next ingest happens after this frame is analysed
    return {"id": device_id, "token": token, "roi": roi, "answers": answers, "start": start}


def test_the_burst_switch_shows_in_the_next_ingest_answer(scene_device: dict, admin: httpx.Client) -> None:
    modes = [answer["mode"] for answer in scene_device["answers"]]
    first_burst = modes.index("burst")
    chart = admin.get(f"/api/v1/admin/devices/{scene_device['id']}/scores").json()
    start_threshold = chart["rois"][0]["effective_thresholds"]["start_threshold"]
    first_active = next(i for i, p in enumerate(chart["points"]) if p["score"] >= start_threshold)
    assert first_active >= 8  # the arm enters at frame 8
    # The analysis of the first active frame asks for burst; the very next ingest answer carries it.
    assert first_burst == first_active + 1
    assert set(modes[first_burst:]) == {"burst"}  # held for burst_hold_s after the last activity
    versions = [int(a["config_version"][1:]) for a in scene_device["answers"]]
    assert versions[first_burst] == versions[first_burst - 1] + 1  # only the switch bumps it
    assert versions[-1] == versions[first_burst]


def test_the_event_list_shows_the_interaction_with_its_pictures(scene_device: dict, admin: httpx.Client) -> None:
    events = admin.get(EVENTS, params={"device": scene_device["id"]}).json()["events"]
    assert len(events) == 1
    event = events[0]
    assert event["roi_id"] == scene_device["roi"]["id"] and event["roi_name"] == "top shelf"
    assert event["type"] == "interaction_detected" and event["decision"] == "changed"
    assert event["verdict"] == "taken"  # the arm took item 2
    assert event["duration_s"] > 0 and event["peak_score"] > 0 and event["decision_score"] > 0
    assert len(event["box"]) == 4 and event["false_alarm"] is False and event["images_expired"] is False
    assert set(event["images"]) == {"pre", "peak", "post", "diff"}
    assert event["device_name"] == "aisle 3"  # one visit, of its one touched ROI
    assert [(r["roi_id"], r["roi_name"], r["verdict"], r["decision"]) for r in event["rois"]] == [
        (scene_device["roi"]["id"], "top shelf", "taken", "changed")]
    assert event["rois"][0]["box"] == event["box"] and event["rois"][0]["score"] == event["decision_score"]
    x0, y0, x1, y1 = event["view_box"]  # the ROI's bounding box with a margin
    polygon = scene_device["roi"]["polygon"]
    assert x0 < min(p[0] for p in polygon) and x1 > max(p[0] for p in polygon)
    assert y0 < min(p[1] for p in polygon) and y1 > max(p[1] for p in polygon)
    for kind, url in event["images"].items():
        picture = admin.get(url)
        assert picture.status_code == 200 and picture.headers["content-type"] == "image/jpeg"
        assert picture.content[:2] == b"\xff\xd8"
    assert admin.get(f"{EVENTS}/{event['id']}").json() == event


def test_event_filters_and_paging(scene_device: dict, admin: httpx.Client) -> None:
    device_id = scene_device["id"]
    event_id = admin.get(EVENTS, params={"device": device_id}).json()["events"][0]["id"]
    found = lambda **params: [e["id"] for e in admin.get(EVENTS, params=params).json()["events"]]  # noqa: E731
    assert found(device=device_id, decision="changed") == [event_id]
    assert found(device=device_id, decision="unchanged") == []
    assert found(roi=scene_device["roi"]["id"]) == [event_id]
    assert found(device="nobody") == []
    assert found(device=device_id, before_id=event_id) == []
    assert found(device=device_id, since=scene_device["start"] - 10, until=time.time() + 10) == [event_id]
    assert found(device=device_id, since=time.time() + 100) == []
    assert found(device=device_id, limit=1) == [event_id]
    assert_error(admin.get(EVENTS, params={"limit": 0}), 422, "validation_failed")
    assert_error(admin.get(EVENTS, params={"since": "yesterday"}), 422, "validation_failed")
    assert_error(admin.get(EVENTS, params={"decision": "maybe"}), 422, "validation_failed")
    assert found(device=device_id, verdict="taken") == [event_id]
    assert found(device=device_id, verdict="moved") == [] and found(device=device_id, verdict="placed") == []
    assert_error(admin.get(EVENTS, params={"verdict": "stolen"}), 422, "validation_failed")


def test_marking_a_false_alarm_keeps_the_event(scene_device: dict, admin: httpx.Client) -> None:
    event = admin.get(EVENTS, params={"device": scene_device["id"]}).json()["events"][0]
    marked = admin.patch(f"{EVENTS}/{event['id']}", json={"false_alarm": True})
    assert marked.status_code == 200 and marked.json()["false_alarm"] is True
    assert admin.get(f"{EVENTS}/{event['id']}").json()["false_alarm"] is True
    assert_error(admin.patch(f"{EVENTS}/{event['id']}", json={"false_alarm": "yes"}), 422, "validation_failed")
    assert_error(admin.patch(f"{EVENTS}/{event['id']}", json={"decision": "unchanged"}), 422, "validation_failed")
    assert admin.patch(f"{EVENTS}/{event['id']}", json={"false_alarm": False}).json()["false_alarm"] is False


def test_pictures_are_only_served_by_kind_and_unknown_ids_are_404(scene_device: dict, admin: httpx.Client) -> None:
    event_id = admin.get(EVENTS, params={"device": scene_device["id"]}).json()["events"][0]["id"]
    assert_error(admin.get(f"{EVENTS}/{event_id}/images/thumbnail"), 404, "event_not_found")
    for sneaky in ("..%2F..%2Fstorewatch.db", "%2E%2E", "pre.jpg", "pre%00", "%2Fetc%2Fpasswd"):
        answer = admin.get(f"{EVENTS}/{event_id}/images/{sneaky}")
        assert answer.status_code == 404 and answer.json()["error"]["code"] in ("event_not_found", "not_found")
    assert_error(admin.get(f"{EVENTS}/999999"), 404, "event_not_found")
    assert_error(admin.get(f"{EVENTS}/999999/images/pre"), 404, "event_not_found")
    assert_error(admin.patch(f"{EVENTS}/999999", json={"false_alarm": True}), 404, "event_not_found")
    with httpx.Client(base_url=admin.base_url) as anonymous:
        assert anonymous.get(f"{EVENTS}/{event_id}/images/pre").status_code == 401


def test_scores_chart_has_points_rois_events_and_lighting(scene_device: dict, admin: httpx.Client) -> None:
    device_id = scene_device["id"]
    answer = admin.get(f"/api/v1/admin/devices/{device_id}/scores").json()
    assert [roi["name"] for roi in answer["rois"]] == ["top shelf"]
    assert "effective_thresholds" in answer["rois"][0]
    assert len(answer["points"]) == len(SEQUENCE.jpegs)
    assert {p["roi_id"] for p in answer["points"]} == {scene_device["roi"]["id"]}
    assert max(p["score"] for p in answer["points"]) > 0.06
    assert [e["decision"] for e in answer["events"]] == ["changed"]
    assert answer["lighting"] == []
    first = answer["points"][0]["ts"]
    narrow = admin.get(f"/api/v1/admin/devices/{device_id}/scores", params={"since": first, "until": first}).json()
    assert [p["ts"] for p in narrow["points"]] == [first]
    assert_error(admin.get(f"/api/v1/admin/devices/{device_id}/scores", params={"since": "soon"}), 422,
                 "validation_failed")
    assert_error(admin.get("/api/v1/admin/devices/nobody/scores"), 404, "device_not_found")


def test_latest_frame_is_the_newest_capture(scene_device: dict, admin: httpx.Client) -> None:
    answer = admin.get(f"/api/v1/admin/devices/{scene_device['id']}/latest-frame")
    assert answer.status_code == 200 and answer.headers["content-type"] == "image/jpeg"
    assert answer.content == SEQUENCE.jpegs[-1]
    assert int(answer.headers["x-capture-id"]) > 0 and answer.headers["x-capture-ts"].endswith("Z")
    assert_error(admin.get("/api/v1/admin/devices/nobody/latest-frame"), 404, "device_not_found")


def test_cli_events_list_shows_roi_times_and_verdict(scene_device: dict, server: LiveServer) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["--data-dir", str(server.data_dir), "events", "list", "--device",
                                  scene_device["id"], "--json"])
    assert result.exit_code == 0, result.output
    [event] = json.loads(result.output)
    assert (event["roi_name"], event["decision"], event["verdict"]) == ("top shelf", "changed", "taken")
    listed = lambda verdict: json.loads(runner.invoke(main, [  # noqa: E731
        "--data-dir", str(server.data_dir), "events", "list", "--device", scene_device["id"], "--json",
        "--verdict", verdict]).output)
    assert [e["id"] for e in listed("taken")] == [event["id"]] and listed("moved") == []
    wrong = runner.invoke(main, ["--data-dir", str(server.data_dir), "events", "list", "--verdict", "stolen"])
    assert wrong.exit_code == 2 and "stolen" in wrong.output
    assert event["start_ts"] < event["end_ts"]
    table = runner.invoke(main, ["--data-dir", str(server.data_dir), "events", "list", "--since",
                                 contract.format_timestamp(datetime.fromtimestamp(scene_device["start"], timezone.utc))])
    assert table.exit_code == 0 and "top shelf" in table.output and "taken" in table.output
    later = runner.invoke(main, ["--data-dir", str(server.data_dir), "events", "list", "--since",
                                 str(time.time() + 3600)])
    assert later.exit_code == 0 and "No events." in later.output
    bad = runner.invoke(main, ["--data-dir", str(server.data_dir), "events", "list", "--since", "soon"])
    assert bad.exit_code != 0
