"""The restless mark of an ROI (store/rois.py): stored, shown by the API, and cleared exactly
when a change restarts the ROI's analysis, which then reports no calm of its own."""

from __future__ import annotations

from functools import lru_cache

import httpx
import jsonschema_rs
import pytest

from storewatch import contract
from storewatch.analysis import tracker
from storewatch.analysis.decode import decode_gray
from storewatch.analysis.device_analyzer import DeviceAnalyzer
from storewatch.analysis.transitions import RoiRestless
from storewatch.appliance import Appliance
from storewatch.jobs.live import specs_from_key, specs_key
from storewatch.jobs.processor import ANALYSIS_WIDTH
from storewatch.server.openapi_routes import document
from storewatch.store import rois
from support.api import assert_error
from support.restless import SCREEN_ROI, SHELF_ROI, screen_scene

SCREEN_ON, SCREEN_OFF = 5.0, 45.0
SINCE_TEXT = "2026-09-21T14:13:20.250Z"
SINCE = contract.parse_timestamp(SINCE_TEXT).timestamp()


def _setup(appliance: Appliance) -> tuple[str, int, int]:
    device_id, _ = appliance.devices.add("Shelf cam")
    shelf = appliance.rois.add(device_id, "Top shelf", SHELF_ROI)["id"]
    screen = appliance.rois.add(device_id, "By the till", SCREEN_ROI)["id"]
    return device_id, shelf, screen


def _mark(appliance: Appliance, roi_id: int, since: float | None) -> None:
    with appliance.db.write() as conn:
        rois.set_restless(conn, roi_id, since)


@lru_cache(maxsize=4)
def _restless_state(key: str) -> tuple[bytes, float]:
    """The analysis of the screen scene fed until the screen's ROI turned restless: its state,
    and the since of its RoiRestless. `key` (the specs) is what the analysis was built with."""
    specs, thresholds = specs_from_key(key)
    analyzer = DeviceAnalyzer(specs, thresholds)
    sequence = screen_scene(SCREEN_ON, SCREEN_OFF, SCREEN_OFF)
    for index, (jpeg, ts) in enumerate(zip(sequence.jpegs, sequence.times)):
        for transition in analyzer.feed(decode_gray(jpeg, ANALYSIS_WIDTH), ts, index).transitions:
            if isinstance(transition, RoiRestless):
                return analyzer.to_state(), transition.since_ts
    raise AssertionError("the screen's ROI never turned restless")


# --- the mark and the API --------------------------------------------------------------------


def test_a_restless_roi_shows_since_when_in_the_roi_list_and_on_the_device(app, app_admin: httpx.Client) -> None:
    appliance = app.appliance
    device_id, shelf, screen = _setup(appliance)
    _mark(appliance, screen, SINCE)
    base = f"/api/v1/admin/devices/{device_id}"
    listed = {roi["id"]: roi for roi in app_admin.get(f"{base}/rois").json()["rois"]}
    assert listed[screen]["restless_since"] == SINCE_TEXT
    assert listed[shelf]["restless_since"] is None
    assert app_admin.get(f"{base}/rois/{screen}").json()["restless_since"] == SINCE_TEXT
    expected = [{"roi_id": screen, "name": "By the till", "since": SINCE_TEXT,
                 "calm_seconds": tracker.RESTLESS_CALM_SECONDS}]
    assert app_admin.get(base).json()["restless"] == expected
    (shown,) = app_admin.get("/api/v1/admin/devices").json()["devices"]
    assert shown["restless"] == expected
    _mark(appliance, screen, None)
    assert app_admin.get(base).json()["restless"] == []
    assert app_admin.get(f"{base}/rois/{screen}").json()["restless_since"] is None


def test_the_answers_with_a_restless_roi_match_the_openapi_document(app, app_admin: httpx.Client) -> None:
    appliance = app.appliance
    device_id, _, screen = _setup(appliance)
    _mark(appliance, screen, SINCE)
    doc = document()
    base, real = "/api/v1/admin/devices/{device_id}", f"/api/v1/admin/devices/{device_id}"
    for path, answer in ((base, app_admin.get(real)),
                         ("/api/v1/admin/devices", app_admin.get("/api/v1/admin/devices")),
                         (f"{base}/rois", app_admin.get(f"{real}/rois")),
                         (f"{base}/rois/{{roi_id}}", app_admin.get(f"{real}/rois/{screen}"))):
        schema = doc["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        validator = jsonschema_rs.validator_for({**schema, "components": doc["components"]}, validate_formats=True)
        assert answer.status_code == 200
        assert [e.message for e in validator.iter_errors(answer.json())] == [], path
    device_schema = doc["paths"][base]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert device_schema["properties"]["restless"]["items"]["required"] == ["roi_id", "name", "since", "calm_seconds"]


def test_the_mark_is_the_analysis_own_to_set_not_the_api_callers(app, app_admin: httpx.Client) -> None:
    device_id, _, screen = _setup(app.appliance)
    answer = app_admin.patch(f"/api/v1/admin/devices/{device_id}/rois/{screen}",
                             json={"restless_since": SINCE_TEXT})
    error = assert_error(answer, 422, "validation_failed")
    assert "restless_since" in error["message"]
    assert app.appliance.rois.get(device_id, screen)["restless_since"] is None
    assert_error(app_admin.get("/api/v1/admin/devices/nope"), 404)


def test_a_disabled_roi_is_not_listed_as_restless_on_the_device(appliance: Appliance) -> None:
    device_id, _, screen = _setup(appliance)
    _mark(appliance, screen, SINCE)
    appliance.rois.update(device_id, screen, enabled=False)
    assert appliance.rois.restless(device_id) == []
    assert appliance.rois.get(device_id, screen)["restless_since"] is None


def test_keep_restless_clears_the_rois_the_analysis_no_longer_holds_restless(appliance: Appliance) -> None:
    device_id, shelf, screen = _setup(appliance)
    other_device, _ = appliance.devices.add("Other cam")
    elsewhere = appliance.rois.add(other_device, "Top shelf", SHELF_ROI)["id"]
    for roi_id in (shelf, screen, elsewhere):
        _mark(appliance, roi_id, SINCE)
    with appliance.db.write() as conn:
        rois.keep_restless(conn, device_id, (screen,))
    assert [r["roi_id"] for r in appliance.rois.restless(device_id)] == [screen]
    with appliance.db.write() as conn:
        rois.keep_restless(conn, device_id, ())
    assert appliance.rois.restless(device_id) == []
    assert [r["roi_id"] for r in appliance.rois.restless(other_device)] == [elsewhere]  # another device's stays


def test_the_mark_joins_the_callers_transaction(appliance: Appliance) -> None:
    _, _, screen = _setup(appliance)
    with pytest.raises(RuntimeError):
        with appliance.db.write() as conn:
            rois.set_restless(conn, screen, SINCE)
            raise RuntimeError("the frame's job failed")
    assert appliance.db.scalar("SELECT restless_since FROM rois WHERE id = ?", (screen,)) is None


# --- an edit clears the mark exactly when the analysis restarts the ROI -------------------------


EDITS = [
    pytest.param({"name": "Till screen"}, id="renamed"),
    pytest.param({"polygon": [[0.56, 0.60], [0.91, 0.60], [0.91, 0.89], [0.56, 0.89]]}, id="reshaped"),
    pytest.param({"thresholds": {"quiet_seconds": 3.0}}, id="a-threshold-changed"),
    pytest.param({"thresholds": {"quiet_seconds": 2.0}}, id="an-override-equal-to-the-default"),
    pytest.param({"enabled": False}, id="disabled"),
]


@pytest.mark.parametrize("edit", EDITS)
def test_an_edit_clears_the_mark_exactly_when_the_analysis_restarts_the_roi(appliance: Appliance, edit: dict) -> None:
    device_id, shelf, screen = _setup(appliance)
    specs, thresholds = appliance.rois.specs(device_id)
    state, since = _restless_state(specs_key(specs, thresholds))
    _mark(appliance, screen, since)
    appliance.rois.update(device_id, screen, **edit)
    # What the worker does with a changed ROI list (jobs/live.py LiveAnalyzers.take)
    specs, thresholds = appliance.rois.specs(device_id)
    analyzer = DeviceAnalyzer.from_state(state, specs, thresholds)
    still_restless = screen in analyzer.trackers and analyzer.trackers[screen].state == tracker.RESTLESS
    marked = appliance.rois.get(device_id, screen)["restless_since"] is not None
    assert marked == still_restless
    assert analyzer.trackers[shelf].state != tracker.RESTLESS


@pytest.mark.parametrize("defaults, restarts", [({"quiet_seconds": 3.0}, True), ({"dark_level": 12.0}, False)])
def test_new_threshold_defaults_clear_the_mark_of_the_rois_they_restart(appliance: Appliance, defaults: dict,
                                                                      restarts: bool) -> None:
    device_id, shelf, screen = _setup(appliance)
    specs, thresholds = appliance.rois.specs(device_id)
    state, since = _restless_state(specs_key(specs, thresholds))
    other = appliance.rois.add(device_id, "Own quiet", [[0.4, 0.1], [0.5, 0.1], [0.5, 0.2]],
                               thresholds={"quiet_seconds": 2.5})["id"]
    _mark(appliance, screen, since)
    _mark(appliance, other, since)  # its own quiet_seconds: new defaults of that leave it as it is
    appliance.rois.update_defaults(defaults)
    specs, thresholds = appliance.rois.specs(device_id)
    analyzer = DeviceAnalyzer.from_state(state, [s for s in specs if s.id != other], thresholds)
    assert (analyzer.trackers[screen].state == tracker.RESTLESS) == (not restarts)
    assert [r["roi_id"] for r in appliance.rois.restless(device_id)] == ([other] if restarts else [screen, other])
