"""The appliance's own services (storewatch/ops/services.py): what they set up is all or nothing,
and what the built-in camera says it runs."""
from __future__ import annotations

import sys

import pytest

from storewatch.appliance import Appliance
from storewatch.backoff import Backoff
from storewatch.camera.scene import starter_rois
from storewatch.ops import camera_state
from storewatch.ops.services import BuiltinCamera
from support.servers import free_port
from support.waiting import wait_for


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


@pytest.mark.parametrize("spec, source", [("simulated", "simulated"), ("auto", "auto (simulated)")])
def test_the_running_camera_names_its_source_once(appliance: Appliance, tmp_path, monkeypatch,
                                                  spec: str, source: str) -> None:
    """`--camera simulated` read 'capturing (simulated (simulated))'; what auto chose is still said."""
    monkeypatch.setitem(sys.modules, "picamera2", None)  # off a Pi, auto is the simulated shelf
    # Nothing listens on this port: the client's first config fetch just fails, as offline.
    camera = BuiltinCamera(appliance, spec, f"http://127.0.0.1:{free_port()}",
                           backoff=Backoff(base_s=0.05, cap_s=0.2), board_model_file=tmp_path / "no-model")
    camera.start()
    try:
        state = wait_for(lambda: (s := camera_state.report(appliance.data_dir)) and s["state"] == "running" and s,
                         timeout=20)
    finally:
        camera.stop(10)
    assert (state["source"], state["summary"]) == (source, f"capturing ({source})")
