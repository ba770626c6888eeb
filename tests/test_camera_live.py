"""The camera client against the real appliance (`storewatch run` in a subprocess)."""

from __future__ import annotations

from typing import Any

from storewatch.camera.service import build_camera_client
from storewatch.camera.uploader import Backoff
from support.waiting import wait_for


def _configure(live_server, device_id: str, **changes: Any) -> dict[str, Any]:
    with live_server.admin_client() as admin:
        answer = admin.patch(f"/api/v1/admin/devices/{device_id}", json=changes)
        answer.raise_for_status()
        return answer.json()


def _device(live_server, device_id: str) -> dict[str, Any]:
    with live_server.admin_client() as admin:
        return admin.get(f"/api/v1/admin/devices/{device_id}").json()


def test_simulated_camera_uploads_and_follows_an_admin_burst(live_server, device, tmp_path):
    device_id, token = device
    _configure(live_server, device_id, settings={"width": 320, "height": 240, "baseline_interval_s": 5,
                                                 "burst_interval_s": 0.1, "config_poll_interval_s": 1})
    client = build_camera_client(live_server.url, device_id, token, "simulated", tmp_path, seed=3,
                                 backoff=Backoff(base_s=0.1, cap_s=0.5))
    client.start()
    try:
        wait_for(lambda: client.stats()["uploaded"] >= 1, 10)
        assert client.stats()["mode"] == "baseline"
        with live_server.admin_client() as admin:
            admin.post(f"/api/v1/admin/devices/{device_id}/burst").raise_for_status()
        wait_for(lambda: client.stats()["uploaded"] >= 8, 10)  # only reachable at burst cadence
        assert client.stats()["mode"] == "burst" and client.stats()["rejected"] == 0
    finally:
        client.stop(5)
    stats = client.stats()
    assert _device(live_server, device_id)["last_seq"] == stats["last_uploaded_seq"]


def test_hmac_device_is_accepted_by_the_real_server(live_server, device, tmp_path):
    device_id, token = device
    _configure(live_server, device_id, auth_scheme="hmac",
               settings={"width": 160, "height": 120, "baseline_interval_s": 0.2})
    client = build_camera_client(live_server.url, device_id, token, "simulated", tmp_path, auth="hmac")
    client.start()
    try:
        wait_for(lambda: client.stats()["uploaded"] >= 3, 10)
    finally:
        client.stop(5)
    assert client.stats()["rejected"] == 0 and client.stats()["config_version"]
