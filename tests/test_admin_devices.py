"""The admin devices API, through the whole app in this process on a real database: add, list,
change, rotate the token, burst now."""

from __future__ import annotations

import itertools
import json
from datetime import timedelta

import httpx
import pytest

from storewatch import contract
from storewatch.settings import DEVICE_SETTINGS
from support.frames import make_jpeg
from support.servers import AppClient, Requests
from support.api import assert_error

DEVICES = "/api/v1/admin/devices"
JPEG = make_jpeg(64, 48, seed=1)
_seq = itertools.count(1)


def add(admin: httpx.Client, name: str = "Shelf cam", **extra: object) -> dict:
    answer = admin.post(DEVICES, json={"name": name, **extra})
    assert answer.status_code == 201, answer.text
    return answer.json()


def ingest(api: Requests, device_id: str, token: str) -> httpx.Response:
    meta = {"device_id": device_id, "capture_ts": contract.format_timestamp(contract.utc_now()),
            "seq": next(_seq), "width": 64, "height": 48, "jpeg_quality": 85}
    return api.post(contract.INGEST_FRAME_PATH,
                    headers={"Authorization": f"Bearer {token}"},
                    files={"meta": (None, json.dumps(meta), "application/json"),
                           "image": ("f.jpg", JPEG, "image/jpeg")}, timeout=10)


def config(api: Requests, device_id: str, token: str) -> dict:
    answer = api.get(contract.DEVICE_CONFIG_PATH, params={"device_id": device_id},
                     headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()


def version(value: str) -> int:
    assert value.startswith("c")
    return int(value[1:])


# --- add and list ------------------------------------------------------------------------------


def test_add_shows_the_token_once_and_it_works_for_ingest(module_app: AppClient, module_admin: httpx.Client) -> None:
    body = add(module_admin, "Front shelf")
    device_id, token = body["device_id"], body["token"]
    assert device_id == "front-shelf" and token.startswith("swd_")
    assert body["device"]["id"] == device_id and body["device"]["enabled"] is True
    assert ingest(module_app, device_id, token).status_code == 201
    for shown in (module_admin.get(DEVICES).text, module_admin.get(f"{DEVICES}/{device_id}").text):
        assert token not in shown and "token_hash" not in shown and "token_salt" not in shown


def test_add_makes_a_free_id_from_the_name(module_admin: httpx.Client) -> None:
    first = add(module_admin, "Back Door!")["device_id"]
    second = add(module_admin, "Back Door!")["device_id"]
    assert first == "back-door" and second == "back-door-2"
    assert add(module_admin, "...")["device_id"].startswith("device")


def test_add_with_hmac_auth(module_admin: httpx.Client) -> None:
    assert add(module_admin, "Signed cam", auth_scheme="hmac")["device"]["auth_scheme"] == "hmac"


@pytest.mark.parametrize("payload", [{}, {"name": ""}, {"name": "   "}, {"name": 5}, {"name": "x" * 201},
                                     {"name": "cam", "auth_scheme": "basic"},
                                     {"name": "cam", "auth_scheme": None}])
def test_add_refuses_bad_input_with_422(module_admin: httpx.Client, payload: dict) -> None:
    before = len(module_admin.get(DEVICES).json()["devices"])
    assert_error(module_admin.post(DEVICES, json=payload), 422, "validation_failed")
    assert len(module_admin.get(DEVICES).json()["devices"]) == before


def test_add_refuses_a_body_that_is_not_a_json_object(module_admin: httpx.Client) -> None:
    assert_error(module_admin.post(DEVICES, content=b"name=cam"), 400, "bad_json")
    assert_error(module_admin.post(DEVICES, json=["cam"]), 400, "bad_json")


def test_a_name_that_is_not_text_is_refused_not_a_500(module_admin: httpx.Client) -> None:
    answer = module_admin.post(DEVICES, content=b'{"name": "cam \\ud800"}',
                        headers={"content-type": "application/json"})
    assert_error(answer, 400, "bad_json")


def test_list_shows_every_device_with_its_state(module_admin: httpx.Client) -> None:
    device_id = add(module_admin, "Listed cam")["device_id"]
    rows = {d["id"]: d for d in module_admin.get(DEVICES).json()["devices"]}
    shown = rows[device_id]
    assert {"name", "enabled", "auth_scheme", "mode", "config_version", "settings", "last_seen",
            "last_config_fetch", "health"} <= set(shown)
    assert shown["mode"] == "baseline" and shown["config_version"] == "c1"
    assert shown["settings"] == {name: s.default for name, s in DEVICE_SETTINGS.items()}
    assert module_admin.get(f"{DEVICES}/{device_id}").json() == shown


def test_an_unknown_device_is_404_everywhere(module_admin: httpx.Client) -> None:
    assert_error(module_admin.get(f"{DEVICES}/nope"), 404, "device_not_found")
    assert_error(module_admin.patch(f"{DEVICES}/nope", json={"enabled": False}), 404, "device_not_found")
    assert_error(module_admin.post(f"{DEVICES}/nope/rotate-token"), 404, "device_not_found")
    assert_error(module_admin.post(f"{DEVICES}/nope/burst"), 404, "device_not_found")


# --- patch -------------------------------------------------------------------------------------


def test_disabling_refuses_ingest_and_bumps_config_version(module_app: AppClient, module_admin: httpx.Client) -> None:
    body = add(module_admin, "Toggled cam")
    device_id, token = body["device_id"], body["token"]
    shown = module_admin.patch(f"{DEVICES}/{device_id}", json={"enabled": False}).json()
    assert shown["enabled"] is False and version(shown["config_version"]) == 2
    assert_error(ingest(module_app, device_id, token), 403, "device_disabled")
    shown = module_admin.patch(f"{DEVICES}/{device_id}", json={"enabled": True}).json()
    assert shown["enabled"] is True and version(shown["config_version"]) == 3
    assert ingest(module_app, device_id, token).status_code == 201


def test_switching_to_hmac_refuses_bearer(module_app: AppClient, module_admin: httpx.Client) -> None:
    body = add(module_admin, "Scheme cam")
    device_id, token = body["device_id"], body["token"]
    shown = module_admin.patch(f"{DEVICES}/{device_id}", json={"auth_scheme": "hmac"}).json()
    assert shown["auth_scheme"] == "hmac" and version(shown["config_version"]) == 2
    assert_error(ingest(module_app, device_id, token), 401, "unauthorized")
    module_admin.patch(f"{DEVICES}/{device_id}", json={"auth_scheme": "bearer"})
    assert ingest(module_app, device_id, token).status_code == 201


def test_settings_are_validated_stored_and_sent_to_the_device(module_app: AppClient, module_admin: httpx.Client) -> None:
    body = add(module_admin, "Settings cam")
    device_id, token = body["device_id"], body["token"]
    shown = module_admin.patch(f"{DEVICES}/{device_id}",
                        json={"settings": {"jpeg_quality": 70, "baseline_interval_s": "5",
                                           "motion_trigger_enabled": False}}).json()
    assert shown["settings"]["jpeg_quality"] == 70
    assert shown["settings"]["baseline_interval_s"] == 5.0
    assert version(shown["config_version"]) == 2
    seen = config(module_app, device_id, token)
    assert seen["jpeg_quality"] == 70 and seen["baseline_interval_s"] == 5.0
    assert seen["motion_trigger"]["enabled"] is False and seen["config_version"] == "c2"


@pytest.mark.parametrize("payload, words", [
    ({"settings": {"jpeg_quality": 101}}, "at most 100"),
    ({"settings": {"jpeg_quality": 0}}, "at least 1"),
    ({"settings": {"jpeg_quality": 80.5}}, "whole number"),
    ({"settings": {"jpeg_quality": True}}, "whole number"),
    ({"settings": {"burst_interval_s": "fast"}}, "must be a number"),
    ({"settings": {"frames_per_second": 3}}, "unknown setting"),
    ({"settings": ["jpeg_quality", 80]}, "settings must be an object"),
    ({"enabled": "no"}, "enabled must be true or false"),
    ({"enabled": 0}, "enabled must be true or false"),
    ({"auth_scheme": "basic"}, "bearer or hmac"),
])
def test_bad_values_are_422_and_change_nothing(module_admin: httpx.Client, payload: dict, words: str) -> None:
    device_id = add(module_admin, "Strict cam")["device_id"]
    before = module_admin.get(f"{DEVICES}/{device_id}").json()
    error = assert_error(module_admin.patch(f"{DEVICES}/{device_id}", json=payload), 422, "validation_failed")
    assert words in error["message"]
    assert module_admin.get(f"{DEVICES}/{device_id}").json() == before


def test_a_patch_with_one_bad_part_applies_no_part(module_admin: httpx.Client) -> None:
    device_id = add(module_admin, "Atomic cam")["device_id"]
    before = module_admin.get(f"{DEVICES}/{device_id}").json()
    answer = module_admin.patch(f"{DEVICES}/{device_id}", json={
        "enabled": False, "auth_scheme": "hmac", "settings": {"jpeg_quality": 500}})
    assert_error(answer, 422, "validation_failed")
    assert module_admin.get(f"{DEVICES}/{device_id}").json() == before


# --- rotate and burst -----------------------------------------------------------------------------


def test_rotate_token_retires_the_old_token(module_app: AppClient, module_admin: httpx.Client) -> None:
    body = add(module_admin, "Rotated cam")
    device_id, old = body["device_id"], body["token"]
    answer = module_admin.post(f"{DEVICES}/{device_id}/rotate-token")
    assert answer.status_code == 200
    new = answer.json()["token"]
    assert answer.json()["device_id"] == device_id and new != old and new.startswith("swd_")
    assert_error(ingest(module_app, device_id, old), 401, "unauthorized")
    assert ingest(module_app, device_id, new).status_code == 201


def test_burst_now_switches_the_device_to_burst(module_app: AppClient, module_admin: httpx.Client) -> None:
    body = add(module_admin, "Burst cam")
    device_id, token = body["device_id"], body["token"]
    module_admin.patch(f"{DEVICES}/{device_id}", json={"settings": {"burst_hold_s": 120}})
    before = config(module_app, device_id, token)
    assert before["mode"] == "baseline" and before["mode_until"] is None
    asked_at = contract.utc_now()
    shown = module_admin.post(f"{DEVICES}/{device_id}/burst").json()
    assert shown["mode"] == "burst" and shown["desired_mode"] == "burst"
    after = config(module_app, device_id, token)
    assert after["mode"] == "burst"
    assert version(after["config_version"]) == version(before["config_version"]) + 1
    until = contract.parse_timestamp(after["mode_until"])
    assert timedelta(seconds=110) < until - asked_at < timedelta(seconds=130)
    answer = ingest(module_app, device_id, token)
    assert answer.json()["mode"] == "burst" and answer.json()["config_version"] == after["config_version"]


def test_asking_for_burst_again_extends_without_a_new_config_version(module_app: AppClient,
                                                                     module_admin: httpx.Client) -> None:
    body = add(module_admin, "Burst again cam")
    device_id, token = body["device_id"], body["token"]
    first = module_admin.post(f"{DEVICES}/{device_id}/burst").json()
    second = module_admin.post(f"{DEVICES}/{device_id}/burst").json()
    assert second["mode"] == "burst" and second["config_version"] == first["config_version"]
    assert second["mode_until"] >= first["mode_until"]
    assert config(module_app, device_id, token)["config_version"] == first["config_version"]
