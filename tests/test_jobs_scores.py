"""The tuning chart's history: a visit gives a band on every ROI it touched, each with that
ROI's own span and verdict (real SQLite file, events written by the real store)."""

from __future__ import annotations

from storewatch.appliance import Appliance
from storewatch.store.events import TouchedRoi, Visit

T0 = 1_790_000_000.0
TOP = [[0.1, 0.1], [0.9, 0.1], [0.9, 0.4], [0.1, 0.4]]
BOTTOM = [[0.1, 0.6], [0.9, 0.6], [0.9, 0.9], [0.1, 0.9]]


def test_a_visit_shows_as_a_band_on_each_roi_it_touched(appliance: Appliance) -> None:
    appliance.devices.add("Aisle camera", "cam")
    rois = appliance.rois
    top, bottom = rois.add("cam", "Top", TOP)["id"], rois.add("cam", "Bottom", BOTTOM)["id"]
    untouched = rois.add("cam", "Side", [[0.0, 0.0], [0.05, 0.0], [0.05, 0.05]])["id"]
    events = appliance.events
    events.record_visit(Visit("cam", T0, T0 + 6, 1, (
        TouchedRoi(top, T0, T0 + 2, 0.2, "unchanged", 0.01, None, "unchanged"),
        TouchedRoi(bottom, T0 + 1, T0 + 6, 0.4, "changed", 0.3, [0.3, 0.7, 0.5, 0.85], "taken"))), [])

    history = appliance.scores.history("cam", T0 - 60, T0 + 60)

    bands = {band["roi_id"]: band for band in history["events"]}
    assert set(bands) == {top, bottom} and untouched not in bands
    assert bands[top]["verdict"] == "unchanged" and bands[bottom]["verdict"] == "taken"
    assert bands[top]["end_ts"] < bands[bottom]["end_ts"]  # each ROI's own span within the visit
    assert bands[top]["id"] == bands[bottom]["id"]  # one event
