"""ROIs: validation, the store (config_version, threshold defaults), the admin API and the CLI."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator

import httpx
import pytest
from click.testing import CliRunner

from support.servers import AppClient
from support.api import assert_error
from storewatch import contract
from storewatch.analysis.thresholds import BOUNDS, Thresholds
from storewatch.appliance import Appliance
from storewatch.cli import main
from storewatch.errors import RoiNameTaken
from storewatch.store.rois import (RoiError, RoiNotFound, RoiStore, parse_polygon_text, parse_threshold_words,
                             validate_polygon)

SQUARE = [[0.1, 0.1], [0.5, 0.1], [0.5, 0.5], [0.1, 0.5]]


# --- validation ------------------------------------------------------------------------------


@pytest.mark.parametrize("polygon, message", [
    ([[0.1, 0.1], [0.5, 0.1]], "3 to 64 points"),
    ([[0.1 + i / 1000, 0.1] for i in range(65)], "3 to 64 points"),
    ([[0.1, 0.1], [0.5, 0.1], [0.5, 1.2]], "outside 0..1"),
    ([[0.1, 0.1], [0.5, -0.01], [0.5, 0.5]], "outside 0..1"),
    ([[0.1, 0.1], [0.2, 0.2], [0.3, 0.3]], "no area"),
    ([[0.1, 0.1], [0.1, 0.1], [0.1, 0.1]], "no area"),
    ([[0.1, 0.1], [0.5, 0.1], [0.5]], "pair"),
    ([[0.1, 0.1], [0.5, "x"], [0.5, 0.5]], "two numbers"),
    ([[0.1, 0.1], [0.5, True], [0.5, 0.5]], "two numbers"),
    ([[0.1, 0.1], [0.5, float("nan")], [0.5, 0.5]], "two numbers"),
    ("0.1,0.1 0.5,0.1 0.5,0.5", "3 to 64 points"),
])
def test_bad_polygons_are_refused_with_a_reason(polygon: object, message: str) -> None:
    with pytest.raises(RoiError, match=message):
        validate_polygon(polygon)


def test_good_polygons_pass_as_floats_including_edges() -> None:
    assert validate_polygon([[0, 0], [1, 0], [1, 1]]) == [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0]]
    circle = [[0.5 + 0.4 * math.cos(2 * math.pi * i / 64), 0.5 + 0.4 * math.sin(2 * math.pi * i / 64)]
              for i in range(64)]
    assert len(validate_polygon(circle)) == 64


def test_the_cli_polygon_text_form() -> None:
    assert parse_polygon_text("0.1,0.1 0.5,0.1  0.5,0.5") == [[0.1, 0.1], [0.5, 0.1], [0.5, 0.5]]
    for bad in ("0.1;0.1 0.5,0.1 0.5,0.5", "0.1 0.1 0.5", "a,b c,d e,f"):
        with pytest.raises(RoiError):
            parse_polygon_text(bad)


def test_threshold_words_parse_and_drop() -> None:
    assert parse_threshold_words(["start_threshold=0.2", "min_active_frames=3", "quiet_seconds="]) == \
        {"start_threshold": 0.2, "min_active_frames": 3, "quiet_seconds": None}
    assert parse_threshold_words(["end_threshold=default"]) == {"end_threshold": None}
    for bad in (["nonsense=1"], ["start_threshold"], ["start_threshold=high"]):
        with pytest.raises(RoiError):
            parse_threshold_words(bad)


# --- the store -------------------------------------------------------------------------------


@pytest.fixture
def store(appliance: Appliance) -> RoiStore:
    appliance.devices.add("cam", "cam")
    return appliance.rois


def test_every_change_bumps_the_config_version_and_reaches_the_device_config(appliance: Appliance,
                                                                             store: RoiStore) -> None:
    version = lambda: appliance.devices.get("cam")["config_version"]  # noqa: E731
    start = version()
    roi = store.add("cam", "shelf", SQUARE)
    assert version() == start + 1
    sent = appliance.devices.config("cam", contract.utc_now()).motion_trigger["rois"]
    assert sent == [{"id": roi["id"], "polygon": SQUARE}]
    store.update("cam", roi["id"], enabled=False)
    assert version() == start + 2
    assert appliance.devices.config("cam", contract.utc_now()).motion_trigger["rois"] == []
    store.update("cam", roi["id"], enabled=False)  # no change, no bump
    assert version() == start + 2
    store.remove("cam", roi["id"])
    assert version() == start + 3


def test_names_are_unique_per_device_and_rois_are_found_by_id_or_name(appliance: Appliance, store: RoiStore) -> None:
    roi = store.add("cam", "shelf", SQUARE)
    with pytest.raises(RoiNameTaken, match="already has"):
        store.add("cam", "shelf", SQUARE)
    appliance.devices.add("other", "other")
    store.add("other", "shelf", SQUARE)  # another device may use the name
    assert store.find("cam", "shelf")["id"] == roi["id"] == store.find("cam", str(roi["id"]))["id"]
    with pytest.raises(RoiNotFound):
        store.find("cam", "nope")
    with pytest.raises(RoiNotFound):
        store.get("other", roi["id"])  # not another device's ROI


def test_threshold_overrides_merge_validate_and_reach_the_specs(store: RoiStore) -> None:
    roi = store.add("cam", "shelf", SQUARE, thresholds={"start_threshold": 0.2})
    row = store.update("cam", roi["id"], thresholds={"min_active_frames": 3})
    assert json.loads(row["thresholds"]) == {"start_threshold": 0.2, "min_active_frames": 3}
    row = store.update("cam", roi["id"], thresholds={"start_threshold": None})
    assert json.loads(row["thresholds"]) == {"min_active_frames": 3}
    with pytest.raises(RoiError, match="between"):
        store.update("cam", roi["id"], thresholds={"start_threshold": 7})
    with pytest.raises(RoiError, match="must not exceed"):
        store.update("cam", roi["id"], thresholds={"end_threshold": 0.5})
    [spec], device_thresholds = store.specs("cam")
    assert spec.thresholds.min_active_frames == 3 and spec.thresholds.start_threshold == Thresholds().start_threshold
    assert device_thresholds == Thresholds()


def test_global_defaults_are_stored_apply_under_overrides_and_keep_rois_valid(store: RoiStore) -> None:
    roi = store.add("cam", "shelf", SQUARE, thresholds={"end_threshold": 0.05})
    shown = store.update_defaults({"start_threshold": 0.1, "quiet_seconds": 3})
    assert shown["defaults"]["start_threshold"] == 0.1 and shown["overrides"] == {"start_threshold": 0.1,
                                                                                   "quiet_seconds": 3.0}
    assert shown["bounds"]["start_threshold"] == list(BOUNDS["start_threshold"])
    public = store.public(store.get("cam", roi["id"]))
    assert public["thresholds"] == {"end_threshold": 0.05}
    assert public["effective_thresholds"]["start_threshold"] == 0.1
    assert public["effective_thresholds"]["end_threshold"] == 0.05
    with pytest.raises(RoiError, match="shelf"):  # would put the ROI's end above the start
        store.update_defaults({"start_threshold": 0.04})
    assert store.defaults().start_threshold == 0.1
    assert store.update_defaults({"start_threshold": None})["defaults"]["start_threshold"] == \
        Thresholds().start_threshold


# --- admin API -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def admin(module_app: AppClient) -> Iterator[httpx.Client]:
    with module_app.admin_client() as client:
        client.post("/api/v1/admin/devices", json={"name": "cam"}).raise_for_status()
        yield client


ROIS = "/api/v1/admin/devices/cam/rois"


def test_roi_api_round_trip(admin: httpx.Client) -> None:
    created = admin.post(ROIS, json={"name": "left", "polygon": SQUARE, "thresholds": {"start_threshold": 0.2}})
    assert created.status_code == 201, created.text
    roi = created.json()
    assert set(roi) == {"id", "device_id", "name", "polygon", "enabled", "thresholds", "effective_thresholds",
                        "restless_since", "created_at", "updated_at"}
    assert (roi["device_id"], roi["name"], roi["polygon"], roi["enabled"]) == ("cam", "left", SQUARE, True)
    assert roi["effective_thresholds"]["start_threshold"] == 0.2
    assert admin.get(ROIS).json() == {"rois": [roi]}
    assert admin.get(f"{ROIS}/{roi['id']}").json() == roi
    changed = admin.patch(f"{ROIS}/{roi['id']}", json={"name": "left shelf", "enabled": False,
                                                        "thresholds": {"start_threshold": None, "quiet_seconds": 4}})
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["name"], body["enabled"], body["thresholds"]) == ("left shelf", False, {"quiet_seconds": 4.0})
    assert admin.delete(f"{ROIS}/{roi['id']}").json() == {"deleted": True, "id": roi["id"]}
    assert_error(admin.get(f"{ROIS}/{roi['id']}"), 404, "roi_not_found")


@pytest.mark.parametrize("payload", [
    {"polygon": SQUARE}, {"name": "x"}, {"name": "x", "polygon": [[0, 0], [1, 1]]},
    {"name": "x", "polygon": SQUARE, "thresholds": {"start_threshold": 2}},
    {"name": "x", "polygon": SQUARE, "thresholds": {"bogus": 1}},
    {"name": "x", "polygon": SQUARE, "enabled": "yes"}, {"name": "", "polygon": SQUARE},
])
def test_bad_rois_are_422(admin: httpx.Client, payload: dict) -> None:
    assert_error(admin.post(ROIS, json=payload), 422, "validation_failed")


def test_roi_api_errors(admin: httpx.Client, module_app: AppClient) -> None:
    assert_error(admin.get("/api/v1/admin/devices/nobody/rois"), 404, "device_not_found")
    assert_error(admin.post("/api/v1/admin/devices/nobody/rois", json={"name": "x", "polygon": SQUARE}), 404,
                 "device_not_found")
    assert_error(admin.patch(f"{ROIS}/999999", json={"enabled": False}), 404, "roi_not_found")
    assert_error(admin.delete(f"{ROIS}/999999"), 404, "roi_not_found")
    roi = admin.post(ROIS, json={"name": "dup", "polygon": SQUARE}).json()
    assert_error(admin.post(ROIS, json={"name": "dup", "polygon": SQUARE}), 409, "roi_name_taken")  # a conflict
    assert_error(admin.patch(f"{ROIS}/{roi['id']}", json={"colour": "red"}), 422, "validation_failed")
    assert_error(admin.post(ROIS, content=b"[1]"), 400, "bad_json")
    with module_app.client() as anonymous:
        assert anonymous.get(ROIS).status_code == 401


def test_threshold_defaults_api(admin: httpx.Client) -> None:
    shown = admin.get("/api/v1/admin/thresholds").json()
    assert shown["defaults"] == Thresholds().to_dict()
    assert shown["bounds"] == {name: list(bounds) for name, bounds in BOUNDS.items()}
    changed = admin.patch("/api/v1/admin/thresholds", json={"start_threshold": 0.08})
    assert changed.status_code == 200 and changed.json()["defaults"]["start_threshold"] == 0.08
    assert admin.get("/api/v1/admin/thresholds").json()["defaults"]["start_threshold"] == 0.08
    assert_error(admin.patch("/api/v1/admin/thresholds", json={"start_threshold": 5}), 422, "validation_failed")
    assert_error(admin.patch("/api/v1/admin/thresholds", json={"nope": 1}), 422, "validation_failed")
    assert admin.patch("/api/v1/admin/thresholds", json={"start_threshold": None}).json()["defaults"] == \
        Thresholds().to_dict()


# --- CLI -------------------------------------------------------------------------------------


def test_roi_cli(appliance: Appliance) -> None:
    appliance.devices.add("cam", "cam")
    run = lambda *args: CliRunner().invoke(main, ["--data-dir", str(appliance.data_dir), "roi", *args])  # noqa: E731
    added = run("add", "cam", "--name", "shelf", "--polygon", "0.1,0.1 0.5,0.1 0.5,0.5", "start_threshold=0.2")
    assert added.exit_code == 0 and "Added ROI" in added.output, added.output
    [roi] = json.loads(run("list", "cam", "--json").output)
    assert roi["polygon"] == [[0.1, 0.1], [0.5, 0.1], [0.5, 0.5]] and roi["thresholds"] == {"start_threshold": 0.2}
    changed = run("set", "cam", "shelf", "--name", "top", "--disable", "start_threshold=default", "quiet_seconds=3")
    assert changed.exit_code == 0, changed.output
    [roi] = json.loads(run("list", "cam", "--json").output)
    assert (roi["name"], roi["enabled"], roi["thresholds"]) == ("top", False, {"quiet_seconds": 3.0})
    assert run("set", "cam", str(roi["id"]), "--polygon", "0 0 1").exit_code != 0
    assert "is not a point" in run("set", "cam", "top", "--polygon", "0 0 1").output
    assert "between" in run("set", "cam", "top", "quiet_seconds=-1").output
    assert "no device" in run("list", "nobody").output
    assert "top" in run("list", "cam").output
    assert run("thresholds", "start_threshold=0.1").exit_code == 0
    assert json.loads(run("thresholds", "--json").output)["defaults"]["start_threshold"] == 0.1
    removed = run("remove", "cam", "top")
    assert removed.exit_code == 0 and json.loads(run("list", "cam", "--json").output) == []
    assert run("remove", "cam", "top").exit_code != 0
