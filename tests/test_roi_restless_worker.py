"""The worker marks an ROI restless and calm again as the analysis finds it, end to end: real
JPEGs of a shelf with a screen stored through the ingest store, a real WorkerService, real
SQLite, and what the admin API then says, frame by frame: marked from exactly the frame the
analysis itself (fed the same frames) turns the ROI restless on, and clear from the frame it
calms on. (A restart without a calm: tests/test_worker_pipeline.py.)"""

from __future__ import annotations

import httpx

from storewatch.analysis.decode import decode_gray
from storewatch.analysis.device_analyzer import DeviceAnalyzer
from storewatch.analysis.tracker import RESTLESS_CALM_SECONDS
from storewatch.analysis.transitions import RoiCalm, RoiRestless
from storewatch.appliance import Appliance
from storewatch.jobs.processor import ANALYSIS_WIDTH
from storewatch.store.events import epoch_to_ts
from support.restless import SCREEN_ROI, SHELF_ROI, SIZE, screen_scene
from support.worker import SCENE_START, meta, running_worker, wait_finished

SCREEN_ON, SCREEN_OFF, DURATION = 5.0, 45.0, 85.0


def _setup(appliance: Appliance) -> tuple[str, int, int]:
    device_id, _ = appliance.devices.add("Shelf cam")
    shelf = appliance.rois.add(device_id, "Top shelf", SHELF_ROI)["id"]
    screen = appliance.rois.add(device_id, "By the till", SCREEN_ROI)["id"]
    return device_id, shelf, screen


def _epoch(sequence, index: int) -> float:
    return SCENE_START + sequence.times[index] - sequence.times[0]


def _oracle(appliance: Appliance, device_id: str, sequence) -> tuple[int, float, int | None]:
    """Where the analysis alone, fed these frames at these times, turns the screen restless (frame
    index and since) and calm again (frame index, None if it does not)."""
    specs, thresholds = appliance.rois.specs(device_id)
    analyzer = DeviceAnalyzer(specs, thresholds)
    restless, calm = None, None
    for index, jpeg in enumerate(sequence.jpegs):
        for t in analyzer.feed(decode_gray(jpeg, ANALYSIS_WIDTH), _epoch(sequence, index), index).transitions:
            if isinstance(t, RoiRestless):
                restless = (index, t.since_ts)
            elif isinstance(t, RoiCalm):
                calm = index
    assert restless is not None, "the scene never makes the screen's ROI restless"
    return restless[0], restless[1], calm


def _store(appliance: Appliance, device_id: str, sequence, indexes: range) -> None:
    for i in indexes:
        appliance.captures.store(meta(device_id, i, _epoch(sequence, i), SIZE), sequence.jpegs[i])


def _restless_shown(admin: httpx.Client, device_id: str) -> tuple[list[dict], dict[int, str | None]]:
    device = admin.get(f"/api/v1/admin/devices/{device_id}").json()
    listed = admin.get(f"/api/v1/admin/devices/{device_id}/rois").json()["rois"]
    return device["restless"], {roi["id"]: roi["restless_since"] for roi in listed}


def test_a_screen_over_the_shelf_is_shown_restless_while_it_plays_and_watching_once_calm(
        app, app_admin: httpx.Client) -> None:
    appliance = app.appliance
    device_id, shelf, screen = _setup(appliance)
    sequence = screen_scene(SCREEN_ON, SCREEN_OFF, DURATION)
    turned, since, calmed = _oracle(appliance, device_id, sequence)
    assert calmed is not None and turned < calmed
    done = 0
    with running_worker(appliance):
        for upto, marked in ((turned, False), (turned + 1, True), (calmed, True), (len(sequence.jpegs), False)):
            _store(appliance, device_id, sequence, range(done, upto))
            done = upto
            wait_finished(appliance, done)
            on_device, on_rois = _restless_shown(app_admin, device_id)
            assert on_rois[shelf] is None
            if marked:  # from the frame it turned restless up to the one before it calmed
                assert on_rois[screen] == epoch_to_ts(since), done
                assert on_device == [{"roi_id": screen, "name": "By the till", "since": epoch_to_ts(since),
                                      "calm_seconds": RESTLESS_CALM_SECONDS}]
            else:
                assert on_rois[screen] is None and on_device == [], done
    assert SCENE_START + SCREEN_ON <= since < _epoch(sequence, turned)  # busy since the screen came on
