"""The appliance's own services (storewatch/ops/services.py): what they set up is all or nothing."""
from __future__ import annotations

import pytest

from storewatch.appliance import Appliance
from storewatch.camera.scene import starter_rois
from storewatch.ops.services import BuiltinCamera


def test_the_starter_shelves_appear_together_or_not_at_all(appliance: Appliance, monkeypatch) -> None:
    """A reader polling the ROIs once saw 'shelf 1' alone (CI): they are added in one transaction."""
    appliance.devices.add("Shelf camera", "shelf-cam")
    camera = BuiltinCamera(appliance, "simulated", "http://127.0.0.1:9")
    real_add, calls = appliance.rois.add, []

    def add_then_fail_on_the_last(*args, **kwargs):
        calls.append(args)
        if len(calls) == len(starter_rois()):
            raise OSError("disk gone")
        return real_add(*args, **kwargs)

    monkeypatch.setattr(appliance.rois, "add", add_then_fail_on_the_last)
    with pytest.raises(OSError):
        camera._add_starter_rois("shelf-cam")
    assert len(calls) == len(starter_rois()) > 1
    assert appliance.rois.list("shelf-cam") == []  # the ones added before the failure went too
    monkeypatch.setattr(appliance.rois, "add", real_add)
    camera._add_starter_rois("shelf-cam")
    assert [r["name"] for r in appliance.rois.list("shelf-cam")] == [name for name, _ in starter_rois()]
